//! `pollwise study`: the experiments run (`crate::study`), then written as
//! markdown (`crate::text::study`); and the measurement on a disk, taken
//! only when a target is named.

use std::path::PathBuf;

use super::target::{cache_dir, TargetFlags};
use super::{Result, Ui};
use crate::stats::DEFAULT_DEVICE_REPEATS;
use crate::study::check_measure_runs;
use crate::text::{study_markdown, StudyText};
use crate::{LabError, MeasureOptions, Progress, StudyOptions};

/// Runs the study, writes the CSVs and README.md into `opts.out`, and
/// returns the markdown.
pub fn study(
    opts: &StudyOptions,
    measure_opts: Option<&MeasureOptions>,
    progress: &(dyn Fn(Progress) + Sync),
) -> std::result::Result<String, LabError> {
    let found = crate::study::run(opts, measure_opts, progress)?;
    let md = study_markdown(&StudyText {
        args: opts,
        presets: &found.presets,
        ablation: &found.ablation,
        robustness: &found.robustness,
        ratios: &found.ratios,
        idle: &found.idle,
        measured: found.measured.as_ref().zip(measure_opts),
    });
    let path = opts.out.join("README.md");
    found
        .dir
        .file("README.md")?
        .write_with(|w| w.write_all(md.as_bytes()).map_err(LabError::file(&path)))?;
    Ok(md)
}

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
    check_measure_runs(
        runs.repeat.unwrap_or(DEFAULT_DEVICE_REPEATS),
        runs.duration_ms,
        runs.accept_iops_loss_pct,
    )?;
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
