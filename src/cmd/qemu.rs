//! `pollwise qemu build|run`, and the parts of `compare --backend` and
//! `validate --against` that choose a real backend: pollwise's device loop
//! or QEMU's own `aio_poll()` (the harness of `pollwise-qemu`).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::{Args, Subcommand, ValueEnum};
use pollwise_core::{Params, RunRow, Rw, Workload};
use pollwise_lab::compare::write_csv;
use pollwise_lab::qemu_backend::check_variant;
use pollwise_lab::{online, Backend, CompareSpec, DeviceBackend, Point, QemuBackend};
use pollwise_qemu::{default_cache_dir, BuildOptions};

use crate::cmd::compare::{CompareArgs, CompareFormat};
use crate::device_args::{TargetArgs, WorkloadArgs};
use crate::policy_args::PolicyArgs;
use crate::progress;
use crate::workload_args::{count, list, parse_size};

#[derive(Subcommand, Debug)]
pub enum QemuCommand {
    /// Build QEMU 10.0.2 with the harness, once per variant (stock and each
    /// patch series), into the cache, and print the build times.
    Build(BuildArgs),
    /// Run one workload in QEMU's own loop (the variant that implements the
    /// policy) and print its result row.
    Run(RunArgs),
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// An unpacked, unpatched QEMU 10.0.2 source tree [default: download
    /// Debian's source package].
    #[arg(long, value_name = "DIR")]
    pub src: Option<PathBuf>,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Build only this variant (repeatable): stock, weighted.
    #[arg(long, value_name = "NAME")]
    pub variant: Vec<String>,
    /// Also build and run QEMU's own AIO unit tests.
    #[arg(long)]
    pub check: bool,
}

#[derive(Args, Clone, Debug, Default)]
pub struct CacheArgs {
    /// Where the QEMU builds are [default: $POLLWISE_QEMU_CACHE, else
    /// ${XDG_CACHE_HOME:-$HOME/.cache}/pollwise/qemu].
    #[arg(long = "cache", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl CacheArgs {
    pub fn dir(&self) -> PathBuf {
        self.cache_dir.clone().unwrap_or_else(default_cache_dir)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub workload: WorkloadArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Warm-up before the measured time.
    #[arg(long, default_value_t = 500)]
    pub warmup_ms: u64,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run(command: QemuCommand) -> Result<()> {
    match command {
        QemuCommand::Build(a) => build(&a),
        QemuCommand::Run(a) => run_one(&a),
    }
}

fn build(a: &BuildArgs) -> Result<()> {
    let t0 = Instant::now();
    let cache = pollwise_qemu::build(&BuildOptions {
        src: a.src.clone(),
        cache: Some(a.cache.dir()),
        variants: a.variant.clone(),
        check: a.check,
    })?;
    println!(
        "pollwise qemu build: done in {:.1} s; harnesses in {}",
        t0.elapsed().as_secs_f64(),
        cache.join("bin").display()
    );
    Ok(())
}

fn run_one(a: &RunArgs) -> Result<()> {
    let params = a.policy.params()?;
    let cache = a.cache.dir();
    check_variant(&cache, &params)?;
    let job = a.workload.workload()?;
    let workload = Workload {
        rw: job.rw,
        rwmixread: job.rwmixread,
        bs: job.bs,
        numjobs: job.numjobs,
        iodepth: job.iodepth,
        iothreads: 1,
        duration_ms: a.workload.duration_ms()?,
    };
    workload.check(&pollwise_lab::qemu_backend::LIMITS)?;
    refuse_randrw(std::slice::from_ref(&workload))?;
    let mut backend = QemuBackend::open(&cache, &a.target.spec()?, workload.bs)?;
    backend.warmup_ms = a.warmup_ms;
    let row = backend.run(&Point {
        workload,
        params,
        seed: a.workload.seed,
    })?;
    let mut out = BufWriter::new(io::stdout().lock());
    match a.format {
        Format::Table => print_row(&mut out, &row)?,
        Format::Csv => pollwise_lab::rows::write_csv(&mut out, std::slice::from_ref(&row))?,
    }
    out.flush()?;
    Ok(())
}

fn print_row<W: Write>(out: &mut W, r: &RunRow) -> Result<()> {
    writeln!(
        out,
        "loop              QEMU 10.0.2 aio_poll() ({})",
        r.preset
    )?;
    crate::output::write_run_summary(out, r)?;
    writeln!(
        out,
        "iothread cpu      {:.1}% (busy-polling {:.1}%)",
        r.iothread_cpu_pct, r.poll_cpu_pct
    )?;
    writeln!(out, "kicks             {:.0}/s", r.kicks_per_s)?;
    writeln!(out, "wake-ups          {:.0}/s", r.wakeups_per_s)?;
    writeln!(
        out,
        "window            mean {:.0} ns, zero {:.1}% of the time, {} abrupt resets",
        r.window_mean_ns,
        r.window_zero_frac * 100.0,
        r.abrupt_resets
    )?;
    Ok(())
}

fn refuse_randrw(workloads: &[Workload]) -> Result<()> {
    if workloads.iter().any(|w| w.rw == Rw::RandRw) {
        bail!("--rw randrw: QEMU's harness runs randread, read, randwrite and write");
    }
    Ok(())
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

/// The flags `compare` takes for a real backend.
#[derive(Args, Debug)]
pub struct RealBackendArgs {
    /// Runs per point and policy on device/qemu, interleaved (AB, BA, ...)
    /// [default: 3]; the simulator takes --seeds.
    #[arg(long)]
    pub repeat: Option<u32>,
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
        BackendKind::Qemu => check_variant(&cache.dir(), params)?,
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
        BackendKind::Qemu => Box::new(QemuBackend::open(&cache.dir(), &target.spec()?, max_bs)?),
    })
}

/// The workloads of `compare`'s matrix flags on a real backend: the flags
/// given, else 4k randread, numjobs 1, qd 1 and 8, 2 s per run, as
/// `realdev compare`.
fn real_workloads(args: &CompareArgs, kind: BackendKind) -> Result<Vec<Workload>> {
    let w = &args.workload;
    let m = pollwise_lab::Matrix {
        rw: list("rw", w.rw.as_deref().unwrap_or("randread"), Rw::from_name)?,
        bs: list("bs", w.bs.as_deref().unwrap_or("4k"), parse_size)?,
        numjobs: list("numjobs", w.numjobs.as_deref().unwrap_or("1"), count)?,
        iodepth: list("iodepth", w.iodepth.as_deref().unwrap_or("1,8"), count)?,
        iothreads: list("iothreads", w.iothreads.as_deref().unwrap_or("1"), count)?,
        rwmixread: w.rwmixread,
        duration_ms: w.duration_ms.unwrap_or(2000),
    };
    let limits = match kind {
        BackendKind::Qemu => &pollwise_lab::qemu_backend::LIMITS,
        _ => &pollwise_realdev::loadgen::LIMITS,
    };
    let workloads = m.workloads(limits)?;
    if kind == BackendKind::Qemu {
        refuse_randrw(&workloads)?;
    }
    Ok(workloads)
}

/// `pollwise compare --backend device|qemu`.
pub fn compare(args: &CompareArgs) -> Result<()> {
    let kind = args.backend;
    let real = &args.real;
    if args.latency_scale.is_some() {
        bail!("--latency-scale scales the simulator's device; it has no effect with --backend {kind:?}");
    }
    if args.seeds != 1 {
        bail!("--seeds is for the simulator; real backends repeat runs with --repeat N");
    }
    let (baseline, candidate) = args.policies.params()?;
    if kind == BackendKind::Qemu {
        // Both policies' variants first: an unknown one is the clearer error.
        pollwise_lab::qemu_backend::variant(&baseline)?;
        pollwise_lab::qemu_backend::variant(&candidate)?;
    }
    precheck(kind, &real.cache, &baseline)?;
    precheck(kind, &real.cache, &candidate)?;
    let repeats = real.repeat.unwrap_or(3);
    if repeats == 0 {
        bail!("--repeat must be at least 1");
    }
    let workloads = real_workloads(args, kind)?;
    // Checked before the first run: the runs take minutes.
    let rows_out = match &real.rows {
        Some(path) => Some(pollwise_lab::Output::prepare(
            "--rows",
            path,
            pollwise_lab::Kind::Results,
            &crate::cmd::realdev::target_inputs(&real.target),
            real.force,
        )?),
        None => None,
    };
    let largest_bs = workloads.iter().map(|w| w.bs).max().unwrap_or(4096);
    let backend = open(kind, &real.target, &real.cache, largest_bs)?;
    let spec = CompareSpec {
        workloads,
        baseline,
        candidate,
        seed: args.seed,
        repeats,
    };
    let points = pollwise_lab::compare(backend.as_ref(), &spec, &progress::reporter())?;
    if let Some(out) = &rows_out {
        let all = pollwise_lab::compare::all_runs(&points);
        out.write_with(|w| pollwise_lab::rows::write_csv(w, &all))?;
    }
    let mut out = BufWriter::new(io::stdout().lock());
    match args.format {
        CompareFormat::Table => {
            crate::cmd::realdev::compare_table(&mut out, backend.source(), &points, &spec)?
        }
        CompareFormat::Csv => write_csv(&mut out, &points, true)?,
    }
    out.flush()?;
    Ok(())
}

impl Default for RealBackendArgs {
    /// No flag given (what `bench --compare` uses).
    fn default() -> Self {
        RealBackendArgs {
            repeat: None,
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
        "--repeat, --dir, --file, --size-mb, --allow-write-to, --cache \
         and --rows are for --backend device|qemu; the simulator repeats with --seeds";

    /// Whether any flag of a real backend was given (the simulator refuses
    /// them rather than ignore them).
    pub fn used(&self) -> bool {
        let t = &self.target;
        self.repeat.is_some()
            || t.dir.is_some()
            || t.file.is_some()
            || t.allow_write_to.is_some()
            || t.size_mb != 256
            || self.cache.cache_dir.is_some()
            || self.rows.is_some()
    }
}
