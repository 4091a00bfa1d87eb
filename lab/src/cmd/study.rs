//! `pollwise study`'s measurement on a disk, taken only when a target is
//! named.

use std::path::PathBuf;

use super::target::{cache_dir, TargetFlags};
use super::{Result, Ui};
use crate::MeasureOptions;

/// The disk measurement: with `--dir` or `--file` only, else `None`.
pub fn measure_options(
    ui: &dyn Ui,
    target: &TargetFlags,
    cache: Option<&PathBuf>,
    (repeats, duration_ms): (u32, u64),
) -> Result<Option<MeasureOptions>> {
    if !target.named() {
        return Ok(None);
    }
    Ok(Some(MeasureOptions {
        target: target.spec(ui)?,
        qemu_cache: cache_dir(cache)?,
        repeats,
        duration_ms,
    }))
}
