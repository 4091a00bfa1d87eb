//! `pollwise realdev`: run policies on a real file or block device through
//! the epoll + Linux AIO loop, compare them, and calibrate a sim preset.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use pollwise_lab::formats::rows::write_trace;
use pollwise_lab::online;
use pollwise_lab::{Kind, Output};
use pollwise_realdev::loadgen::JobSpec;
use pollwise_realdev::run::{self as device, RunConfig};

use crate::cmd::compare::CompareFormat;
use crate::cmd::real::{
    real_compare, target_inputs, BackendKind, CacheArgs, RealBackendArgs, RealCompare,
};
use crate::device_args::TargetArgs;
use crate::output::Format;
use crate::policy_args::{PolicyArgs, PolicyPairArgs};
use crate::stop;
use crate::workload_args::WorkloadArgs;
use crate::workload_args::{list, parse_size};

#[derive(Subcommand, Debug)]
pub enum RealdevCommand {
    /// Run one workload on a scratch file (or --file) and print its result
    /// row, in the same schema as `pollwise sim`.
    ///
    /// Workload defaults: 4k randread, numjobs 1, iodepth 1, one IOThread,
    /// 1000 ms (a fio job's runtime if --fio-job is given).
    Run(RunArgs),
    /// Run a small matrix for a baseline and a candidate policy in
    /// interleaved pairs, and report each paired difference with its
    /// interval and a verdict.
    ///
    /// Matrix defaults: 4k randread, numjobs 1, iodepth 1 and 8, one
    /// IOThread, 2000 ms per run; lists are comma-separated.
    Compare(CompareArgs),
    /// Measure the device's latency and throughput and the loop's own
    /// costs, and write a simulator preset (load it with --preset FILE).
    Calibrate(CalibrateArgs),
    /// Remove scratch files left by runs that were killed (SIGKILL, power
    /// loss) and whose processes are gone: this user's files that pollwise
    /// marked as its own. Others with such names are named, not removed.
    Clean(CleanArgs),
}

#[derive(Args, Debug)]
pub struct CleanArgs {
    /// The scratch directory [default: the system temp dir].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

fn clean(a: &CleanArgs) -> Result<()> {
    let dir = a.dir.clone().unwrap_or_else(std::env::temp_dir);
    let cleanup = pollwise_realdev::scratch::clean_stale_scratch(&dir)
        .with_context(|| format!("cannot list the scratch directory {}", dir.display()))?;
    for l in &cleanup.left {
        eprintln!("warning: {l}");
    }
    let removed = cleanup.removed;
    for r in &removed {
        println!("{r}");
    }
    println!(
        "{} stale scratch file(s) removed from {}",
        removed.len(),
        dir.display()
    );
    Ok(())
}

use crate::stop::DEVICE_STOPPED as STOPPED;

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Seeds the jobs' offset generators.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the window trajectory as CSV: the window at the start, at
    /// every change and at every live parameter change.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Change policy parameters while running, e.g. --set-at
    /// 500:poll-max-ns=8000 (repeatable; like QEMU's qom-set on a live
    /// IOThread).
    #[arg(long, value_name = "MS:NAME=VALUE,...")]
    pub set_at: Vec<String>,
    /// Replace an output file that pollwise did not write (judged by its
    /// content).
    #[arg(long)]
    pub force: bool,
}

pub fn run(command: RealdevCommand) -> Result<()> {
    match command {
        RealdevCommand::Run(a) => run_one(&a),
        RealdevCommand::Compare(a) => compare(&a),
        RealdevCommand::Calibrate(a) => calibrate(&a),
        RealdevCommand::Clean(a) => clean(&a),
    }
}

fn run_one(a: &RunArgs) -> Result<()> {
    let params = a.policy.params()?;
    online(&params)?;
    let w = a.workload.real_one(&pollwise_realdev::loadgen::LIMITS)?;
    let changes = pollwise_lab::parse::set_at(&a.set_at, &params, w.duration_ms)?;
    let cfg = RunConfig {
        workload: JobSpec::new(&w, a.seed),
        duration_ms: w.duration_ms,
        params,
        target: a.target.spec()?,
        changes,
        trace: a.trace.is_some(),
        catch_sigint: true,
    };
    // Checked before the run: not the target, not someone else's file, a
    // writable directory.
    let trace = match &a.trace {
        Some(path) => Some(Output::prepare(
            "--trace",
            path,
            Kind::Trace,
            &target_inputs(&a.target),
            a.force,
        )?),
        None => None,
    };
    let out = stop::guarded(STOPPED, || Ok(device::run(&cfg)?))?;
    if let Some(trace) = &trace {
        trace.write_with(|w| write_trace(w, &out.trace))?;
    }
    let mut stdout = BufWriter::new(io::stdout().lock());
    match a.format {
        Format::Table => pollwise_lab::text::write_device_run(&mut stdout, &out)?,
        f => pollwise_lab::text::write_rows(&mut stdout, f.into(), std::slice::from_ref(&out.row))?,
    }
    stdout.flush()?;
    Ok(())
}

#[derive(Args, Debug)]
pub struct CalibrateArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Where to write the preset (TOML); - for standard output.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Write the preset even if the measurements do not add up (see the
    /// warnings), and replace an output file that pollwise did not write
    /// (judged by its content).
    #[arg(long)]
    pub force: bool,

    /// Block sizes to measure, comma-separated; the smallest gives the
    /// latency distributions, the largest the transfer rate.
    #[arg(long, default_value = "4k,128k")]
    pub bs: String,
    /// Length of each device measurement.
    #[arg(long, default_value_t = 2000)]
    pub point_ms: u64,
    /// Queue depth of the throughput measurements.
    #[arg(long, default_value_t = 16)]
    pub depth: u32,
    /// Repetitions of each wake-up probe.
    #[arg(long, default_value_t = 2000)]
    pub rounds: u32,
    /// Times each probe is repeated; the preset takes the median and the
    /// spread is written beside it.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Seed of the probes' random offsets.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn calibrate(a: &CalibrateArgs) -> Result<()> {
    use pollwise_realdev::calibrate::CalibrateConfig;

    let output = Output::prepare(
        "--out",
        &a.out,
        Kind::Preset,
        &target_inputs(&a.target),
        a.force,
    )?;
    let cfg = CalibrateConfig {
        target: a.target.spec()?,
        sizes: list("bs", &a.bs, parse_size)?,
        point_ms: a.point_ms,
        saturation_depth: a.depth,
        probe_rounds: a.rounds,
        repeats: a.repeat,
        seed: a.seed,
    };
    let name = a.out.display().to_string();
    let cal = stop::guarded(STOPPED, || Ok(pollwise_lab::local_preset::measure(&cfg)?))?;
    let warnings = cal.warnings();
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if !warnings.is_empty() && !a.force {
        bail!(
            "{} warning(s): the measurements do not add up, so no preset was written to {name}; \
             fix the cause and rerun, or pass --force to write it anyway",
            warnings.len()
        );
    }
    let text = pollwise_lab::local_preset::preset_text(&cal, &name)?;
    output.write_with(|w| {
        w.write_all(text.as_bytes())
            .with_context(|| format!("writing {}", a.out.display()))
    })?;
    if output.is_stdout() {
        return Ok(());
    }
    let mut out = BufWriter::new(io::stdout().lock());
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        writeln!(
            out,
            "{}",
            line.trim_start_matches("# ").trim_start_matches('#')
        )?;
    }
    writeln!(
        out,
        "wrote {}; use it with `pollwise sim --preset {0}` or `pollwise validate --preset {0}`",
        a.out.display()
    )?;
    out.flush()?;
    Ok(())
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    pub policies: PolicyPairArgs,
    #[command(flatten)]
    pub matrix: WorkloadArgs,
    /// Runs per point and policy, after one warm-up run; baseline and
    /// candidate alternate (AB, BA, ...) so drift in the machine's load
    /// hits both alike.
    #[arg(long, default_value_t = pollwise_lab::stats::DEFAULT_DEVICE_REPEATS)]
    pub repeat: u32,
    /// Seed of the first pair's offset generators; repeat i uses SEED+i.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub target: TargetArgs,
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,
    /// The acceptance bar of the verdict: the IOPS loss in percent the
    /// candidate may have on any point (the maintainer's bar is 5), judged
    /// on the 95% interval of the paired changes; as `pollwise compare`.
    #[arg(long, value_name = "PCT", default_value_t = pollwise_lab::acceptance::DEFAULT_ACCEPT_IOPS_LOSS_PCT, allow_hyphen_values = true)]
    pub accept_iops_loss: f64,
    /// Also write every single run's row (the common schema) to this CSV.
    #[arg(long, value_name = "FILE")]
    pub rows: Option<PathBuf>,
    /// Replace an output file that pollwise did not write (judged by its
    /// content).
    #[arg(long)]
    pub force: bool,
}

fn compare(a: &CompareArgs) -> Result<()> {
    let bar = pollwise_lab::acceptance::check_bar(a.accept_iops_loss)?;
    let (baseline, candidate) = a.policies.params()?;
    if a.repeat == 0 {
        bail!("--repeat 0: give at least 1 (runs per point and policy)");
    }
    let workloads = a
        .matrix
        .real_matrix()?
        .workloads(&pollwise_realdev::loadgen::LIMITS)?;
    let real = RealBackendArgs {
        target: a.target.clone(),
        cache: CacheArgs::default(),
        rows: a.rows.clone(),
        force: a.force,
    };
    let spec = pollwise_lab::CompareSpec {
        workloads,
        baseline,
        candidate,
        seed: a.seed,
        repeats: a.repeat,
    };
    let how = RealCompare {
        kind: BackendKind::Device,
        format: a.format,
        accept_iops_loss_pct: bar,
    };
    real_compare(&how, spec, &real)
}
