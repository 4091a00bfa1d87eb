//! `pollwise preset list` and `pollwise preset show`: the embedded device
//! presets, as text. The keys, units and sources are in docs/presets.md.

use std::io::Write;

use pollwise_sim::Preset;

use super::Result;

/// One line per embedded preset: name, description and matrix size.
pub fn write_list(out: &mut dyn Write) -> Result<()> {
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
    Ok(())
}

/// A preset as TOML: an embedded one as shipped (with the comments giving
/// the source of each number), or a file after checking it.
pub fn text(name: &str) -> Result<String> {
    // Read once, and the bytes checked are the bytes printed (a pipe can
    // be read only once; a file can change between two reads).
    let text = Preset::load_text(name)?;
    Preset::from_toml(&text, name)?;
    Ok(text)
}
