//! `pollwise tune`: what to set on this host, predicted and confirmed.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use pollwise_lab::cmd::tune::{self, TuneCmd};
use pollwise_lab::cmd::validate::command_line;

use crate::device_args::{CacheArgs, TargetArgs};
use crate::progress::TERM;
use crate::workload_args::WorkloadArgs;

#[derive(Args, Debug)]
pub struct TuneArgs {
    /// The QEMU release the host runs (10.0 to 11.0: poll-max-ns,
    /// poll-grow, poll-shrink; 11.1 adds poll-weight).
    #[arg(long, value_name = "VERSION")]
    pub qemu_version: String,
    /// The IOPS loss against QEMU's defaults accepted at any point, in %
    /// (above 0, at most 50).
    #[arg(
        long,
        value_name = "PCT",
        default_value_t = 1.0,
        allow_hyphen_values = true
    )]
    pub accept_iops_loss: f64,
    /// Time for the whole run: the calibration and the confirmation pairs.
    #[arg(long, value_name = "MIN", default_value_t = 10.0)]
    pub budget_minutes: f64,
    /// A calibrated preset (`pollwise realdev calibrate`) instead of
    /// calibrating; without --dir or --file nothing is measured.
    #[arg(long, value_name = "FILE")]
    pub preset: Option<String>,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Confirm on the disk only, not also in QEMU's own loop (which
    /// `tune` does when QEMU's variants are built: `pollwise qemu build`).
    #[arg(long)]
    pub no_qemu: bool,
    /// Seed of the first pair's offsets.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the report (tune.md, CSVs, tradeoff.png) to this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub force: crate::output::ForceArg,
}

pub fn run(a: TuneArgs) -> Result<()> {
    let c = TuneCmd {
        workload: a.workload.flags(),
        target: a.target.flags(),
        preset: a.preset,
        qemu_version: a.qemu_version,
        accept_iops_loss: a.accept_iops_loss,
        budget_minutes: a.budget_minutes,
        seed: a.seed,
        out: a.out,
        force: a.force.force,
        cache: a.cache.cache_dir,
        no_qemu: a.no_qemu,
    };
    let mut out = BufWriter::new(io::stdout());
    let result = tune::run(&TERM, &c, &command_line(std::env::args()), &mut out);
    out.flush()?;
    Ok(result.map(drop)?)
}
