//! The measuring client for the guide's server lessons: sends many requests
//! at once to a lesson's server on 127.0.0.1 and prints when each answer
//! came back. `guide/measure.py` runs it to produce the book's outputs.
//!
//! ```text
//! cargo run --release --example guide_client -- PORT METHOD PATH N [options]
//!   --concurrency C   at most C requests in flight (default: N, all at once)
//!   --probe PATH      also send one GET PATH 100 ms after the others start
//!   --fields A,B      print these fields of each JSON answer
//!   --by FIELD        instead of one line per answer, one per value of FIELD
//!   --max FIELD       with --by: the highest FIELD each group reported
//! ```
//!
//! For example, ten concurrent `POST /delay` and a `GET /` in between:
//! `cargo run --release --example guide_client -- 8000 POST /delay 10 --probe /`.

use std::collections::BTreeMap;
use std::time::Duration;

use brisk_guide::client::{self, Reply};
use brisk_guide::{millis, secs};
use serde_json::Value;

struct Args {
    port: u16,
    method: String,
    path: String,
    total: usize,
    concurrency: usize,
    probe: Option<String>,
    fields: Vec<String>,
    by: Option<String>,
    max: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut args = Args {
        port: 0,
        method: String::new(),
        path: String::new(),
        total: 0,
        concurrency: 0,
        probe: None,
        fields: Vec::new(),
        by: None,
        max: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--concurrency" => {
                args.concurrency = value()?
                    .parse()
                    .map_err(|e| format!("--concurrency: {e}"))?
            }
            "--probe" => args.probe = Some(value()?),
            "--fields" => args.fields = value()?.split(',').map(str::to_owned).collect(),
            "--by" => args.by = Some(value()?),
            "--max" => args.max = Some(value()?),
            _ => positional.push(arg),
        }
    }
    let [port, method, path, total] = <[String; 4]>::try_from(positional)
        .map_err(|_| "expected PORT METHOD PATH N".to_owned())?;
    args.port = port.parse().map_err(|e| format!("PORT: {e}"))?;
    args.method = method;
    args.path = path;
    args.total = total.parse().map_err(|e| format!("N: {e}"))?;
    if args.concurrency == 0 {
        args.concurrency = args.total;
    }
    Ok(args)
}

/// `{"a":1,"b":"x"}` with fields `a,b` → `a=1 b=x`.
fn show_fields(body: &Value, fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| match &body[f.as_str()] {
            Value::String(s) => format!("{f}={s}"),
            v => format!("{f}={v}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("guide_client: {e}");
        std::process::exit(2)
    });
    let Args {
        port,
        ref method,
        ref path,
        total,
        concurrency,
        ..
    } = args;
    if concurrency >= total {
        println!("{total} × {method} {path}, all at once");
    } else {
        println!("{total} × {method} {path}, {concurrency} at a time");
    }

    // The probe: one quick request sent while the others are in flight.
    let probe = args.probe.clone().map(|probe_path| {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            (client::request(port, "GET", &probe_path), probe_path)
        })
    });
    let replies = client::burst(port, method, path, total, concurrency);

    match &args.by {
        None if !args.fields.is_empty() => {
            for r in &replies {
                let fields = show_fields(&r.json(), &args.fields);
                println!("  {} after {}  {fields}", r.status, secs(r.finished));
            }
        }
        None => print_waves(&replies),
        Some(by) => print_groups(&replies, by, args.max.as_deref()),
    }
    if let Some(probe) = probe {
        match probe.join().expect("probe thread") {
            (Ok(r), p) => println!(
                "GET {p}, sent 100 ms after them: {} in {}",
                r.status,
                millis(r.latency)
            ),
            (Err(e), p) => println!("GET {p}, sent 100 ms after them: failed: {e}"),
        }
    }
    let failed = replies.iter().filter(|r| r.status != 200).count();
    let last = replies.last().map(|r| r.finished).unwrap_or_default();
    println!(
        "all {total} answered after {}{}",
        secs(last),
        if failed > 0 {
            format!(" ({failed} not 200 OK)")
        } else {
            String::new()
        }
    );
}

/// Answers that finished together (within 150 ms of the first of them) as
/// one line: `4 × 200 after 1.00 s` or `4 × 200 after 1.00–1.02 s`.
fn print_waves(replies: &[Reply]) {
    let mut rest = replies;
    while let Some(first) = rest.first() {
        let n = rest
            .iter()
            .take_while(|r| {
                r.status == first.status && r.finished - first.finished < Duration::from_millis(150)
            })
            .count();
        let (from, to) = (secs(first.finished), secs(rest[n - 1].finished));
        let when = if from == to {
            from
        } else {
            format!("{}–{to}", from.trim_end_matches(" s"))
        };
        println!("  {n} × {} after {when}", first.status);
        rest = &rest[n..];
    }
}

/// One line per distinct value of `by`: how many answers, and the highest
/// `max` among them.
fn print_groups(replies: &[Reply], by: &str, max: Option<&str>) {
    let mut groups: BTreeMap<String, (usize, i64)> = BTreeMap::new();
    for r in replies {
        let body = r.json();
        let key = match &body[by] {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        let entry = groups.entry(key).or_insert((0, i64::MIN));
        entry.0 += 1;
        if let Some(m) = max.and_then(|m| body[m].as_i64()) {
            entry.1 = entry.1.max(m);
        }
    }
    for (key, (count, highest)) in groups {
        match max {
            Some(m) => {
                println!("  {by} {key}: {count} answers, highest {m} it reported: {highest}")
            }
            None => println!("  {by} {key}: {count} answers"),
        }
    }
}
