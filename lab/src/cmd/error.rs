//! The error of a command: what went wrong, in the words the command line
//! prints (`error: ` and the chain of causes joined by `: `), and whether a
//! stop signal ended the work.

use std::error::Error;
use std::fmt;

use pollwise_realdev::sys;

type Cause = Box<dyn Error + Send + Sync>;

#[derive(Debug)]
pub enum CmdError {
    /// The whole message: bad input, or a state the command refuses.
    Msg(String),
    /// What was being done, then the error that stopped it.
    Context { what: String, cause: Cause },
    /// A library's error, shown as it is.
    Other(Cause),
    /// A stop signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) ended the work
    /// through its clean path; `what` says what was cleaned up.
    Stopped { signal: i32, what: String },
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmdError::Msg(m) | CmdError::Context { what: m, .. } => f.write_str(m),
            CmdError::Other(e) => e.fmt(f),
            CmdError::Stopped { signal, what } => {
                write!(f, "interrupted by {}; {what}", sys::signal_name(*signal))
            }
        }
    }
}

impl Error for CmdError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            CmdError::Context { cause, .. } => Some(cause.as_ref()),
            CmdError::Other(e) => e.source(),
            _ => None,
        }
    }
}

impl CmdError {
    /// The exit code of a run a signal stopped: 128 + its number, as a
    /// shell reports a process it killed.
    pub fn stop_exit_code(&self) -> Option<u8> {
        match self {
            CmdError::Stopped { signal, .. } => {
                Some(u8::try_from(128 + signal.clamp(&0, &127)).unwrap_or(255))
            }
            _ => None,
        }
    }

    /// Whether a reader such as `head` closed the pipe (not a failure).
    pub fn is_broken_pipe(&self) -> bool {
        let mut cause: Option<&(dyn Error + 'static)> = match self {
            CmdError::Context { cause, .. } | CmdError::Other(cause) => Some(cause.as_ref()),
            _ => None,
        };
        while let Some(e) = cause {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                return io.kind() == std::io::ErrorKind::BrokenPipe;
            }
            cause = e.source();
        }
        false
    }
}

macro_rules! from {
    ($($t:ty),*) => {
        $(impl From<$t> for CmdError {
            fn from(e: $t) -> Self {
                CmdError::Other(Box::new(e))
            }
        })*
    };
}

from!(
    crate::LabError,
    std::io::Error,
    csv::Error,
    pollwise_core::ParamError,
    pollwise_core::WorkloadError,
    pollwise_sim::SimError,
    pollwise_realdev::target::TargetError,
    pollwise_realdev::run::RunError,
    pollwise_plots::PlotError
);

/// A failure with a message and no cause.
pub fn fail<T>(msg: impl Into<String>) -> Result<T, CmdError> {
    Err(CmdError::Msg(msg.into()))
}

/// What was being done, added to an error (as a chain `what: cause`).
pub trait Context<T> {
    fn context(self, what: impl Into<String>) -> Result<T, CmdError>;
}

impl<T, E: Error + Send + Sync + 'static> Context<T> for Result<T, E> {
    fn context(self, what: impl Into<String>) -> Result<T, CmdError> {
        self.map_err(|e| CmdError::Context {
            what: what.into(),
            cause: Box::new(e),
        })
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: impl Into<String>) -> Result<T, CmdError> {
        self.ok_or_else(|| CmdError::Msg(what.into()))
    }
}

/// What a device command stopped by a signal has cleaned up.
pub const DEVICE_STOPPED: &str =
    "AIO contexts destroyed and any scratch file removed; no result written";

/// Runs `f` with stop signals routed to the clean path; when one arrived,
/// its error becomes [`CmdError::Stopped`] (the signal is read before the
/// guard that holds it is dropped).
pub fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, CmdError>) -> Result<T, CmdError> {
    let guard = sys::SigintGuard::install()?;
    let result = f();
    let signal = sys::stop_signal();
    drop(guard);
    match (result, signal) {
        (Err(_), Some(signal)) => Err(CmdError::Stopped {
            signal,
            what: what.to_string(),
        }),
        (result, _) => result,
    }
}
