//! The QEMU backend's one error type. Every message says what was wrong
//! and what would be right; the kind says which part failed, for callers
//! that act on it.

use std::fmt;

/// Which part of the backend failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// No cache directory, or one others could change.
    Cache,
    /// `build.sh` could not run or failed.
    Build,
    /// A policy or parameter QEMU's loop cannot run.
    Policy,
    /// The harness could not run, failed, or printed what it should not.
    Harness,
    /// A trace of QEMU's that cannot be read or checked.
    Trace,
    /// A file that could not be read or written.
    Io,
}

/// An error of the QEMU backend: its kind and the whole message (with the
/// cause's text, if any, after a colon).
#[derive(Debug)]
pub struct QemuError {
    kind: ErrorKind,
    message: String,
}

impl QemuError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> QemuError {
        QemuError {
            kind,
            message: message.into(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for QemuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QemuError {}

pub type Result<T, E = QemuError> = std::result::Result<T, E>;

/// Gives a failed result its kind and what was being done.
pub trait Context<T> {
    fn context(self, kind: ErrorKind, doing: &str) -> Result<T>;
    fn with_context(self, kind: ErrorKind, doing: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, kind: ErrorKind, doing: &str) -> Result<T> {
        self.map_err(|e| QemuError::new(kind, format!("{doing}: {e}")))
    }

    fn with_context(self, kind: ErrorKind, doing: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| QemuError::new(kind, format!("{}: {e}", doing())))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, kind: ErrorKind, doing: &str) -> Result<T> {
        self.ok_or_else(|| QemuError::new(kind, doing))
    }

    fn with_context(self, kind: ErrorKind, doing: impl FnOnce() -> String) -> Result<T> {
        self.ok_or_else(|| QemuError::new(kind, doing()))
    }
}

/// Returns an error of `kind` with a formatted message.
macro_rules! fail {
    ($kind:ident, $($arg:tt)+) => {
        return Err($crate::error::QemuError::new(
            $crate::error::ErrorKind::$kind,
            format!($($arg)+),
        ))
    };
}
pub(crate) use fail;
