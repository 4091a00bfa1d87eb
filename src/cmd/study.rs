//! `pollwise study`: the evaluation of every policy (see
//! `pollwise_lab::study`), written to a directory and printed.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use pollwise_lab::cmd::study::measure_options;
use pollwise_lab::cmd::Ui;
use pollwise_lab::{study, StudyOptions};

use crate::device_args::{CacheArgs, TargetArgs};
use crate::progress::TERM;

#[derive(Args, Debug)]
pub struct StudyArgs {
    /// Directory for the summary and the CSVs (created if missing).
    #[arg(long, default_value = "study")]
    pub out: PathBuf,
    /// Seeds per point (the spread is reported over them).
    #[arg(long, default_value_t = 5)]
    pub seeds: u32,
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
    /// Replace an output file that pollwise did not write (judged by its
    /// content).
    #[arg(long)]
    pub force: bool,
    /// With --dir or --file: also measure pollwise and the proposal against
    /// QEMU's rule on that disk (4k randread; one job at queue depth 1 and
    /// 8, four jobs at 8), in pollwise's own loop and, for each variant
    /// `pollwise qemu build` has built, in QEMU's.
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Interleaved pairs per measured point (with --dir or --file).
    #[arg(long, default_value_t = 10)]
    pub repeat: u32,
    /// Measured time per run on the disk, in ms (with --dir or --file).
    #[arg(long, default_value_t = 1000)]
    pub measure_duration_ms: u64,
    #[command(flatten)]
    pub threads: crate::run_args::ThreadsArgs,
}

pub fn run(args: StudyArgs) -> Result<()> {
    let opts = StudyOptions {
        out: args.out,
        seeds: args.seeds,
        duration_ms: args.duration_ms,
        robust_duration_ms: args.robust_duration_ms,
        skip_robustness: args.skip_robustness,
        rollout_duration_ms: args.rollout_duration_ms,
        force: args.force,
    };
    let (target, cache) = (args.target.flags(), args.cache.cache_dir.as_ref());
    let runs = (args.repeat, args.measure_duration_ms);
    let measure = measure_options(&TERM, &target, cache, runs)?;
    let md = study(&opts, measure.as_ref(), &|p| TERM.progress(p))?;
    print!("{md}");
    Ok(())
}
