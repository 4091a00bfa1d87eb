//! QEMU's own event loop as a backend: build QEMU variants with pollwise's
//! harness (`qemu/build.sh`; QEMU 10.0.2 by default, any tree from 10.0
//! on with `--src`) and run the harness, one [`RunRow`] (source `qemu`)
//! per run.
//!
//! A variant is QEMU with a set of patches: `stock` (none, QEMU's rule),
//! one directory per variant under `qemu/patches/` (`weighted`: the 2026
//! proposal, RFC v1), and any `git format-patch` series built with
//! `--series NAME=DIR`. [`variant_for`] maps a pollwise policy to the
//! variant that implements it in C and the IOThread properties to set;
//! [`VariantInfo`] says what a built variant is (QEMU version, the
//! properties its QAPI schema has, its patches' subjects).
//!
//! Nothing here is skipped silently: a missing harness is built, and a
//! build that cannot run is an error that says why. Tests that need QEMU
//! honour one explicit opt-out, `POLLWISE_SKIP_QEMU=1` ([`skip_requested`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

pub mod error;

use error::{fail, Context, ErrorKind};
pub use error::{QemuError, Result};
use pollwise_core::{
    run_row, Latency, Param, Params, PolicyKind, RawCounts, RunLabels, RunRow, WindowStats,
};

pub mod transitions;

/// The environment variable that opts out of tests needing a QEMU build.
pub const SKIP_ENV: &str = "POLLWISE_SKIP_QEMU";
/// The environment variable that overrides the cache directory.
pub const CACHE_ENV: &str = "POLLWISE_QEMU_CACHE";

/// True when the user asked to skip everything that needs a QEMU build
/// (`POLLWISE_SKIP_QEMU=1`). Any other value, or none, means run.
pub fn skip_requested() -> bool {
    std::env::var_os(SKIP_ENV).is_some_and(|v| v == "1")
}

/// `qemu/build.sh` in this source tree.
pub fn build_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("build.sh")
}

/// The cache directory: `$POLLWISE_QEMU_CACHE`, else
/// `${XDG_CACHE_HOME:-$HOME/.cache}/pollwise/qemu` (as build.sh's default),
/// a directory of this user's. With none of them set (as under cron or a
/// bare container) an error that names them: a fixed directory under a
/// world-writable one such as /tmp would run whatever another user put
/// there.
pub fn default_cache_dir() -> Result<PathBuf> {
    cache_dir_from(|name| std::env::var_os(name))
}

/// [`default_cache_dir`] with the environment read through `var`.
fn cache_dir_from(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf> {
    if let Some(dir) = var(CACHE_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    // The XDG base directory rules: a relative XDG_CACHE_HOME is ignored.
    let absolute = |name: &str| var(name).map(PathBuf::from).filter(|d| d.is_absolute());
    let base = absolute("XDG_CACHE_HOME").or_else(|| absolute("HOME").map(|h| h.join(".cache")));
    match base {
        Some(base) => Ok(base.join("pollwise").join("qemu")),
        None => fail!(
            Cache,
            "no directory for the QEMU cache: none of {CACHE_ENV}, XDG_CACHE_HOME and HOME is \
             set to an absolute path; set one of them or pass --cache DIR (a directory of \
             your own)"
        ),
    }
}

/// Checks, before `harness` is run, that nobody but this user (or root)
/// can have put it there: it and every directory from `cache` down to it
/// belong to this user or root and are not writable by group or others,
/// and below `cache` none is a symbolic link. Otherwise an error that says
/// which path and why. With the chain so owned nobody else can swap the
/// file between this check and the run.
pub fn check_harness(cache: &Path, harness: &Path) -> Result<()> {
    // SAFETY: geteuid cannot fail.
    check_owned_chain(cache, harness, unsafe { libc::geteuid() })
}

/// [`check_harness`] for the user `uid`.
fn check_owned_chain(cache: &Path, harness: &Path, uid: u32) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let refuse = |path: &Path, why: String| {
        QemuError::new(
            ErrorKind::Cache,
            format!(
                "refusing to run {}: {} {why}; a harness pollwise runs must be changeable by this \
             user (or root) alone: rebuild it into a cache of your own (pollwise qemu build \
             --cache DIR) or fix the path (chown, chmod go-w)",
                harness.display(),
                path.display()
            ),
        )
    };
    let rel = harness
        .strip_prefix(cache)
        .map_err(|_| refuse(harness, format!("is not in the cache {}", cache.display())))?;
    let mut path = cache.to_path_buf();
    let mut below = rel.components().peekable();
    loop {
        let meta = if path == cache {
            std::fs::metadata(&path)
        } else {
            std::fs::symlink_metadata(&path)
        }
        .map_err(|e| refuse(&path, format!("cannot be read: {e}")))?;
        if meta.file_type().is_symlink() {
            return Err(refuse(&path, "is a symbolic link".into()));
        }
        let mode = meta.mode() & 0o7777;
        if meta.uid() != uid && meta.uid() != 0 {
            let owner = meta.uid();
            return Err(refuse(
                &path,
                format!("is owned by uid {owner}, not by this user ({uid}) or root"),
            ));
        }
        if mode & 0o002 != 0 {
            return Err(refuse(
                &path,
                format!("is writable by others (mode {mode:04o})"),
            ));
        }
        if mode & 0o020 != 0 {
            return Err(refuse(
                &path,
                format!("is writable by its group (mode {mode:04o})"),
            ));
        }
        match below.next() {
            Some(c) => path.push(c),
            None if meta.is_file() => return Ok(()),
            None => return Err(refuse(&path, "is not a regular file".into())),
        }
    }
}

/// The harness binary of `variant` in `cache`.
pub fn harness_path(cache: &Path, variant: &str) -> PathBuf {
    cache
        .join("bin")
        .join(variant)
        .join("pollwise-qemu-harness")
}

/// What `qemu/build.sh` should do.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// A pristine QEMU tree, 10.0 or newer; `None` downloads QEMU 10.0.2's
    /// Debian source.
    pub src: Option<PathBuf>,
    /// `None`: [`default_cache_dir`].
    pub cache: Option<PathBuf>,
    /// Empty (and no series): every shipped variant.
    pub variants: Vec<String>,
    /// Variants built from directories of `git format-patch` files:
    /// (NAME, DIR).
    pub series: Vec<(String, PathBuf)>,
    /// Also build and run QEMU's AIO unit tests.
    pub check: bool,
}

impl BuildOptions {
    pub fn cache_dir(&self) -> Result<PathBuf> {
        match &self.cache {
            Some(dir) => Ok(dir.clone()),
            None => default_cache_dir(),
        }
    }
}

/// Runs `qemu/build.sh`, its progress and build times on this process's
/// stdout/stderr, and returns the cache directory the binaries are in.
pub fn build(opts: &BuildOptions) -> Result<PathBuf> {
    let cache = opts.cache_dir()?;
    let mut cmd = Command::new("bash");
    cmd.arg(build_script()).arg("--cache").arg(&cache);
    if let Some(src) = &opts.src {
        cmd.arg("--src").arg(src);
    }
    for v in &opts.variants {
        cmd.arg("--variant").arg(v);
    }
    for (name, dir) in &opts.series {
        let mut arg = OsString::from(format!("{name}="));
        arg.push(dir);
        cmd.arg("--series").arg(arg);
    }
    if opts.check {
        cmd.arg("--check");
    }
    let status = cmd.status().with_context(ErrorKind::Build, || {
        format!("cannot run {}", build_script().display())
    })?;
    if !status.success() {
        fail!(
            Build,
            "{} failed ({status}); set {SKIP_ENV}=1 to skip what needs QEMU",
            build_script().display()
        );
    }
    Ok(cache)
}

/// The QEMU variant that implements a pollwise policy, and the IOThread
/// properties to give it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariantParams {
    pub variant: String,
    pub poll_max_ns: u64,
    pub poll_grow: u64,
    pub poll_shrink: u64,
    /// Only for variants with the `poll-weight` property.
    pub poll_weight: Option<u64>,
}

/// Maps a policy to a variant: `qemu` -> stock, `off` -> stock with
/// `poll-max-ns=0`, `weighted` -> the proposal (RFC v1, so `poll-weight` 0
/// means 2 there, as in pollwise's `weighted`), `pollwise` -> the `pollwise`
/// patch (its own properties at their defaults). Other policies have no C
/// implementation yet.
pub fn variant_for(params: &Params) -> Result<VariantParams> {
    match params.kind() {
        PolicyKind::Qemu => Ok(VariantParams {
            variant: "stock".into(),
            poll_max_ns: params.poll_max_ns(),
            poll_grow: params.get(Param::PollGrow),
            poll_shrink: params.get(Param::PollShrink),
            poll_weight: None,
        }),
        PolicyKind::Off => Ok(VariantParams {
            variant: "stock".into(),
            poll_max_ns: 0,
            poll_grow: 0,
            poll_shrink: 0,
            poll_weight: None,
        }),
        PolicyKind::Weighted => Ok(VariantParams {
            variant: "weighted".into(),
            poll_max_ns: params.poll_max_ns(),
            poll_grow: params.get(Param::PollGrow),
            poll_shrink: params.get(Param::PollShrink),
            poll_weight: Some(params.get(Param::PollWeight)),
        }),
        PolicyKind::Pollwise => {
            // The harness sets only poll-max-ns and poll-shrink; pollwise's
            // own properties run at their IOThread defaults, which are
            // pollwise's defaults (poll-block-cost-ns 0 = learned).
            let defaults = Params::defaults(PolicyKind::Pollwise);
            for param in [Param::PollBlockCostNs, Param::PollWeight, Param::PollGrowStartNs] {
                if params.get(param) != defaults.get(param) {
                    fail!(Policy,
                        "the QEMU backend runs pollwise with {} at its default ({}) only",
                        param.name(),
                        defaults.get(param)
                    );
                }
            }
            Ok(VariantParams {
                variant: "pollwise".into(),
                poll_max_ns: params.poll_max_ns(),
                poll_grow: 0,
                poll_shrink: params.get(Param::PollShrink),
                poll_weight: None,
            })
        }
        other => fail!(Policy,
            "policy '{other}' has no QEMU variant; the QEMU backend runs qemu, off, weighted and pollwise"
        ),
    }
}

/// What a built variant is, from the files `qemu/build.sh` leaves beside
/// its harness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariantInfo {
    pub name: String,
    /// The QEMU tree's VERSION, e.g. `10.0.2`.
    pub qemu_version: String,
    /// IothreadProperties' members in the variant's QAPI schema, each with
    /// whether the harness sets it (it reaches
    /// `aio_context_set_poll_params()`) or leaves it at its default.
    pub properties: Vec<(String, bool)>,
    /// The Subject: line of each patch, in order (none for stock).
    pub subjects: Vec<String>,
}

impl VariantInfo {
    /// The properties the harness sets, in schema order.
    pub fn settable(&self) -> impl Iterator<Item = &str> {
        self.properties
            .iter()
            .filter(|(_, set)| *set)
            .map(|(n, _)| n.as_str())
    }
}

/// Reads what `qemu/build.sh` recorded for `variant` in `cache`; an error
/// names the build command when the variant (or its record, from a build
/// before these files existed) is missing.
pub fn variant_info(cache: &Path, variant: &str) -> Result<VariantInfo> {
    let dir = cache.join("bin").join(variant);
    let read = |file: &str| {
        std::fs::read_to_string(dir.join(file)).with_context(ErrorKind::Harness, || {
            format!(
                "variant '{variant}' has no {} (build it with `pollwise qemu build --variant                  {variant}`, or `--series {variant}=DIR` for a series)",
                dir.join(file).display()
            )
        })
    };
    let properties = read("properties")?
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, how)| (n.to_string(), how.trim() == "set"))
        .collect();
    Ok(VariantInfo {
        name: variant.to_string(),
        qemu_version: read("qemu-version")?.trim().to_string(),
        properties,
        subjects: read("subjects")?.lines().map(str::to_string).collect(),
    })
}

/// The properties a series variant's harness passes, with `params`'
/// values: those `params` has that the variant's schema lacks are refused.
/// A series variant's parameters come as `weighted` parameters when it has
/// `poll-weight`, else as `qemu`'s ([`series_params_kind`]).
pub fn series_variant(info: &VariantInfo, params: &Params) -> Result<VariantParams> {
    let settable: Vec<&str> = info.settable().collect();
    for (name, _) in params.pairs() {
        if !settable.contains(&name) {
            fail!(
                Policy,
                "variant '{}' (QEMU {}) has no IOThread property {name} the harness can set; \
                 it sets {}",
                info.name,
                info.qemu_version,
                settable.join(", ")
            );
        }
    }
    Ok(VariantParams {
        variant: info.name.clone(),
        poll_max_ns: params.poll_max_ns(),
        poll_grow: params.get(Param::PollGrow),
        poll_shrink: params.get(Param::PollShrink),
        poll_weight: settable
            .contains(&"poll-weight")
            .then(|| params.get(Param::PollWeight)),
    })
}

/// The policy kind whose parameters carry a series variant's properties:
/// `weighted` (poll-max-ns, poll-grow, poll-shrink, poll-weight) when the
/// harness sets poll-weight in it, else `qemu` (the first three).
pub fn series_params_kind(info: &VariantInfo) -> PolicyKind {
    if info.settable().any(|p| p == "poll-weight") {
        PolicyKind::Weighted
    } else {
        PolicyKind::Qemu
    }
}

/// Where the harness reads and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A scratch file of `size` bytes created (and removed) in `dir`, which
    /// must support O_DIRECT.
    Scratch { dir: PathBuf, size: u64 },
    /// An existing file or block device, read only.
    File(PathBuf),
}

/// One harness run.
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub params: Params,
    pub target: Target,
    pub rw: String,
    pub bs: u64,
    pub numjobs: u32,
    pub iodepth: u32,
    /// IOThreads; the guest's queues (max(numjobs, iothreads)) are spread
    /// over them as iothread-vq-mapping does.
    pub iothreads: u32,
    pub duration_ms: u64,
    pub warmup_ms: u64,
    pub seed: u64,
    /// A variant built from a series that runs the parameters instead of
    /// the policy's own variant ([`series_variant`]).
    pub variant: Option<VariantInfo>,
    /// Guest CPU per I/O, a busy wait in the job thread.
    pub guest_cpu_ns: u64,
    /// QEMU's poll_* and run_poll_handlers_* trace events to this file (slow).
    pub trace: Option<PathBuf>,
    /// The window after each change, CSV `time_ns,window_ns`.
    pub windows: Option<PathBuf>,
    /// The first IOThread's waits, CSV `block_ns,handler,in_flight,how`
    /// (what each row's wait is: the top of the harness's source).
    pub waits: Option<PathBuf>,
}

impl RunSpec {
    /// 4k randread, qd1, one job, 3 s after 0.5 s of warm-up, on a 256 MiB
    /// scratch file in `dir`.
    pub fn new(params: Params, dir: impl Into<PathBuf>) -> RunSpec {
        RunSpec {
            params,
            target: Target::Scratch {
                dir: dir.into(),
                size: 256 << 20,
            },
            rw: "randread".into(),
            bs: 4096,
            numjobs: 1,
            iodepth: 1,
            iothreads: 1,
            duration_ms: 3000,
            warmup_ms: 500,
            seed: 1,
            variant: None,
            guest_cpu_ns: 0,
            trace: None,
            windows: None,
            waits: None,
        }
    }

    /// The harness command line (without the binary).
    pub fn args(&self) -> Result<(VariantParams, Vec<OsString>)> {
        let vp = match &self.variant {
            Some(info) => series_variant(info, &self.params)?,
            None => variant_for(&self.params)?,
        };
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |k: &str, v: String| {
            a.push(k.into());
            a.push(v.into());
        };
        push("--rw", self.rw.clone());
        push("--bs", self.bs.to_string());
        push("--numjobs", self.numjobs.to_string());
        push("--iodepth", self.iodepth.to_string());
        push("--iothreads", self.iothreads.to_string());
        push("--duration-ms", self.duration_ms.to_string());
        push("--warmup-ms", self.warmup_ms.to_string());
        push("--seed", self.seed.to_string());
        push("--guest-cpu-ns", self.guest_cpu_ns.to_string());
        push("--poll-max-ns", vp.poll_max_ns.to_string());
        push("--poll-grow", vp.poll_grow.to_string());
        push("--poll-shrink", vp.poll_shrink.to_string());
        if let Some(w) = vp.poll_weight {
            push("--poll-weight", w.to_string());
        }
        let policy = match &self.variant {
            Some(info) => info.name.clone(),
            None => self.params.kind().name().to_string(),
        };
        push("--policy", policy);
        push("--params", self.params.to_string());
        match &self.target {
            Target::Scratch { dir, size } => {
                a.push("--dir".into());
                a.push(dir.into());
                a.push("--size".into());
                a.push(size.to_string().into());
            }
            Target::File(f) => {
                a.push("--file".into());
                a.push(f.into());
            }
        }
        if let Some(t) = &self.trace {
            a.push("--trace".into());
            a.push(t.into());
        }
        if let Some(w) = &self.windows {
            a.push("--windows".into());
            a.push(w.into());
        }
        if let Some(w) = &self.waits {
            a.push("--waits".into());
            a.push(w.into());
        }
        Ok((vp, a))
    }
}

/// Runs the harness of the spec's variant from `cache` (built beforehand
/// with [`build`]) and returns its row; a harness others could have
/// written is refused ([`check_harness`]).
pub fn run(cache: &Path, spec: &RunSpec) -> Result<RunRow> {
    let (vp, args) = spec.args()?;
    let bin = harness_path(cache, &vp.variant);
    if !bin.is_file() {
        fail!(
            Harness,
            "no harness for variant '{}' at {}: build it first (qemu/build.sh --variant {})",
            vp.variant,
            bin.display(),
            vp.variant
        );
    }
    check_harness(cache, &bin)?;
    let out = Command::new(&bin)
        .args(&args)
        .output()
        .with_context(ErrorKind::Harness, || {
            format!("cannot run {}", bin.display())
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // A harness built before an option existed does not know it.
        let rebuild = if stderr.contains("unrecognized option") {
            format!(
                "\nthis harness predates an option pollwise passes: rebuild it \
                 (qemu/build.sh --variant {})",
                vp.variant
            )
        } else {
            String::new()
        };
        fail!(
            Harness,
            "{} failed ({}): {}{rebuild}",
            bin.display(),
            out.status,
            stderr.trim()
        );
    }
    let text = String::from_utf8(out.stdout)
        .context(ErrorKind::Harness, "the harness wrote non-UTF-8 output")?;
    let mut rows = parse_rows(&text)?;
    if rows.len() != 1 {
        fail!(
            Harness,
            "the harness printed {} rows, expected 1",
            rows.len()
        );
    }
    Ok(rows.remove(0))
}

/// The columns the harness prints: what was run, then raw counts over its
/// measured span (no rates; [`pollwise_core::run_row`] makes those).
pub const HARNESS_COLUMNS: [&str; 25] = [
    "source",
    "preset",
    "policy",
    "params",
    "rw",
    "bs",
    "numjobs",
    "iodepth",
    "iothreads",
    "duration_ms",
    "seed",
    "span_ns",
    "completions",
    "kicks",
    "wakeups",
    "cpu_ns",
    "poll_ns",
    "lat_mean_ns",
    "lat_p50_ns",
    "lat_p99_ns",
    "lat_p999_ns",
    "window_weighted",
    "window_total_ns",
    "window_zero_ns",
    "abrupt_resets",
];

/// One line of the harness's output, in [`HARNESS_COLUMNS`] order.
#[derive(Debug, serde::Deserialize)]
struct HarnessRow {
    source: String,
    preset: String,
    policy: String,
    params: String,
    rw: String,
    bs: u64,
    numjobs: u32,
    iodepth: u32,
    iothreads: u32,
    duration_ms: u64,
    seed: u64,
    span_ns: u64,
    completions: u64,
    kicks: u64,
    wakeups: u64,
    cpu_ns: u64,
    poll_ns: u64,
    lat_mean_ns: f64,
    lat_p50_ns: f64,
    lat_p99_ns: f64,
    lat_p999_ns: f64,
    window_weighted: u128,
    window_total_ns: u64,
    window_zero_ns: u64,
    abrupt_resets: u64,
}

impl HarnessRow {
    /// The result row, by core's one derivation; CPU is summed over the
    /// IOThreads.
    fn into_run_row(self) -> RunRow {
        let counts = RawCounts {
            span_ns: self.span_ns,
            completions: self.completions,
            kicks: self.kicks,
            wakeups: self.wakeups,
            cpu_ns: self.cpu_ns,
            poll_ns: self.poll_ns,
            loops: self.iothreads,
            latency: Latency {
                mean_ns: self.lat_mean_ns,
                p50_ns: self.lat_p50_ns,
                p99_ns: self.lat_p99_ns,
                p999_ns: self.lat_p999_ns,
            },
            window: WindowStats::from_totals(
                self.window_weighted,
                self.window_total_ns,
                self.window_zero_ns,
                self.abrupt_resets,
            ),
        };
        let labels = RunLabels {
            source: self.source,
            preset: self.preset,
            policy: self.policy,
            params: self.params,
            rw: self.rw,
            bs: self.bs,
            numjobs: self.numjobs,
            iodepth: self.iodepth,
            iothreads: self.iothreads,
            duration_ms: self.duration_ms,
            seed: self.seed,
        };
        run_row(labels, &counts)
    }
}

/// Parses the harness's CSV (a header of [`HARNESS_COLUMNS`] and rows of
/// raw counts) into result rows.
pub fn parse_rows(text: &str) -> Result<Vec<RunRow>> {
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = rd
        .headers()
        .context(ErrorKind::Harness, "the harness output has no CSV header")?
        .iter()
        .map(str::to_string)
        .collect();
    if headers != HARNESS_COLUMNS {
        fail!(
            Harness,
            "the harness's columns are not the raw counts pollwise reads ({}): got {}; \
             rebuild the harness (qemu/build.sh) from this checkout",
            HARNESS_COLUMNS.join(","),
            headers.join(",")
        );
    }
    let mut rows = Vec::new();
    for (i, r) in rd.deserialize().enumerate() {
        let row: HarnessRow = r.with_context(ErrorKind::Harness, || {
            format!("harness row {} is malformed", i + 1)
        })?;
        if row.source != "qemu" {
            fail!(
                Harness,
                "harness row {} has source '{}', not 'qemu'",
                i + 1,
                row.source
            );
        }
        rows.push(row.into_run_row());
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(kind: &str, pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(PolicyKind::from_name(kind).unwrap(), pairs.iter().copied()).unwrap()
    }

    #[test]
    fn policies_map_to_variants() {
        let q = variant_for(&params("qemu", &[("poll-max-ns", "16000")])).unwrap();
        assert_eq!(q.variant, "stock");
        assert_eq!(q.poll_max_ns, 16000);
        assert_eq!(q.poll_weight, None);
        let off = variant_for(&params("off", &[])).unwrap();
        assert_eq!((off.variant.as_str(), off.poll_max_ns), ("stock", 0));
        let w = variant_for(&params("weighted", &[("poll-weight", "3")])).unwrap();
        assert_eq!((w.variant.as_str(), w.poll_weight), ("weighted", Some(3)));
        let p = variant_for(&params("pollwise", &[("poll-shrink", "4")])).unwrap();
        assert_eq!(
            (p.variant.as_str(), p.poll_shrink, p.poll_weight),
            ("pollwise", 4, None)
        );
        let err = variant_for(&params("pollwise", &[("poll-block-cost-ns", "16000")])).unwrap_err();
        assert!(err.to_string().contains("poll-block-cost-ns"), "{err}");
        let err = variant_for(&params("kvm-halt-poll", &[])).unwrap_err();
        assert!(err.to_string().contains("no QEMU variant"), "{err}");
    }

    #[test]
    fn args_carry_the_policy_and_the_target() {
        let spec = RunSpec::new(params("weighted", &[("poll-weight", "3")]), "/scratch");
        let (_, args) = spec.args().unwrap();
        let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into()).collect();
        let at = |k: &str| args[args.iter().position(|a| a == k).unwrap() + 1].clone();
        assert_eq!(at("--poll-weight"), "3");
        assert_eq!(at("--policy"), "weighted");
        assert_eq!(at("--dir"), "/scratch");
        assert_eq!(at("--params"), spec.params.to_string());
    }

    #[test]
    fn parses_a_harness_row_through_the_one_derivation() {
        // What the harness prints: 4000 I/Os, 30 kicks and 50 wake-ups in a
        // measured 1 s (the configured duration says 1000 ms too, but the
        // rates divide by the span), 0.3 s of CPU of which 0.02 s polling.
        let text = format!(
            "{}\nqemu,qemu-10.0.2-stock,qemu,poll-max-ns=32768 poll-grow=0 poll-shrink=0,\
             randread,4096,2,4,1,1000,7,2000000000,4000,30,50,300000000,20000000,\
             25000.0,50000.0,99000.0,99900.0,1500000000000,1000000000,100000000,2\n",
            HARNESS_COLUMNS.join(",")
        );
        let rows = parse_rows(&text).unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!((r.source.as_str(), r.iothreads, r.seed), ("qemu", 1, 7));
        assert_eq!(
            (r.iops, r.kicks_per_s.unwrap(), r.wakeups_per_s.unwrap()),
            (2000.0, 15.0, 25.0)
        );
        assert_eq!(r.mb_per_s, 2000.0 * 4096.0 / 1e6);
        assert_eq!((r.iothread_cpu_pct, r.poll_cpu_pct.unwrap()), (15.0, 1.0));
        assert_eq!((r.lat_mean_us, r.lat_p999_us.unwrap()), (25.0, 99.9));
        assert_eq!(
            (r.window_mean_ns.unwrap(), r.window_zero_frac.unwrap()),
            (1500.0, 0.1)
        );
        assert_eq!(r.abrupt_resets.unwrap(), 2);
    }

    #[test]
    fn rejects_foreign_columns() {
        let err = parse_rows("a,b\n1,2\n").unwrap_err();
        assert!(err.to_string().contains("not the raw counts"), "{err}");
        // A harness built before the raw counts printed RunRow's columns.
        let old = format!("{}\n", RunRow::COLUMNS.join(","));
        assert!(parse_rows(&old)
            .unwrap_err()
            .to_string()
            .contains("rebuild the harness"));
    }

    #[test]
    fn the_cache_is_the_users_or_an_error_naming_what_to_set() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        let dir = |pairs| cache_dir_from(env(pairs)).unwrap();
        assert_eq!(
            dir(&[("HOME", "/home/u")]),
            Path::new("/home/u/.cache/pollwise/qemu")
        );
        assert_eq!(
            dir(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/c")]),
            Path::new("/c/pollwise/qemu")
        );
        assert_eq!(
            dir(&[
                ("HOME", "/home/u"),
                ("XDG_CACHE_HOME", "rel"),
                (CACHE_ENV, "/q")
            ]),
            Path::new("/q")
        );
        assert_eq!(
            dir(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "rel")]),
            Path::new("/home/u/.cache/pollwise/qemu")
        );
        for unset in [
            &[][..],
            &[("HOME", ""), ("XDG_CACHE_HOME", "")],
            &[("HOME", "rel")],
        ] {
            let e = cache_dir_from(env(unset)).unwrap_err().to_string();
            for needle in [CACHE_ENV, "XDG_CACHE_HOME", "HOME", "--cache"] {
                assert!(e.contains(needle), "{e}");
            }
        }
    }

    /// CACHE/bin/stock/pollwise-qemu-harness in a fresh directory, every
    /// part mode 0755; returns (cache, harness).
    fn fake_cache(name: &str) -> (PathBuf, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let cache =
            std::env::temp_dir().join(format!("pollwise-qemu-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&cache);
        let harness = harness_path(&cache, "stock");
        std::fs::create_dir_all(harness.parent().unwrap()).unwrap();
        std::fs::write(&harness, "#!/bin/sh\n").unwrap();
        for p in harness.ancestors().take(4) {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        (cache, harness)
    }

    #[test]
    fn a_harness_others_can_change_is_refused() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let (cache, harness) = fake_cache("trust");
        let uid = std::fs::metadata(&harness).unwrap().uid();
        let check = |me| check_owned_chain(&cache, &harness, me).map_err(|e| e.to_string());
        check(uid).unwrap();
        let mode =
            |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        for (p, m, why) in [
            (cache.clone(), 0o777, "writable by others"),
            (cache.join("bin"), 0o1777, "writable by others"),
            (
                harness.parent().unwrap().to_path_buf(),
                0o775,
                "writable by its group",
            ),
            (harness.clone(), 0o757, "writable by others"),
        ] {
            mode(&p, m);
            let e = check(uid).unwrap_err();
            assert!(e.contains(&format!("{} is {why}", p.display())), "{e}");
            assert!(
                e.starts_with(&format!("refusing to run {}", harness.display())),
                "{e}"
            );
            mode(&p, 0o755);
        }
        check(uid).unwrap();
        // Another user's: root makes one; anyone else is another user to
        // a uid not theirs (and not root's).
        let other = if uid == 0 {
            std::os::unix::fs::chown(&harness, Some(12345), None).unwrap();
            12345
        } else {
            uid
        };
        let me = if uid == 0 { 0 } else { uid + 1 };
        let e = check(me).unwrap_err();
        assert!(e.contains(&format!("is owned by uid {other}")), "{e}");
        std::fs::remove_dir_all(&cache).unwrap();
    }

    #[test]
    fn a_symlink_in_the_cache_is_refused() {
        use std::os::unix::fs::MetadataExt;
        let (cache, harness) = fake_cache("symlink");
        let uid = std::fs::metadata(&harness).unwrap().uid();
        let real = cache.join("real-harness");
        std::fs::rename(&harness, &real).unwrap();
        std::os::unix::fs::symlink(&real, &harness).unwrap();
        let e = check_owned_chain(&cache, &harness, uid)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a symbolic link"), "{e}");
        std::fs::remove_file(&harness).unwrap();
        std::fs::create_dir(&harness).unwrap();
        let e = check_owned_chain(&cache, &harness, uid)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not a regular file"), "{e}");
        std::fs::remove_dir_all(&cache).unwrap();
    }

    #[test]
    fn skip_needs_the_exact_opt_out() {
        // Only "1" opts out; the variable is read, never guessed.
        let set = std::env::var_os(SKIP_ENV);
        assert_eq!(skip_requested(), set.is_some_and(|v| v == "1"));
    }
}
