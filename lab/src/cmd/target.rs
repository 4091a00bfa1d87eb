//! Where a device command's I/O goes (a scratch file or a named file), and
//! where QEMU's builds are.

use std::path::PathBuf;

use pollwise_realdev::target::{mib_to_bytes, TargetSpec};

use super::{fail, CmdError, Result, Ui};
use crate::Input;

/// `--dir`, `--file`, `--size-mb` and `--allow-write-to`, as typed.
#[derive(Clone, Debug)]
pub struct TargetFlags {
    pub dir: Option<PathBuf>,
    pub file: Option<PathBuf>,
    pub size_mb: u64,
    pub allow_write_to: Option<PathBuf>,
}

/// The scratch file's size when `--size-mb` is not given.
pub const DEFAULT_SIZE_MB: u64 = 256;

impl Default for TargetFlags {
    fn default() -> Self {
        TargetFlags {
            dir: None,
            file: None,
            size_mb: DEFAULT_SIZE_MB,
            allow_write_to: None,
        }
    }
}

impl TargetFlags {
    /// The checked target. A scratch target first removes (and notes) the
    /// scratch files of runs killed by SIGKILL in its directory.
    pub fn spec(&self, ui: &dyn Ui) -> Result<TargetSpec> {
        if self.size_mb == 0 {
            return fail("--size-mb must be positive (e.g. 256)");
        }
        if let Some(path) = &self.file {
            return Ok(TargetSpec::Existing {
                path: path.clone(),
                allow_write_to: self.allow_write_to.clone(),
            });
        }
        if let Some(a) = &self.allow_write_to {
            return fail(format!(
                "--allow-write-to {} needs --file naming the same path",
                a.display()
            ));
        }
        let dir = self.dir.clone().unwrap_or_else(std::env::temp_dir);
        if let Ok(cleanup) = pollwise_realdev::scratch::clean_stale_scratch(&dir) {
            for line in cleanup.lines() {
                ui.note(&line);
            }
        }
        if pollwise_realdev::target::on_memory_fs(&dir) {
            ui.note(&format!(
                "note: {} is on a filesystem held in memory (tmpfs): the scratch file's I/O \
                 measures memory, not a disk; give --dir on a disk (e.g. /var/tmp) to measure one",
                dir.display()
            ));
        }
        Ok(TargetSpec::Scratch {
            dir: self.dir.clone(),
            size_bytes: mib_to_bytes(self.size_mb)?,
        })
    }

    /// Whether a target was named (`--dir` or `--file`).
    pub fn named(&self) -> bool {
        self.dir.is_some() || self.file.is_some()
    }

    /// The --file target as an input no output may overwrite.
    pub fn inputs(&self) -> Vec<Input<'_>> {
        let file = self.file.iter().map(|p| Input::new("--file", p));
        let allowed = self.allow_write_to.iter();
        file.chain(allowed.map(|p| Input::new("--allow-write-to", p)))
            .collect()
    }
}

/// The QEMU build cache: `--cache`, else `$POLLWISE_QEMU_CACHE`, else
/// `${XDG_CACHE_HOME:-$HOME/.cache}/pollwise/qemu`.
pub fn cache_dir(flag: Option<&PathBuf>) -> Result<PathBuf> {
    match flag {
        Some(dir) if dir.exists() && !dir.is_dir() => Err(CmdError::Msg(format!(
            "--cache {} is not a directory: give the directory `pollwise qemu build --cache \
             DIR` builds QEMU's variants into",
            dir.display()
        ))),
        Some(dir) => Ok(dir.clone()),
        None => pollwise_qemu::default_cache_dir().map_err(|e| CmdError::Msg(format!("{e:#}"))),
    }
}
