//! Scratch files that outlive their owner. A scratch file's name carries the
//! owner's PID and the owner's start time (field 22 of `/proc/PID/stat`, in
//! clock ticks since boot), so a later run can tell a file whose owner was
//! killed (SIGKILL, a crash, a power cut) from one a live run is using, even
//! when the PID has since been given to another process.
//!
//! A name is not proof: anyone can name a file so. A file is removed only
//! if it is this user's, carries the marker pollwise writes on every
//! scratch file it creates (an extended attribute, [`mark`]) and its owner
//! is gone; anything else that looks like one is left and named.

use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Every scratch file's name starts with this.
pub const PREFIX: &str = "pollwise-scratch-";
const SUFFIX: &str = ".dat";
/// The extended attribute that marks a scratch file as pollwise's; its
/// value is the name the file was created with. An attribute, not a header
/// in the file: write workloads may overwrite any block of the file.
pub const MARKER_ATTR: &str = "user.pollwise.scratch";

/// The owner a scratch file's name records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    /// The owner's start time in clock ticks since boot; `None` in names
    /// written before the start time was recorded.
    pub start: Option<u64>,
}

/// The name of this process's scratch file number `seq`:
/// `pollwise-scratch-PID-START-SEQ.dat`.
pub fn scratch_name(seq: u64) -> String {
    let pid = std::process::id();
    name_for(
        Owner {
            pid,
            start: Some(process_start(pid).unwrap_or(0)),
        },
        seq,
    )
}

/// The scratch file name `owner` would give its file number `seq`.
pub fn name_for(owner: Owner, seq: u64) -> String {
    match owner.start {
        Some(start) => format!("{PREFIX}{}-{start}-{seq}{SUFFIX}", owner.pid),
        None => format!("{PREFIX}{}-{seq}{SUFFIX}", owner.pid),
    }
}

/// The owner recorded in `name` if it is a scratch file name:
/// `pollwise-scratch-PID-START-SEQ.dat`, or the older
/// `pollwise-scratch-PID-SEQ.dat`, every part decimal digits. Any other
/// name is `None`.
pub fn parse_name(name: &str) -> Option<Owner> {
    let middle = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let parts: Vec<&str> = middle.split('-').collect();
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    for p in &parts {
        number(p)?;
    }
    let pid = u32::try_from(number(parts[0])?).ok().filter(|&p| p > 0)?;
    match parts.len() {
        2 => Some(Owner { pid, start: None }),
        3 => Some(Owner {
            pid,
            start: Some(number(parts[1])?),
        }),
        _ => None,
    }
}

/// The start time of process `pid` (field 22 of `/proc/PID/stat`), if it
/// exists and `/proc` is readable.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 2, the command name, is in parentheses and may itself hold
    // spaces and parentheses: the fields after it start at the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts at field 3, so field 22 is the 20th.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the owner recorded in a name is still running: its PID exists
/// (`kill(pid, 0)` does not say ESRCH) and, when the name has a start time
/// and `/proc` tells it, the process with that PID started then. Anything
/// unclear counts as alive: a file of a live run is never removed.
pub fn owner_alive(owner: Owner) -> bool {
    let Ok(pid) = libc::pid_t::try_from(owner.pid) else {
        return true;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    if rc != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        return false;
    }
    // It exists (or belongs to another user: EPERM). Is it the owner, or a
    // later process that was given the same PID?
    match (owner.start, process_start(owner.pid)) {
        (Some(recorded), Some(now)) => recorded == now,
        _ => true,
    }
}

/// Takes the lock that marks a scratch file as in use ([`in_use`]); the
/// kernel drops it when the owner exits, however it exits.
pub fn lock_in_use(file: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on an open descriptor.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether some process holds the lock of [`lock_in_use`] on `path`: a run
/// whose PID this process cannot see (another PID namespace sharing the
/// directory) still keeps its file.
pub fn in_use(path: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    // SAFETY: flock on an open descriptor; the lock, if taken, goes with
    // `file` at the end of this function.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    rc != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK)
}

/// Marks `file`, just created as `name`, as a scratch file of pollwise's
/// ([`MARKER_ATTR`]). Fails where the filesystem has no user extended
/// attributes; such a file is still removed by its own run, but a later
/// run cannot tell it is pollwise's and leaves it if the run is killed.
pub fn mark(file: &std::fs::File, name: &str) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let attr = CString::new(MARKER_ATTR).expect("no NUL");
    // SAFETY: a valid descriptor, C string and buffer of name.len() bytes.
    let rc = unsafe {
        libc::fsetxattr(
            file.as_raw_fd(),
            attr.as_ptr(),
            name.as_ptr().cast(),
            name.len(),
            0,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `path` (not followed if a symlink) carries [`MARKER_ATTR`] with
/// the value `name`.
fn marked(path: &Path, name: &str) -> bool {
    let (Ok(p), Ok(attr)) = (
        CString::new(path.as_os_str().as_bytes()),
        CString::new(MARKER_ATTR),
    ) else {
        return false;
    };
    let mut buf = [0u8; 256];
    // SAFETY: valid C strings and a buffer of buf.len() bytes.
    let n = unsafe {
        libc::lgetxattr(
            p.as_ptr(),
            attr.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    usize::try_from(n).is_ok_and(|n| &buf[..n] == name.as_bytes())
}

/// A scratch file removed because its owner is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleScratch {
    pub path: PathBuf,
    pub pid: u32,
}

impl fmt::Display for StaleScratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "removed stale scratch file {} of dead process {}",
            self.path.display(),
            self.pid
        )
    }
}

/// A file with a dead owner's scratch name that is not removed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftAlone {
    pub path: PathBuf,
    pub why: String,
}

impl fmt::Display for LeftAlone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "left {} alone: it has a scratch file's name but {}, so it is not known to be \
             pollwise's; remove it yourself if it is not needed",
            self.path.display(),
            self.why
        )
    }
}

/// What [`clean_stale_scratch`] did in a directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleanup {
    pub removed: Vec<StaleScratch>,
    /// Files with a dead owner's scratch name that are not pollwise's to
    /// remove; the caller names them in a warning.
    pub left: Vec<LeftAlone>,
}

impl Cleanup {
    /// One line per file: removed ones, then `warning: ` lines for those
    /// left alone.
    pub fn lines(&self) -> Vec<String> {
        let removed = self.removed.iter().map(ToString::to_string);
        removed
            .chain(self.left.iter().map(|l| format!("warning: {l}")))
            .collect()
    }
}

/// What to do with a file named as a scratch file of `owner`.
enum Verdict {
    /// In use (or gone meanwhile): not a matter for this run.
    Live,
    Stale,
    Foreign(String),
}

fn judge(path: &Path, name: &str, owner: Owner, uid: u32) -> Verdict {
    // symlink_metadata does not follow symlinks.
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Verdict::Live;
    };
    if !meta.file_type().is_file() {
        return Verdict::Foreign("is not a regular file".into());
    }
    if owner_alive(owner) || in_use(path) {
        return Verdict::Live;
    }
    if meta.uid() != uid {
        return Verdict::Foreign(format!(
            "is owned by uid {}, not by this user ({uid})",
            meta.uid()
        ));
    }
    if !marked(path, name) {
        return Verdict::Foreign(format!(
            "does not carry the {MARKER_ATTR} attribute pollwise sets on its scratch files"
        ));
    }
    Verdict::Stale
}

/// Removes the scratch files in `dir` whose owners are no longer running
/// and that are pollwise's to remove, and says what it removed and what it
/// left. A file whose name matches [`parse_name`] is removed only if it is
/// a regular file (not a symlink), its owner is gone, it is not locked by
/// [`lock_in_use`], it belongs to this user and it carries the marker of
/// [`mark`] with its own name. One whose owner is gone but fails another
/// test is left and listed in [`Cleanup::left`], as is one that cannot be
/// removed. An error only when `dir` cannot be listed.
pub fn clean_stale_scratch(dir: &Path) -> io::Result<Cleanup> {
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    let mut done = Cleanup::default();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some((name, owner)) = name.to_str().and_then(|n| Some((n, parse_name(n)?))) else {
            continue;
        };
        let path = entry.path();
        match judge(&path, name, owner, uid) {
            Verdict::Live => {}
            Verdict::Foreign(why) => done.left.push(LeftAlone { path, why }),
            Verdict::Stale => match std::fs::remove_file(&path) {
                Ok(()) => done.removed.push(StaleScratch {
                    path,
                    pid: owner.pid,
                }),
                Err(e) => done.left.push(LeftAlone {
                    path,
                    why: format!("cannot be removed ({e})"),
                }),
            },
        }
    }
    done.removed.sort_by(|a, b| a.path.cmp(&b.path));
    done.left.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_do_not_parse() {
        let o = Owner {
            pid: 42,
            start: Some(123456),
        };
        assert_eq!(name_for(o, 7), "pollwise-scratch-42-123456-7.dat");
        assert_eq!(parse_name(&name_for(o, 7)), Some(o));
        assert_eq!(
            parse_name("pollwise-scratch-42-7.dat"),
            Some(Owner {
                pid: 42,
                start: None
            })
        );
        for other in [
            "pollwise-scratch-42.dat",
            "pollwise-scratch-42-1-2-3.dat",
            "pollwise-scratch-42-1-2.dat.bak",
            "pollwise-scratch--1-2.dat",
            "pollwise-scratch-0-1-2.dat",
            "pollwise-scratch-4x-1-2.dat",
            "pollwise-scratch-+4-1-2.dat",
            "pollwise-scratch-99999999999-1-2.dat",
            "my-pollwise-scratch-42-1-2.dat",
            "pollwise-scratch-notes.txt",
            "results.csv",
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }

    #[test]
    fn the_marker_holds_on_o_direct_files_on_disk_and_tmpfs() {
        use std::os::unix::fs::OpenOptionsExt;
        for dir in [Path::new("/var/tmp"), Path::new("/dev/shm")] {
            let name = format!("pollwise-scratch-{}-1-{}.dat", std::process::id(), 900);
            let path = dir.join(&name);
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_DIRECT)
                .open(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!marked(&path, &name), "{}", path.display());
            mark(&f, &name).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(marked(&path, &name), "{}", path.display());
            assert!(!marked(&path, "pollwise-scratch-1-1-1.dat"));
            std::fs::remove_file(&path).unwrap();
        }
    }

    #[test]
    fn this_process_is_alive_with_its_own_start_time_only() {
        let pid = std::process::id();
        let start = process_start(pid).expect("/proc/self/stat");
        assert!(owner_alive(Owner {
            pid,
            start: Some(start)
        }));
        assert!(owner_alive(Owner { pid, start: None }));
        assert!(
            !owner_alive(Owner {
                pid,
                start: Some(start + 1)
            }),
            "a PID reused by another process"
        );
    }
}
