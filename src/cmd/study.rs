//! `pollwise study`: the evaluation of every policy (see
//! `pollwise_lab::study`), written to a directory and printed.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use pollwise_lab::acceptance::DEFAULT_ACCEPT_IOPS_LOSS_PCT;
use pollwise_lab::stats::DEFAULT_DEVICE_REPEATS;
use pollwise_lab::{study, MeasureOptions, StudyOptions};

use crate::cmd::real::CacheArgs;
use crate::device_args::TargetArgs;
use crate::progress;
use crate::run_args::repeat_of;

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
    /// Interleaved pairs per measured point, after a warm-up run (with
    /// --dir or --file) [default: 10].
    #[arg(long, value_name = "N")]
    pub measure_repeat: Option<u32>,
    /// Measured time per run on the disk, in ms (with --dir or --file).
    #[arg(long, default_value_t = 1000)]
    pub measure_duration_ms: u64,
    /// The acceptance bar of the measured part's verdict, the rule of
    /// compare: the IOPS loss in percent a candidate may have on any point
    /// (the maintainer's bar is 5), judged on the 95% interval.
    #[arg(long, value_name = "PCT", default_value_t = DEFAULT_ACCEPT_IOPS_LOSS_PCT, allow_hyphen_values = true)]
    pub accept_iops_loss: f64,
    #[command(flatten)]
    pub threads: crate::run_args::ThreadsArgs,
}

pub fn run(args: StudyArgs) -> Result<()> {
    let measuring = args.target.dir.is_some() || args.target.file.is_some();
    if let (true, Some(n), None) = (measuring, args.repeat, args.measure_repeat) {
        // --repeat once counted the measured pairs here; say what it is now.
        eprintln!(
            "note: --repeat {n} sets the simulated runs per point; the measured pairs per \
             point are --measure-repeat (default {DEFAULT_DEVICE_REPEATS})"
        );
    }
    let opts = StudyOptions {
        out: args.out,
        seeds: repeat_of(args.repeat, args.seeds, 5)?,
        duration_ms: args.duration_ms,
        robust_duration_ms: args.robust_duration_ms,
        skip_robustness: args.skip_robustness,
        rollout_duration_ms: args.rollout_duration_ms,
        force: args.force,
    };
    let measure = if measuring {
        Some(MeasureOptions {
            target: args.target.spec()?,
            qemu_cache: args.cache.dir()?,
            repeats: args.measure_repeat.unwrap_or(DEFAULT_DEVICE_REPEATS),
            duration_ms: args.measure_duration_ms,
            accept_iops_loss_pct: args.accept_iops_loss,
        })
    } else {
        None
    };
    let md = study(&opts, measure.as_ref(), &progress::reporter())?;
    print!("{md}");
    Ok(())
}
