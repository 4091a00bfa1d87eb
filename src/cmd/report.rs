//! `pollwise report`: the default compare, a small sweep and traced runs in
//! simulation, every plot and an index (see `pollwise_lab::report`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use pollwise_lab::cmd::{repeat_of, Ui};
use pollwise_lab::{report, ReportOptions};

use crate::progress::TERM;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Embedded preset name (optane-p4800x, fcp-16disk) or a TOML file.
    #[arg(long, default_value = "optane-p4800x")]
    pub preset: String,
    /// Directory to write into (created if missing; files pollwise wrote
    /// before are replaced, others only with --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Runs per sweep point, averaged in the heatmaps (seeds SEED,
    /// SEED+1, ...) [default: 2].
    #[arg(long, value_name = "N")]
    pub repeat: Option<u32>,
    /// Deprecated: --repeat N.
    #[arg(long, hide = true, conflicts_with = "repeat")]
    pub seeds: Option<u32>,
    /// Seed of the first run; repeat i uses SEED+i.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulated time of each sweep and trace run, in ms.
    #[arg(long, default_value_t = 100)]
    pub duration_ms: u64,
    /// Simulated time of each compare run, in ms [default: the preset's].
    #[arg(long, value_name = "MS")]
    pub compare_duration_ms: Option<u64>,
    #[command(flatten)]
    pub force: crate::output::ForceArg,
    #[command(flatten)]
    pub threads: crate::run_args::ThreadsArgs,
}

pub fn run(args: ReportArgs) -> Result<()> {
    let opts = ReportOptions {
        preset: args.preset,
        out: args.out,
        seeds: repeat_of(&TERM, args.repeat, args.seeds, 2)?,
        seed: args.seed,
        duration_ms: args.duration_ms,
        compare_duration_ms: args.compare_duration_ms,
        force: args.force.force,
    };
    let index = report(&opts, &|p| TERM.progress(p))?;
    eprintln!("wrote {}", index.display());
    Ok(())
}
