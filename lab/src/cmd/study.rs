//! `pollwise study`'s measurement on a disk, taken only when a target is
//! named.

use std::path::PathBuf;

use super::target::{cache_dir, TargetFlags};
use super::{Result, Ui};
use crate::stats::DEFAULT_DEVICE_REPEATS;
use crate::MeasureOptions;

/// How the disk is measured: pairs per point (`None`: the default), time
/// per run and the verdict's bar.
pub struct MeasureRuns {
    pub repeat: Option<u32>,
    pub duration_ms: u64,
    pub accept_iops_loss_pct: f64,
}

/// The disk measurement: with `--dir` or `--file` only, else `None`.
/// `sim_repeat` is the study's `--repeat`, which once counted the measured
/// pairs: a note says what it is now when a disk is named without
/// `--measure-repeat`.
pub fn measure_options(
    ui: &dyn Ui,
    target: &TargetFlags,
    cache: Option<&PathBuf>,
    sim_repeat: Option<u32>,
    runs: MeasureRuns,
) -> Result<Option<MeasureOptions>> {
    if !target.named() {
        return Ok(None);
    }
    if let (Some(n), None) = (sim_repeat, runs.repeat) {
        ui.note(&format!(
            "note: --repeat {n} sets the simulated runs per point; the measured pairs per \
             point are --measure-repeat (default {DEFAULT_DEVICE_REPEATS})"
        ));
    }
    Ok(Some(MeasureOptions {
        target: target.spec(ui)?,
        qemu_cache: cache_dir(cache)?,
        repeats: runs.repeat.unwrap_or(DEFAULT_DEVICE_REPEATS),
        duration_ms: runs.duration_ms,
        accept_iops_loss_pct: runs.accept_iops_loss_pct,
    }))
}
