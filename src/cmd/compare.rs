//! `pollwise compare`: a baseline and a candidate over a preset's matrix.

use std::io::{self, BufWriter, Write};

use anyhow::Result;
use clap::Args;
use pollwise_lab::cmd::compare::{self, CompareCmd};

use crate::device_args::{BackendKind, RealBackendArgs};
use crate::output::CompareFormat;
use crate::policy_args::PolicyPairArgs;
use crate::progress::TERM;
use crate::run_args::ThreadsArgs;
use crate::workload_args::WorkloadArgs;

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Embedded preset name (optane-p4800x, fcp-16disk) or a TOML file
    /// [default: optane-p4800x; the simulator only]
    #[arg(long)]
    pub preset: Option<String>,
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
    #[command(flatten)]
    pub accept: crate::run_args::AcceptArgs,
    #[command(flatten)]
    pub threads: ThreadsArgs,
}

pub fn run(a: CompareArgs) -> Result<()> {
    let compared = compare::run(
        &TERM,
        &CompareCmd {
            preset: a.preset,
            policies: a.policies.flags(),
            workload: a.workload.flags(),
            repeat: a.repeat,
            seeds: a.seeds,
            seed: a.seed,
            latency_scale: a.latency_scale,
            backend: a.backend.into(),
            real: a.real.flags(),
            accept_iops_loss: a.accept.accept_iops_loss,
        },
    )?;
    let mut out = BufWriter::new(io::stdout().lock());
    compared.write(&mut out, a.format.into())?;
    Ok(out.flush()?)
}
