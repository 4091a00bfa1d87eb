//! `pollwise preset list` and `pollwise preset show`: the embedded device
//! presets, as text. The keys, units and sources are in docs/presets.md.

use std::io::{self, Write};

use anyhow::Result;
use clap::Subcommand;
use pollwise_lab::cmd::preset;

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
        PresetCommand::List => preset::write_list(&mut out)?,
        PresetCommand::Show { name } => out.write_all(preset::text(&name)?.as_bytes())?,
    }
    Ok(out.flush()?)
}
