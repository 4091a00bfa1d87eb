//! `pollwise study`: the evaluation of every policy (see
//! `pollwise_lab::study`), written to a directory and printed.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use pollwise_lab::cmd::study::{measure_options, MeasureRuns};
use pollwise_lab::cmd::{repeat_of, Ui};
use pollwise_lab::{study, StudyOptions};

use crate::device_args::{CacheArgs, TargetArgs};
use crate::progress::TERM;

#[derive(Args, Debug)]
pub struct StudyArgs {
    /// Directory for the summary and the CSVs (created if missing).
    #[arg(long, default_value = "study")]
    pub out: PathBuf,
    /// Simulated runs per point, with seeds 1, 2, ... (the spread is
    /// reported over them) [default: 5].
    #[arg(long, value_name = "N")]
    pub repeat: Option<u32>,
    /// Deprecated: --repeat N.
    #[arg(long, hide = true, conflicts_with = "repeat")]
    pub seeds: Option<u32>,
    /// Measured virtual time per preset run [default: the preset's].
    #[arg(long)]
    pub duration_ms: Option<u64>,
    /// Measured virtual time per robustness run on the fastest devices
    /// (slower devices run longer).
    #[arg(long, default_value_t = 300)]
    pub robust_duration_ms: u64,
    /// Run only the preset tables, not the robustness sweep.
    #[arg(long)]
    pub skip_robustness: bool,
    /// Measured virtual time per run on the rollout's reduced matrix (0: no
    /// rollout).
    #[arg(long, default_value_t = 100)]
    pub rollout_duration_ms: u64,
    #[command(flatten)]
    pub force: crate::output::ForceArg,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Interleaved pairs per measured point, after a warm-up run (with
    /// --dir or --file) [default: 10].
    #[arg(long, value_name = "N")]
    pub measure_repeat: Option<u32>,
    /// Measured time per run on the disk, in ms (with --dir or --file).
    #[arg(long, default_value_t = 1000)]
    pub measure_duration_ms: u64,
    #[command(flatten)]
    pub accept: crate::run_args::AcceptArgs,
    #[command(flatten)]
    pub threads: crate::run_args::ThreadsArgs,
}

pub fn run(args: StudyArgs) -> Result<()> {
    let runs = MeasureRuns {
        repeat: args.measure_repeat,
        duration_ms: args.measure_duration_ms,
        accept_iops_loss_pct: args.accept.accept_iops_loss,
    };
    let (target, cache) = (args.target.flags(), args.cache.cache_dir.as_ref());
    let measure = measure_options(&TERM, &target, cache, args.repeat, runs)?;
    let opts = StudyOptions {
        out: args.out,
        seeds: repeat_of(&TERM, args.repeat, args.seeds, 5)?,
        duration_ms: args.duration_ms,
        robust_duration_ms: args.robust_duration_ms,
        skip_robustness: args.skip_robustness,
        rollout_duration_ms: args.rollout_duration_ms,
        force: args.force.force,
    };
    let md = study(&opts, measure.as_ref(), &|p| TERM.progress(p))?;
    print!("{md}");
    Ok(())
}
