//! `pollwise merge`: shard files of one sweep joined into the whole.

use std::io::Write;
use std::path::PathBuf;

use super::{Context, Result};

/// Merges the shard files into `--out`, or `stdout` without one; returns
/// (shard files, rows). Merged in memory first: a failed check leaves no
/// partial output.
pub fn run(
    shards: &[PathBuf],
    out: Option<&PathBuf>,
    stdout: &mut dyn Write,
) -> Result<(usize, usize)> {
    let files = shards
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .context(format!("cannot read shard {}", p.display()))
                .map(|t| (p.display().to_string(), t))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut buf = Vec::new();
    let rows = crate::formats::merge::merge(&files, &mut buf)?;
    match out {
        Some(path) => {
            std::fs::write(path, &buf).context(format!("cannot write {}", path.display()))?
        }
        None => stdout.write_all(&buf)?,
    }
    Ok((files.len(), rows))
}
