//! Helpers shared by the guide's examples and tests, kept small on purpose:
//!
//! * a clock for the lessons' printouts: [`start_clock`] and [`say!`] print
//!   `[ 1.00 s] Task 1 done`, so every line of output carries its time;
//! * [`secs`] and [`millis`], the two ways the guide formats a duration;
//! * [`client`], a blocking HTTP/1.1 client (std only) that the server
//!   lessons' measuring client (`guide_client`) and the tests use to send
//!   many requests at once and time each answer.
//!
//! The lessons themselves are in `guide/examples/`; the book that explains
//! them is in `guide/chapters/` (`mdbook build guide`).

#![warn(missing_docs)]

pub mod client;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static CLOCK: OnceLock<Instant> = OnceLock::new();

/// Starts the clock that [`say!`] and [`since_start`] read. Call it first
/// thing in `main`; calling it again does nothing (the first start counts).
pub fn start_clock() {
    CLOCK.get_or_init(Instant::now);
}

/// Time since [`start_clock`] (which this starts, if nothing did yet).
///
/// ```
/// brisk_guide::start_clock();
/// assert!(brisk_guide::since_start() < std::time::Duration::from_secs(5));
/// ```
pub fn since_start() -> Duration {
    CLOCK.get_or_init(Instant::now).elapsed()
}

/// Prints a line prefixed with the time since [`start_clock`], e.g.
/// `[ 1.00 s] Task 1 done`. Takes `format!` arguments.
///
/// ```
/// brisk_guide::start_clock();
/// brisk_guide::say!("Task {} starting...", 1);
/// ```
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        println!("[{:>5.2} s] {}", $crate::since_start().as_secs_f64(), format_args!($($arg)*))
    };
}

/// A duration as the guide prints seconds: `2.00 s`.
///
/// ```
/// assert_eq!(brisk_guide::secs(std::time::Duration::from_millis(1500)), "1.50 s");
/// ```
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// A duration as the guide prints milliseconds: `0.8 ms`.
///
/// ```
/// assert_eq!(brisk_guide::millis(std::time::Duration::from_micros(800)), "0.8 ms");
/// ```
pub fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
