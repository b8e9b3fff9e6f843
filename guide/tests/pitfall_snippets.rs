//! Chapter 12's mistakes are not cargo targets (CI builds every target with
//! `-D warnings`); they live in `guide/snippets/`, and this test compiles
//! them with `rustc` to check that the compiler says what the book shows.

use std::process::Command;

/// Compiles a snippet as a library (metadata only) and returns rustc's
/// diagnostics and whether it succeeded.
fn rustc(snippet: &str) -> (String, bool) {
    // One directory per snippet: the tests run in parallel, and one removing
    // a shared directory under the other's rustc failed CI.
    let stem = snippet.trim_end_matches(".rs");
    let dir = std::env::temp_dir().join(format!(
        "brisk-guide-snippets-{}-{stem}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args([
            "--edition",
            "2024",
            "--crate-type",
            "lib",
            "--emit",
            "metadata",
        ])
        .args(["--color", "never", "--out-dir"])
        .arg(&dir)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/snippets/").to_owned() + snippet)
        .output()
        .expect("run rustc");
    let _ = std::fs::remove_dir_all(&dir);
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

#[test]
fn an_unawaited_future_is_a_must_use_warning() {
    let (diagnostics, ok) = rustc("forgot_await.rs");
    assert!(ok, "it compiles (with a warning):\n{diagnostics}");
    assert!(
        diagnostics.contains("warning: unused implementer of `Future` that must be used"),
        "{diagnostics}"
    );
    assert!(
        diagnostics.contains("futures do nothing unless you `.await` or poll them"),
        "{diagnostics}"
    );
}

#[test]
fn a_field_of_an_unawaited_future_is_an_error() {
    let (diagnostics, ok) = rustc("forgot_await_field.rs");
    assert!(!ok, "it must not compile:\n{diagnostics}");
    assert!(
        diagnostics.contains("error[E0609]: no field `key` on type `impl Future<Output = Data>`"),
        "{diagnostics}"
    );
    assert!(
        diagnostics.contains("consider `await`ing on the `Future` to access the field"),
        "{diagnostics}"
    );
}
