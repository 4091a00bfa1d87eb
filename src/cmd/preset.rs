//! `pollwise preset list` and `pollwise preset show`: the embedded device
//! presets, as text. The keys, units and sources are in docs/presets.md.

use std::io::{self, Write};

use anyhow::{Context, Result};
use clap::Subcommand;
use pollwise_sim::Preset;

#[derive(Subcommand, Debug)]
pub enum PresetCommand {
    /// List the embedded presets: name, description and matrix size.
    List,
    /// Print a preset as TOML: an embedded one as shipped (with the
    /// comments giving the source of each number), or a file after
    /// checking it (unknown keys and out-of-range values are errors).
    Show {
        /// Embedded preset name (see `pollwise preset list`) or a TOML file.
        name: String,
    },
}

pub fn run(command: PresetCommand) -> Result<()> {
    let mut out = io::stdout().lock();
    match command {
        PresetCommand::List => {
            for name in Preset::names() {
                let p = Preset::load(name)?;
                let m = &p.matrix;
                let rows = m.rw.len() * m.bs.len() * m.numjobs.len() * m.iothreads.len();
                writeln!(
                    out,
                    "{name:<16} {} ({} matrix rows, {} ms per run)",
                    p.description, rows, m.duration_ms
                )?;
            }
            writeln!(
                out,
                "Show one with `pollwise preset show NAME`; keys and units: docs/presets.md."
            )?;
        }
        PresetCommand::Show { name } => {
            let text = match Preset::embedded_text(&name) {
                Some(t) => t.to_string(),
                None => {
                    // Loading checks the file (and names the embedded
                    // presets if `name` is neither).
                    Preset::load(&name)?;
                    std::fs::read_to_string(&name)
                        .with_context(|| format!("cannot read preset file '{name}'"))?
                }
            };
            out.write_all(text.as_bytes())?;
        }
    }
    out.flush()?;
    Ok(())
}
