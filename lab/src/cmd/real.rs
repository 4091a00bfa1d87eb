//! The real backends (pollwise's device loop and QEMU's own `aio_poll()`)
//! as `compare --backend`, `realdev compare` and `validate --backend`
//! choose, check and run them.

use std::path::PathBuf;

use pollwise_core::{Limits, Params, Rw, Workload};
use pollwise_realdev::target::TargetSpec;

use super::compared::Paired;
use super::target::{cache_dir, TargetFlags, DEFAULT_SIZE_MB};
use super::{fail, guarded, Result, Ui, DEVICE_STOPPED};
use crate::formats::output::Input;
use crate::qemu_backend::{check_variant, variant};
use crate::{online, Backend, CompareSpec, DeviceBackend, Kind, Output, QemuBackend};

/// Where `compare` and `validate` run: the simulator or a real loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Sim,
    Device,
    Qemu,
}

impl BackendKind {
    /// The name `--backend` takes.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Sim => "sim",
            BackendKind::Device => "device",
            BackendKind::Qemu => "qemu",
        }
    }
}

/// The flags of a real backend, as typed.
#[derive(Clone, Debug, Default)]
pub struct RealFlags {
    pub target: TargetFlags,
    /// `--cache`: where QEMU's builds are.
    pub cache: Option<PathBuf>,
    /// `--rows`: every single run's row as CSV.
    pub rows: Option<PathBuf>,
    pub force: bool,
}

impl RealFlags {
    pub const SIM_ERROR: &'static str =
        "--dir, --file, --size-mb, --allow-write-to, --cache and --rows are for --backend \
         device|qemu; the simulator runs on --preset";

    /// Whether any flag of a real backend was given (the simulator refuses
    /// them rather than ignore them).
    pub fn used(&self) -> bool {
        let t = &self.target;
        t.named()
            || t.allow_write_to.is_some()
            || t.size_mb != DEFAULT_SIZE_MB
            || self.cache.is_some()
            || self.rows.is_some()
    }
}

/// Checks that `kind` can run `params` before anything is created.
pub fn precheck(kind: BackendKind, cache: Option<&PathBuf>, params: &Params) -> Result<()> {
    match kind {
        BackendKind::Sim => {}
        BackendKind::Device => online(params)?,
        BackendKind::Qemu => check_variant(&cache_dir(cache)?, params)?,
    }
    Ok(())
}

/// Opens a real backend on the target, for block sizes up to `max_bs`.
pub fn open(
    ui: &dyn Ui,
    kind: BackendKind,
    real: &RealFlags,
    max_bs: u64,
) -> Result<Box<dyn Backend>> {
    Ok(match kind {
        BackendKind::Sim => return fail("the simulator is not a real backend"),
        BackendKind::Device => Box::new(DeviceBackend::open(&real.target.spec(ui)?, max_bs)?),
        BackendKind::Qemu => {
            let cache = cache_dir(real.cache.as_ref())?;
            Box::new(QemuBackend::open(&cache, &real.target.spec(ui)?, max_bs)?)
        }
    })
}

/// The workload limits of a real backend.
pub fn limits(kind: BackendKind) -> &'static Limits {
    match kind {
        BackendKind::Qemu => &crate::qemu_backend::LIMITS,
        _ => &pollwise_realdev::loadgen::LIMITS,
    }
}

/// Refuses randrw on QEMU's harness, which does not run it.
pub fn refuse_randrw(workloads: &[Workload]) -> Result<()> {
    if workloads.iter().any(|w| w.rw == Rw::RandRw) {
        return fail("--rw randrw: QEMU's harness runs randread, read, randwrite and write");
    }
    Ok(())
}

/// Every policy's checks on `kind`, before anything is created: on QEMU
/// each policy's variant first (a policy without one is the clearer error
/// than a variant not built yet), then what the backend can run.
pub fn check_policies(
    kind: BackendKind,
    cache: Option<&PathBuf>,
    policies: &[&Params],
) -> Result<()> {
    if kind == BackendKind::Qemu {
        for p in policies {
            variant(p)?;
        }
    }
    for p in policies {
        precheck(kind, cache, p)?;
    }
    Ok(())
}

/// A paired, interleaved compare on a real backend (`compare --backend
/// device|qemu` and `realdev compare`): checks, runs, and every run's row
/// in `--rows`, which may be none of `inputs` (the workload's files) or the
/// target.
pub fn compare(
    ui: &dyn Ui,
    kind: BackendKind,
    spec: CompareSpec,
    (real, workload_inputs): (&RealFlags, &[Input]),
    bar: f64,
) -> Result<Paired> {
    let workloads = &spec.workloads;
    // A side a series variant runs is checked by the backend itself.
    let both: Vec<&Params> = [&spec.baseline, &spec.candidate]
        .into_iter()
        .zip(&spec.variants)
        .filter(|(_, v)| v.is_none())
        .map(|(p, _)| p)
        .collect();
    if kind == BackendKind::Qemu {
        // Both policies' variants first: an unknown one is the clearer error.
        for p in &both {
            variant(p)?;
        }
        refuse_randrw(workloads)?;
    }
    for p in both {
        precheck(kind, real.cache.as_ref(), p)?;
    }
    let repeats = spec.repeats;
    // The run set's size, before anything is created.
    pollwise_sim::batch::check_runs(
        (workloads.len() as u64)
            .checked_mul(u64::from(repeats))
            .and_then(|n| n.checked_mul(2)),
        &format!(
            "this compare ({} workloads x {repeats} repeats x 2 policies)",
            workloads.len()
        ),
    )?;
    // Checked before the first run: the runs take minutes.
    let mut inputs = real.target.inputs();
    inputs.extend_from_slice(workload_inputs);
    let rows_out = real
        .rows
        .as_ref()
        .map(|path| Output::prepare("--rows", path, Kind::Results, &inputs, real.force))
        .transpose()?;
    let largest_bs = workloads.iter().map(|w| w.bs).max().unwrap_or(4096);
    let backend = open(ui, kind, real, largest_bs)?;
    let points = guarded(DEVICE_STOPPED, || {
        Ok(crate::compare(backend.as_ref(), &spec, &|p| {
            ui.progress(p)
        })?)
    })?;
    if let Some(out) = &rows_out {
        let all = crate::compare::all_runs(&points);
        out.write_with(|w| crate::formats::rows::write_csv(w, &all))?;
    }
    let qemu = Box::new(if kind == BackendKind::Qemu {
        qemu_sides(real, &spec)?
    } else {
        [None, None]
    });
    Ok(Paired {
        points,
        qemu,
        spec,
        source: backend.source(),
        bar,
        disk: disk_text(&real.target.spec(ui)?),
        warmup_ms: (kind == BackendKind::Qemu).then_some(QemuBackend::WARMUP_MS),
    })
}

/// Each side's QEMU variant: its series variant, else its policy's.
fn qemu_sides(
    real: &RealFlags,
    spec: &CompareSpec,
) -> Result<[Option<pollwise_qemu::VariantInfo>; 2]> {
    let cache = cache_dir(real.cache.as_ref())?;
    let info = |params: &Params, v: &Option<String>| -> Result<_> {
        let name = match v {
            Some(v) => v.clone(),
            None => variant(params)?.variant,
        };
        // A harness built before versions were recorded has no record.
        Ok(pollwise_qemu::variant_info(&cache, &name).ok())
    };
    Ok([
        info(&spec.baseline, &spec.variants[0])?,
        info(&spec.candidate, &spec.variants[1])?,
    ])
}

/// What a real backend's runs read and wrote.
pub fn disk_text(t: &TargetSpec) -> String {
    match t {
        TargetSpec::Scratch { dir, size_bytes } => {
            let dir = dir.clone().unwrap_or_else(std::env::temp_dir);
            format!(
                "a {} MiB scratch file in {} (O_DIRECT, filled before the runs)",
                size_bytes >> 20,
                dir.display()
            )
        }
        TargetSpec::Existing { path, .. } => format!("{} (O_DIRECT)", path.display()),
    }
}
