//! `pollwise sim`: one simulated run.

use std::io;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use pollwise_lab::cmd::sim::{self, SimCmd};

use crate::output::Format;
use crate::policy_args::PolicyArgs;
use crate::progress::TERM;
use crate::workload_args::WorkloadArgs;

#[derive(Args, Debug)]
pub struct SimArgs {
    /// Embedded preset name (optane-p4800x, fcp-16disk) or a TOML file.
    #[arg(long, default_value = "optane-p4800x")]
    pub preset: String,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Seed of the run's random generator (same seed, same bytes).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Multiply the simulated device's latencies by this factor.
    #[arg(long, value_name = "F")]
    pub latency_scale: Option<f64>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the window trajectory (CSV, one row per change) to FILE.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write every iteration's wait as CSV (block_ns,handler,in_flight,how:
    /// from the iteration's start to its work), the trace `pollwise policy
    /// ratio` and `policy replay` read; one IOThread only.
    #[arg(long, value_name = "FILE")]
    pub waits: Option<PathBuf>,
    #[command(flatten)]
    pub force: crate::output::ForceArg,
}

pub fn run(a: SimArgs) -> Result<()> {
    let row = sim::run(
        &TERM,
        &SimCmd {
            preset: a.preset,
            policy: a.policy.flags(),
            workload: a.workload.flags(),
            seed: a.seed,
            latency_scale: a.latency_scale,
            trace: a.trace,
            waits: a.waits,
            force: a.force.force,
        },
    )?;
    let out = io::stdout().lock();
    Ok(pollwise_lab::text::write_rows(
        out,
        a.format.into(),
        &[row],
    )?)
}
