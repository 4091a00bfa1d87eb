//! `pollwise qemu build|run`: QEMU's own `aio_poll()` (the harness of
//! `pollwise-qemu`), built once per variant and run on one workload.

use std::path::PathBuf;
use std::time::Instant;

use pollwise_core::RunRow;
use pollwise_qemu::BuildOptions;

use super::policy::PolicyFlags;
use super::real::refuse_randrw;
use super::target::{cache_dir, TargetFlags};
use super::workload::WorkloadFlags;
use super::{CmdError, Result, Ui};
use crate::formats::output::is_stdout;
use crate::qemu_backend::{check_variant, series_spec};
use crate::{Backend, Kind, Output, Point, QemuBackend};

/// `--series NAME=DIR` as typed: the name and the directory.
pub fn parse_series(item: &str) -> Result<(String, PathBuf)> {
    match item.split_once('=') {
        Some((name, dir)) if !name.trim().is_empty() && !dir.trim().is_empty() => {
            Ok((name.trim().to_string(), PathBuf::from(dir.trim())))
        }
        _ => super::fail(format!(
            "--series '{item}' is not NAME=DIR (e.g. myseries=./patches, a directory of \
             `git format-patch` files)"
        )),
    }
}

/// Builds the variants into the cache; returns the seconds it took and
/// where the harnesses are.
pub fn build(
    src: Option<PathBuf>,
    cache: Option<&PathBuf>,
    variants: Vec<String>,
    series: &[String],
    check: bool,
) -> Result<(f64, PathBuf)> {
    let t0 = Instant::now();
    let opts = BuildOptions {
        src,
        cache: Some(cache_dir(cache)?),
        variants,
        series: series
            .iter()
            .map(|s| parse_series(s))
            .collect::<Result<_>>()?,
        check,
    };
    let cache = pollwise_qemu::build(&opts).map_err(|e| CmdError::Msg(format!("{e:#}")))?;
    Ok((t0.elapsed().as_secs_f64(), cache.join("bin")))
}

/// `pollwise qemu run`, as typed.
#[derive(Clone, Debug)]
pub struct QemuRun {
    pub workload: WorkloadFlags,
    pub seed: u64,
    pub target: TargetFlags,
    pub policy: PolicyFlags,
    pub cache: Option<PathBuf>,
    pub warmup_ms: u64,
    /// `--waits FILE`: the first IOThread's waits as CSV.
    pub waits: Option<PathBuf>,
    pub force: bool,
}

/// One workload in the variant that implements the policy, or in a
/// variant built from a patch series (`--policy NAME[:PROP=VALUE,...]`),
/// and the QEMU version that variant was built from.
pub fn run(ui: &dyn Ui, c: &QemuRun) -> Result<(RunRow, String)> {
    if c.waits.as_deref().is_some_and(is_stdout) {
        return super::fail(
            "--waits -: QEMU's harness writes the waits to a file; give a file name",
        );
    }
    // Checked before anything runs: not the target or the fio job, not
    // someone else's file.
    let mut inputs = c.target.inputs();
    inputs.extend(c.workload.inputs());
    let waits = match &c.waits {
        Some(path) => Some(Output::prepare(
            "--waits",
            path,
            Kind::Waits,
            &inputs,
            c.force,
        )?),
        None => None,
    };
    let cache = cache_dir(c.cache.as_ref())?;
    let (params, qemu_variant) = match series_spec(&cache, "policy", &c.policy.spec, &[])? {
        Some((params, name)) => (params, Some(name)),
        None => (c.policy.params(ui)?, None),
    };
    if qemu_variant.is_none() {
        check_variant(&cache, &params)?;
    }
    let workload = c.workload.real_one(ui, &crate::qemu_backend::LIMITS)?;
    refuse_randrw(std::slice::from_ref(&workload))?;
    let name = match &qemu_variant {
        Some(v) => v.clone(),
        None => crate::qemu_backend::variant(&params)?.variant,
    };
    // A harness built before versions were recorded says so.
    let version = pollwise_qemu::variant_info(&cache, &name)
        .map_or_else(|_| "(version not recorded)".into(), |i| i.qemu_version);
    let mut backend = QemuBackend::open(&cache, &c.target.spec(ui)?, workload.bs)?;
    backend.warmup_ms = c.warmup_ms;
    let point = Point {
        workload,
        params,
        seed: c.seed,
        qemu_variant,
    };
    let row = match &waits {
        Some(out) => out.write_path(|path| backend.run_waits(&point, Some(path)))?,
        None => backend.run(&point)?,
    };
    Ok((row, version))
}
