//! Validation: the same workloads with the same policy on two backends
//! (typically the device as the reference and the simulator, with a
//! preset calibrated on that device, as the model), side by side.

use std::sync::atomic::{AtomicUsize, Ordering};

use pollwise_core::{Params, RunRow, Workload};
use pollwise_sim::batch::{check_runs, nth_seed};

use crate::backend::{Backend, Point};
use crate::stats::{mean_row, pct_diff};
use crate::{LabError, Progress};

/// Agreement targets: IOPS within 10%, IOThread CPU within 10 points.
pub const IOPS_TOLERANCE_PCT: f64 = 10.0;
pub const CPU_TOLERANCE_POINTS: f64 = 10.0;

/// One point measured on both backends (each the mean over the repeats).
#[derive(Clone, Debug)]
pub struct Agreement {
    pub reference: RunRow,
    pub model: RunRow,
}

impl Agreement {
    /// The model's IOPS relative to the reference's, in percent.
    pub fn iops_err_pct(&self) -> f64 {
        pct_diff(self.reference.iops, self.model.iops)
    }
    pub fn cpu_err_points(&self) -> f64 {
        self.model.iothread_cpu_pct - self.reference.iothread_cpu_pct
    }
    pub fn iops_ok(&self) -> bool {
        self.iops_err_pct().abs() <= IOPS_TOLERANCE_PCT
    }
    pub fn cpu_ok(&self) -> bool {
        self.cpu_err_points().abs() <= CPU_TOLERANCE_POINTS
    }
}

/// Runs every workload `repeats` times (seeds `seed, seed+1, ...`) on both
/// backends and averages each side.
/// The number of runs a validation does (both backends), refused with
/// the number and the limit when absurd; callers check it before opening
/// a device.
pub fn run_count(workloads: usize, repeats: u32) -> Result<u64, LabError> {
    Ok(check_runs(
        (workloads as u64)
            .checked_mul(u64::from(repeats))
            .and_then(|n| n.checked_mul(2)),
        &format!("this validation ({workloads} workloads x {repeats} repeats x 2 backends)"),
    )?)
}

pub fn validate(
    reference: &dyn Backend,
    model: &dyn Backend,
    workloads: &[Workload],
    params: &Params,
    seed: u64,
    repeats: u32,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<Agreement>, LabError> {
    if repeats == 0 {
        return Err(LabError::Input("--repeat must be at least 1".into()));
    }
    for b in [reference, model] {
        b.check_params(params)?;
        for w in workloads {
            w.check(b.limits())?;
        }
    }
    run_count(workloads.len(), repeats)?;
    let mut points = Vec::new();
    for w in workloads {
        for rep in 0..u64::from(repeats) {
            points.push(Point {
                workload: w.clone(),
                params: params.clone(),
                seed: nth_seed(seed, rep)?,
            });
        }
    }
    let total = 2 * points.len();
    let done = AtomicUsize::new(0);
    let tick = || {
        let done = done.fetch_add(1, Ordering::Relaxed) + 1;
        progress(Progress::Run {
            done,
            total,
            what: "validate",
        });
    };
    let refs = reference.run_all(&points, &tick)?;
    let models = model.run_all(&points, &tick)?;
    let per = repeats as usize;
    Ok(refs
        .chunks(per)
        .zip(models.chunks(per))
        .filter_map(|(r, m)| {
            Some(Agreement {
                reference: mean_row(r)?,
                model: mean_row(m)?,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_model_against_reference() {
        let a = Agreement {
            reference: RunRow {
                iops: 200.0,
                iothread_cpu_pct: 30.0,
                ..crate::test_row()
            },
            model: RunRow {
                iops: 150.0,
                iothread_cpu_pct: 45.0,
                ..crate::test_row()
            },
        };
        assert_eq!(a.iops_err_pct(), -25.0);
        assert_eq!(a.cpu_err_points(), 15.0);
        assert!(!a.iops_ok() && !a.cpu_ok());
    }
}
