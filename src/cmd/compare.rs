//! `pollwise compare`: a baseline and a candidate over a preset's matrix.

use std::io;

use anyhow::Result;
use clap::{Args, ValueEnum};
use pollwise_core::Params;
use pollwise_lab::acceptance::{check_bar, DEFAULT_ACCEPT_IOPS_LOSS_PCT};
use pollwise_lab::compare::write_csv;
use pollwise_lab::text::{write_compare_table, TableContext};
use pollwise_lab::{compare, CompareSpec, ComparedPoint, Matrix, SimBackend};

use crate::cmd::real::{BackendKind, RealBackendArgs};
use crate::cmd::sim::load_preset;
use crate::policy_args::PolicyPairArgs;
use crate::progress;
use crate::run_args::{repeat_of, ThreadsArgs};
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
    /// Runs per row and policy [default: 1 on the simulator, averaged over
    /// seeds SEED, SEED+1, ...; 10 on device|qemu, interleaved (AB, BA,
    /// ...) after a warm-up run].
    #[arg(long, value_name = "N")]
    pub repeat: Option<u32>,
    /// Deprecated: --repeat N.
    #[arg(long, hide = true, conflicts_with = "repeat")]
    pub seeds: Option<u32>,
    /// Seed of the first run; repeat i uses SEED+i.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Multiply the simulated device's latencies by this factor.
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
    /// The acceptance bar of the verdict, on every backend: the IOPS loss
    /// in percent the candidate may have on any row (the maintainer's bar
    /// is 5), judged on the 95% interval with two or more repeats.
    #[arg(long, value_name = "PCT", default_value_t = DEFAULT_ACCEPT_IOPS_LOSS_PCT, allow_hyphen_values = true)]
    pub accept_iops_loss: f64,
    #[command(flatten)]
    pub threads: ThreadsArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    /// The reference table's layout (docs/design.md) plus CPU, and a summary line.
    Table,
    /// One row per matrix row with the compare columns.
    Csv,
}

/// Everything `compare` computes on the simulator, for `bench` to reuse.
/// Flags not given keep the whole preset matrix's values for their axis.
pub fn compare_rows(
    args: &CompareArgs,
    (baseline, candidate): (Params, Params),
    repeats: u32,
) -> Result<Vec<ComparedPoint>> {
    let preset = args
        .workload
        .apply_to_preset(load_preset(&args.preset, args.latency_scale)?)?;
    let matrix = args.workload.matrix(Matrix::of_preset(&preset.matrix))?;
    let spec = CompareSpec {
        workloads: matrix.workloads(&pollwise_sim::LIMITS)?,
        baseline,
        candidate,
        seed: args.seed,
        repeats,
    };
    Ok(compare(
        &SimBackend { preset },
        &spec,
        &progress::reporter(),
    )?)
}

pub fn run(args: CompareArgs) -> Result<()> {
    let bar = check_bar(args.accept_iops_loss)?;
    let policies = args.policies.params()?;
    if args.backend != BackendKind::Sim {
        let repeats = repeat_of(
            args.repeat,
            args.seeds,
            pollwise_lab::stats::DEFAULT_DEVICE_REPEATS,
        )?;
        return crate::cmd::real::compare(&args, policies, repeats, bar);
    }
    if args.real.used() {
        anyhow::bail!("{}", RealBackendArgs::SIM_ERROR);
    }
    let repeats = repeat_of(args.repeat, args.seeds, 1)?;
    let rows = compare_rows(&args, policies.clone(), repeats)?;
    let out = io::stdout().lock();
    match args.format {
        CompareFormat::Table => {
            let preset = load_preset(&args.preset, args.latency_scale)?;
            let (baseline, candidate) = policies;
            let ctx = TableContext {
                baseline: &baseline,
                candidate: &candidate,
                seed: args.seed,
                warmup_ms: Some(preset.matrix.warmup_ms),
                accept_iops_loss_pct: bar,
            };
            Ok(write_compare_table(out, &rows, &ctx)?)
        }
        CompareFormat::Csv => Ok(write_csv(out, &rows, false)?),
    }
}
