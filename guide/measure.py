#!/usr/bin/env python3
"""Runs every lesson of the guide in release mode and writes what it printed
to guide/chapters/output/NAME.txt, which the book includes. Standard library
only.

    python3 guide/measure.py              # every lesson (about 2 minutes)
    python3 guide/measure.py lesson_burgers lesson_timeout   # some of them

Plain lessons are run as `cargo run --release --example NAME` would run
them. Server lessons are started on fixed ports 8101-8107 on 127.0.0.1 with
the flags their chapter discusses, and measured with the guide's client
(`guide_client`); the transcript shows both commands, then what the client
printed (and, where the chapter needs it, lines of the server's log). The
state-across-workers lesson also starts a throw-away redis-server (Debian's
package) on port 6390, without persistence, and uses a fresh SQLite file.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

GUIDE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(GUIDE)
OUTPUT = os.path.join(GUIDE, "chapters", "output")


def target_dir():
    """Cargo's target directory (CARGO_TARGET_DIR or the workspace's)."""
    return os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def binary(name):
    return os.path.join(target_dir(), "release", "examples", name)


def write(name, text):
    os.makedirs(OUTPUT, exist_ok=True)
    path = os.path.join(OUTPUT, name + ".txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.rstrip("\n") + "\n")
    print(f"wrote {os.path.relpath(path, ROOT)}")


def run_program(name, timeout=120):
    """A plain lesson: its stdout, under the command that runs it."""
    out = subprocess.run(
        [binary(name)], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=True
    )
    return f"$ cargo run --release --example {name}\n{out.stdout}"


def port_is_free(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


class Server:
    """A lesson's server: started with `--port PORT` plus flags, ready when
    `ready` processes logged "brisk serving on"; stopped with SIGTERM."""

    def __init__(self, name, port, flags, env=None, ready=1):
        if not port_is_free(port):
            sys.exit(f"port {port} is in use; stop what listens there and retry")
        self.name, self.port, self.flags = name, port, flags
        self.log = []
        self.proc = subprocess.Popen(
            [binary(name), "--port", str(port), *flags],
            cwd=ROOT,
            env={**{k: v for k, v in os.environ.items() if k != "RUST_LOG"}, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        started = threading.Event()

        def read():
            serving = 0
            for line in self.proc.stderr:
                self.log.append(line.rstrip("\n"))
                if "brisk serving on" in line:
                    serving += 1
                    if serving == ready:
                        started.set()

        threading.Thread(target=read, daemon=True).start()
        if not started.wait(60):
            self.stop()
            sys.exit(f"{name} did not start:\n" + "\n".join(self.log))
        env_text = "".join(f"{k}={v} " for k, v in (env or {}).items())
        self.command = (
            f"$ {env_text}cargo run --release --example {name} -- --port {port} {' '.join(flags)}"
        ).rstrip()

    def client(self, *args):
        """Runs guide_client against this server: its command and output."""
        args = [str(a) for a in args]
        out = subprocess.run(
            [binary("guide_client"), str(self.port), *args],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
        )
        return f"$ cargo run --release --example guide_client -- {self.port} {' '.join(args)}\n{out.stdout}"

    def curl(self, path):
        """GET path, shown as the equivalent curl command and its body."""
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=60) as r:
            body = r.read().decode()
        return f"$ curl -s {url}\n{body.rstrip()}\n"

    def log_lines(self, *needles):
        """The server's log lines containing any of the needles."""
        lines = [l for l in self.log if any(n in l for n in needles)]
        return "server log (stderr):\n" + "\n".join(lines) + "\n"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def transcript(server, *parts):
    """The server's command, then each part; the server is stopped."""
    try:
        return server.command + "\n" + "".join(p() for p in parts)
    finally:
        server.stop()


# ---- the lessons ------------------------------------------------------------------


def lesson_burgers():
    name, port = "lesson_burgers", 8101
    sections = []
    s = Server(name, port, ["--blocking-policy", "off", "--event-loop-threads", "1"])
    sections.append(transcript(s, lambda: s.client("POST", "/burger/blocking", 4)))
    for workers in (2, 4):
        s = Server(name, port, ["--blocking-policy", "off", "--workers", str(workers)], ready=workers)
        sections.append(
            transcript(s, lambda: s.client("POST", "/burger/blocking", 4, "--fields", "worker_id"))
        )
    s = Server(name, port, ["--event-loop-threads", "1"])
    sections.append(
        transcript(
            s,
            lambda: s.client("POST", "/burger/async", 4),
            lambda: s.client("POST", "/burger/async", 100),
        )
    )
    return "\n".join(sections)


def lesson_def_vs_async():
    s = Server("lesson_def_vs_async", 8102, [])
    return transcript(
        s,
        lambda: s.client("GET", "/async-wait", 10, "--probe", "/"),
        lambda: s.client("GET", "/sync-wait", 10, "--probe", "/"),
        lambda: s.client("GET", "/sync-wait", 50),
        lambda: s.client("GET", "/async-wait", 50),
    )


def lesson_dependencies():
    s = Server("lesson_dependencies", 8103, ["--event-loop-threads", "1"])

    def journal():
        time.sleep(0.3)  # the teardown runs just after the response
        return s.curl("/journal")

    return transcript(
        s,
        lambda: s.curl("/orders"),
        journal,
        lambda: s.client("GET", "/orders", 10),
    )


def lesson_blocking_call():
    name, port = "lesson_blocking_call", 8104
    sections = []
    s = Server(name, port, ["--blocking-policy", "off"])
    sections.append(transcript(s, lambda: s.client("POST", "/delay", 6, "--probe", "/")))
    s = Server(name, port, [])
    sections.append(
        transcript(
            s,
            lambda: s.client("POST", "/delay", 6, "--probe", "/"),
            lambda: s.log_lines("brisk::exec::watchdog", "moved queued connections"),
        )
    )
    s = Server(name, port, ["--blocking-policy", "off"])
    sections.append(transcript(s, lambda: s.client("POST", "/delay-fixed", 6, "--probe", "/")))
    return "\n".join(sections)


def lesson_run_in_threadpool():
    s = Server(
        "lesson_run_in_threadpool", 8105, ["--blocking-policy", "off", "--event-loop-threads", "1"]
    )
    return transcript(s, lambda: s.client("POST", "/report", 10, "--probe", "/"))


def lesson_workers():
    s = Server("lesson_workers", 8106, ["--workers", "4", "--blocking-policy", "off"], ready=4)
    return transcript(
        s,
        lambda: s.client("POST", "/delay", 8, "--by", "worker_id"),
        lambda: s.client("GET", "/", 40, "--concurrency", "4", "--by", "worker_id"),
    )


def lesson_counter():
    redis_port = 6390
    redis = None
    notes = ""
    if shutil.which("redis-server"):
        if not port_is_free(redis_port):
            sys.exit(f"port {redis_port} is in use; stop what listens there and retry")
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 10
        while port_is_free(redis_port):
            if time.time() > deadline:
                sys.exit("redis-server did not start")
            time.sleep(0.05)
        notes += f"$ redis-server --port {redis_port} --save '' --appendonly no &\n"
    sqlite = os.path.join(tempfile.gettempdir(), "brisk-guide-counter.sqlite3")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(sqlite + suffix):
            os.remove(sqlite + suffix)
    try:
        env = {"COUNTER_SQLITE": sqlite, "COUNTER_REDIS_URL": f"redis://127.0.0.1:{redis_port}/"}
        s = Server("lesson_counter", 8107, ["--workers", "4"], env=env, ready=4)
        parts = []
        for backend in ("memory", "sqlite", "redis"):
            if backend == "redis" and redis is None:
                parts.append(lambda: "(redis-server is not installed: the Redis part was skipped)\n")
                continue
            parts.append(
                lambda b=backend: s.client(
                    "POST", f"/hit/{b}", 100, "--concurrency", 10, "--by", "worker_id", "--max", "count"
                )
            )
            parts.append(lambda b=backend: s.curl(f"/count/{b}"))
        return notes + transcript(s, *parts)
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait()


def forgot_await():
    """rustc's words on the two snippets (run from the repository root)."""
    text = ""
    with tempfile.TemporaryDirectory() as out_dir:
        for snippet in ("forgot_await.rs", "forgot_await_field.rs"):
            path = f"guide/snippets/{snippet}"
            cmd = ["rustc", "--edition", "2024", "--crate-type", "lib", "--emit", "metadata",
                   "--color", "never", "--out-dir", out_dir, path]
            r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
            shown = " ".join(c if c != out_dir else "/tmp/out" for c in cmd)
            text += f"$ {shown}\n{r.stderr.rstrip()}\n\n"
    return text


SERVER_LESSONS = {
    "lesson_burgers": lesson_burgers,
    "lesson_def_vs_async": lesson_def_vs_async,
    "lesson_dependencies": lesson_dependencies,
    "lesson_blocking_call": lesson_blocking_call,
    "lesson_run_in_threadpool": lesson_run_in_threadpool,
    "lesson_workers": lesson_workers,
    "lesson_counter": lesson_counter,
}
PROGRAM_LESSONS = [
    "lesson_toy_event_loop",
    "lesson_await_vs_spawn",
    "lesson_timeout",
    "lesson_cpu_without_await",
    "lesson_forgot_await",
    "lesson_block_on_in_runtime",
    "lesson_cancellation",
    "lesson_exercises",
]


def main():
    wanted = sys.argv[1:]
    known = list(SERVER_LESSONS) + PROGRAM_LESSONS + ["forgot_await"]
    for w in wanted:
        if w not in known:
            sys.exit(f"unknown lesson {w}; one of: {' '.join(known)}")
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "-p", "brisk-guide", "--examples"],
        cwd=ROOT, check=True,
    )
    for name in known:
        if wanted and name not in wanted:
            continue
        print(f"measuring {name} ...", flush=True)
        if name in SERVER_LESSONS:
            write(name, SERVER_LESSONS[name]())
        elif name == "forgot_await":
            write(name, forgot_await())
        else:
            write(name, run_program(name))


if __name__ == "__main__":
    main()
