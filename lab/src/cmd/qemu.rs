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
use crate::qemu_backend::{check_variant, series_spec};
use crate::{Backend, Point, QemuBackend};

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
}

/// One workload in the variant that implements the policy, or in a
/// variant built from a patch series (`--policy NAME[:PROP=VALUE,...]`),
/// and the QEMU version that variant was built from.
pub fn run(ui: &dyn Ui, c: &QemuRun) -> Result<(RunRow, String)> {
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
    let row = backend.run(&Point {
        workload,
        params,
        seed: c.seed,
        qemu_variant,
    })?;
    Ok((row, version))
}
