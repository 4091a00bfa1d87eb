//! The flags of the real backends: the target of the device commands (a
//! scratch file or a named file), QEMU's build cache, and which backend.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use pollwise_lab::cmd::real::{BackendKind as Kind, RealFlags};
use pollwise_lab::cmd::target::TargetFlags;

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
    pub fn flags(&self) -> TargetFlags {
        TargetFlags {
            dir: self.dir.clone(),
            file: self.file.clone(),
            size_mb: self.size_mb,
            allow_write_to: self.allow_write_to.clone(),
        }
    }
}

#[derive(Args, Clone, Debug, Default)]
pub struct CacheArgs {
    /// Where the QEMU builds are [default: $POLLWISE_QEMU_CACHE, else
    /// ${XDG_CACHE_HOME:-$HOME/.cache}/pollwise/qemu].
    #[arg(long = "cache", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// Where `compare` and `validate` run: the simulator or a real loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// The simulator on --preset.
    Sim,
    /// pollwise's own loop (epoll + Linux AIO) on the disk.
    Device,
    /// QEMU's own aio_poll() in the harness (`pollwise qemu build`).
    Qemu,
}

/// The real backends, for a command that runs only on one (`validate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RealKind {
    /// pollwise's own loop (epoll + Linux AIO) on the disk.
    Device,
    /// QEMU's own aio_poll() in the harness (`pollwise qemu build`).
    Qemu,
}

same_variants!(BackendKind => Kind: Sim, Device, Qemu);

same_variants!(RealKind => Kind: Device, Qemu);

/// The flags `compare` takes for a real backend.
#[derive(Args, Debug)]
pub struct RealBackendArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Also write every single run's row (the common schema) to this CSV.
    #[arg(long, value_name = "FILE")]
    pub rows: Option<PathBuf>,
    #[command(flatten)]
    pub force: crate::output::ForceArg,
}

impl RealBackendArgs {
    pub fn flags(&self) -> RealFlags {
        RealFlags {
            target: self.target.flags(),
            cache: self.cache.cache_dir.clone(),
            rows: self.rows.clone(),
            force: self.force.force,
        }
    }
}
