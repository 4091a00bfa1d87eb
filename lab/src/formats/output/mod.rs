//! Output files that cannot hurt inputs: the one way every command writes a
//! file.
//!
//! [`Output::prepare`] runs before any work and
//! - refuses an output that is the same file (device and inode, symlinks
//!   resolved) as one of the command's inputs, naming both;
//! - refuses to replace a file that is not this command's kind of output
//!   (judged by its content) unless `force` is set;
//! - checks that the destination directory takes a new file.
//!
//! Writing goes to a temporary file beside the destination that is renamed
//! into place only when complete, so an error or an interrupted run leaves
//! the previous file as it was; the temporary file is removed on every
//! error path and by a stop signal, and a later run writing to the same
//! directory removes those of runs that were killed (see temp.rs). `-` and `/dev/stdout` write to standard output directly, as
//! do character devices and FIFOs (`/dev/null`, `/dev/stderr`).
//!
//! ```text
//! impl Output {
//!     pub fn prepare(flag: &str, path: &Path, kind: Kind, inputs: &[Input], force: bool)
//!         -> Result<Output, LabError>
//!     pub fn path(&self) -> &Path
//!     pub fn is_stdout(&self) -> bool
//!     pub fn stale_notes(&self) -> Vec<String>
//!     // writing: see write.rs (start, write_with, write_path, Pending)
//! }
//! impl OutputDir {
//!     pub fn prepare(flag: &str, dir: &Path, files: &[(&str, Kind)], inputs: &[Input],
//!                    force: bool) -> Result<OutputDir, LabError>
//!     pub fn file(&self, name: &str) -> Result<&Output, LabError>
//!     pub fn join(&self, name: &str) -> PathBuf
//! }
//! pub fn preset_input(preset: &str) -> Vec<Input<'_>>
//! pub fn is_stdout(path: &Path) -> bool
//! pub fn same_file(a: &Path, b: &Path) -> bool
//! ```

mod kind;
mod temp;
mod write;

pub use kind::{
    Kind, TRACE_HEADER, TUNE_CONFIRM_CSV_HEADER, TUNE_REPORT_TITLE, TUNE_SEARCH_CSV_HEADER,
    VALIDATION_CSV_COLUMNS, VALIDATION_REPORT_TITLE, VALIDATION_TABLE_START,
};
pub use temp::{clean_stale, parse_temp_name};
pub use write::Pending;

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::LabError;
use kind::HEAD_BYTES;
use temp::{create_temp, forget};

/// An input of the command: the flag that names it and its path.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub flag: &'a str,
    pub path: &'a Path,
}

impl<'a> Input<'a> {
    pub fn new(flag: &'a str, path: &'a Path) -> Input<'a> {
        Input { flag, path }
    }
}

/// A `--preset` value as an input: a file when it is not an embedded name.
pub fn preset_input(preset: &str) -> Vec<Input<'_>> {
    if pollwise_sim::Preset::names().any(|n| n == preset) {
        Vec::new()
    } else {
        vec![Input::new("--preset", Path::new(preset))]
    }
}

#[derive(Clone, Debug)]
enum Dest {
    /// The process's standard output.
    Stdout,
    /// A character device, FIFO or socket: written in place.
    Direct(PathBuf),
    /// A regular file: written beside and renamed into place.
    File { path: PathBuf, dir: PathBuf },
}

/// A checked output.
#[derive(Clone, Debug)]
pub struct Output {
    shown: PathBuf,
    dest: Dest,
    /// Temporary files of dead runs removed from the directory.
    stale: Vec<PathBuf>,
}

/// Whether `path` as typed means standard output.
pub fn is_stdout(path: &Path) -> bool {
    path == Path::new("-") || path == Path::new("/dev/stdout")
}

fn identity(m: &fs::Metadata) -> (u64, u64) {
    (m.dev(), m.ino())
}

/// Whether `a` and `b` name one existing file (device and inode: through
/// links and however spelled); false when either does not exist.
pub fn same_file(a: &Path, b: &Path) -> bool {
    let id = |p: &Path| fs::metadata(p).ok().map(|m| identity(&m));
    id(a).is_some_and(|i| Some(i) == id(b))
}

fn err(msg: String) -> LabError {
    LabError::Input(msg)
}

impl Output {
    /// Checks `path` (given as `flag`) as an output of `kind` for a
    /// command reading `inputs`; see the module documentation.
    pub fn prepare(
        flag: &str,
        path: &Path,
        kind: Kind,
        inputs: &[Input],
        force: bool,
    ) -> Result<Output, LabError> {
        if path.as_os_str().is_empty() {
            return Err(err(format!(
                "{flag} is empty: give a file name, or - for standard output"
            )));
        }
        let dest = if is_stdout(path) {
            // Standard output may itself be redirected to an input.
            if let Ok(m) = fs::metadata("/proc/self/fd/1") {
                check_inputs(flag, path, &m, inputs)?;
            }
            Dest::Stdout
        } else {
            match fs::metadata(path) {
                Ok(m) => {
                    check_inputs(flag, path, &m, inputs)?;
                    existing(flag, path, &m, kind, force)?
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => new_file(flag, path)?,
                Err(e) => return Err(err(format!("{flag} {}: {e}", path.display()))),
            }
        };
        // Temporary files that killed runs left where this one writes.
        let stale = match &dest {
            Dest::File { dir, .. } => clean_stale(dir),
            _ => Vec::new(),
        };
        Ok(Output {
            shown: path.to_path_buf(),
            dest,
            stale,
        })
    }

    /// The temporary files of dead runs [`Output::prepare`] removed, as
    /// lines for the user.
    pub fn stale_notes(&self) -> Vec<String> {
        let note = |p: &PathBuf| {
            format!(
                "removed {}, an unfinished output of a pollwise run that was killed",
                p.display()
            )
        };
        self.stale.iter().map(note).collect()
    }

    /// The path as the user gave it.
    pub fn path(&self) -> &Path {
        &self.shown
    }

    /// Whether this writes to standard output.
    pub fn is_stdout(&self) -> bool {
        matches!(self.dest, Dest::Stdout)
    }

    /// Refuses, before any work, an output of about `bytes` that would not
    /// fit in its filesystem's room ([`write::room`]); `what` says what to
    /// lower. Standard output and devices are not checked.
    pub fn check_room(&self, bytes: u64, what: &str) -> Result<(), LabError> {
        let Dest::File { dir, .. } = &self.dest else {
            return Ok(());
        };
        let room = write::room(dir);
        if bytes <= room {
            return Ok(());
        }
        Err(err(format!(
            "{} would be about {} MiB, more than the {} MiB free on its filesystem (less 1% of \
             its size, at most 64 MiB): {what}",
            self.shown.display(),
            bytes >> 20,
            room >> 20
        )))
    }

    /// Whether `other` lands where this does, however the two were spelled
    /// (`t.csv` and `./t.csv`, a symlink, a hard link): the second written
    /// would replace the first.
    pub fn same_destination(&self, other: &Output) -> bool {
        match (&self.dest, &other.dest) {
            (Dest::Stdout, Dest::Stdout) => true,
            (Dest::File { path: a, .. }, Dest::File { path: b, .. }) => a == b || same_file(a, b),
            (Dest::Direct(a), Dest::Direct(b)) => same_file(a, b),
            _ => false,
        }
    }
}

/// Where an existing `path` (metadata `m`) is written: in place for a
/// device or FIFO, else replaced (refused unless it holds `kind` or
/// `force` is set).
fn existing(
    flag: &str,
    path: &Path,
    m: &fs::Metadata,
    kind: Kind,
    force: bool,
) -> Result<Dest, LabError> {
    let ft = m.file_type();
    if ft.is_dir() {
        return Err(err(format!(
            "{flag} {} is a directory: give a file name in it",
            path.display()
        )));
    }
    if ft.is_block_device() {
        return Err(err(format!(
            "{flag} {} is a block device: results go to a regular file \
             (or - for standard output)",
            path.display()
        )));
    }
    if !ft.is_file() {
        return Ok(Dest::Direct(path.to_path_buf()));
    }
    let real = fs::canonicalize(path).map_err(LabError::file(path))?;
    if !force && m.len() > 0 {
        let mut head = Vec::new();
        File::open(&real)
            .and_then(|f| f.take(HEAD_BYTES).read_to_end(&mut head))
            .map_err(LabError::file(path))?;
        if !kind.matches(&head) {
            return Err(err(format!(
                "{flag} {} exists and is not {}, so it was not written by \
                 pollwise; pass --force to replace it, or pick another path",
                path.display(),
                kind.describe()
            )));
        }
    }
    let dir = real.parent().unwrap_or(Path::new("/")).to_path_buf();
    probe_dir(flag, path, &dir)?;
    Ok(Dest::File { path: real, dir })
}

/// Where a `path` that does not exist yet is written: a new file in a
/// directory that exists and takes one.
fn new_file(flag: &str, path: &Path) -> Result<Dest, LabError> {
    let name = path.file_name().ok_or_else(|| {
        err(format!(
            "{flag} {} does not name a file: give a file name",
            path.display()
        ))
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = fs::canonicalize(parent).map_err(|e| {
        err(format!(
            "{flag} {}: its directory {} cannot be used ({e}); create it first",
            path.display(),
            parent.display()
        ))
    })?;
    if !dir.is_dir() {
        return Err(err(format!(
            "{flag} {}: {} is not a directory",
            path.display(),
            parent.display()
        )));
    }
    probe_dir(flag, path, &dir)?;
    Ok(Dest::File {
        path: dir.join(name),
        dir,
    })
}

/// Refuses an output that is the same file as an input.
fn check_inputs(
    flag: &str,
    path: &Path,
    m: &fs::Metadata,
    inputs: &[Input],
) -> Result<(), LabError> {
    for input in inputs {
        let Ok(im) = fs::metadata(input.path) else {
            continue;
        };
        if identity(&im) == identity(m) {
            return Err(err(format!(
                "{flag} {} is the same file as {} {} (device {}, inode {}); writing it would \
                 destroy the input: pick another output path",
                path.display(),
                input.flag,
                input.path.display(),
                m.dev(),
                m.ino()
            )));
        }
    }
    Ok(())
}

/// Checks that `dir` takes a new file, by creating and removing one.
fn probe_dir(flag: &str, path: &Path, dir: &Path) -> Result<(), LabError> {
    match create_temp(dir, path) {
        Ok((temp, _)) => {
            let _ = fs::remove_file(&temp);
            forget(&temp);
            Ok(())
        }
        Err(e) => Err(err(format!(
            "{flag} {}: cannot create a file in {} ({e}); pick a writable directory",
            path.display(),
            dir.display()
        ))),
    }
}

/// A directory of outputs (`study --out DIR`, `report --out DIR`): created
/// if missing, and every file it will hold checked before any work.
#[derive(Debug)]
pub struct OutputDir {
    dir: PathBuf,
    files: Vec<(String, Output)>,
}

impl OutputDir {
    pub fn prepare(
        flag: &str,
        dir: &Path,
        files: &[(&str, Kind)],
        inputs: &[Input],
        force: bool,
    ) -> Result<OutputDir, LabError> {
        if let Ok(m) = fs::metadata(dir) {
            if !m.is_dir() {
                return Err(err(format!(
                    "{flag} {} exists and is not a directory: give a directory",
                    dir.display()
                )));
            }
        }
        if let (Ok(l), Err(_)) = (fs::symlink_metadata(dir), fs::metadata(dir)) {
            if l.file_type().is_symlink() {
                let to = fs::read_link(dir).unwrap_or_default();
                return Err(err(format!(
                    "{flag} {} is a symbolic link to {}, which does not exist: create that \
                     directory or give another",
                    dir.display(),
                    to.display()
                )));
            }
        }
        fs::create_dir_all(dir).map_err(|e| {
            err(format!(
                "{flag} {}: cannot create the directory ({e}): give a directory you can \
                 write to",
                dir.display()
            ))
        })?;
        let files = files
            .iter()
            .map(|(name, kind)| {
                let path = dir.join(name);
                Ok((
                    name.to_string(),
                    Output::prepare(flag, &path, *kind, inputs, force)?,
                ))
            })
            .collect::<Result<Vec<_>, LabError>>()?;
        Ok(OutputDir {
            dir: dir.to_path_buf(),
            files,
        })
    }

    /// The checked output for `name` (one of the names given to prepare).
    pub fn file(&self, name: &str) -> Result<&Output, LabError> {
        self.files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, o)| o)
            .ok_or_else(|| err(format!("internal: {name} was not prepared as an output")))
    }

    /// The path of `name` in the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pollwise-output-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    pub(super) fn results_text() -> String {
        format!("{}\n", pollwise_core::RunRow::COLUMNS.join(","))
    }

    #[test]
    fn an_output_larger_than_its_filesystem_is_refused_before_any_work() {
        let d = tmpdir("room");
        let path = d.join("t.csv");
        let o = Output::prepare("--trace", &path, Kind::Trace, &[], false).unwrap();
        let e = o
            .check_room(u64::MAX / 2, "a shorter --duration-ms writes less")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("t.csv would be about") && e.contains("MiB free") && e.contains("shorter"),
            "{e}"
        );
        // Standard output is not a filesystem's.
        let o = Output::prepare("--trace", Path::new("-"), Kind::Trace, &[], false).unwrap();
        o.check_room(u64::MAX, "unused").unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn two_spellings_of_one_file_are_one_destination() {
        let d = tmpdir("spell");
        let a = Output::prepare("--trace", &d.join("t.csv"), Kind::Trace, &[], false).unwrap();
        let b = Output::prepare(
            "--waits",
            &d.join(".").join("t.csv"),
            Kind::Waits,
            &[],
            false,
        )
        .unwrap();
        let c = Output::prepare("--waits", &d.join("u.csv"), Kind::Waits, &[], false).unwrap();
        assert!(a.same_destination(&b) && b.same_destination(&a));
        assert!(!a.same_destination(&c));
        // An existing file and a hard link to it.
        fs::write(d.join("u.csv"), "").unwrap();
        fs::hard_link(d.join("u.csv"), d.join("v.csv")).unwrap();
        let u = Output::prepare("--trace", &d.join("u.csv"), Kind::Trace, &[], false).unwrap();
        let v = Output::prepare("--waits", &d.join("v.csv"), Kind::Waits, &[], false).unwrap();
        assert!(u.same_destination(&v));
    }

    #[test]
    fn an_output_that_is_an_input_is_refused_naming_both() {
        let d = tmpdir("same");
        let data = d.join("data");
        fs::write(&data, b"precious").unwrap();
        let link = d.join("link");
        std::os::unix::fs::symlink(&data, &link).unwrap();
        let e = Output::prepare(
            "--out",
            &link,
            Kind::Preset,
            &[Input::new("--file", &data)],
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--out") && e.contains("--file") && e.contains("same file"),
            "{e}"
        );
        // Hard links are the same file too.
        let hard = d.join("hard");
        fs::hard_link(&data, &hard).unwrap();
        assert!(Output::prepare(
            "--out",
            &hard,
            Kind::Preset,
            &[Input::new("--file", &data)],
            true
        )
        .is_err());
        assert_eq!(fs::read(&data).unwrap(), b"precious");
    }
    #[test]
    fn a_foreign_file_needs_force() {
        let d = tmpdir("foreign");
        let path = d.join("notes.csv");
        fs::write(&path, "name,phone\nann,1\n").unwrap();
        let e = Output::prepare("--out", &path, Kind::Results, &[], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--force"), "{e}");
        assert!(Output::prepare("--out", &path, Kind::Results, &[], true).is_ok());
        fs::write(&path, results_text()).unwrap();
        assert!(Output::prepare("--out", &path, Kind::Results, &[], false).is_ok());
        let readme = d.join("README.md");
        fs::write(&readme, "# My notes\n").unwrap();
        assert!(Output::prepare("--out", &readme, Kind::StudyReadme, &[], false).is_err());
        fs::write(
            &readme,
            "# Policy study\n\nGenerated by `pollwise study --seeds 1`; ...\n",
        )
        .unwrap();
        assert!(Output::prepare("--out", &readme, Kind::StudyReadme, &[], false).is_ok());
    }

    #[test]
    fn an_unwritable_directory_is_found_before_the_work() {
        let e = Output::prepare(
            "--out",
            Path::new("/proc/pollwise-no/x.csv"),
            Kind::Results,
            &[],
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("--out"), "{e}");
        let e = Output::prepare("--out", Path::new("/proc/x.csv"), Kind::Results, &[], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot create"), "{e}");
    }

    #[test]
    fn stdout_and_devices_are_written_directly() {
        assert!(
            Output::prepare("--out", Path::new("-"), Kind::Preset, &[], false)
                .unwrap()
                .is_stdout()
        );
        assert!(
            Output::prepare("--out", Path::new("/dev/stdout"), Kind::Preset, &[], false)
                .unwrap()
                .is_stdout()
        );
        let null =
            Output::prepare("--out", Path::new("/dev/null"), Kind::Results, &[], false).unwrap();
        null.write_with(|w| w.write_all(b"x").map_err(LabError::file("/dev/null")))
            .unwrap();
        assert!(Path::new("/dev/null").exists());
    }
}
