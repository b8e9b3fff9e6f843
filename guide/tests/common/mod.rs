//! What the guide's tests share: running a lesson's example binary, as a
//! program to completion or as a server on a free port on 127.0.0.1, and
//! reading figures out of what it printed. Every wait is bounded.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// The tests of one file that measure time take turns, so that two of them
/// never compete for the machine's two cores.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The path of an example binary of this crate. `cargo test` builds the
/// examples, but a filtered run (`--test NAME`) does not: if the binary is
/// missing or older than any source it is built from, build the examples
/// (once per test process), so a test never runs a stale binary. (Not
/// unconditionally: under `cargo test --workspace` the examples were built
/// with the whole workspace's features, and a build of this package alone
/// would compile brisk a second time.)
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let path = dir.join(name);
    let built = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
    if built.is_none_or(|built| built < newest_source()) {
        static BUILT: std::sync::Once = std::sync::Once::new();
        BUILT.call_once(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "--quiet", "--examples", "--manifest-path"])
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
                .status()
                .expect("run cargo build --examples");
            assert!(status.success(), "building the guide's examples failed");
        });
    }
    assert!(path.exists(), "example binary {path:?} is missing");
    path
}

/// The newest modification time among the sources the examples are built
/// from: this crate, brisk, brisk-macros, the manifests and the lock file.
fn newest_source() -> SystemTime {
    fn walk(path: &Path, newest: &mut SystemTime) {
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                walk(&entry.path(), newest);
            }
        } else if let Ok(modified) = meta.modified() {
            *newest = (*newest).max(modified);
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut newest = SystemTime::UNIX_EPOCH;
    for source in [
        "guide/src",
        "guide/examples",
        "guide/Cargo.toml",
        "brisk/src",
        "brisk/Cargo.toml",
        "brisk-macros/src",
        "brisk-macros/Cargo.toml",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        walk(&root.join(source), &mut newest);
    }
    newest
}

/// Runs an example to completion (at most `limit`) and returns its stdout.
pub fn run_example(name: &str, limit: Duration) -> String {
    let mut child = Command::new(example(name))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the example");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = reader.join().unwrap();
            assert!(status.success(), "{name} failed ({status}):\n{out}");
            return out;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The seconds in the first line containing `marker`, written `... 1.23 s`
/// after the marker.
pub fn secs_after(output: &str, marker: &str) -> f64 {
    let line = output
        .lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no line with {marker:?} in:\n{output}"));
    let rest = &line[line.find(marker).unwrap() + marker.len()..];
    rest.split_whitespace()
        .find_map(|w| w.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no number after {marker:?} in {line:?}"))
}

/// Asserts `lo <= value <= hi`, saying what was measured.
pub fn assert_between(what: &str, value: f64, lo: f64, hi: f64) {
    assert!(
        (lo..=hi).contains(&value),
        "{what}: measured {value:.3}, expected between {lo} and {hi}"
    );
}

/// A lesson's server, running on a free port; stopped (SIGTERM, then
/// SIGKILL after 10 s) when dropped.
pub struct Server {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// Everything it wrote to stderr so far (its log).
    pub log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts example `name` with `--port 0` and `args`, and waits (at most
    /// 60 s) until `ready` processes said "brisk serving on": 1, or the
    /// number of `--workers`.
    pub fn start(name: &str, args: &[&str], env: &[(&str, &str)], ready: usize) -> Server {
        let mut child = Command::new(example(name))
            .args(["--port", "0"])
            .args(args)
            .envs(env.iter().copied())
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let writer = Arc::clone(&log);
        std::thread::spawn(move || {
            let (mut port, mut serving) = (None, 0);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if port.is_none()
                    && let Some(rest) = line.split("serving on http://").nth(1)
                {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    port = addr.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
                }
                if line.contains("brisk serving on") {
                    serving += 1;
                    if serving == ready {
                        let _ = tx.send(port);
                    }
                }
                let mut log = writer.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(port)) => port,
            _ => {
                let _ = child.kill();
                panic!("{name} did not start:\n{}", log.lock().unwrap());
            }
        };
        Server { child, port, log }
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
