//! The macros' and traits' compile-time help: what a developer sees for the
//! common mistakes (`tests/ui/*.stderr` holds each expected message).
//! Regenerate the expectations with `TRYBUILD=overwrite cargo test --test
//! compile_errors` after changing a message, and review the diff.

#[test]
fn common_mistakes_get_errors_that_say_what_to_do() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
