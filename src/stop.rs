//! Runs stopped by a signal: the message names the signal, and the exit
//! code is 128 + its number, as a shell reports a process it killed.

use std::fmt;

use pollwise_realdev::sys;

/// What a device command stopped by a signal has cleaned up.
pub const DEVICE_STOPPED: &str =
    "AIO contexts destroyed and any scratch file removed; no result written";

/// A command that a stop signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) ended
/// through its clean path.
#[derive(Debug)]
pub struct Stopped {
    pub signal: i32,
    /// What was cleaned up and what was kept.
    pub what: String,
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "interrupted by {}; {}",
            sys::signal_name(self.signal),
            self.what
        )
    }
}

impl std::error::Error for Stopped {}

impl Stopped {
    /// The exit code: 128 + the signal number.
    pub fn exit_code(&self) -> u8 {
        u8::try_from(128 + self.signal.clamp(0, 127)).unwrap_or(255)
    }
}

/// Runs `f` with stop signals routed to the clean path; when one arrived,
/// its error becomes [`Stopped`] (the signal is read before the guard that
/// holds it is dropped).
pub fn guarded<T>(what: &str, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let guard = sys::SigintGuard::install()?;
    let result = f();
    let signal = sys::stop_signal();
    drop(guard);
    match (result, signal) {
        (Err(_), Some(signal)) => Err(Stopped {
            signal,
            what: what.to_string(),
        }
        .into()),
        (result, _) => result,
    }
}
