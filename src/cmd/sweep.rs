//! `pollwise sweep`: a policy's parameters swept in simulation.

use std::io;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use pollwise_lab::cmd::sweep::{self, SweepCmd};

use crate::policy_args::SPEC_HELP;
use crate::progress::TERM;
use crate::run_args::ThreadsArgs;
use crate::workload_args::WorkloadArgs;

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Embedded preset name (optane-p4800x, fcp-16disk) or a TOML file.
    #[arg(long, default_value = "optane-p4800x")]
    pub preset: String,
    /// The policy whose parameters are swept, with any parameter fixed for
    /// the whole sweep, e.g. `qemu` or `weighted:poll-weight=3` (`pollwise
    /// policy list` has the names, parameters and defaults).
    #[arg(long, default_value = "qemu", value_name = SPEC_HELP, allow_hyphen_values = true)]
    pub policy: String,
    /// NAME=V1,V2,... : one axis of the sweep, a parameter and the list of
    /// its values (repeatable; every combination of the axes runs).
    #[arg(
        long = "param",
        value_name = "NAME=V1,V2,...",
        allow_hyphen_values = true
    )]
    pub params: Vec<String>,
    /// Workload flags take comma-separated lists too; all combinations run.
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Run the preset's whole compare matrix as the workloads.
    #[arg(long, conflicts_with_all = ["rw", "bs", "numjobs", "iodepth", "iothreads"])]
    pub matrix: bool,
    /// Runs per point, with seeds SEED, SEED+1, ... [default: 1].
    #[arg(long, value_name = "N")]
    pub repeat: Option<u32>,
    /// Deprecated: --repeat N.
    #[arg(long, hide = true, conflicts_with = "repeat")]
    pub seeds: Option<u32>,
    /// Seed of the first run; repeat i uses SEED+i.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run only part I of N (1-based) of the points. Every row carries the
    /// sweep's id (a hash of its spec), its shard and its row number in the
    /// whole sweep; `pollwise merge` joins the parts into the whole.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Multiply the simulated device's latencies by this factor.
    #[arg(long, value_name = "F")]
    pub latency_scale: Option<f64>,
    /// Output CSV file [default: stdout].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub force: crate::output::ForceArg,
    #[command(flatten)]
    pub threads: ThreadsArgs,
}

pub fn run(a: SweepArgs) -> Result<()> {
    let c = SweepCmd {
        preset: a.preset,
        policy: a.policy,
        axes: a.params,
        workload: a.workload.flags(),
        matrix: a.matrix,
        repeat: a.repeat,
        seeds: a.seeds,
        seed: a.seed,
        shard: a.shard,
        latency_scale: a.latency_scale,
        out: a.out,
        force: a.force.force,
    };
    Ok(sweep::run(&TERM, &c, &mut io::stdout().lock())?)
}
