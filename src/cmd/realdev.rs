//! `pollwise realdev`: run policies on a real file or block device through
//! the epoll + Linux AIO loop, compare them, and calibrate a sim preset.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use pollwise_core::Params;
use pollwise_lab::compare::{write_csv, ComparedPoint, NOISE_BAR_PCT};
use pollwise_lab::rows::write_trace;
use pollwise_lab::stats::{repeats_to_resolve, Verdict, PAIRED_CI_METHOD};
use pollwise_lab::{online, CompareSpec, DeviceBackend};
use pollwise_lab::{Input, Kind, Output};
use pollwise_realdev::run::{self as device, ParamChange, RunConfig, RunOutput};

use crate::device_args::{DeviceMatrixArgs, TargetArgs, WorkloadArgs};
use crate::policy_args::{parse_pairs, PolicyArgs, PolicyPairArgs};
use crate::progress;
use crate::stop;
use crate::workload_args::{list, parse_size};

#[derive(Subcommand, Debug)]
pub enum RealdevCommand {
    /// Run one workload on a scratch file (or --file) and print its result
    /// row, in the same schema as `pollwise sim`.
    Run(RunArgs),
    /// Run a small matrix for a baseline and a candidate policy, repeating
    /// each point, and report means with their spread.
    Compare(CompareArgs),
    /// Measure the device's latency and throughput and the loop's own
    /// costs, and write a simulator preset (load it with --preset FILE).
    Calibrate(CalibrateArgs),
    /// Remove scratch files left by runs that were killed (SIGKILL, power
    /// loss) and whose processes are gone.
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
    let removed = pollwise_realdev::scratch::clean_stale_scratch(&dir)
        .with_context(|| format!("cannot list the scratch directory {}", dir.display()))?;
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

use crate::stop::DEVICE_STOPPED as STOPPED;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub workload: WorkloadArgs,
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
    let changes = parse_changes(&a.set_at, &params, a.workload.duration_ms()?)?;
    let cfg = RunConfig {
        workload: a.workload.workload()?,
        duration_ms: a.workload.duration_ms()?,
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
        Format::Table => print_table(&mut stdout, &out)?,
        Format::Csv => pollwise_lab::rows::write_csv(&mut stdout, std::slice::from_ref(&out.row))?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &out.row)?;
            writeln!(stdout)?;
        }
    }
    stdout.flush()?;
    Ok(())
}

/// `MS:name=value,...` into a change applied over `base`.
fn parse_changes(items: &[String], base: &Params, duration_ms: u64) -> Result<Vec<ParamChange>> {
    let mut current = base.clone();
    let mut changes = Vec::new();
    let mut parsed: Vec<(u64, &str)> = items
        .iter()
        .map(|item| {
            let (ms, pairs) = item.split_once(':').with_context(|| {
                format!("--set-at '{item}' is not MS:NAME=VALUE (e.g. 500:poll-max-ns=8000)")
            })?;
            let ms = ms.trim().parse::<u64>().with_context(|| {
                format!("--set-at '{item}': '{ms}' is not a time in ms (e.g. 500)")
            })?;
            if ms >= duration_ms {
                bail!(
                    "--set-at '{item}': {ms} ms is not inside the run: give a time in                      0..{duration_ms} ms (--duration-ms is {duration_ms})"
                );
            }
            Ok((ms, pairs))
        })
        .collect::<Result<_>>()?;
    parsed.sort_by_key(|(ms, _)| *ms);
    for (ms, pairs) in parsed {
        for (name, value) in parse_pairs(pairs)? {
            current
                .set_str(name, value)
                .with_context(|| format!("--set-at {ms}:{pairs}"))?;
        }
        changes.push(ParamChange {
            at_ms: ms,
            params: current.clone(),
        });
    }
    Ok(changes)
}

fn print_table<W: Write>(out: &mut W, o: &RunOutput) -> Result<()> {
    let r = &o.row;
    let lp = &o.loop_report;
    let s = &o.split;
    writeln!(
        out,
        "target            {} (logical block {} B)",
        o.target_path, o.target_block_size
    )?;
    crate::output::write_run_summary(out, r)?;
    if lp.device_reaped > 0 {
        writeln!(
            out,
            "in the device     mean {:.1} us (io_submit return to reaped; the rest is hand-off)",
            lp.device_ns_total as f64 / lp.device_reaped as f64 / 1000.0
        )?;
    }
    writeln!(
        out,
        "iothread cpu      {:.1}% = poll {:.1}% + busy {:.1}% + blocking overhead {:.1}%",
        s.total_pct, s.poll_pct, s.busy_pct, s.block_overhead_pct
    )?;
    writeln!(out, "asleep            {:.1}% of the time", s.blocked_pct)?;
    writeln!(out, "kicks             {:.0}/s", r.kicks_per_s)?;
    writeln!(out, "wake-ups          {:.0}/s", r.wakeups_per_s)?;
    writeln!(
        out,
        "iterations        {} ({} ended by polling)",
        lp.iterations, lp.polled_hits
    )?;
    writeln!(
        out,
        "window            mean {:.0} ns, zero {:.1}% of the time, {} abrupt resets",
        r.window_mean_ns,
        r.window_zero_frac * 100.0,
        r.abrupt_resets
    )?;
    if lp.params_history.len() > 1 {
        writeln!(
            out,
            "live changes      {}",
            lp.params_history[1..].join(" | ")
        )?;
    }
    if lp.param_rejections > 0 {
        writeln!(out, "rejected changes  {}", lp.param_rejections)?;
    }
    if !lp.user_space_ring {
        writeln!(
            out,
            "note              AIO ring layout unknown: completions read with io_getevents"
        )?;
    }
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
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn calibrate(a: &CalibrateArgs) -> Result<()> {
    use pollwise_lab::calibrated;
    use pollwise_realdev::calibrate::{calibrate, CalibrateConfig};

    let sizes = list("bs", &a.bs, parse_size)?;
    let max_ms = pollwise_realdev::loadgen::LIMITS.duration_ms.1;
    if a.point_ms == 0 || a.point_ms > max_ms {
        bail!("--point-ms {} is out of range 1..={max_ms}", a.point_ms);
    }
    if a.depth == 0 || a.depth > 1024 {
        bail!("--depth {} is out of range 1..=1024", a.depth);
    }
    let output = Output::prepare(
        "--out",
        &a.out,
        Kind::Preset,
        &target_inputs(&a.target),
        a.force,
    )?;
    let cfg = CalibrateConfig {
        target: a.target.spec()?,
        sizes,
        point_ms: a.point_ms,
        saturation_depth: a.depth,
        probe_rounds: a.rounds,
        repeats: a.repeat,
        seed: a.seed,
    };
    if a.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let cal = stop::guarded(STOPPED, || Ok(calibrate(&cfg)?))?;
    let warnings = cal.warnings();
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if !warnings.is_empty() && !a.force {
        bail!(
            "{} warning(s): the measurements do not add up, so no preset was written to {}; \
             fix the cause and rerun, or pass --force to write it anyway",
            warnings.len(),
            a.out.display()
        );
    }
    let preset = calibrated::build(&cal).map_err(anyhow::Error::msg)?;
    let text = calibrated::to_toml(&cal, &preset);
    // What the simulator will read must be what was measured: the text is
    // checked before it is written (reading the output back would hang on
    // a pipe such as /dev/stdout).
    let loaded = pollwise_sim::Preset::from_toml(&text, &a.out.display().to_string())?;
    if loaded != preset {
        bail!(
            "the preset for {} does not read back as the one measured",
            a.out.display()
        );
    }
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
    pub matrix: DeviceMatrixArgs,
    /// Length of each run.
    #[arg(long, default_value_t = 2000)]
    pub duration_ms: u64,
    /// Runs per point and policy, after one warm-up run; baseline and
    /// candidate alternate (AB, BA, ...) so drift in the machine's load
    /// hits both alike.
    #[arg(long, default_value_t = pollwise_lab::stats::DEFAULT_DEVICE_REPEATS)]
    pub repeat: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub target: TargetArgs,
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,
    /// Also write every single run's row (the common schema) to this CSV.
    #[arg(long, value_name = "FILE")]
    pub rows: Option<PathBuf>,
    /// Replace an output file that pollwise did not write (judged by its
    /// content).
    #[arg(long)]
    pub force: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    Table,
    Csv,
}

fn compare(a: &CompareArgs) -> Result<()> {
    let (baseline, candidate) = a.policies.params()?;
    online(&baseline)?;
    online(&candidate)?;
    if a.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let workloads = a
        .matrix
        .matrix(a.duration_ms)?
        .workloads(&pollwise_realdev::loadgen::LIMITS)?;
    // The run set's size, before the scratch file is created and filled.
    pollwise_sim::batch::check_runs(
        (workloads.len() as u64)
            .checked_mul(u64::from(a.repeat))
            .and_then(|n| n.checked_mul(2)),
        &format!(
            "this compare ({} workloads x {} repeats x 2 policies)",
            workloads.len(),
            a.repeat
        ),
    )?;
    let rows_out = match &a.rows {
        Some(path) => Some(Output::prepare(
            "--rows",
            path,
            Kind::Results,
            &target_inputs(&a.target),
            a.force,
        )?),
        None => None,
    };
    let largest_bs = workloads.iter().map(|w| w.bs).max().unwrap_or(4096);
    let backend = DeviceBackend::open(&a.target.spec()?, largest_bs)?;
    let spec = CompareSpec {
        workloads,
        baseline,
        candidate,
        seed: a.seed,
        repeats: a.repeat,
    };
    let points = stop::guarded(STOPPED, || {
        Ok(pollwise_lab::compare(
            &backend,
            &spec,
            &progress::reporter(),
        )?)
    })?;
    if let Some(out) = &rows_out {
        let all = pollwise_lab::compare::all_runs(&points);
        out.write_with(|w| pollwise_lab::rows::write_csv(w, &all))?;
    }
    let mut out = BufWriter::new(io::stdout().lock());
    match a.format {
        CompareFormat::Table => compare_table(&mut out, "device", &points, &spec)?,
        CompareFormat::Csv => write_csv(&mut out, &points, true)?,
    }
    out.flush()?;
    Ok(())
}

/// The table of a paired compare on a real backend (`source`: device or
/// qemu), for `realdev compare` and `compare --backend device|qemu`.
pub fn compare_table<W: Write>(
    out: &mut W,
    source: &str,
    points: &[ComparedPoint],
    s: &CompareSpec,
) -> Result<()> {
    let (baseline, candidate) = (&s.baseline, &s.candidate);
    writeln!(
        out,
        "{source}: baseline {} ({}) vs candidate {} ({}); {} interleaved pair(s) per point after a warm-up run",
        baseline.kind(),
        baseline,
        candidate.kind(),
        candidate,
        s.repeats
    )?;
    writeln!(out, "diff: {PAIRED_CI_METHOD}")?;
    writeln!(
        out,
        "{:<9} {:>5} {:>4} {:>3} {:>3} {:>9} {:>9} {:>26} {:>6} {:>6} {:>24} {:>6}  verdict",
        "rw",
        "bs",
        "jobs",
        "qd",
        "iot",
        "iops",
        "cand_iops",
        "iops diff median [95% CI]",
        "cpu%",
        "cand%",
        "cpu diff pts [95% CI]",
        "n(5%)"
    )?;
    for p in points {
        let (b, c) = (p.baseline_mean(), p.candidate_mean());
        let (iops, cpu) = (p.iops_paired(), p.cpu_paired());
        let ci = |d: &pollwise_lab::stats::PairedDiff, unit: &str| match d.ci {
            Some(ci) => format!("{:+.1}{unit} [{:+.1}, {:+.1}]", d.median, ci.lo, ci.hi),
            None => format!("{:+.1}{unit} [one run]", d.median),
        };
        // Pairs this spread needs to resolve a 5% IOPS change.
        let needed = if p.baseline.len() > 1 {
            repeats_to_resolve(p.iops_diff_sd_pct(), 5.0).map_or("-".into(), |n| n.to_string())
        } else {
            "-".to_string()
        };
        let verdict = p
            .iops_verdict(NOISE_BAR_PCT)
            .map_or("- (one run)", Verdict::name);
        writeln!(
            out,
            "{:<9} {:>5} {:>4} {:>3} {:>3} {:>9.0} {:>9.0} {:>26} {:>6.1} {:>6.1} {:>24} {:>6}  {verdict}",
            p.workload.rw.name(),
            p.workload.bs,
            p.workload.numjobs,
            p.workload.iodepth,
            p.workload.iothreads,
            b.iops,
            c.iops,
            ci(&iops, "%"),
            b.iothread_cpu_pct,
            c.iothread_cpu_pct,
            ci(&cpu, ""),
            needed
        )?;
    }
    writeln!(
        out,
        "verdict: regression or improvement when the IOPS interval lies wholly beyond \
         {NOISE_BAR_PCT}% either way; otherwise no resolvable difference. n(5%): pairs the \
         measured spread of the paired differences needs to resolve a 5% IOPS change"
    )?;
    Ok(())
}
