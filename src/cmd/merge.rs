//! `pollwise merge`: shard files of one sweep joined into the whole.

use std::io;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::progress::TERM;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shard files (`sweep --shard I/N --out ...`), in any order.
    #[arg(required = true, value_name = "SHARD.csv")]
    pub shards: Vec<PathBuf>,
    /// Output CSV file [default: stdout]. It is byte-identical to the
    /// unsharded sweep's output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub force: crate::output::ForceArg,
}

pub fn run(a: MergeArgs) -> Result<()> {
    let mut stdout = io::stdout().lock();
    let out = (a.out.as_ref(), a.force.force);
    let (files, rows) = pollwise_lab::cmd::merge::run(&TERM, &a.shards, out, &mut stdout)?;
    eprintln!("merged {files} shard files: {rows} rows");
    Ok(())
}
