//! `pollwise bench`: the simulator's speed against a bare event-queue
//! loop (see `pollwise_lab::cmd::bench`).

use std::io;

use anyhow::Result;
use clap::Args;

use crate::progress::TERM;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Repetitions of each measurement; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Also time the full default compare (32 rows x 2 policies).
    #[arg(long)]
    pub compare: bool,
    #[command(flatten)]
    pub threads: crate::run_args::ThreadsArgs,
}

pub fn run(a: BenchArgs) -> Result<()> {
    let mut out = io::stdout().lock();
    Ok(pollwise_lab::cmd::bench::run(
        &TERM, a.repeat, a.compare, &mut out,
    )?)
}
