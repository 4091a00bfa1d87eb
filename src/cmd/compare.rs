//! `pollwise compare`: a baseline and a candidate over a preset's matrix.

use std::io::{self, Write};

use anyhow::Result;
use clap::{Args, ValueEnum};
use pollwise_lab::compare::{summarize, worst, write_csv};
use pollwise_lab::{compare, CompareSpec, ComparedPoint, Matrix, SimBackend};

use crate::cmd::qemu::{BackendKind, RealBackendArgs};
use crate::cmd::sim::load_preset;
use crate::output::bs_text;
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
    /// Where the runs happen: sim (--preset), device (pollwise's loop on a
    /// disk) or qemu (QEMU's own loop; `pollwise qemu build` first).
    #[arg(long, value_enum, default_value_t = BackendKind::Sim)]
    pub backend: BackendKind,
    /// For --backend device|qemu.
    #[command(flatten)]
    pub real: RealBackendArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    /// The reference table's layout (docs/design.md) plus CPU, and a summary line.
    Table,
    /// One row per matrix row with the compare columns.
    Csv,
}

/// Everything `compare` computes, for `bench` to reuse. Flags not given
/// keep the whole preset matrix's values for their axis.
pub fn compare_rows(args: &CompareArgs) -> Result<Vec<ComparedPoint>> {
    let preset = load_preset(&args.preset, args.latency_scale)?;
    let (baseline, candidate) = args.policies.params()?;
    if args.seeds == 0 {
        anyhow::bail!("workload: seeds = 0: at least one seed is needed");
    }
    let matrix = args.workload.matrix(Matrix::of_preset(&preset.matrix))?;
    let spec = CompareSpec {
        workloads: matrix.workloads(&pollwise_sim::LIMITS)?,
        baseline,
        candidate,
        seed: args.seed,
        repeats: args.seeds,
    };
    Ok(compare(
        &SimBackend { preset },
        &spec,
        &progress::reporter(),
    )?)
}

pub fn run(args: CompareArgs) -> Result<()> {
    if args.backend != BackendKind::Sim {
        return crate::cmd::qemu::compare(&args);
    }
    if args.real.used() {
        anyhow::bail!("{}", RealBackendArgs::SIM_ERROR);
    }
    let rows = compare_rows(&args)?;
    let out = io::stdout().lock();
    match args.format {
        CompareFormat::Table => write_table(out, &rows),
        CompareFormat::Csv => Ok(write_csv(out, &rows, false)?),
    }
}

fn write_table<W: Write>(mut out: W, rows: &[ComparedPoint]) -> Result<()> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let (b, c) = (first.baseline_mean(), first.candidate_mean());
    writeln!(
        out,
        "preset {}: baseline {} ({}) vs candidate {} ({})",
        b.preset, b.policy, b.params, c.policy, c.params
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
        let (b, c) = (r.baseline_mean(), r.candidate_mean());
        writeln!(
            out,
            "{:<10} {:>5} {:>7} {:>9} {:>10.0} {:>10.0} {:>+7.2}% {:>8.1} {:>8.1} {:>+7.1}%",
            w.rw.name(),
            bs_text(w.bs),
            w.numjobs,
            w.iothreads,
            b.iops,
            c.iops,
            r.iops_diff_pct(),
            b.iothread_cpu_pct,
            c.iothread_cpu_pct,
            r.cpu_diff_pct()
        )?;
    }
    let s = summarize(rows);
    let worst = worst(rows)
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
