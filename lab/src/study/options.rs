//! What `study` runs and where it writes, checked before the first run.

use std::path::PathBuf;

use pollwise_realdev::target::TargetSpec;

use crate::acceptance::check_bar;
use crate::LabError;

/// What `study` runs and where it writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StudyOptions {
    /// Directory for the summary and the CSVs (created if missing).
    pub out: PathBuf,
    /// Seeds per point (the spread is reported over them).
    pub seeds: u32,
    /// Measured virtual time per preset run [default: the preset's].
    pub duration_ms: Option<u64>,
    /// Measured virtual time per robustness run on the fastest devices
    /// (slower devices run longer).
    pub robust_duration_ms: u64,
    /// Run only the preset tables, not the robustness sweep.
    pub skip_robustness: bool,
    /// Measured virtual time of each run on the rollout's reduced matrix
    /// (0: no rollout).
    pub rollout_duration_ms: u64,
    /// Replace files in `out` that the study did not write.
    pub force: bool,
}

/// The measured part of the study (`pollwise study --dir DIR`): the online
/// policies against QEMU's rule on a real disk.
#[derive(Clone, Debug)]
pub struct MeasureOptions {
    /// The disk: a scratch file in a directory, or a named file.
    pub target: TargetSpec,
    /// Where `pollwise qemu build` put QEMU's variants: QEMU's own loop is
    /// measured for each policy whose harness is there.
    pub qemu_cache: PathBuf,
    /// Interleaved pairs per point, after a warm-up run.
    pub repeats: u32,
    /// Measured time per run.
    pub duration_ms: u64,
    /// The verdict's bar: the IOPS loss in percent a candidate may have on
    /// any point ([`crate::acceptance::judge`], as every compare).
    pub accept_iops_loss_pct: f64,
}

impl MeasureOptions {
    fn check(&self) -> Result<(), LabError> {
        check_measure_runs(self.repeats, self.duration_ms, self.accept_iops_loss_pct)
    }
}

/// Refuses measured-part settings no run could use: fewer than 2 pairs, a
/// duration outside 1 ..= 60000 ms, an acceptance bar that is not a
/// percentage. Checked whether or not a disk is named, so a bad value is
/// never silently ignored.
pub fn check_measure_runs(repeats: u32, duration_ms: u64, bar: f64) -> Result<(), LabError> {
    if repeats < 2 {
        return Err(LabError::Input(format!(
            "--measure-repeat {repeats}: at least 2 pairs are needed for an interval"
        )));
    }
    if !(1..=60_000).contains(&duration_ms) {
        return Err(LabError::Input(format!(
            "--measure-duration-ms {duration_ms}: expected 1 ..= 60000"
        )));
    }
    check_bar(bar).map(|_| ())
}

/// Refuses options the study cannot run: no seeds, a zero duration, or a
/// duration the simulator does not accept.
pub(crate) fn check(opts: &StudyOptions, measure: Option<&MeasureOptions>) -> Result<(), LabError> {
    if let Some(m) = measure {
        m.check()?;
    }
    if opts.seeds == 0 {
        return Err(LabError::Input(
            "--repeat 0: at least one seed is needed".into(),
        ));
    }
    for (flag, d) in [
        ("--duration-ms", opts.duration_ms.unwrap_or(1)),
        ("--robust-duration-ms", opts.robust_duration_ms),
    ] {
        if d == 0 {
            return Err(LabError::Input(format!("{flag} 0: at least 1 ms")));
        }
    }
    // The longest run is a robustness run on the slowest device, stretched
    // 20 times; every duration must be one the simulator accepts.
    let max_ms = pollwise_sim::LIMITS.duration_ms.1;
    for (flag, d) in [
        ("--duration-ms", opts.duration_ms.unwrap_or(0)),
        ("--rollout-duration-ms", opts.rollout_duration_ms),
    ] {
        if d > max_ms {
            return Err(LabError::Input(format!(
                "{flag} {d} is too long: at most {max_ms} ms"
            )));
        }
    }
    if opts.robust_duration_ms > max_ms / 20 {
        return Err(LabError::Input(format!(
            "--robust-duration-ms {} is too long: at most {} ms (slow devices run 20 times \
             as long)",
            opts.robust_duration_ms,
            max_ms / 20
        )));
    }
    Ok(())
}
