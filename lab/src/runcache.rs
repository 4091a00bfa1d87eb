//! Never run the same simulation twice. A simulated row is a pure function
//! of (preset, workload, policy parameters, seed, kind of run) and of the
//! model's code, so rows are kept by a hash of all of these: in memory for
//! the process (the study runs the same baseline rows in several
//! experiments) and in a directory across processes.
//!
//! The directory (`${XDG_CACHE_HOME:-$HOME/.cache}/pollwise/runs`, or
//! `POLLWISE_CACHE_DIR`) holds one subdirectory per code version (crate
//! version and a hash of the model's sources, `build.rs`); other versions'
//! are removed when a process first uses its own. Each row is a file written to a
//! temporary name and renamed, so concurrent processes never read half a
//! row; an entry that does not parse, or whose stored key differs, is a
//! miss and is replaced. Past [`MAX_BYTES`] the least recently used files
//! (by modification time, refreshed on every hit) are removed.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use pollwise_core::RunRow;
use pollwise_sim::batch::{Job, RunStore};

/// The code version: runs of another version are never reused.
pub const CODE_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "-", env!("POLLWISE_MODEL_HASH"));

/// The most one row's file holds (a row is under a kilobyte); a larger
/// file there is not one of ours and is not read.
const MAX_ENTRY_BYTES: u64 = 64 << 10;

/// The most the directory holds before the oldest rows are removed.
pub const MAX_BYTES: u64 = 256 << 20;

/// The cache of one process: rows in memory, and a directory if enabled.
pub struct RunCache {
    /// The directory given to [`RunCache::new`], if any.
    root: Option<PathBuf>,
    /// Its code version's subdirectory, made on first use (`None` if it
    /// cannot be): a command that never simulates touches nothing.
    dir: OnceLock<Option<PathBuf>>,
    mem: Mutex<HashMap<u128, RunRow>>,
    pub hits: AtomicU64,
    /// Of the hits, those read from the directory.
    disk_hits: AtomicU64,
    pub misses: AtomicU64,
    written: AtomicU64,
}

/// Where rows are kept across processes: `None` if `POLLWISE_NO_CACHE` is
/// set to anything but `0` or no home directory is known.
pub fn default_dir() -> Option<PathBuf> {
    if std::env::var_os("POLLWISE_NO_CACHE").is_some_and(|v| v != "0" && !v.is_empty()) {
        return None;
    }
    if let Some(d) = std::env::var_os("POLLWISE_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    // As the XDG spec says: a relative XDG_CACHE_HOME is ignored; an empty
    // HOME is no home (it would put the cache in the working directory).
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .or_else(|| {
            let home = PathBuf::from(std::env::var_os("HOME")?);
            home.is_absolute().then(|| home.join(".cache"))
        })?;
    Some(base.join("pollwise").join("runs"))
}

/// The key of one run: 128 bits of two hashes of everything it depends on.
fn key(job: &Job<'_>, variant: &str) -> u128 {
    // Formatted once; each half of the key hashes it with its own salt.
    let preset = format!("{:?}", job.preset);
    let workload = format!("{:?}", job.workload);
    let params = format!("{:?}", job.params);
    let half = |salt: u64| {
        let mut h = DefaultHasher::new();
        salt.hash(&mut h);
        CODE_VERSION.hash(&mut h);
        preset.hash(&mut h);
        workload.hash(&mut h);
        params.hash(&mut h);
        job.seed.hash(&mut h);
        variant.hash(&mut h);
        h.finish()
    };
    u128::from(half(1)) << 64 | u128::from(half(2))
}

impl RunCache {
    /// A cache in memory, and in `dir` (its code version's subdirectory)
    /// if given; a directory that cannot be made leaves memory only.
    pub fn new(dir: Option<&Path>) -> RunCache {
        RunCache {
            root: dir.map(Path::to_path_buf),
            dir: OnceLock::new(),
            mem: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            disk_hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            written: AtomicU64::new(0),
        }
    }

    /// The code version's subdirectory, made (and other versions' removed)
    /// the first time a row is looked up or kept.
    fn dir(&self) -> Option<&Path> {
        self.dir
            .get_or_init(|| {
                let root = self.root.as_ref()?;
                let mine = root.join(CODE_VERSION);
                fs::create_dir_all(&mine).ok()?;
                remove_other_versions(root);
                Some(mine)
            })
            .as_deref()
    }

    fn path(&self, key: u128) -> Option<PathBuf> {
        Some(self.dir()?.join(format!("{key:032x}.json")))
    }

    fn read(&self, key: u128) -> Option<RunRow> {
        let path = self.path(key)?;
        // Only a regular file of a row's size is read: not a FIFO left
        // there (it would block), not a link to a device or a huge file.
        let m = fs::symlink_metadata(&path).ok()?;
        if !m.is_file() || m.len() > MAX_ENTRY_BYTES {
            return None;
        }
        let text = fs::read_to_string(&path).ok()?;
        let (stored, row) = text.split_once('\n')?;
        if stored != format!("{key:032x}") {
            return None;
        }
        let row = serde_json::from_str(row).ok()?;
        // Mark it recently used for the eviction.
        if let Ok(f) = fs::File::options().append(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        Some(row)
    }

    fn write(&self, key: u128, row: &RunRow) {
        let (Some(path), Ok(json)) = (self.path(key), serde_json::to_string(row)) else {
            return;
        };
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        let ok = fs::write(&tmp, format!("{key:032x}\n{json}")).is_ok()
            && fs::rename(&tmp, &path).is_ok();
        if !ok {
            let _ = fs::remove_file(&tmp);
        }
        // Check the size now and then, not after every row.
        if self.written.fetch_add(1, Ordering::Relaxed) % 256 == 255 {
            self.evict();
        }
    }

    /// One line on the runs this process looked up, once some were reused:
    /// how many, and from where. `None` when none were (a cold run, or
    /// a command that simulates nothing).
    pub fn summary(&self) -> Option<String> {
        let hits = self.hits.load(Ordering::Relaxed);
        let from_disk = self.disk_hits.load(Ordering::Relaxed);
        let total = hits + self.misses.load(Ordering::Relaxed);
        if hits == 0 {
            return None;
        }
        let repeats = hits - from_disk;
        Some(match self.dir.get().and_then(Option::as_deref) {
            Some(d) if from_disk > 0 => format!(
                "{hits} of {total} simulated runs reused: {from_disk} from {}, {repeats} \
                 repeated within this command; --no-cache simulates the first again",
                d.display()
            ),
            _ => format!(
                "{hits} of {total} simulated runs were repeats within this command, each \
                 simulated once"
            ),
        })
    }

    /// Removes the least recently used rows while the directory holds more
    /// than [`MAX_BYTES`]; also removes temporary files of crashed writers
    /// older than an hour.
    pub fn evict(&self) {
        let Some(dir) = self.dir() else { return };
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        let mut files: Vec<(SystemTime, u64, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                // Regular files only: a FIFO's or a device's size means nothing.
                m.is_file().then_some(())?;
                Some((m.modified().ok()?, m.len(), e.path()))
            })
            .collect();
        let hour_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
        files.retain(|(t, _, p)| {
            let stale_tmp = is_tmp(p) && *t < hour_ago;
            !(stale_tmp && fs::remove_file(p).is_ok())
        });
        // Only what `read` would take counts against the size: a FIFO or a
        // huge file under a row's name is replaced by the next write.
        files.retain(|(_, len, p)| is_row(p) && *len <= MAX_ENTRY_BYTES);
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        files.sort();
        for (_, len, path) in files {
            if total <= MAX_BYTES {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }
}

/// A temporary file of [`RunCache::write`]: `KEY.tmp.PID`.
fn is_tmp(p: &Path) -> bool {
    // Bytes, not characters: a junk name need not be ASCII.
    let name = p.file_name().map_or(&[][..], |n| n.as_encoded_bytes());
    name.len() > 32 && is_key(&name[..32]) && name[32..].starts_with(b".tmp.")
}

/// A row's file: `KEY.json`.
fn is_row(p: &Path) -> bool {
    let name = p.file_name().map_or(&[][..], |n| n.as_encoded_bytes());
    name.len() == 37 && is_key(&name[..32]) && &name[32..] == b".json"
}

/// 32 lowercase hex digits, as [`RunCache::path`] names a key.
fn is_key(b: &[u8]) -> bool {
    b.len() == 32 && b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `dir` holds nothing but rows and their temporary files: only
/// such a directory is one of ours to remove.
fn only_rows(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|mut entries| {
        // An entry that cannot be listed is not known to be ours.
        entries.all(|e| {
            e.is_ok_and(|e| {
                let p = e.path();
                e.file_type().is_ok_and(|t| t.is_file()) && (is_row(&p) || is_tmp(&p))
            })
        })
    })
}

/// A name [`CODE_VERSION`] could have: only these are ever removed, so a
/// cache directory shared with anything else loses nothing else.
fn is_version(name: &str) -> bool {
    let Some((version, hash)) = name.rsplit_once('-') else {
        return false;
    };
    hash.len() == 16
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
        && version.split('.').count() == 3
        && version.split('.').all(|p| p.parse::<u32>().is_ok())
}

/// Removes the subdirectories of code versions other than this one.
fn remove_other_versions(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        let name = e.file_name();
        // A directory with a version's name that holds anything else is
        // someone's, whatever its name says.
        if is_dir
            && name != CODE_VERSION
            && is_version(&name.to_string_lossy())
            && only_rows(&e.path())
        {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

impl RunStore for RunCache {
    fn get(&self, job: &Job<'_>, variant: &str) -> Option<RunRow> {
        let k = key(job, variant);
        let in_mem = self.mem.lock().ok()?.get(&k).cloned();
        let found = in_mem.or_else(|| {
            let row = self.read(k)?;
            self.disk_hits.fetch_add(1, Ordering::Relaxed);
            self.mem.lock().ok()?.insert(k, row.clone());
            Some(row)
        });
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn put(&self, job: &Job<'_>, variant: &str, row: &RunRow) {
        let k = key(job, variant);
        if let Ok(mut mem) = self.mem.lock() {
            mem.insert(k, row.clone());
        }
        self.write(k, row);
    }
}

/// The cache this process uses, installed by [`install`].
static CACHE: std::sync::OnceLock<&'static RunCache> = std::sync::OnceLock::new();

/// Makes every simulated run set of this process reuse rows: in memory
/// always, and in [`default_dir`] unless `use_dir` is false (`--no-cache`).
pub fn install(use_dir: bool) -> &'static RunCache {
    CACHE.get_or_init(|| {
        let cache: &'static RunCache = Box::leak(Box::new(RunCache::new(
            default_dir().filter(|_| use_dir).as_deref(),
        )));
        pollwise_sim::batch::set_store(Box::new(Shared(cache)));
        cache
    })
}

/// The process's cache as the simulator's store.
struct Shared(&'static RunCache);

impl RunStore for Shared {
    fn get(&self, job: &Job<'_>, variant: &str) -> Option<RunRow> {
        self.0.get(job, variant)
    }
    fn put(&self, job: &Job<'_>, variant: &str, row: &RunRow) {
        self.0.put(job, variant, row)
    }
}
