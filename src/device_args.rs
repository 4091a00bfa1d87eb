//! The target of the device commands: a scratch file or a named file.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use pollwise_realdev::target::{mib_to_bytes, TargetSpec};

/// Where the I/O goes.
#[derive(Args, Clone, Debug)]
pub struct TargetArgs {
    /// Directory for the scratch file (default: the system temp dir). It
    /// must be on a filesystem that supports O_DIRECT.
    #[arg(long, value_name = "DIR", conflicts_with = "file")]
    pub dir: Option<PathBuf>,
    /// An existing file or block device to use instead of a scratch file.
    /// Read-only unless --allow-write-to names the same path.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Size of the scratch file in MiB.
    #[arg(long, default_value_t = 256)]
    pub size_mb: u64,
    /// Allow writing to the --file target (destroying its contents); it
    /// must resolve to the same file (device and inode) as --file.
    #[arg(long, value_name = "PATH")]
    pub allow_write_to: Option<PathBuf>,
}

impl TargetArgs {
    pub fn spec(&self) -> Result<TargetSpec> {
        if self.size_mb == 0 {
            bail!("--size-mb must be positive (e.g. 256)");
        }
        Ok(match &self.file {
            Some(path) => TargetSpec::Existing {
                path: path.clone(),
                allow_write_to: self.allow_write_to.clone(),
            },
            None => {
                if let Some(a) = &self.allow_write_to {
                    bail!(
                        "--allow-write-to {} needs --file naming the same path",
                        a.display()
                    );
                }
                let dir = self.dir.clone().unwrap_or_else(std::env::temp_dir);
                // Said here, at the start of every device command: the
                // scratch files of runs killed by SIGKILL.
                if let Ok(cleanup) = pollwise_realdev::scratch::clean_stale_scratch(&dir) {
                    for line in cleanup.lines() {
                        eprintln!("{line}");
                    }
                }
                TargetSpec::Scratch {
                    dir: self.dir.clone(),
                    size_bytes: mib_to_bytes(self.size_mb)?,
                }
            }
        })
    }
}
