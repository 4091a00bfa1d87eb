//! `pollwise policy show`: one setting as it acts, and in QEMU's syntaxes.

use std::io::{self, Write};

use anyhow::Result;
use pollwise_lab::effective::effective_text;
use pollwise_lab::formats::qemu_syntax::qemu_setting;

use crate::policy_args::PolicyArgs;

pub fn show(args: &PolicyArgs, qemu: bool, iothread_id: &str) -> Result<()> {
    let params = args.params()?;
    let mut out = io::stdout().lock();
    writeln!(out, "policy {}: {}", params.kind(), effective_text(&params))?;
    if qemu {
        let s = qemu_setting(&params, iothread_id)?;
        writeln!(out, "\n# QEMU command line")?;
        writeln!(out, "{}", s.object)?;
        writeln!(
            out,
            "\n# QMP, to change a running IOThread (one command each)"
        )?;
        for line in &s.qmp {
            writeln!(out, "{line}")?;
        }
        writeln!(out, "\n# libvirt domain XML (inside <domain>)")?;
        writeln!(out, "{}", s.libvirt)?;
        for note in &s.notes {
            writeln!(out, "\nnote: {note}")?;
        }
    }
    out.flush()?;
    Ok(())
}
