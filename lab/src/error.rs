//! The library's one error type: each variant says what went wrong and,
//! where the input was wrong, what would be right.

use std::fmt;
use std::path::PathBuf;

use pollwise_core::{ParamError, WorkloadError};
use pollwise_plots::PlotError;
use pollwise_realdev::calibrate::CalibrateError;
use pollwise_realdev::run::RunError;
use pollwise_realdev::target::TargetError;
use pollwise_sim::SimError;

#[derive(Debug)]
pub enum LabError {
    /// Bad input: the message names it and what would be accepted.
    Input(String),
    Workload(WorkloadError),
    Param(ParamError),
    Sim(SimError),
    Device(RunError),
    Target(TargetError),
    Calibrate(CalibrateError),
    Plot(PlotError),
    /// A run of QEMU's harness failed (the message says how).
    Qemu(String),
    /// Reading or writing a file.
    File {
        path: PathBuf,
        error: std::io::Error,
    },
    Csv(csv::Error),
    /// Ctrl-C between two runs.
    Interrupted,
}

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabError::Input(m) => f.write_str(m),
            LabError::Workload(e) => write!(f, "workload: {e}"),
            LabError::Param(e) => write!(f, "{e}"),
            LabError::Sim(e) => write!(f, "{e}"),
            LabError::Device(e) => write!(f, "{e}"),
            LabError::Target(e) => write!(f, "{e}"),
            LabError::Calibrate(e) => write!(f, "{e}"),
            LabError::Plot(e) => write!(f, "{e}"),
            LabError::Qemu(m) => write!(f, "QEMU's loop: {m}"),
            LabError::File { path, error } => write!(f, "{}: {error}", path.display()),
            LabError::Csv(e) => write!(f, "writing CSV: {e}"),
            LabError::Interrupted => {
                f.write_str("interrupted by Ctrl-C; the scratch file is removed")
            }
        }
    }
}

impl std::error::Error for LabError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LabError::File { error, .. } => Some(error),
            LabError::Csv(e) => Some(e),
            _ => None,
        }
    }
}

macro_rules! from {
    ($($t:ty => $v:ident),*) => {
        $(impl From<$t> for LabError {
            fn from(e: $t) -> Self {
                LabError::$v(e)
            }
        })*
    };
}

from!(WorkloadError => Workload, ParamError => Param, SimError => Sim, RunError => Device,
      TargetError => Target, CalibrateError => Calibrate, PlotError => Plot, csv::Error => Csv);

impl LabError {
    /// A file error with its path.
    pub fn file(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LabError {
        let path = path.into();
        move |error| LabError::File { path, error }
    }
}
