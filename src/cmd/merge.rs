//! `pollwise merge`: shard files of one sweep joined into the whole.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use pollwise_lab::formats::merge::merge;

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shard files (`sweep --shard I/N --out ...`), in any order.
    #[arg(required = true, value_name = "SHARD.csv")]
    pub shards: Vec<PathBuf>,
    /// Output CSV file [default: stdout]. It is byte-identical to the
    /// unsharded sweep's output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn run(args: MergeArgs) -> Result<()> {
    let files = args
        .shards
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read shard {}", p.display()))
                .map(|t| (p.display().to_string(), t))
        })
        .collect::<Result<Vec<_>>>()?;
    // Merge in memory first: a failed check leaves no partial output.
    let mut buf = Vec::new();
    let rows = merge(&files, &mut buf)?;
    match &args.out {
        Some(path) => std::fs::write(path, &buf)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => io::stdout().lock().write_all(&buf)?,
    }
    eprintln!("merged {} shard files: {rows} rows", files.len());
    Ok(())
}
