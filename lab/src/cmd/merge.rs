//! `pollwise merge`: shard files of one sweep joined into the whole.

use std::io::Write;
use std::path::PathBuf;

use super::{Result, Ui};
use crate::formats::input::{read_text, InputKind};
use crate::{Input, Kind, Output};

/// Merges the shard files into `--out` (checked as every output is), or
/// `stdout` without one; returns (shard files, rows). Merged in memory
/// first: a failed check leaves no partial output.
pub fn run(
    ui: &dyn Ui,
    shards: &[PathBuf],
    (out, force): (Option<&PathBuf>, bool),
    stdout: &mut dyn Write,
) -> Result<(usize, usize)> {
    let inputs: Vec<Input> = shards.iter().map(|p| Input::new("shard", p)).collect();
    let out = out
        .map(|p| Output::prepare("--out", p, Kind::Results, &inputs, force))
        .transpose()?;
    let files = shards
        .iter()
        .map(|p| {
            let text = read_text("shard", p, InputKind::Table)?;
            Ok((p.display().to_string(), text))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut buf = Vec::new();
    let rows = crate::formats::merge::merge(&files, &mut buf)?;
    match out {
        Some(out) => {
            out.stale_notes().iter().for_each(|n| ui.note(n));
            out.write_with(|w| w.write_all(&buf).map_err(crate::LabError::file(out.path())))?
        }
        None => stdout.write_all(&buf)?,
    }
    Ok((files.len(), rows))
}
