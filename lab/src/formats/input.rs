//! Inputs read with a bound: the one way a command reads a file.
//!
//! A regular file is refused up front when it is larger than the cap of
//! its kind; a pipe (FIFO, process substitution, `-`) is read as a stream
//! and refused once it gives more than the cap; a directory, a device or a
//! socket is refused (`/dev/zero` never ends). Every error names the flag,
//! the file and the limit, and how to raise it (`--max-input-mb`).
//!
//! ```text
//! pub enum InputKind { Small, Table, Log }
//! pub fn set_max_input_mb(mb: u64)
//! pub fn read_bytes(flag: &str, path: &Path, kind: InputKind) -> Result<Vec<u8>, LabError>
//! pub fn read_text(flag: &str, path: &Path, kind: InputKind) -> Result<String, LabError>
//! pub fn open(flag: &str, path: &Path, kind: InputKind) -> Result<Capped<File>, LabError>
//! pub fn capped<R: Read>(flag: &str, path: &Path, kind: InputKind, r: R) -> Capped<R>
//! ```

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::LabError;

const MIB: u64 = 1 << 20;

/// What an input holds, which sets its default cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// fio job files and JSON, sar and pidstat output: 64 MiB.
    Small,
    /// Results, trace, compare and shard CSVs: 512 MiB.
    Table,
    /// QEMU trace logs and recorded event traces: 1 GiB.
    Log,
}

impl InputKind {
    fn default_mib(self) -> u64 {
        match self {
            InputKind::Small => 64,
            InputKind::Table => 512,
            InputKind::Log => 1024,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            InputKind::Small => "a job file, JSON or tool output",
            InputKind::Table => "a CSV",
            InputKind::Log => "a trace",
        }
    }
}

/// `--max-input-mb`: 0 while unset.
static MAX_INPUT_MIB: AtomicU64 = AtomicU64::new(0);

/// Sets the cap of every input of this process (`--max-input-mb`), in MiB.
pub fn set_max_input_mb(mb: u64) {
    MAX_INPUT_MIB.store(mb, Ordering::Relaxed);
}

/// The cap of `kind` in MiB.
fn cap_mib(kind: InputKind) -> u64 {
    match MAX_INPUT_MIB.load(Ordering::Relaxed) {
        0 => kind.default_mib(),
        n => n,
    }
}

fn too_large(flag: &str, path: &Path, kind: InputKind, size_mib: Option<u64>) -> String {
    let what = match size_mib {
        Some(mib) => format!("is {mib} MiB, more than"),
        None => "goes on past".to_string(),
    };
    format!(
        "{flag} {} {what} the {} MiB limit for {}; give a smaller file, or raise the \
         limit with --max-input-mb N",
        path.display(),
        cap_mib(kind),
        kind.describe()
    )
}

/// A reader that fails once more than its cap has been read.
pub struct Capped<R> {
    inner: R,
    left: u64,
    error: String,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One byte past the cap tells a stream that ends at it from one
        // that goes on.
        let want = buf
            .len()
            .min(usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            return Err(io::Error::other(self.error.clone()));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// `r` (the input `path` given as `flag`) read with the cap of `kind`.
pub fn capped<R: Read>(flag: &str, path: &Path, kind: InputKind, r: R) -> Capped<R> {
    Capped {
        inner: r,
        left: cap_mib(kind).saturating_mul(MIB),
        error: too_large(flag, path, kind, None),
    }
}

/// Opens `path` (given as `flag`) for reading with the cap of `kind`: a
/// regular file within the cap, or a pipe.
pub fn open(flag: &str, path: &Path, kind: InputKind) -> Result<Capped<File>, LabError> {
    let shown = || format!("{flag} {}", path.display());
    let file =
        File::open(path).map_err(|e| LabError::Input(format!("cannot read {}: {e}", shown())))?;
    let m = file
        .metadata()
        .map_err(|e| LabError::Input(format!("cannot read {}: {e}", shown())))?;
    let ft = m.file_type();
    let what = if ft.is_dir() {
        "a directory"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        ""
    };
    if !what.is_empty() {
        return Err(LabError::Input(format!(
            "{} is {what}, not a regular file: give a file (or a pipe)",
            shown()
        )));
    }
    if ft.is_file() && m.len() > cap_mib(kind).saturating_mul(MIB) {
        let size = Some(m.len().div_ceil(MIB));
        return Err(LabError::Input(too_large(flag, path, kind, size)));
    }
    Ok(capped(flag, path, kind, file))
}

/// The whole of `path` (given as `flag`), within the cap of `kind`.
pub fn read_bytes(flag: &str, path: &Path, kind: InputKind) -> Result<Vec<u8>, LabError> {
    let mut bytes = Vec::new();
    open(flag, path, kind)?
        .read_to_end(&mut bytes)
        .map_err(|e| LabError::Input(read_error(flag, path, &e)))?;
    Ok(bytes)
}

/// The whole of `path` as UTF-8 text, as [`read_bytes`] reads it.
pub fn read_text(flag: &str, path: &Path, kind: InputKind) -> Result<String, LabError> {
    String::from_utf8(read_bytes(flag, path, kind)?).map_err(|e| {
        LabError::Input(format!(
            "{flag} {} is not UTF-8 text (byte {}): give a text file",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

/// An error of a capped read: the cap's message as it is, others with
/// the file.
fn read_error(flag: &str, path: &Path, e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::Other {
        e.to_string()
    } else {
        format!("{flag} {}: {e}", path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_is_cut_at_the_cap_and_a_short_one_read_whole() {
        let mut out = Vec::new();
        let p = Path::new("x");
        let mut r = capped("--input", p, InputKind::Small, io::repeat(b'y'));
        let e = r.read_to_end(&mut out).unwrap_err().to_string();
        assert!(e.contains("64 MiB") && e.contains("--max-input-mb"), "{e}");
        assert_eq!(out.len() as u64, 64 * MIB);
        let data = vec![b'z'; (64 * MIB) as usize];
        let mut out = Vec::new();
        capped("--input", p, InputKind::Small, data.as_slice())
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), data.len());
    }

    #[test]
    fn a_cap_at_the_top_of_the_range_reads_everything() {
        // --max-input-mb 2^44 and up saturate the cap in bytes; the byte
        // past it must not wrap to a read of nothing.
        let mut r = Capped {
            inner: b"block_ns\n5\n".as_slice(),
            left: u64::MAX,
            error: String::new(),
        };
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"block_ns\n5\n");
    }

    #[test]
    fn devices_and_directories_are_refused() {
        for p in ["/dev/zero", "/dev/null", "/"] {
            let e = read_bytes("--input", Path::new(p), InputKind::Small)
                .unwrap_err()
                .to_string();
            assert!(e.contains(p) && e.contains("not a regular file"), "{e}");
        }
    }
}
