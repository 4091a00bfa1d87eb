//! `pollwise bench`: the simulator's speed against a bare event-queue
//! loop (see `pollwise_lab::cmd::bench`).

use std::io;

use anyhow::Result;
use clap::Args;

use crate::progress::TERM;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Interleaved rounds of each ratio (the simulator and its baseline
    /// timed back to back, the order alternating), after one warm-up run
    /// of each; the median ratio and its 95% bootstrap interval are
    /// reported.
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Also time the full default compare (32 rows x 2 policies).
    #[arg(long)]
    pub compare: bool,
    /// Instead: time this build against another build of pollwise (an
    /// earlier revision's target/release/pollwise, for a before/after),
    /// both running the default compare and the SimPy ratio's run as child
    /// processes in interleaved rounds; prints each side's median, the
    /// speed-up with its interval and verdict, and whether both printed
    /// the same bytes.
    #[arg(long, value_name = "BINARY", conflicts_with = "compare")]
    pub against: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub threads: crate::run_args::ThreadsArgs,
}

pub fn run(a: BenchArgs) -> Result<()> {
    let mut out = io::stdout().lock();
    if let Some(other) = &a.against {
        return Ok(pollwise_lab::cmd::bench::against(
            a.repeat, other, &mut out,
        )?);
    }
    Ok(pollwise_lab::cmd::bench::run(
        &TERM, a.repeat, a.compare, &mut out,
    )?)
}
