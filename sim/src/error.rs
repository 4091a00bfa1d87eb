//! The simulator's errors: each says what was wrong and what would be right.

use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum SimError {
    /// A preset (embedded or from a file) is malformed or out of range.
    Preset(String),
    /// A workload parameter is out of range.
    Workload(String),
    /// A policy parameter was rejected by the core.
    Policy(String),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Preset(m) => write!(f, "preset: {m}"),
            SimError::Workload(m) => write!(f, "workload: {m}"),
            SimError::Policy(m) => write!(f, "policy: {m}"),
        }
    }
}

impl std::error::Error for SimError {}

impl From<pollwise_core::ParamError> for SimError {
    fn from(e: pollwise_core::ParamError) -> Self {
        SimError::Policy(e.to_string())
    }
}
