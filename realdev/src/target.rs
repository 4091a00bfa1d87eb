//! The file the load runs against, opened with O_DIRECT: a scratch file we
//! create, fill and remove, or an existing file or block device the user
//! names. Writing to anything we did not create needs the user to name the
//! exact path a second time.

use std::ffi::CString;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::buffer::BufferPool;
use crate::scratch::{clean_stale_scratch, lock_in_use, mark, scratch_name, StaleScratch};

/// Where the I/O goes.
#[derive(Clone, Debug)]
pub enum TargetSpec {
    /// A new file of `size_bytes` in `dir` (the system temp dir if `None`),
    /// filled with data and removed afterwards.
    Scratch {
        dir: Option<PathBuf>,
        size_bytes: u64,
    },
    /// An existing file or block device; writable only if `allow_write_to`
    /// names the same path.
    Existing {
        path: PathBuf,
        allow_write_to: Option<PathBuf>,
    },
}

/// Why a target could not be used. Every message says what was wrong and
/// what would work.
#[derive(Debug)]
pub enum TargetError {
    Missing(PathBuf),
    PermissionDenied {
        path: PathBuf,
        write: bool,
    },
    WriteRefused {
        path: PathBuf,
    },
    NoDirectIo(PathBuf),
    /// A `--file` on a filesystem without O_DIRECT (`--dir` does not apply).
    FileNoDirectIo(PathBuf),
    /// EPERM: refused whoever asks (an immutable or append-only file, a
    /// security policy), so another user would not help.
    NotPermitted {
        path: PathBuf,
        write: bool,
    },
    /// EROFS: the file is on a read-only filesystem.
    ReadOnlyFs(PathBuf),
    Unaligned {
        bs: u64,
        block: u64,
        path: PathBuf,
    },
    TooSmall {
        path: PathBuf,
        size: u64,
        bs: u64,
    },
    NotAFileOrDevice(PathBuf),
    BadDir {
        dir: PathBuf,
        source: io::Error,
    },
    /// A scratch size that does not fit in 64 bits of bytes.
    SizeOverflow {
        what: String,
    },
    /// A scratch file that would not leave `margin` bytes free in `dir`.
    NoSpace {
        dir: PathBuf,
        size: u64,
        free: u64,
        margin: u64,
    },
    Io {
        what: String,
        source: io::Error,
    },
}

impl fmt::Display for TargetError {
    #[allow(
        clippy::too_many_lines,
        reason = "one flat match with a message per error kind: split, the messages would be harder to compare"
    )]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::Missing(p) => write!(
                f,
                "{}: no such file or device; pass an existing file or block device to --file, \
                 or leave --file out to use a scratch file",
                p.display()
            ),
            TargetError::PermissionDenied { path, write } => write!(
                f,
                "{}: permission denied opening it for {}; run as a user that may {} it",
                path.display(),
                if *write { "writing" } else { "reading" },
                if *write { "write" } else { "read" }
            ),
            TargetError::WriteRefused { path } => write!(
                f,
                "refusing to write to {p}: it was not created by pollwise; to allow writing to \
                 it (destroying its contents), pass --allow-write-to {p}",
                p = path.display()
            ),
            TargetError::NoDirectIo(p) => write!(
                f,
                "{}: this filesystem does not support O_DIRECT; pass --dir on a disk-backed \
                 filesystem",
                p.display()
            ),
            TargetError::FileNoDirectIo(p) => write!(
                f,
                "{}: its filesystem does not support O_DIRECT (as /proc, /sys and some tmpfs \
                 do not); give --file a file on a disk-backed filesystem or a block device, or \
                 leave --file out to use a scratch file",
                p.display()
            ),
            TargetError::NotPermitted { path, write } => write!(
                f,
                "{}: the kernel refuses to open it for {} (EPERM), whoever asks: it may be \
                 immutable or append-only (`lsattr` shows it, `chattr -i` clears it) or a \
                 security policy forbids it; {}",
                path.display(),
                if *write { "writing" } else { "reading" },
                if *write {
                    "use a read workload (randread or read) or another file"
                } else {
                    "use another file"
                }
            ),
            TargetError::ReadOnlyFs(p) => write!(
                f,
                "{}: its filesystem is mounted read-only; use a read workload (randread or \
                 read) or a file on a writable filesystem",
                p.display()
            ),
            TargetError::Unaligned { bs, block, path } => write!(
                f,
                "bs {bs} is not a multiple of the logical block size {block} of {}; O_DIRECT \
                 needs bs to be a multiple of {block} (e.g. {})",
                path.display(),
                (bs / block).max(1) * block
            ),
            TargetError::TooSmall { path, size, bs } => write!(
                f,
                "{}: its size {size} bytes is smaller than one block of bs {bs}; use a larger \
                 file or a smaller bs",
                path.display()
            ),
            TargetError::NotAFileOrDevice(p) => write!(
                f,
                "{}: not a regular file or block device; --file needs one of those",
                p.display()
            ),
            TargetError::BadDir { dir, source } => write!(
                f,
                "cannot create a scratch file in {}: {source}; pass --dir with an existing, \
                 writable directory",
                dir.display()
            ),
            TargetError::SizeOverflow { what } => write!(
                f,
                "scratch size {what} is too large: it does not fit in 64 bits of bytes; pass a \
                 --size-mb that fits in the free space of --dir (the default is 256)"
            ),
            TargetError::NoSpace {
                dir, size, free, ..
            } if *free == 0 => write!(
                f,
                "a scratch file of {size} bytes ({} MiB) does not fit in {}: its filesystem \
                 has no free space at all (a pseudo filesystem such as /proc, or a full disk); \
                 pass a --dir on a filesystem that can hold files",
                size / MIB,
                dir.display()
            ),
            TargetError::NoSpace {
                dir,
                size,
                free,
                margin,
            } => write!(
                f,
                "a scratch file of {size} bytes ({} MiB) does not fit in {}: its filesystem has \
                 {free} bytes ({} MiB) free and pollwise leaves at least {} MiB of it free; pass \
                 a --size-mb of at most {} or a --dir on a filesystem with more free space",
                size / MIB,
                dir.display(),
                free / MIB,
                margin / MIB,
                free.saturating_sub(*margin) / MIB
            ),
            TargetError::Io { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for TargetError {}

/// A scratch file's size: `size_bytes` rounded up to whole MiB chunks, so
/// every fill write is block-aligned, and at least one block of `bs`.
fn scratch_size(dir: &Path, size_bytes: u64, bs: u64) -> Result<u64, TargetError> {
    let size =
        size_bytes
            .checked_next_multiple_of(MIB)
            .ok_or_else(|| TargetError::SizeOverflow {
                what: format!("{size_bytes} bytes"),
            })?;
    if size < bs {
        return Err(TargetError::TooSmall {
            path: dir.to_path_buf(),
            size,
            bs,
        });
    }
    Ok(size)
}

/// Creates `path` in `dir` for O_DIRECT reads and writes; it must not
/// exist yet.
fn create_direct(dir: &Path, path: &Path) -> Result<File, TargetError> {
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_DIRECT)
        .open(path);
    opened.map_err(|e| {
        // Some kernels create the file before refusing O_DIRECT; the name
        // is unique to us (create_new), so removing it is safe.
        if e.kind() != io::ErrorKind::AlreadyExists {
            let _ = std::fs::remove_file(path);
        }
        match e.raw_os_error() {
            Some(libc::EINVAL) => TargetError::NoDirectIo(dir.to_path_buf()),
            Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS) => TargetError::BadDir {
                dir: dir.to_path_buf(),
                source: e,
            },
            _ => TargetError::Io {
                what: format!("creating scratch file {}", path.display()),
                source: e,
            },
        }
    })
}

/// Why opening an existing `--file` failed, with what would work.
fn open_existing_error(e: io::Error, path: &Path, write: bool) -> TargetError {
    let path = path.to_path_buf();
    match e.raw_os_error() {
        Some(libc::ENOENT) => TargetError::Missing(path),
        Some(libc::EACCES) => TargetError::PermissionDenied { path, write },
        Some(libc::EPERM) => TargetError::NotPermitted { path, write },
        Some(libc::EROFS) => TargetError::ReadOnlyFs(path),
        Some(libc::EINVAL) => TargetError::FileNoDirectIo(path),
        _ => TargetError::Io {
            what: format!("opening {}", path.display()),
            source: e,
        },
    }
}

/// An open target. A scratch file is removed when this is dropped.
#[derive(Debug)]
pub struct Target {
    file: File,
    path: PathBuf,
    /// Usable size in bytes: a whole number of `bs` blocks.
    size: u64,
    block_size: u64,
    writable: bool,
    scratch: bool,
    /// Stale scratch files of dead processes removed from the directory
    /// before this one was created.
    stale_removed: Vec<StaleScratch>,
}

static SCRATCH_SEQ: AtomicU64 = AtomicU64::new(0);

const MIB: u64 = 1 << 20;

/// `mib` MiB in bytes, or an error if that does not fit in 64 bits (a
/// shift or plain multiplication would wrap to a small size).
pub fn mib_to_bytes(mib: u64) -> Result<u64, TargetError> {
    mib.checked_mul(MIB)
        .ok_or_else(|| TargetError::SizeOverflow {
            what: format!("{mib} MiB"),
        })
}

/// The free space a scratch file must leave on its filesystem: 64 MiB or
/// 1% of the filesystem, whichever is more.
pub fn space_margin(fs_bytes: u64) -> u64 {
    (fs_bytes / 100).max(64 * MIB)
}

/// `path` as the C string the filesystem calls take.
fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))
}

/// Free bytes for an unprivileged user, and the size, of the filesystem
/// holding `dir` (statvfs).
pub fn free_space(dir: &Path) -> io::Result<(u64, u64)> {
    let c = c_path(dir)?;
    // SAFETY: c is a valid C string; st a valid out-pointer.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let unit = st.f_frsize as u64;
    Ok((
        (st.f_bavail as u64).saturating_mul(unit),
        (st.f_blocks as u64).saturating_mul(unit),
    ))
}

/// Whether `dir` is on a filesystem held in memory (tmpfs, ramfs): a
/// scratch file there measures memory, not a disk. `false` when it cannot
/// tell.
pub fn on_memory_fs(dir: &Path) -> bool {
    // Linux's magic numbers (include/uapi/linux/magic.h).
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    let Ok(c) = c_path(dir) else {
        return false;
    };
    // SAFETY: c is a valid C string; st a valid out-pointer.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return false;
    }
    #[allow(clippy::unnecessary_cast, reason = "f_type's width differs by target")]
    let t = st.f_type as i64;
    t == TMPFS_MAGIC || t == RAMFS_MAGIC
}

/// Checks that a scratch file of `size` bytes fits in `dir` with
/// [`space_margin`] to spare, before anything is written.
pub fn check_scratch_space(dir: &Path, size: u64) -> Result<(), TargetError> {
    let (free, total) = free_space(dir).map_err(|source| TargetError::Io {
        what: format!("reading the free space of {}", dir.display()),
        source,
    })?;
    let margin = space_margin(total);
    if size.saturating_add(margin) > free {
        return Err(TargetError::NoSpace {
            dir: dir.to_path_buf(),
            size,
            free,
            margin,
        });
    }
    Ok(())
}

impl Target {
    /// Opens `spec` for I/O of `bs` bytes; `write` says whether the workload
    /// writes.
    pub fn open(spec: &TargetSpec, bs: u64, write: bool) -> Result<Target, TargetError> {
        match spec {
            TargetSpec::Scratch { dir, size_bytes } => {
                let dir = dir.clone().unwrap_or_else(std::env::temp_dir);
                Target::create_scratch(&dir, *size_bytes, bs)
            }
            TargetSpec::Existing {
                path,
                allow_write_to,
            } => Target::open_existing(path, allow_write_to.as_deref(), bs, write),
        }
    }

    fn create_scratch(dir: &Path, size_bytes: u64, bs: u64) -> Result<Target, TargetError> {
        let meta = std::fs::metadata(dir).map_err(|source| TargetError::BadDir {
            dir: dir.to_path_buf(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(TargetError::BadDir {
                dir: dir.to_path_buf(),
                source: io::Error::other("not a directory"),
            });
        }
        // Files of runs that were killed (SIGKILL cannot be caught) go
        // first: they may hold the space this one needs.
        let stale_removed = clean_stale_scratch(dir)
            .map_err(|source| TargetError::BadDir {
                dir: dir.to_path_buf(),
                source,
            })?
            .removed;
        let size = scratch_size(dir, size_bytes, bs)?;
        check_scratch_space(dir, size)?;
        let name = scratch_name(SCRATCH_SEQ.fetch_add(1, Ordering::Relaxed));
        let path = dir.join(&name);
        let file = create_direct(dir, &path)?;
        // Marks the file as in use for clean_stale_scratch of other runs,
        // even ones in another PID namespace. Best effort: a filesystem
        // without flock still has the PID and start time in the name.
        let _ = lock_in_use(&file);
        // Marks it as pollwise's, so a later run may remove it if this one
        // is killed. Best effort: without user extended attributes a killed
        // run's file is left and named instead.
        let _ = mark(&file, &name);
        // From here on Drop removes the file on every exit path.
        let mut target = Target {
            file,
            path,
            size: 0,
            block_size: 512,
            writable: true,
            scratch: true,
            stale_removed,
        };
        target.block_size = logical_block_size(&target.file, false);
        check_alignment(bs, target.block_size, &target.path)?;
        target.fill(size)?;
        target.size = size / bs * bs;
        Ok(target)
    }

    /// Writes real data over the whole file: reads of a sparse or
    /// preallocated-but-unwritten range never reach the device.
    fn fill(&self, size: u64) -> Result<(), TargetError> {
        let io_err = |source| TargetError::Io {
            what: format!("filling scratch file {}", self.path.display()),
            source,
        };
        let chunk = BufferPool::new(1, MIB as usize).map_err(|e| TargetError::Io {
            what: "allocating the fill buffer".into(),
            source: io::Error::other(e),
        })?;
        let mut offset = 0;
        while offset < size {
            if crate::sys::sigint_received() {
                // The caller sees the interruption and drops (removes) us.
                return Ok(());
            }
            // SAFETY: the slot holds MIB bytes and is ours alone.
            let rc = unsafe {
                libc::pwrite(
                    self.file.as_raw_fd(),
                    chunk.slot_ptr(0).cast(),
                    MIB as usize,
                    offset as libc::off_t,
                )
            };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                if e.raw_os_error() == Some(libc::EINVAL) {
                    return Err(TargetError::NoDirectIo(self.path.clone()));
                }
                return Err(io_err(e));
            }
            offset += rc as u64;
        }
        self.file.sync_all().map_err(io_err)
    }

    fn open_existing(
        path: &Path,
        allow_write_to: Option<&Path>,
        bs: u64,
        write: bool,
    ) -> Result<Target, TargetError> {
        let canonical = std::fs::canonicalize(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => TargetError::Missing(path.to_path_buf()),
            io::ErrorKind::PermissionDenied => TargetError::PermissionDenied {
                path: path.to_path_buf(),
                write: false,
            },
            _ => TargetError::Io {
                what: format!("resolving {}", path.display()),
                source: e,
            },
        })?;
        let meta = std::fs::metadata(&canonical).map_err(|source| TargetError::Io {
            what: format!("reading metadata of {}", path.display()),
            source,
        })?;
        let is_block = meta.file_type().is_block_device();
        if !meta.is_file() && !is_block {
            return Err(TargetError::NotAFileOrDevice(path.to_path_buf()));
        }
        if write {
            let allowed = allow_write_to
                .and_then(|a| std::fs::canonicalize(a).ok())
                .is_some_and(|a| a == canonical);
            if !allowed {
                return Err(TargetError::WriteRefused {
                    path: path.to_path_buf(),
                });
            }
        }
        let file = OpenOptions::new()
            .read(true)
            .write(write)
            .custom_flags(libc::O_DIRECT)
            .open(&canonical)
            .map_err(|e| open_existing_error(e, path, write))?;
        let block_size = logical_block_size(&file, is_block);
        check_alignment(bs, block_size, path)?;
        let raw_size = if is_block {
            block_device_size(&file).map_err(|source| TargetError::Io {
                what: format!("reading the size of {}", path.display()),
                source,
            })?
        } else {
            meta.len()
        };
        if raw_size < bs {
            return Err(TargetError::TooSmall {
                path: path.to_path_buf(),
                size: raw_size,
                bs,
            });
        }
        Ok(Target {
            file,
            path: canonical,
            size: raw_size / bs * bs,
            block_size,
            writable: write,
            scratch: false,
            stale_removed: Vec::new(),
        })
    }

    pub fn fd(&self) -> i32 {
        self.file.as_raw_fd()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Usable bytes: a whole number of `bs` blocks.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn block_size(&self) -> u64 {
        self.block_size
    }

    pub fn writable(&self) -> bool {
        self.writable
    }

    pub fn is_scratch(&self) -> bool {
        self.scratch
    }

    /// Scratch files of dead processes removed from the directory before
    /// this scratch file was created, for the command to report.
    pub fn stale_removed(&self) -> &[StaleScratch] {
        &self.stale_removed
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if self.scratch {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn check_alignment(bs: u64, block: u64, path: &Path) -> Result<(), TargetError> {
    if bs == 0 || !bs.is_multiple_of(block) {
        return Err(TargetError::Unaligned {
            bs,
            block,
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// The O_DIRECT offset/size alignment: the device's logical block size
/// (BLKSSZGET) for a block device; for a file, what statx reports
/// (STATX_DIOALIGN, Linux 6.1+), else the logical block size of the device
/// holding it from sysfs, else 512.
fn logical_block_size(file: &File, is_block: bool) -> u64 {
    let fd = file.as_raw_fd();
    if is_block {
        let mut size: libc::c_int = 0;
        // SAFETY: BLKSSZGET writes one int.
        if unsafe { libc::ioctl(fd, libc::BLKSSZGET, &mut size) } == 0 && size > 0 {
            return size as u64;
        }
        return 512;
    }
    // SAFETY: statx fills a zeroed struct for an open fd (empty path).
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let empty = CString::new("").expect("no interior NUL");
    let rc = unsafe {
        libc::statx(
            fd,
            empty.as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_DIOALIGN,
            &mut stx,
        )
    };
    if rc == 0 && stx.stx_mask & libc::STATX_DIOALIGN != 0 && stx.stx_dio_offset_align > 0 {
        return u64::from(stx.stx_dio_offset_align);
    }
    if rc == 0 {
        let sysfs = format!(
            "/sys/dev/block/{}:{}/queue/logical_block_size",
            stx.stx_dev_major, stx.stx_dev_minor
        );
        if let Some(v) = std::fs::read_to_string(&sysfs)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|&v| v > 0)
        {
            return v;
        }
    }
    512
}

/// BLKGETSIZE64 = _IOR(0x12, 114, size_t); not exported by the libc crate.
const BLKGETSIZE64: libc::c_ulong = 0x8008_1272;

fn block_device_size(file: &File) -> io::Result<u64> {
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64.
    if unsafe { libc::ioctl(file.as_raw_fd(), BLKGETSIZE64 as _, &mut size) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memory-filesystem check agrees with the filesystem type
    /// `stat -f` names, on a directory of each kind this machine has.
    #[test]
    fn a_memory_filesystem_is_told_from_a_disk_as_stat_tells_it() {
        let mut kinds = Vec::new();
        for dir in ["/dev/shm", "/var/tmp", "/proc", "/"] {
            let Ok(o) = std::process::Command::new("stat")
                .args(["-f", "-c", "%T", dir])
                .output()
            else {
                continue;
            };
            let kind = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if !o.status.success() || kind.is_empty() {
                continue;
            }
            let memory = kind == "tmpfs" || kind == "ramfs";
            assert_eq!(on_memory_fs(Path::new(dir)), memory, "{dir} is {kind}");
            kinds.push(kind);
        }
        // stat ran on at least the root, so the check was compared at all.
        assert!(!kinds.is_empty(), "stat -f named no filesystem");
        assert!(!on_memory_fs(Path::new("/no/such/dir")));
    }

    /// A filesystem with no free space at all is named as such (a pseudo
    /// filesystem like /proc), not told to take a --size-mb of 0.
    #[test]
    fn no_free_space_at_all_asks_for_another_directory() {
        let e = TargetError::NoSpace {
            dir: PathBuf::from("/proc"),
            size: 256 * MIB,
            free: 0,
            margin: 64 * MIB,
        }
        .to_string();
        assert!(e.contains("has no free space at all"), "{e}");
        assert!(!e.contains("--size-mb of at most 0"), "{e}");
        let e = TargetError::NoSpace {
            dir: PathBuf::from("/var/tmp"),
            size: 256 * MIB,
            free: 200 * MIB,
            margin: 64 * MIB,
        }
        .to_string();
        assert!(e.contains("--size-mb of at most 136"), "{e}");
    }

    fn message(errno: i32, write: bool) -> String {
        open_existing_error(
            io::Error::from_raw_os_error(errno),
            Path::new("/data/f"),
            write,
        )
        .to_string()
    }

    #[test]
    fn an_existing_file_without_o_direct_does_not_point_at_dir() {
        let m = message(libc::EINVAL, false);
        assert!(!m.contains("--dir"), "{m}");
        assert!(m.contains("O_DIRECT") && m.contains("--file"), "{m}");
    }

    #[test]
    fn eperm_and_erofs_do_not_blame_the_user() {
        for (errno, want) in [(libc::EPERM, "immutable"), (libc::EROFS, "read-only")] {
            let m = message(errno, true);
            assert!(!m.contains("run as a user"), "{m}");
            assert!(m.contains(want), "{m}");
        }
        assert!(message(libc::EACCES, true).contains("run as a user"));
    }
}
