//! Writing a checked [`Output`]: into a temporary file beside the
//! destination, renamed into place only when complete.
//!
//! ```text
//! impl Output {
//!     pub fn start(&self) -> Result<Pending, LabError>
//!     pub fn write_with<E: From<LabError>>(&self, f: impl FnOnce(&mut dyn Write) -> Result<(), E>) -> Result<(), E>
//!     pub fn write_path<T, E: From<LabError>>(&self, f: impl FnOnce(&Path) -> Result<T, E>) -> Result<T, E>
//! }
//! impl Pending { pub fn writer(&mut self) -> &mut dyn Write; pub fn commit(self) -> Result<(), LabError> }
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use pollwise_realdev::target::free_space;

use super::temp::{create_temp, forget};
use super::{Dest, Output};
use crate::LabError;

impl Output {
    /// Starts writing; nothing replaces the destination until
    /// [`Pending::commit`].
    pub fn start(&self) -> Result<Pending, LabError> {
        Ok(match &self.dest {
            Dest::Stdout => Pending {
                writer: Some(BufWriter::new(Box::new(io::stdout()))),
                temp: None,
                final_path: self.shown.clone(),
            },
            Dest::Direct(p) => Pending {
                writer: Some(BufWriter::new(Box::new(
                    OpenOptions::new()
                        .write(true)
                        .open(p)
                        .map_err(LabError::file(p))?,
                ))),
                temp: None,
                final_path: p.clone(),
            },
            Dest::File { path, dir } => {
                let (temp, file) = create_temp(dir, path).map_err(LabError::file(dir))?;
                if let Ok(m) = fs::metadata(path) {
                    let _ = fs::set_permissions(&temp, m.permissions());
                }
                Pending {
                    writer: Some(BufWriter::new(Box::new(Bounded {
                        file,
                        left: room(dir),
                        dir: dir.clone(),
                    }))),
                    temp: Some(temp),
                    final_path: path.clone(),
                }
            }
        })
    }

    /// Writes the whole output with `f` and commits it.
    pub fn write_with<E: From<LabError>>(
        &self,
        f: impl FnOnce(&mut dyn Write) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut p = self.start()?;
        f(p.writer())?;
        p.commit()?;
        Ok(())
    }

    /// Has `f` write a file by path (a renderer that picks the format by
    /// the extension): it gets a temporary path with the same extension,
    /// renamed into place when `f` succeeds.
    pub fn write_path<T, E: From<LabError>>(
        &self,
        f: impl FnOnce(&Path) -> Result<T, E>,
    ) -> Result<T, E> {
        let Dest::File { path, dir } = &self.dest else {
            return f(&self.shown);
        };
        // The file stays open (and locked) while `f` writes it by path.
        let (temp, _locked) = create_temp(dir, path).map_err(LabError::file(dir))?;
        let guard = TempGuard(Some(temp.clone()));
        let value = f(&temp)?;
        fs::rename(&temp, path).map_err(LabError::file(path))?;
        forget(&temp);
        std::mem::forget(guard);
        Ok(value)
    }
}

/// The bytes a new file in `dir` may take: the filesystem's free space
/// less 1% of its size, at most 64 MiB (a small output on a large disk with
/// little room left still goes in); unbounded where statvfs cannot say.
pub(super) fn room(dir: &Path) -> u64 {
    match free_space(dir) {
        Ok((free, total)) => room_of(free, total),
        Err(_) => u64::MAX,
    }
}

/// [`room`] of a filesystem of `total` bytes with `free` free.
fn room_of(free: u64, total: u64) -> u64 {
    free.saturating_sub(ROOM_MARGIN_BYTES.min(total / 100))
}

/// The most free space [`room`] keeps back.
const ROOM_MARGIN_BYTES: u64 = 64 << 20;

/// A file that stops before it fills its filesystem: a write fails once it
/// would take the file past the room there was when writing began.
struct Bounded {
    file: File,
    left: u64,
    dir: PathBuf,
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(io::Error::other(format!(
                "stopped before the output filled the filesystem of {} (its free space less \
                 1% of its size, at most 64 MiB, is used up); a shorter run writes less, or \
                 write to a filesystem with more room",
                self.dir.display()
            )));
        }
        let n = self.file.write(buf)?;
        self.left -= n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(&p);
            forget(&p);
        }
    }
}

/// An output being written; dropped without [`commit`](Pending::commit),
/// its temporary file is removed and the destination is untouched.
pub struct Pending {
    writer: Option<BufWriter<Box<dyn Write>>>,
    temp: Option<PathBuf>,
    final_path: PathBuf,
}

impl Pending {
    pub fn writer(&mut self) -> &mut dyn Write {
        self.writer.as_mut().expect("writer present until commit")
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> Result<(), LabError> {
        let writer = self.writer.take().expect("commit once");
        let mut inner = writer.into_inner().map_err(|e| LabError::File {
            path: self.final_path.clone(),
            error: e.into_error(),
        })?;
        inner.flush().map_err(LabError::file(&self.final_path))?;
        drop(inner);
        if let Some(temp) = &self.temp {
            File::open(temp)
                .and_then(|f| f.sync_all())
                .map_err(LabError::file(&self.final_path))?;
            fs::rename(temp, &self.final_path).map_err(LabError::file(&self.final_path))?;
            forget(temp);
            self.temp = None;
        }
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.writer = None;
        if let Some(temp) = self.temp.take() {
            let _ = fs::remove_file(&temp);
            forget(&temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{results_text, tmpdir};
    use super::super::Kind;
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_previous_file_and_no_temp() {
        let d = tmpdir("fail");
        let path = d.join("r.csv");
        let old = format!("{}1,2,3\n", results_text());
        fs::write(&path, &old).unwrap();
        let o = Output::prepare("--out", &path, Kind::Results, &[], false).unwrap();
        let r: Result<(), LabError> = o.write_with(|w| {
            w.write_all(b"half a row").map_err(LabError::file("x"))?;
            Err(LabError::Input("boom".into()))
        });
        assert!(r.is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), old);
        assert_eq!(
            fs::read_dir(&d).unwrap().count(),
            1,
            "temp file left behind"
        );
        // And a dropped pending write too.
        let mut p = o.start().unwrap();
        p.writer().write_all(b"partial").unwrap();
        drop(p);
        assert_eq!(fs::read_to_string(&path).unwrap(), old);
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
        o.write_with(|w| w.write_all(b"new").map_err(LabError::file(&path)))
            .unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
    }

    #[test]
    fn the_room_keeps_back_one_percent_at_most_64_mib() {
        const GIB: u64 = 1 << 30;
        // A large disk with little left: a small output still fits.
        assert_eq!(room_of(15 * GIB, 2048 * GIB), 15 * GIB - (64 << 20));
        // A small filesystem keeps back 1% of itself.
        assert_eq!(room_of(40 << 20, 50 << 20), (40 << 20) - (50 << 20) / 100);
        assert_eq!(room_of(1 << 10, 2048 * GIB), 0);
    }

    #[test]
    fn a_file_that_would_fill_its_filesystem_stops_and_leaves_nothing() {
        let d = tmpdir("room");
        let path = d.join("t.csv");
        let o = Output::prepare("--trace", &path, Kind::Trace, &[], false).unwrap();
        let mut p = o.start().unwrap();
        // The room as writing began, less a little: as if the disk were
        // nearly full.
        let mut bounded = Bounded {
            file: File::create(d.join("probe")).unwrap(),
            left: 10,
            dir: d.clone(),
        };
        bounded.write_all(b"0123456789").unwrap();
        let e = bounded.write_all(b"x").unwrap_err().to_string();
        assert!(
            e.contains("stopped before the output filled the filesystem"),
            "{e}"
        );
        drop(bounded);
        fs::remove_file(d.join("probe")).unwrap();
        p.writer().write_all(b"partial").unwrap();
        drop(p);
        assert!(!path.exists());
        assert_eq!(
            fs::read_dir(&d).unwrap().count(),
            0,
            "temp file left behind"
        );
    }

    #[test]
    fn write_path_keeps_the_extension_and_renames() {
        let d = tmpdir("path");
        let path = d.join("p.svg");
        let o = Output::prepare("--out", &path, Kind::Picture, &[], false).unwrap();
        o.write_path(|tmp| {
            assert_eq!(tmp.extension().unwrap(), "svg");
            fs::write(tmp, "<svg/>").map_err(LabError::file(tmp))
        })
        .unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "<svg/>");
        let r: Result<(), LabError> = o.write_path(|tmp| {
            fs::write(tmp, "half").unwrap();
            Err(LabError::Input("boom".into()))
        });
        assert!(r.is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "<svg/>");
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
    }
}
