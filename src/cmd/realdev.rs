//! `pollwise realdev`: run policies on a real file or block device through
//! the epoll + Linux AIO loop, compare them, and calibrate a sim preset.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use pollwise_core::{Params, RunRow, TraceRow};
use pollwise_realdev::loadgen::{RwMode, Workload};
use pollwise_realdev::run::{self as device, ParamChange, RunConfig, RunOutput};
use pollwise_realdev::target::TargetSpec;

use crate::policy_args::{parse_pairs, PolicyArgs, PolicyPairArgs};
use crate::workload_args::{count, list, parse_size};

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
}

/// The fio-like workload, with `pollwise sim`'s flag names.
#[derive(Args, Clone, Debug)]
pub struct WorkloadArgs {
    /// randread, randwrite, read, write or randrw.
    #[arg(long, default_value = "randread")]
    pub rw: String,
    /// Block size in bytes; a k or m suffix multiplies by 1024 or 1024^2.
    #[arg(long, default_value = "4k", value_parser = parse_size)]
    pub bs: u64,
    #[arg(long, default_value_t = 1)]
    pub numjobs: u32,
    #[arg(long, default_value_t = 1)]
    pub iodepth: u32,
    /// Percentage of reads for randrw.
    #[arg(long, default_value_t = 50)]
    pub rwmixread: u32,
    #[arg(long, default_value_t = 1000)]
    pub duration_ms: u64,
    /// Seeds the jobs' offset generators.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl WorkloadArgs {
    pub fn workload(&self) -> Result<Workload> {
        let w = Workload {
            rw: RwMode::from_name(&self.rw).map_err(anyhow::Error::msg)?,
            rwmixread: self.rwmixread,
            bs: self.bs,
            numjobs: self.numjobs,
            iodepth: self.iodepth,
            seed: self.seed,
        };
        w.validate().map_err(anyhow::Error::msg)?;
        Ok(w)
    }
}

/// Where the I/O goes.
#[derive(Args, Clone, Debug)]
pub struct TargetArgs {
    /// Directory for the scratch file (default: the system temp dir). It
    /// must be on a filesystem that supports O_DIRECT.
    #[arg(long, value_name = "DIR", conflicts_with = "file")]
    pub dir: Option<PathBuf>,
    /// An existing file or block device to use instead of a scratch file.
    /// Read-only unless --allow-write-to names the same path.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Size of the scratch file in MiB.
    #[arg(long, default_value_t = 256)]
    pub size_mb: u64,
    /// Allow writing to this exact path (destroying its contents); it must
    /// be the same file as --file.
    #[arg(long, value_name = "PATH")]
    pub allow_write_to: Option<PathBuf>,
}

impl TargetArgs {
    pub fn spec(&self) -> Result<TargetSpec> {
        if self.size_mb == 0 {
            bail!("--size-mb must be positive (e.g. 256)");
        }
        Ok(match &self.file {
            Some(path) => TargetSpec::Existing {
                path: path.clone(),
                allow_write_to: self.allow_write_to.clone(),
            },
            None => {
                if let Some(a) = &self.allow_write_to {
                    bail!(
                        "--allow-write-to {} needs --file naming the same path",
                        a.display()
                    );
                }
                TargetSpec::Scratch {
                    dir: self.dir.clone(),
                    size_bytes: self.size_mb << 20,
                }
            }
        })
    }
}

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
    /// Write the window trajectory (one row per loop iteration) as CSV.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Change policy parameters while running, e.g. --set-at
    /// 500:poll-max-ns=8000 (repeatable; like QEMU's qom-set on a live
    /// IOThread).
    #[arg(long, value_name = "MS:NAME=VALUE,...")]
    pub set_at: Vec<String>,
}

pub fn run(command: RealdevCommand) -> Result<()> {
    match command {
        RealdevCommand::Run(a) => run_one(&a),
        RealdevCommand::Compare(a) => compare(&a),
        RealdevCommand::Calibrate(a) => calibrate(&a),
    }
}

fn run_one(a: &RunArgs) -> Result<()> {
    let params = a.policy.params()?;
    if params.kind().is_clairvoyant() {
        bail!(
            "policy '{}' needs to know the future and only runs in simulation; \
             pick an online policy (see `pollwise policy list`)",
            params.kind()
        );
    }
    let changes = parse_changes(&a.set_at, &params)?;
    let cfg = RunConfig {
        workload: a.workload.workload()?,
        duration_ms: a.workload.duration_ms,
        params,
        target: a.target.spec()?,
        changes,
        trace: a.trace.is_some(),
        catch_sigint: true,
    };
    let out = device::run(&cfg)?;
    if let Some(path) = &a.trace {
        write_trace(path, &out.trace)?;
    }
    let mut stdout = BufWriter::new(io::stdout().lock());
    match a.format {
        Format::Table => print_table(&mut stdout, &out)?,
        Format::Csv => write_rows(&mut stdout, std::slice::from_ref(&out.row))?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut stdout, &out.row)?;
            writeln!(stdout)?;
        }
    }
    stdout.flush()?;
    Ok(())
}

/// `MS:name=value,...` into a change applied over `base`.
fn parse_changes(items: &[String], base: &Params) -> Result<Vec<ParamChange>> {
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

pub fn write_rows<W: Write>(out: W, rows: &[RunRow]) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    for row in rows {
        w.serialize(row)?;
    }
    w.flush()?;
    Ok(())
}

fn write_trace(path: &PathBuf, rows: &[TraceRow]) -> Result<()> {
    let file = std::fs::File::create(path)
        .with_context(|| format!("creating trace file {}", path.display()))?;
    let mut w = csv::Writer::from_writer(BufWriter::new(file));
    for row in rows {
        w.serialize(row)?;
    }
    w.flush()
        .with_context(|| format!("writing trace file {}", path.display()))?;
    Ok(())
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
    writeln!(out, "policy            {} {}", r.policy, r.params)?;
    writeln!(
        out,
        "workload          rw={} bs={} numjobs={} iodepth={} duration={} ms seed={}",
        r.rw, r.bs, r.numjobs, r.iodepth, r.duration_ms, r.seed
    )?;
    writeln!(out, "iops              {:.0}", r.iops)?;
    writeln!(out, "bandwidth         {:.1} MB/s", r.mb_per_s)?;
    writeln!(
        out,
        "latency (us)      mean {:.1}  p50 {:.1}  p99 {:.1}  p99.9 {:.1}",
        r.lat_mean_us, r.lat_p50_us, r.lat_p99_us, r.lat_p999_us
    )?;
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
    /// Where to write the preset (TOML).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
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
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn calibrate(a: &CalibrateArgs) -> Result<()> {
    use pollwise_realdev::calibrate::{calibrate, CalibrateConfig};
    use pollwise_realdev::local_preset;

    let sizes = list("bs", &a.bs, parse_size)?;
    if a.depth == 0 || a.depth > 1024 {
        bail!("--depth {} is out of range 1..=1024", a.depth);
    }
    let cfg = CalibrateConfig {
        target: a.target.spec()?,
        sizes,
        point_ms: a.point_ms,
        saturation_depth: a.depth,
        probe_rounds: a.rounds,
        seed: a.seed,
    };
    let _sigint = pollwise_realdev::sys::SigintGuard::install()?;
    let cal = calibrate(&cfg)?;
    let preset = local_preset::build(&cal).map_err(anyhow::Error::msg)?;
    let text = local_preset::to_toml(&cal, &preset);
    std::fs::write(&a.out, &text).with_context(|| format!("writing {}", a.out.display()))?;
    // What the simulator will read back must be what was measured.
    let loaded = pollwise_sim::Preset::load(&a.out.display().to_string())?;
    if loaded != preset {
        bail!(
            "{} does not read back as the preset written",
            a.out.display()
        );
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
    /// Runs per point and policy; baseline and candidate alternate so drift
    /// in the machine's load hits both alike.
    #[arg(long, default_value_t = 3)]
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
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    Table,
    Csv,
}

/// Mean and range of one measure over the repeats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Spread {
        let n = values.len().max(1) as f64;
        Spread {
            mean: values.iter().sum::<f64>() / n,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// One matrix point measured for both policies.
struct ComparedPoint {
    workload: Workload,
    baseline: Vec<RunRow>,
    candidate: Vec<RunRow>,
}

impl ComparedPoint {
    fn iops(rows: &[RunRow]) -> Spread {
        Spread::of(&rows.iter().map(|r| r.iops).collect::<Vec<_>>())
    }
    fn cpu(rows: &[RunRow]) -> Spread {
        Spread::of(&rows.iter().map(|r| r.iothread_cpu_pct).collect::<Vec<_>>())
    }
}

fn pct_diff(base: f64, cand: f64) -> f64 {
    if base == 0.0 {
        0.0
    } else {
        100.0 * (cand - base) / base
    }
}

/// Refuses the clairvoyant oracle, which needs the simulator's knowledge.
fn online(params: Params) -> Result<Params> {
    if params.kind().is_clairvoyant() {
        bail!(
            "policy '{}' only runs in simulation; pick an online policy",
            params.kind()
        );
    }
    Ok(params)
}

fn compare(a: &CompareArgs) -> Result<()> {
    let (baseline, candidate) = a.policies.params()?;
    let (baseline, candidate) = (online(baseline)?, online(candidate)?);
    if a.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let mut points: Vec<ComparedPoint> = a
        .matrix
        .workloads(a.seed)?
        .into_iter()
        .map(|workload| ComparedPoint {
            workload,
            baseline: Vec::new(),
            candidate: Vec::new(),
        })
        .collect();
    let largest_bs = points.iter().map(|p| p.workload.bs).max().unwrap_or(4096);
    // One scratch file for the whole matrix (filled once), kept open until
    // the end so it is removed on every exit path.
    // Held across all runs, so a Ctrl-C between them (or while the shared
    // scratch file is filled) also ends through the path that removes it.
    let sigint = pollwise_realdev::sys::SigintGuard::install()?;
    let shared = SharedTarget::open(&a.target.spec()?, largest_bs)?;
    let total = points.len() as u32 * a.repeat * 2;
    let mut done = 0;
    let progress = io::stderr().is_terminal();
    for rep in 0..a.repeat {
        for point in &mut points {
            // Alternate which policy goes first, so a trend in the machine's
            // load does not favour one.
            let order = if rep % 2 == 0 {
                [(&baseline, true), (&candidate, false)]
            } else {
                [(&candidate, false), (&baseline, true)]
            };
            for (params, is_baseline) in order {
                if sigint.interrupted() {
                    bail!("interrupted by Ctrl-C; the scratch file is removed");
                }
                done += 1;
                if progress {
                    eprint!(
                        "\r[{done}/{total}] {} {} bs={} qd={} jobs={}        ",
                        params.kind(),
                        point.workload.rw,
                        point.workload.bs,
                        point.workload.iodepth,
                        point.workload.numjobs
                    );
                }
                let cfg = RunConfig {
                    workload: Workload {
                        seed: a.seed + u64::from(rep),
                        ..point.workload.clone()
                    },
                    duration_ms: a.duration_ms,
                    params: params.clone(),
                    target: shared.spec.clone(),
                    changes: Vec::new(),
                    trace: false,
                    catch_sigint: true,
                };
                let mut row = device::run(&cfg)?.row;
                row.preset = shared.label.clone();
                if is_baseline {
                    point.baseline.push(row);
                } else {
                    point.candidate.push(row);
                }
            }
        }
    }
    if progress {
        eprintln!();
    }
    if let Some(path) = &a.rows {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let all: Vec<RunRow> = points
            .iter()
            .flat_map(|p| p.baseline.iter().chain(&p.candidate).cloned())
            .collect();
        write_rows(BufWriter::new(file), &all)?;
    }
    let mut out = BufWriter::new(io::stdout().lock());
    match a.format {
        CompareFormat::Table => compare_table(&mut out, &points, &baseline, &candidate, a.repeat)?,
        CompareFormat::Csv => compare_csv(&mut out, &points, &shared.label)?,
    }
    out.flush()?;
    Ok(())
}

/// A target every run of a matrix reopens: a scratch file made once (sized
/// for the largest bs) or the user's --file, with its write permission.
struct SharedTarget {
    spec: TargetSpec,
    label: String,
    _scratch: Option<pollwise_realdev::target::Target>,
}

impl SharedTarget {
    fn open(spec: &TargetSpec, max_bs: u64) -> Result<SharedTarget> {
        match spec {
            TargetSpec::Scratch { .. } => {
                let scratch = pollwise_realdev::target::Target::open(spec, max_bs, true)?;
                let path = scratch.path().to_path_buf();
                Ok(SharedTarget {
                    spec: TargetSpec::Existing {
                        path: path.clone(),
                        allow_write_to: Some(path),
                    },
                    label: "scratch".into(),
                    _scratch: Some(scratch),
                })
            }
            TargetSpec::Existing { path, .. } => Ok(SharedTarget {
                spec: spec.clone(),
                label: path.display().to_string(),
                _scratch: None,
            }),
        }
    }
}

fn compare_table<W: Write>(
    out: &mut W,
    points: &[ComparedPoint],
    baseline: &Params,
    candidate: &Params,
    repeat: u32,
) -> Result<()> {
    writeln!(
        out,
        "baseline {} ({}) vs candidate {} ({}); mean (min..max) of {repeat} runs",
        baseline.kind(),
        baseline,
        candidate.kind(),
        candidate
    )?;
    writeln!(
        out,
        "{:<9} {:>5} {:>4} {:>3} {:>24} {:>24} {:>8} {:>19} {:>19} {:>8}",
        "rw", "bs", "jobs", "qd", "iops", "cand_iops", "diff", "cpu%", "cand_cpu%", "cpu_diff"
    )?;
    for p in points {
        let (bi, ci) = (
            ComparedPoint::iops(&p.baseline),
            ComparedPoint::iops(&p.candidate),
        );
        let (bc, cc) = (
            ComparedPoint::cpu(&p.baseline),
            ComparedPoint::cpu(&p.candidate),
        );
        let iops = |s: Spread| format!("{:.0} ({:.0}..{:.0})", s.mean, s.min, s.max);
        let cpu = |s: Spread| format!("{:.1} ({:.1}..{:.1})", s.mean, s.min, s.max);
        writeln!(
            out,
            "{:<9} {:>5} {:>4} {:>3} {:>24} {:>24} {:>+7.2}% {:>19} {:>19} {:>+7.1}%",
            p.workload.rw.name(),
            p.workload.bs,
            p.workload.numjobs,
            p.workload.iodepth,
            iops(bi),
            iops(ci),
            pct_diff(bi.mean, ci.mean),
            cpu(bc),
            cpu(cc),
            pct_diff(bc.mean, cc.mean)
        )?;
    }
    Ok(())
}

/// The compare columns every compare table has, then iodepth (the realdev
/// matrix varies it) and the spread of each mean.
const SPREAD_COLUMNS: [&str; 10] = [
    "iodepth",
    "repeat",
    "baseline_iops_min",
    "baseline_iops_max",
    "candidate_iops_min",
    "candidate_iops_max",
    "baseline_cpu_min",
    "baseline_cpu_max",
    "candidate_cpu_min",
    "candidate_cpu_max",
];

fn compare_csv<W: Write>(out: &mut W, points: &[ComparedPoint], label: &str) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let header: Vec<&str> = pollwise_core::COMPARE_COLUMNS
        .iter()
        .chain(SPREAD_COLUMNS.iter())
        .copied()
        .collect();
    w.write_record(&header)?;
    for p in points {
        let record: Vec<String> = header
            .iter()
            .map(|name| compare_value(p, label, name).unwrap_or_default())
            .collect();
        w.write_record(&record)?;
    }
    w.flush()?;
    Ok(())
}

/// The value of one compare column for a point; `None` for a column this
/// command does not know (the test below keeps that list complete).
fn compare_value(p: &ComparedPoint, label: &str, column: &str) -> Option<String> {
    let (bi, ci) = (
        ComparedPoint::iops(&p.baseline),
        ComparedPoint::iops(&p.candidate),
    );
    let (bc, cc) = (
        ComparedPoint::cpu(&p.baseline),
        ComparedPoint::cpu(&p.candidate),
    );
    let (b, c) = (p.baseline.first()?, p.candidate.first()?);
    let w = &p.workload;
    Some(match column {
        "rw" => w.rw.name().to_string(),
        "bs" => w.bs.to_string(),
        "numjobs" => w.numjobs.to_string(),
        "iothreads" => "1".to_string(),
        "baseline_iops" => format!("{:.1}", bi.mean),
        "candidate_iops" => format!("{:.1}", ci.mean),
        "iops_diff_pct" => format!("{:.4}", pct_diff(bi.mean, ci.mean)),
        "baseline_cpu_pct" => format!("{:.3}", bc.mean),
        "candidate_cpu_pct" => format!("{:.3}", cc.mean),
        "cpu_diff_pct" => format!("{:.4}", pct_diff(bc.mean, cc.mean)),
        "baseline" => b.policy.clone(),
        "candidate" => c.policy.clone(),
        "preset" => label.to_string(),
        "baseline_params" => b.params.clone(),
        "candidate_params" => c.params.clone(),
        "iops_diff_sd_pct" => {
            // Repeats are paired by index (same seed, adjacent in time).
            let diffs: Vec<f64> = p
                .baseline
                .iter()
                .zip(&p.candidate)
                .map(|(b, c)| pct_diff(b.iops, c.iops))
                .collect();
            format!("{:.4}", std_dev(&diffs))
        }
        "iodepth" => w.iodepth.to_string(),
        "repeat" => p.baseline.len().to_string(),
        "baseline_iops_min" => format!("{:.1}", bi.min),
        "baseline_iops_max" => format!("{:.1}", bi.max),
        "candidate_iops_min" => format!("{:.1}", ci.min),
        "candidate_iops_max" => format!("{:.1}", ci.max),
        "baseline_cpu_min" => format!("{:.3}", bc.min),
        "baseline_cpu_max" => format!("{:.3}", bc.max),
        "candidate_cpu_min" => format!("{:.3}", cc.min),
        "candidate_cpu_max" => format!("{:.3}", cc.max),
        _ => return None,
    })
}

/// Sample standard deviation (0 for fewer than two values).
fn std_dev(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// The small workload matrix `realdev compare` and `validate` run: every
/// combination of the comma-separated lists.
#[derive(Args, Debug)]
pub struct DeviceMatrixArgs {
    /// rw modes of the matrix, comma-separated.
    #[arg(long, default_value = "randread")]
    pub rw: String,
    /// Block sizes, comma-separated (k and m suffixes allowed).
    #[arg(long, default_value = "4k")]
    pub bs: String,
    #[arg(long, default_value = "1")]
    pub numjobs: String,
    #[arg(long, default_value = "1,8")]
    pub iodepth: String,
    #[arg(long, default_value_t = 50)]
    pub rwmixread: u32,
}

impl DeviceMatrixArgs {
    /// Every combination, validated, in rw, bs, numjobs, iodepth order.
    pub fn workloads(&self, seed: u64) -> Result<Vec<Workload>> {
        let rws = list("rw", &self.rw, RwMode::from_name)?;
        let sizes = list("bs", &self.bs, parse_size)?;
        let jobs = list("numjobs", &self.numjobs, count)?;
        let depths = list("iodepth", &self.iodepth, count)?;
        let mut out = Vec::new();
        for &rw in &rws {
            for &bs in &sizes {
                for &numjobs in &jobs {
                    for &iodepth in &depths {
                        let w = Workload {
                            rw,
                            rwmixread: self.rwmixread,
                            bs,
                            numjobs,
                            iodepth,
                            seed,
                        };
                        w.validate().map_err(anyhow::Error::msg)?;
                        out.push(w);
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(policy: &str, iops: f64, cpu: f64) -> RunRow {
        RunRow {
            source: "realdev".into(),
            preset: "scratch".into(),
            policy: policy.into(),
            params: String::new(),
            rw: "randread".into(),
            bs: 4096,
            numjobs: 1,
            iodepth: 8,
            iothreads: 1,
            duration_ms: 100,
            seed: 1,
            iops,
            mb_per_s: 0.0,
            lat_mean_us: 0.0,
            lat_p50_us: 0.0,
            lat_p99_us: 0.0,
            lat_p999_us: 0.0,
            iothread_cpu_pct: cpu,
            poll_cpu_pct: 0.0,
            kicks_per_s: 0.0,
            wakeups_per_s: 0.0,
            window_mean_ns: 0.0,
            window_zero_frac: 0.0,
            abrupt_resets: 0,
        }
    }

    fn point() -> ComparedPoint {
        ComparedPoint {
            workload: Workload {
                rw: RwMode::RandRead,
                rwmixread: 50,
                bs: 4096,
                numjobs: 1,
                iodepth: 8,
                seed: 1,
            },
            baseline: vec![row("qemu", 100.0, 50.0), row("qemu", 200.0, 70.0)],
            candidate: vec![row("weighted", 110.0, 40.0), row("weighted", 180.0, 40.0)],
        }
    }

    #[test]
    fn every_compare_column_has_a_value() {
        let p = point();
        for name in pollwise_core::COMPARE_COLUMNS
            .iter()
            .chain(SPREAD_COLUMNS.iter())
        {
            assert!(
                compare_value(&p, "scratch", name).is_some(),
                "unknown column {name}"
            );
        }
    }

    #[test]
    fn means_spreads_and_diffs_by_hand() {
        let p = point();
        let v = |c| compare_value(&p, "scratch", c).unwrap();
        // Baseline IOPS 100, 200 -> mean 150; candidate 110, 180 -> 145.
        assert_eq!(v("baseline_iops"), "150.0");
        assert_eq!(v("candidate_iops"), "145.0");
        assert_eq!(v("iops_diff_pct"), format!("{:.4}", -5.0 / 150.0 * 100.0));
        assert_eq!(v("baseline_iops_min"), "100.0");
        assert_eq!(v("baseline_iops_max"), "200.0");
        // CPU 60 -> 40: -33.33%.
        assert_eq!(v("cpu_diff_pct"), "-33.3333");
        // Paired diffs +10% and -10%: sample sd = sqrt(200) = 14.1421.
        assert_eq!(v("iops_diff_sd_pct"), "14.1421");
        assert_eq!(
            (v("baseline"), v("candidate"), v("iodepth")),
            ("qemu".into(), "weighted".into(), "8".into())
        );
    }

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("128K"), Ok(131072));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert!(parse_size("0").is_err());
        assert!(parse_size("k").is_err());
        assert!(parse_size("-4k").is_err());
    }
}
