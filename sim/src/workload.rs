//! The simulator's side of the one [`Workload`] type: what it accepts.

pub use pollwise_core::{Limits, Rw, Workload};

use crate::error::SimError;

/// What the simulator accepts: far beyond any real machine, small enough
/// that a run's state fits in memory.
pub const LIMITS: Limits = Limits {
    backend: "the simulator",
    bs: (512, 64 << 20),
    bs_align: 512,
    numjobs: (1, 1024),
    iodepth: (1, 1024),
    iothreads: (1, 64),
    duration_ms: (1, 3_600_000),
    max_in_flight: None,
};

/// [`Workload::check`] against the simulator's [`LIMITS`].
pub trait Validate {
    fn validate(&self) -> Result<(), SimError>;
}

impl Validate for Workload {
    fn validate(&self) -> Result<(), SimError> {
        self.check(&LIMITS)
            .map_err(|e| SimError::Workload(e.to_string()))
    }
}
