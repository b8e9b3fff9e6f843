//! Real clients: the code generators users run on `/openapi.json` accept
//! brisk's documents, and the generated clients work against the running
//! examples.
//!
//! * `openapi-python-client` (PyPI) generates a package for each example's
//!   document; it is installed and `clients/use_clients.py` uses it: a
//!   create, a read, a 422 parsed into the generated `HTTPValidationError`,
//!   an authenticated call.
//! * `openapi-typescript` (npm, `clients/package.json`) generates types,
//!   which TypeScript's compiler then checks.
//!
//! `.ci/run` installs both and sets BRISK_REQUIRE_PY_TOOLS=1 and
//! BRISK_REQUIRE_NODE_TOOLS=1, so a missing tool fails instead of skipping.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{request, start_example, temp_dir};

const EXAMPLES: [&str; 3] = ["tutorial", "dependencies", "bench"];

fn run(what: &str, command: &mut Command) -> Output {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Where pip puts console scripts (ruff, which the generator formats with).
fn python_scripts_dir() -> String {
    let out = run(
        "python3 sysconfig",
        Command::new("python3").args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ]),
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

#[test]
fn openapi_python_client_generates_working_clients_for_every_example() {
    if !common::python_tool("openapi_python_client", "openapi-python-client") {
        return;
    }
    let path = format!(
        "{}:{}",
        python_scripts_dir(),
        std::env::var("PATH").unwrap_or_default()
    );
    let offline_build = Command::new("python3")
        .args(["-c", "import setuptools, wheel"])
        .status()
        .is_ok_and(|s| s.success());
    for example in EXAMPLES {
        let server = start_example(example, &["--no-access-log"]);
        let url = format!("http://{}", server.addr);
        let dir = temp_dir(&format!("client-{example}"));
        let doc = dir.join("openapi.json");
        std::fs::write(
            &doc,
            request(server.addr, "GET", "/openapi.json", None).body,
        )
        .unwrap();
        let generated = dir.join("client");
        run(
            &format!("openapi-python-client generate ({example})"),
            Command::new("python3")
                .args(["-m", "openapi_python_client", "generate", "--meta", "setup"])
                .arg("--path")
                .arg(&doc)
                .arg("--output-path")
                .arg(&generated)
                .env("PATH", &path),
        );
        let site = dir.join("site");
        let mut pip = Command::new("python3");
        pip.args(["-m", "pip", "install", "--quiet", "--no-deps"]);
        if offline_build {
            // setuptools and wheel are installed: no isolated build env to fetch.
            pip.arg("--no-build-isolation");
        }
        run(
            &format!("pip install the generated {example} client"),
            pip.arg("--target").arg(&site).arg(&generated),
        );
        let out = run(
            &format!("the generated {example} client against the running example"),
            Command::new("python3")
                .arg(clients_dir().join("use_clients.py"))
                .args([example, &url])
                .env("PYTHONPATH", &site),
        );
        eprintln!("{example}:\n{}", String::from_utf8_lossy(&out.stdout));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn openapi_typescript_generates_types_that_compile() {
    let modules = clients_dir().join("node_modules");
    let cli = modules.join("openapi-typescript/bin/cli.js");
    let tsc = modules.join("typescript/bin/tsc");
    if !cli.exists() || !tsc.exists() {
        assert!(
            std::env::var("BRISK_REQUIRE_NODE_TOOLS").is_err(),
            "openapi-typescript is required here (npm ci --prefix brisk/tests/clients)"
        );
        eprintln!("SKIPPED: npm ci --prefix brisk/tests/clients to run this check");
        return;
    }
    for example in EXAMPLES {
        let server = start_example(example, &["--no-access-log"]);
        let dir = temp_dir(&format!("ts-{example}"));
        let doc = dir.join("openapi.json");
        std::fs::write(
            &doc,
            request(server.addr, "GET", "/openapi.json", None).body,
        )
        .unwrap();
        let types = dir.join("api.ts");
        run(
            &format!("openapi-typescript ({example})"),
            Command::new("node")
                .arg(&cli)
                .arg(&doc)
                .arg("-o")
                .arg(&types),
        );
        let text = std::fs::read_to_string(&types).unwrap();
        assert!(text.contains("export interface paths"), "{text}");
        run(
            &format!("tsc on the {example} types"),
            Command::new("node")
                .arg(&tsc)
                .args(["--noEmit", "--strict", "--skipLibCheck"])
                .arg(&types),
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
