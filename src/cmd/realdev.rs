//! `pollwise realdev`: run policies on a real file or block device through
//! the epoll + Linux AIO loop, compare them, and calibrate a sim preset.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use pollwise_core::{Params, RunRow, TraceRow};
use pollwise_realdev::loadgen::{RwMode, Workload};
use pollwise_realdev::run::{self as device, ParamChange, RunConfig, RunOutput};
use pollwise_realdev::target::TargetSpec;

use crate::policy_args::{parse_pairs, PolicyArgs};

#[derive(Subcommand, Debug)]
pub enum RealdevCommand {
    /// Run one workload on a scratch file (or --file) and print its result
    /// row, in the same schema as `pollwise sim`.
    Run(RunArgs),
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

/// Parses `4096`, `4k`, `128K`, `1m`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1024),
        Some((i, 'm' | 'M')) => (&t[..i], 1024 * 1024),
        _ => (t, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("'{text}' is not a positive size (e.g. 4096, 4k, 128k)"))
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
