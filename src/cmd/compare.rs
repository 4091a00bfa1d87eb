//! `pollwise compare`: a baseline and a candidate over a preset's matrix.

use std::io::{self, Write};

use anyhow::Result;
use clap::{Args, ValueEnum};
use pollwise_core::COMPARE_COLUMNS;
use pollwise_sim::compare::{compare, summarize, ComparedRow};

use crate::cmd::sim::load_preset;
use crate::policy_args::PolicyPairArgs;
use crate::progress;
use crate::workload_args::WorkloadArgs;

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Embedded preset name (optane-p4800x, fcp-16disk) or a TOML file.
    #[arg(long, default_value = "optane-p4800x")]
    pub preset: String,
    #[command(flatten)]
    pub policies: PolicyPairArgs,
    /// Restrict or replace the preset's matrix (comma-separated lists).
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Runs per row, averaged (seeds SEED, SEED+1, ...).
    #[arg(long, default_value_t = 1)]
    pub seeds: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Multiply the device's latencies by this factor.
    #[arg(long, value_name = "F")]
    pub latency_scale: Option<f64>,
    #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
    pub format: CompareFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    /// The DESIGN table's layout plus CPU, and a summary line.
    Table,
    /// One row per matrix row with the compare columns.
    Csv,
}

/// Everything `compare` computes, for other commands (report) to reuse.
pub fn compare_rows(args: &CompareArgs) -> Result<Vec<ComparedRow>> {
    let preset = load_preset(&args.preset, args.latency_scale)?;
    let (baseline, candidate) = args.policies.params()?;
    let given = |o: &Option<String>| o.is_some();
    let w = &args.workload;
    let workloads = if [&w.rw, &w.bs, &w.numjobs, &w.iodepth, &w.iothreads]
        .into_iter()
        .any(given)
    {
        // Flags not given keep the whole matrix's values for that axis.
        let m = &preset.matrix;
        let join = |v: Vec<String>| v.join(",");
        let filled = WorkloadArgs {
            rw: w
                .rw
                .clone()
                .or(Some(join(m.rw.iter().map(|r| r.to_string()).collect()))),
            bs: w
                .bs
                .clone()
                .or(Some(join(m.bs.iter().map(|b| b.to_string()).collect()))),
            numjobs: w.numjobs.clone().or(Some(join(
                m.numjobs.iter().map(|n| n.to_string()).collect(),
            ))),
            iothreads: w.iothreads.clone().or(Some(join(
                m.iothreads.iter().map(|n| n.to_string()).collect(),
            ))),
            ..w.clone()
        };
        filled.workloads(&preset)?
    } else {
        let mut all = preset.matrix.workloads();
        for x in &mut all {
            x.rwmixread = w.rwmixread;
            if let Some(ms) = w.duration_ms {
                x.duration_ms = ms;
            }
        }
        all
    };
    let bar = progress::bar(
        workloads.len() * 2 * args.seeds as usize,
        &format!("{} vs {}", candidate.kind(), baseline.kind()),
    );
    let rows = compare(
        &preset,
        &workloads,
        &baseline,
        &candidate,
        args.seed,
        args.seeds,
        &|| bar.inc(1),
    )?;
    bar.finish_and_clear();
    Ok(rows)
}

pub fn run(args: CompareArgs) -> Result<()> {
    let rows = compare_rows(&args)?;
    let out = io::stdout().lock();
    match args.format {
        CompareFormat::Table => write_table(out, &rows),
        CompareFormat::Csv => write_csv(out, &rows),
    }
}

fn bs_text(bs: u64) -> String {
    if bs % 1024 == 0 {
        format!("{}k", bs / 1024)
    } else {
        bs.to_string()
    }
}

pub fn write_table<W: Write>(mut out: W, rows: &[ComparedRow]) -> Result<()> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    writeln!(
        out,
        "preset {}: baseline {} ({}) vs candidate {} ({})",
        first.baseline.preset,
        first.baseline.policy,
        first.baseline.params,
        first.candidate.policy,
        first.candidate.params
    )?;
    writeln!(
        out,
        "{:<10} {:>5} {:>7} {:>9} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "rw",
        "bs",
        "numjobs",
        "iothreads",
        "iops",
        "cand_iops",
        "diff",
        "cpu%",
        "cand_cpu%",
        "cpu_diff"
    )?;
    for r in rows {
        let w = &r.workload;
        writeln!(
            out,
            "{:<10} {:>5} {:>7} {:>9} {:>10.0} {:>10.0} {:>+7.2}% {:>8.1} {:>8.1} {:>+7.1}%",
            w.rw.name(),
            bs_text(w.bs),
            w.numjobs,
            w.iothreads,
            r.baseline.iops,
            r.candidate.iops,
            r.iops_diff_pct(),
            r.baseline.iothread_cpu_pct,
            r.candidate.iothread_cpu_pct,
            r.cpu_diff_pct()
        )?;
    }
    let s = summarize(rows);
    let worst = rows
        .iter()
        .min_by(|a, b| a.iops_diff_pct().total_cmp(&b.iops_diff_pct()))
        .map(|r| {
            let w = &r.workload;
            format!(
                "{} {} numjobs={} iothreads={}",
                w.rw,
                bs_text(w.bs),
                w.numjobs,
                w.iothreads
            )
        })
        .unwrap_or_default();
    writeln!(
        out,
        "summary: worst IOPS change {:+.2}% ({worst}); mean IOPS change {:+.2}%; mean IOThread CPU change {:+.1}% ({:+.1} points)",
        s.worst_iops_diff_pct, s.mean_iops_diff_pct, s.mean_cpu_diff_pct, s.mean_cpu_diff_points
    )?;
    Ok(())
}

pub fn write_csv<W: Write>(out: W, rows: &[ComparedRow]) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COMPARE_COLUMNS)?;
    for r in rows {
        let wl = &r.workload;
        w.write_record([
            wl.rw.name().to_string(),
            wl.bs.to_string(),
            wl.numjobs.to_string(),
            wl.iothreads.to_string(),
            format!("{:.1}", r.baseline.iops),
            format!("{:.1}", r.candidate.iops),
            format!("{:.4}", r.iops_diff_pct()),
            format!("{:.3}", r.baseline.iothread_cpu_pct),
            format!("{:.3}", r.candidate.iothread_cpu_pct),
            format!("{:.4}", r.cpu_diff_pct()),
            r.baseline.policy.clone(),
            r.candidate.policy.clone(),
            r.baseline.preset.clone(),
            r.baseline.params.clone(),
            r.candidate.params.clone(),
            format!("{:.4}", r.iops_diff_sd_pct),
        ])?;
    }
    w.flush()?;
    Ok(())
}
