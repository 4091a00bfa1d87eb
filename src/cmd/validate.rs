//! `pollwise validate`: the same workload on the device and in the
//! simulator (with a calibrated preset), side by side with the relative
//! errors.

use std::io::{self, BufWriter, Write};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use pollwise_core::RunRow;
use pollwise_realdev::loadgen::Workload;
use pollwise_realdev::run::{self as device, RunConfig};

use crate::cmd::realdev::{DeviceMatrixArgs, TargetArgs};
use crate::policy_args::PolicyArgs;

/// Agreement targets: IOPS within 10%, IOThread CPU within 10 points.
pub const IOPS_TOLERANCE_PCT: f64 = 10.0;
pub const CPU_TOLERANCE_POINTS: f64 = 10.0;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The calibrated preset (`pollwise realdev calibrate --out FILE`), or
    /// any preset name or file.
    #[arg(long, value_name = "FILE")]
    pub preset: String,
    #[command(flatten)]
    pub matrix: DeviceMatrixArgs,
    /// Length of each device run and of each simulated run.
    #[arg(long, default_value_t = 3000)]
    pub duration_ms: u64,
    /// Device runs (and simulator seeds) per point, averaged.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[arg(long, value_enum, default_value_t = ValidateFormat::Table)]
    pub format: ValidateFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    Table,
    /// Both rows of every point in the common schema (source sim/realdev).
    Csv,
}

/// One point measured both ways (each the mean over the repeats).
pub struct Agreement {
    pub device: RunRow,
    pub sim: RunRow,
}

impl Agreement {
    pub fn iops_err_pct(&self) -> f64 {
        rel_err(self.device.iops, self.sim.iops)
    }
    pub fn cpu_err_points(&self) -> f64 {
        self.sim.iothread_cpu_pct - self.device.iothread_cpu_pct
    }
    pub fn iops_ok(&self) -> bool {
        self.iops_err_pct().abs() <= IOPS_TOLERANCE_PCT
    }
    pub fn cpu_ok(&self) -> bool {
        self.cpu_err_points().abs() <= CPU_TOLERANCE_POINTS
    }
}

/// The simulator's value relative to the device's, in percent.
pub fn rel_err(device: f64, sim: f64) -> f64 {
    if device == 0.0 {
        if sim == 0.0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        100.0 * (sim - device) / device
    }
}

/// The field-wise mean of rows of one point (labels from the first).
pub fn mean_row(rows: &[RunRow]) -> RunRow {
    let n = rows.len().max(1) as f64;
    let mut m = rows[0].clone();
    let avg = |f: fn(&RunRow) -> f64| rows.iter().map(f).sum::<f64>() / n;
    m.iops = avg(|r| r.iops);
    m.mb_per_s = avg(|r| r.mb_per_s);
    m.lat_mean_us = avg(|r| r.lat_mean_us);
    m.lat_p50_us = avg(|r| r.lat_p50_us);
    m.lat_p99_us = avg(|r| r.lat_p99_us);
    m.lat_p999_us = avg(|r| r.lat_p999_us);
    m.iothread_cpu_pct = avg(|r| r.iothread_cpu_pct);
    m.poll_cpu_pct = avg(|r| r.poll_cpu_pct);
    m.kicks_per_s = avg(|r| r.kicks_per_s);
    m.wakeups_per_s = avg(|r| r.wakeups_per_s);
    m.window_mean_ns = avg(|r| r.window_mean_ns);
    m.window_zero_frac = avg(|r| r.window_zero_frac);
    m.abrupt_resets = (rows.iter().map(|r| r.abrupt_resets).sum::<u64>() as f64 / n).round() as u64;
    m
}

pub fn run(a: ValidateArgs) -> Result<()> {
    let preset = pollwise_sim::Preset::load(&a.preset)?;
    let params = a.policy.params()?;
    if params.kind().is_clairvoyant() {
        bail!(
            "policy '{}' only runs in simulation; validate needs a policy the device can run",
            params.kind()
        );
    }
    if a.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let matrix = a.matrix.workloads(a.seed)?;
    let spec = a.target.spec()?;
    let mut results = Vec::new();
    for w in matrix {
        let (rw, bs, iodepth) = (w.rw, w.bs, w.iodepth);
        let sim_w = pollwise_sim::Workload {
            rw: rw.name().parse()?,
            rwmixread: w.rwmixread,
            bs,
            numjobs: w.numjobs,
            iodepth,
            iothreads: 1,
            duration_ms: a.duration_ms,
        };
        sim_w.validate()?;
        let mut dev_rows = Vec::new();
        let mut sim_rows = Vec::new();
        for rep in 0..a.repeat {
            let seed = a.seed + u64::from(rep);
            let cfg = RunConfig {
                workload: Workload { seed, ..w.clone() },
                duration_ms: a.duration_ms,
                params: params.clone(),
                target: spec.clone(),
                changes: Vec::new(),
                trace: false,
                catch_sigint: true,
            };
            dev_rows.push(device::run(&cfg)?.row);
            sim_rows.push(
                pollwise_sim::simulate(&preset, &sim_w, &params, seed)
                    .with_context(|| format!("simulating {rw} bs={bs} qd={iodepth}"))?,
            );
        }
        results.push(Agreement {
            device: mean_row(&dev_rows),
            sim: mean_row(&sim_rows),
        });
    }
    let mut out = BufWriter::new(io::stdout().lock());
    match a.format {
        ValidateFormat::Table => write_table(&mut out, &results, &a.preset, a.repeat)?,
        ValidateFormat::Csv => {
            let rows: Vec<RunRow> = results
                .iter()
                .flat_map(|r| [r.device.clone(), r.sim.clone()])
                .collect();
            crate::cmd::realdev::write_rows(&mut out, &rows)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn write_table<W: Write>(
    out: &mut W,
    results: &[Agreement],
    preset: &str,
    repeat: u32,
) -> Result<()> {
    let Some(first) = results.first() else {
        return Ok(());
    };
    writeln!(
        out,
        "device vs sim (preset {preset}), policy {} {}, mean of {repeat} run(s) each",
        first.device.policy, first.device.params
    )?;
    writeln!(
        out,
        "targets: IOPS within {IOPS_TOLERANCE_PCT}%, IOThread CPU within {CPU_TOLERANCE_POINTS} points"
    )?;
    writeln!(
        out,
        "{:<26} {:<14} {:>10} {:>10} {:>10}",
        "point", "metric", "device", "sim", "error"
    )?;
    for r in results {
        let d = &r.device;
        let s = &r.sim;
        let point = format!(
            "{} {} jobs={} qd={}",
            d.rw,
            bs_text(d.bs),
            d.numjobs,
            d.iodepth
        );
        let verdict = |ok: bool| if ok { "ok" } else { "MISS" };
        let pct = |dv: f64, sv: f64| format!("{:+.1}%", rel_err(dv, sv));
        writeln!(
            out,
            "{:<26} {:<14} {:>10.0} {:>10.0} {:>10} {}",
            point,
            "IOPS",
            d.iops,
            s.iops,
            pct(d.iops, s.iops),
            verdict(r.iops_ok())
        )?;
        for (name, dv, sv) in [
            ("lat mean us", d.lat_mean_us, s.lat_mean_us),
            ("lat p99 us", d.lat_p99_us, s.lat_p99_us),
        ] {
            writeln!(
                out,
                "{:<26} {:<14} {:>10.1} {:>10.1} {:>10}",
                "",
                name,
                dv,
                sv,
                pct(dv, sv)
            )?;
        }
        writeln!(
            out,
            "{:<26} {:<14} {:>10.1} {:>10.1} {:>+7.1} pt {}",
            "",
            "CPU %",
            d.iothread_cpu_pct,
            s.iothread_cpu_pct,
            r.cpu_err_points(),
            verdict(r.cpu_ok())
        )?;
        writeln!(
            out,
            "{:<26} {:<14} {:>10.1} {:>10.1} {:>+7.1} pt",
            "",
            "poll CPU %",
            d.poll_cpu_pct,
            s.poll_cpu_pct,
            s.poll_cpu_pct - d.poll_cpu_pct
        )?;
        for (name, dv, sv) in [
            ("kicks/s", d.kicks_per_s, s.kicks_per_s),
            ("wake-ups/s", d.wakeups_per_s, s.wakeups_per_s),
        ] {
            writeln!(
                out,
                "{:<26} {:<14} {:>10.0} {:>10.0} {:>10}",
                "",
                name,
                dv,
                sv,
                pct(dv, sv)
            )?;
        }
    }
    let misses = results
        .iter()
        .filter(|r| !(r.iops_ok() && r.cpu_ok()))
        .count();
    writeln!(
        out,
        "{} of {} point(s) within both targets",
        results.len() - misses,
        results.len()
    )?;
    Ok(())
}

fn bs_text(bs: u64) -> String {
    if bs % 1024 == 0 {
        format!("{}k", bs / 1024)
    } else {
        bs.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_error_is_sim_against_device() {
        assert_eq!(rel_err(100.0, 110.0), 10.0);
        assert_eq!(rel_err(200.0, 150.0), -25.0);
        assert_eq!(rel_err(0.0, 0.0), 0.0);
        assert!(rel_err(0.0, 1.0).is_infinite());
    }
}
