//! The book and the code stay together: every `{{#include}}` in a chapter
//! names a file that exists, every lesson example and snippet is shown in
//! some chapter, every chapter is listed in SUMMARY.md, and (when `mdbook`
//! is installed) the book builds. Set `BRISK_REQUIRE_MDBOOK=1` to make a
//! missing `mdbook` a failure instead of a skip.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn guide() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chapters() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(guide().join("chapters"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    files
}

/// Every `{{#include PATH}}` target, resolved against `guide/chapters/`.
fn includes() -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    for chapter in chapters() {
        let text = fs::read_to_string(&chapter).unwrap();
        for piece in text.split("{{#include ").skip(1) {
            let target = piece.split("}}").next().unwrap().trim();
            let target = target.split(':').next().unwrap(); // drop an anchor
            let path = guide().join("chapters").join(target);
            assert!(
                path.exists(),
                "{} includes {target}, which does not exist (run guide/measure.py for outputs)",
                chapter.display()
            );
            found.insert(path.canonicalize().unwrap());
        }
    }
    found
}

fn files_in(dir: &str, ext: &str) -> Vec<PathBuf> {
    fs::read_dir(guide().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect()
}

#[test]
fn every_include_exists_and_every_lesson_is_shown() {
    let included = includes();
    let shown = |p: &Path| included.contains(&p.canonicalize().unwrap());
    for example in files_in("examples", "rs") {
        let name = example.file_stem().unwrap().to_str().unwrap();
        if name == "guide_client" {
            continue; // the measuring tool, not a lesson
        }
        assert!(shown(&example), "no chapter shows examples/{name}.rs");
        let output = guide().join("chapters/output").join(format!("{name}.txt"));
        assert!(shown(&output), "no chapter shows output/{name}.txt");
    }
    for snippet in files_in("snippets", "rs") {
        assert!(shown(&snippet), "no chapter shows {}", snippet.display());
    }
}

#[test]
fn every_chapter_is_in_the_summary() {
    let summary = fs::read_to_string(guide().join("chapters/SUMMARY.md")).unwrap();
    for chapter in chapters() {
        let name = chapter.file_name().unwrap().to_str().unwrap();
        if name != "SUMMARY.md" {
            assert!(
                summary.contains(&format!("({name})")),
                "{name} is not in SUMMARY.md"
            );
        }
    }
}

#[test]
fn the_book_builds() {
    let out_dir = std::env::temp_dir().join(format!("brisk-guide-book-{}", std::process::id()));
    let result = Command::new("mdbook")
        .arg("build")
        .arg(guide())
        .arg("--dest-dir")
        .arg(&out_dir)
        .output();
    let output = match result {
        Ok(output) => output,
        Err(e) => {
            let msg = format!(
                "mdbook could not be run ({e}); `cargo install mdbook --locked --no-default-features`"
            );
            assert!(
                std::env::var("BRISK_REQUIRE_MDBOOK").as_deref() != Ok("1"),
                "{msg}"
            );
            eprintln!("SKIPPED: {msg}");
            return;
        }
    };
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    let index = out_dir.join("index.html");
    let built = index.exists();
    let _ = fs::remove_dir_all(&out_dir);
    assert!(
        output.status.success() && built,
        "mdbook build failed:\n{log}"
    );
    // mdbook reports a missing include (as a warning) but still succeeds.
    assert!(
        !log.contains("ERROR") && !log.contains("WARN"),
        "mdbook reported problems:\n{log}"
    );
}
