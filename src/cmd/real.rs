//! The real backends (pollwise's device loop and QEMU's own `aio_poll()`)
//! as `compare --backend`, `realdev compare` and `validate --backend`
//! choose and run them.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use pollwise_core::{Params, Rw, Workload};
use pollwise_lab::compare::write_csv_at;
use pollwise_lab::qemu_backend::check_variant;
use pollwise_lab::text::paired_compare_table;
use pollwise_lab::{online, Backend, CompareSpec, DeviceBackend, QemuBackend};
use pollwise_lab::{Input, Kind, Output};
use pollwise_qemu::default_cache_dir;

use crate::cmd::compare::{CompareArgs, CompareFormat};
use crate::device_args::TargetArgs;
use crate::progress;

#[derive(Args, Clone, Debug, Default)]
pub struct CacheArgs {
    /// Where the QEMU builds are [default: $POLLWISE_QEMU_CACHE, else
    /// ${XDG_CACHE_HOME:-$HOME/.cache}/pollwise/qemu].
    #[arg(long = "cache", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl CacheArgs {
    pub fn dir(&self) -> Result<PathBuf> {
        self.cache_dir.clone().map_or_else(default_cache_dir, Ok)
    }
}

/// Where `compare` and `validate` run: the simulator or a real loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// The simulator on --preset.
    Sim,
    /// pollwise's own loop (epoll + Linux AIO) on the disk.
    Device,
    /// QEMU 10.0.2's aio_poll() in the harness (`pollwise qemu build`).
    Qemu,
}

/// The real backends, for a command that runs only on one (`validate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RealKind {
    /// pollwise's own loop (epoll + Linux AIO) on the disk.
    Device,
    /// QEMU 10.0.2's aio_poll() in the harness (`pollwise qemu build`).
    Qemu,
}

impl From<RealKind> for BackendKind {
    fn from(k: RealKind) -> BackendKind {
        match k {
            RealKind::Device => BackendKind::Device,
            RealKind::Qemu => BackendKind::Qemu,
        }
    }
}

/// The flags `compare` takes for a real backend.
#[derive(Args, Debug)]
pub struct RealBackendArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Also write every single run's row (the common schema) to this CSV.
    #[arg(long, value_name = "FILE")]
    pub rows: Option<PathBuf>,
    /// Replace a --rows file that is not a results CSV.
    #[arg(long)]
    pub force: bool,
}

/// Checks that `kind` can run `params` before anything is created.
pub fn precheck(kind: BackendKind, cache: &CacheArgs, params: &Params) -> Result<()> {
    match kind {
        BackendKind::Sim => {}
        BackendKind::Device => online(params)?,
        BackendKind::Qemu => check_variant(&cache.dir()?, params)?,
    }
    Ok(())
}

/// Opens a real backend on the target, for block sizes up to `max_bs`.
pub fn open(
    kind: BackendKind,
    target: &TargetArgs,
    cache: &CacheArgs,
    max_bs: u64,
) -> Result<Box<dyn Backend>> {
    Ok(match kind {
        BackendKind::Sim => bail!("the simulator is not a real backend"),
        BackendKind::Device => Box::new(DeviceBackend::open(&target.spec()?, max_bs)?),
        BackendKind::Qemu => Box::new(QemuBackend::open(&cache.dir()?, &target.spec()?, max_bs)?),
    })
}

/// The workload limits of a real backend.
pub fn limits(kind: BackendKind) -> &'static pollwise_core::Limits {
    match kind {
        BackendKind::Qemu => &pollwise_lab::qemu_backend::LIMITS,
        _ => &pollwise_realdev::loadgen::LIMITS,
    }
}

/// `pollwise compare --backend device|qemu`.
pub fn compare(
    args: &CompareArgs,
    (baseline, candidate): (Params, Params),
    repeats: u32,
    accept_iops_loss_pct: f64,
) -> Result<()> {
    let kind = args.backend;
    if args.latency_scale.is_some() {
        bail!("--latency-scale scales the simulator's device; it has no effect with --backend {kind:?}");
    }
    let workloads = args.workload.real_matrix()?.workloads(limits(kind))?;
    let spec = CompareSpec {
        workloads,
        baseline,
        candidate,
        seed: args.seed,
        repeats,
    };
    let how = RealCompare {
        kind,
        format: args.format,
        accept_iops_loss_pct,
    };
    real_compare(&how, spec, &args.real)
}

/// How a real compare runs and prints.
pub struct RealCompare {
    pub kind: BackendKind,
    pub format: CompareFormat,
    /// The verdict's bar (`--accept-iops-loss`).
    pub accept_iops_loss_pct: f64,
}

/// A paired, interleaved compare on a real backend (`compare --backend
/// device|qemu` and `realdev compare`): checks, runs, then the paired
/// table or CSV on stdout and every run's row in --rows.
pub fn real_compare(how: &RealCompare, spec: CompareSpec, real: &RealBackendArgs) -> Result<()> {
    let kind = how.kind;
    let (baseline, candidate, workloads) = (&spec.baseline, &spec.candidate, &spec.workloads);
    if kind == BackendKind::Qemu {
        // Both policies' variants first: an unknown one is the clearer error.
        pollwise_lab::qemu_backend::variant(baseline)?;
        pollwise_lab::qemu_backend::variant(candidate)?;
        refuse_randrw(workloads)?;
    }
    precheck(kind, &real.cache, baseline)?;
    precheck(kind, &real.cache, candidate)?;
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
    let rows_out = match &real.rows {
        Some(path) => Some(Output::prepare(
            "--rows",
            path,
            Kind::Results,
            &target_inputs(&real.target),
            real.force,
        )?),
        None => None,
    };
    let largest_bs = workloads.iter().map(|w| w.bs).max().unwrap_or(4096);
    let backend = open(kind, &real.target, &real.cache, largest_bs)?;
    let points = crate::stop::guarded(crate::stop::DEVICE_STOPPED, || {
        Ok(pollwise_lab::compare(
            backend.as_ref(),
            &spec,
            &progress::reporter(),
        )?)
    })?;
    if let Some(out) = &rows_out {
        let all = pollwise_lab::compare::all_runs(&points);
        out.write_with(|w| pollwise_lab::rows::write_csv(w, &all))?;
    }
    let mut out = BufWriter::new(io::stdout().lock());
    let bar = how.accept_iops_loss_pct;
    match how.format {
        CompareFormat::Table => {
            paired_compare_table(&mut out, backend.source(), &points, &spec, bar)?
        }
        CompareFormat::Csv => write_csv_at(&mut out, &points, true, bar)?,
    }
    out.flush()?;
    Ok(())
}

/// The --file target as an input no output may overwrite.
pub fn target_inputs(t: &TargetArgs) -> Vec<Input<'_>> {
    t.file
        .iter()
        .map(|p| Input::new("--file", p))
        .chain(
            t.allow_write_to
                .iter()
                .map(|p| Input::new("--allow-write-to", p)),
        )
        .collect()
}

/// Refuses randrw on QEMU's harness, which does not run it.
pub fn refuse_randrw(workloads: &[Workload]) -> Result<()> {
    if workloads.iter().any(|w| w.rw == Rw::RandRw) {
        bail!("--rw randrw: QEMU's harness runs randread, read, randwrite and write");
    }
    Ok(())
}

impl Default for RealBackendArgs {
    /// No flag given (what `bench --compare` uses).
    fn default() -> Self {
        RealBackendArgs {
            target: TargetArgs {
                dir: None,
                file: None,
                size_mb: 256,
                allow_write_to: None,
            },
            cache: CacheArgs::default(),
            rows: None,
            force: false,
        }
    }
}

impl RealBackendArgs {
    pub const SIM_ERROR: &'static str =
        "--dir, --file, --size-mb, --allow-write-to, --cache and --rows are for --backend \
         device|qemu; the simulator runs on --preset";

    /// Whether any flag of a real backend was given (the simulator refuses
    /// them rather than ignore them).
    pub fn used(&self) -> bool {
        let t = &self.target;
        t.dir.is_some()
            || t.file.is_some()
            || t.allow_write_to.is_some()
            || t.size_mb != 256
            || self.cache.cache_dir.is_some()
            || self.rows.is_some()
    }
}
