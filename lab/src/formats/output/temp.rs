//! Temporary files of outputs being written: named so that their owner can
//! be checked, removed by a stop signal, and removed by a later run when
//! their owner was killed.
//!
//! A temporary file is `.NAME.pollwise-PID-START-SEQ.tmp.EXT` beside the
//! destination `NAME` (`EXT` its extension, kept for renderers), where
//! `START` is the owner's start time (as realdev's scratch files record
//! it), so a PID given to a later process does not keep a dead run's file.
//! The owner holds an flock on it while writing.
//!
//! While one exists, SIGINT, SIGTERM, SIGHUP and SIGQUIT (where their
//! action is the default) remove every registered temporary file and then
//! end the process as the signal would have. A command that installs its
//! own stop handling (a device run's guard) keeps it, and its temporary
//! files are removed on its normal path.
//!
//! ```text
//! pub(super) fn create_temp(dir: &Path, path: &Path) -> io::Result<(PathBuf, File)>
//! pub(super) fn forget(temp: &Path)
//! pub fn clean_stale(dir: &Path) -> Vec<PathBuf>
//! pub fn parse_temp_name(name: &str) -> Option<Owner>
//! ```

use std::ffi::{CString, OsString};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use pollwise_realdev::scratch::{self, Owner};
use pollwise_realdev::sys::STOP_SIGNALS;

const MARK: &str = ".pollwise-";
const TMP: &str = ".tmp";

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Paths (leaked C strings) the stop-signal handler removes.
const SLOTS: usize = 64;
static REGISTERED: [AtomicPtr<libc::c_char>; SLOTS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; SLOTS];

/// A new temporary file beside `path` in `dir`, locked and registered for
/// removal by a stop signal.
pub(super) fn create_temp(dir: &Path, path: &Path) -> io::Result<(PathBuf, File)> {
    let name = path.file_name().unwrap_or_default();
    let pid = std::process::id();
    let start = scratch::process_start(pid).unwrap_or(0);
    loop {
        let mut temp = OsString::from(".");
        temp.push(name);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        temp.push(format!("{MARK}{pid}-{start}-{seq}{TMP}"));
        if let Some(ext) = path.extension() {
            temp.push(".");
            temp.push(ext);
        }
        let temp = dir.join(temp);
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(f) => {
                // Best effort: the lock only adds to the PID check.
                let _ = scratch::lock_in_use(&f);
                register(&temp);
                return Ok((temp, f));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

fn register(temp: &Path) {
    install_handlers();
    let Ok(c) = CString::new(temp.as_os_str().as_bytes()) else {
        return;
    };
    let raw = c.into_raw();
    for slot in &REGISTERED {
        if slot
            .compare_exchange(ptr::null_mut(), raw, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
    }
    // Every slot taken: a later run removes the file if a signal leaves it.
    // SAFETY: `raw` came from into_raw above and was not stored.
    drop(unsafe { CString::from_raw(raw) });
}

/// No longer removed by a stop signal: renamed into place or removed.
pub(super) fn forget(temp: &Path) {
    let bytes = temp.as_os_str().as_bytes();
    for slot in &REGISTERED {
        let p = slot.load(Ordering::SeqCst);
        // SAFETY: a non-null slot holds a C string leaked by `register`,
        // freed only by whoever swaps it out.
        if !p.is_null() && unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes() == bytes {
            let taken = slot.swap(ptr::null_mut(), Ordering::SeqCst);
            if !taken.is_null() {
                // SAFETY: taken from the slot, so owned here.
                drop(unsafe { CString::from_raw(taken) });
            }
            return;
        }
    }
}

extern "C" fn on_stop(sig: libc::c_int) {
    // Only async-signal-safe calls: atomics, unlink, write, sigaction, raise.
    let mut removed = false;
    for slot in &REGISTERED {
        let p = slot.swap(ptr::null_mut(), Ordering::SeqCst);
        if !p.is_null() {
            // SAFETY: a C string leaked by `register`; never freed here.
            removed |= unsafe { libc::unlink(p) } == 0;
        }
    }
    if removed {
        let msg = b"pollwise: stopped by a signal; the unfinished output was removed\n";
        // SAFETY: write(2) to stderr with a static buffer.
        let _ = unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
    }
    // SAFETY: back to the default action, then the signal again: the
    // process ends as it would have without this handler.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Routes the stop signals whose action is the default to [`on_stop`].
fn install_handlers() {
    for &sig in &STOP_SIGNALS {
        // SAFETY: plain-data sigaction structs; the handler is async-signal-safe.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, ptr::null(), &mut old) != 0 || old.sa_sigaction != libc::SIG_DFL
            {
                continue;
            }
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_stop as *const () as usize;
            libc::sigemptyset(&mut new.sa_mask);
            new.sa_flags = libc::SA_RESTART;
            libc::sigaction(sig, &new, ptr::null_mut());
        }
    }
}

/// The owner a temporary file's name records, if `name` is
/// `.NAME.pollwise-PID-START-SEQ.tmp[.EXT]` (or the older
/// `.NAME.pollwise-PID-SEQ.tmp[.EXT]`) with `EXT` the extension of `NAME`.
pub fn parse_temp_name(name: &str) -> Option<Owner> {
    let rest = name.strip_prefix('.')?;
    let at = rest.rfind(MARK)?;
    let (dest, tail) = (&rest[..at], &rest[at + MARK.len()..]);
    let end = tail.find(TMP)?;
    let (numbers, ext) = (&tail[..end], &tail[end + TMP.len()..]);
    let want_ext = Path::new(dest)
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    if dest.is_empty() || ext != want_ext {
        return None;
    }
    let parts: Vec<u64> = numbers
        .split('-')
        .map(|p| {
            (!p.is_empty() && p.len() <= 20 && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        })
        .collect::<Option<_>>()?;
    let pid = u32::try_from(*parts.first()?).ok().filter(|&p| p > 0)?;
    match parts.len() {
        2 => Some(Owner { pid, start: None }),
        3 => Some(Owner {
            pid,
            start: Some(parts[1]),
        }),
        _ => None,
    }
}

/// Removes from `dir` the temporary files of pollwise runs that are gone:
/// named as [`parse_temp_name`] reads, regular files of this user, whose
/// owner is not running and holds no lock on them. Returns what it removed.
pub fn clean_stale(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(parse_temp_name) else {
            continue;
        };
        let path = entry.path();
        let ours = fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.uid() == uid);
        if ours
            && owner.pid != std::process::id()
            && !scratch::owner_alive(owner)
            && !scratch::in_use(&path)
            && fs::remove_file(&path).is_ok()
        {
            removed.push(path);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_read_strictly() {
        let o = parse_temp_name(".r.csv.pollwise-12-345-6.tmp.csv").unwrap();
        assert_eq!((o.pid, o.start), (12, Some(345)));
        let o = parse_temp_name(".r.pollwise-12-6.tmp").unwrap();
        assert_eq!((o.pid, o.start), (12, None));
        for bad in [
            "r.csv.pollwise-12-345-6.tmp.csv",
            ".r.csv.pollwise-12-345-6.tmp.svg",
            ".r.csv.pollwise-12-345-6.tmp",
            ".r.csv.pollwise-x-345-6.tmp.csv",
            ".r.csv.pollwise-0-345-6.tmp.csv",
            ".r.csv.pollwise-1-2-3-4.tmp.csv",
            ".pollwise-1-2-3.tmp",
        ] {
            assert!(parse_temp_name(bad).is_none(), "{bad}");
        }
    }
}
