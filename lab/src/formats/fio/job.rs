//! fio job files as workloads: `[global]` plus job sections, read as fio
//! reads them (a line-based INI: a `[global]` applies to the sections
//! after it, on top of any earlier `[global]`; two sections with one name
//! are two jobs), each option either modelled, accepted as having no
//! effect on the model (and named in a note), or refused or warned about
//! by name. Nothing is dropped silently. The file is read once (a pipe or
//! process substitution works).
//!
//! What maps where:
//! - `rw` (`randread`, `randwrite`, `read`, `write`, `randrw`), `rwmixread`
//!   or `rwmixwrite`, `bs`, `iodepth`, `numjobs`: the [`Workload`];
//! - `runtime` (seconds, or with a `ms`/`s`/`m`/`h` suffix): its duration;
//! - `ramp_time`: a warm-up (the simulator's preset has its own; the value
//!   is reported);
//! - `filename=a:b:c`: the number of disks (fio's ':' separates files; a
//!   job goes round-robin over them), `\:` is a ':' inside a name;
//! - `ioengine`: libaio (what the model is) or io_uring (modelled as
//!   libaio, with a warning); a synchronous engine is refused;
//! - `direct=1`: the model; `direct=0` (buffered I/O) is warned about.
//!
//! Job sections run at the same time in fio; pollwise models one set of
//! identical jobs, so sections must agree on every modelled option but
//! `numjobs`, and their `numjobs` add up. Sections that fio runs one after
//! another (`stonewall`, `wait_for_previous`) are refused, by name.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pollwise_core::Rw;

use super::sections::{err, read_ini, sections, Section};
use crate::formats::input::{read_text, InputKind};
use crate::LabError;

/// A job file's workload as pollwise models it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FioJob {
    pub rw: Rw,
    pub rwmixread: u32,
    pub bs: u64,
    pub iodepth: u32,
    /// Summed over job sections.
    pub numjobs: u32,
    /// From `runtime`, if given.
    pub duration_ms: Option<u64>,
    /// From `ramp_time`, if given.
    pub ramp_ms: Option<u64>,
    /// Files in `filename` (':'-separated), if given: the disks.
    pub disks: Option<u32>,
    /// The job sections, in file order.
    pub jobs: Vec<String>,
    /// Options that change what pollwise would model, named.
    pub warnings: Vec<String>,
    /// Options with no effect on the model, named.
    pub ignored: Vec<String>,
}

/// fio's sizes: a number with an optional k/m/g suffix (powers of 1024;
/// fio's default kb_base), optionally followed by `b`/`ib`.
fn size(origin: &str, key: &str, text: &str) -> Result<u64, LabError> {
    crate::formats::parse::size_bytes(text).ok_or_else(|| {
        err(
            origin,
            format!(
                "{key}={text}: not a size pollwise reads (a positive number with an optional \
                 k/m/g suffix, e.g. 4k; one size for reads and writes, no ranges)"
            ),
        )
    })
}

/// fio's times: seconds by default, or with a us/ms/s/m/h suffix.
fn time_ms(origin: &str, key: &str, text: &str) -> Result<u64, LabError> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| {
        err(
            origin,
            format!("{key}={text}: not a time (seconds, or with a ms/s/m/h suffix, e.g. 30s)"),
        )
    })?;
    let ms = match unit {
        "" | "s" | "sec" => n.checked_mul(1000),
        "ms" | "msec" => Some(n),
        "us" | "usec" if n.is_multiple_of(1000) => Some(n / 1000),
        "us" | "usec" => {
            return Err(err(
                origin,
                format!(
                    "{key}={text}: pollwise times runs in whole milliseconds; give a multiple of \
                     1000us (e.g. {}ms)",
                    n.div_ceil(1000)
                ),
            ))
        }
        "m" | "min" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => None,
    };
    ms.ok_or_else(|| {
        err(
            origin,
            format!("{key}={text}: unknown unit '{unit}' (use us, ms, s, m, h or d)"),
        )
    })
}

fn whole(origin: &str, key: &str, text: &str) -> Result<u32, LabError> {
    text.trim()
        .parse::<u32>()
        .map_err(|_| err(origin, format!("{key}={text}: not a whole number")))
}

/// A count fio requires to be at least 1 (`iodepth`, `numjobs`).
fn at_least_1(origin: &str, key: &str, text: &str) -> Result<u32, LabError> {
    match whole(origin, key, text)? {
        0 => Err(err(
            origin,
            format!("{key}={text}: out of range: fio accepts 1 or more"),
        )),
        n => Ok(n),
    }
}

/// The files of a `filename` list: ':' separates them, `\:` is a colon.
pub fn split_filenames(list: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = list.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&':') => {
                chars.next();
                out.last_mut().expect("never empty").push(':');
            }
            ':' => out.push(String::new()),
            c => out.last_mut().expect("never empty").push(c),
        }
    }
    out.retain(|f| !f.trim().is_empty());
    out
}

/// A job file named on the command line, read at most once: every later
/// use gets the same text, so a pipe or a process substitution (read
/// once, then empty) works as a file does.
#[derive(Clone, Debug)]
pub struct JobFile {
    path: PathBuf,
    text: OnceLock<String>,
}

impl JobFile {
    pub fn new(path: PathBuf) -> JobFile {
        JobFile {
            path,
            text: OnceLock::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The job file as a workload, reading it the first time.
    pub fn job(&self) -> Result<FioJob, LabError> {
        if self.text.get().is_none() {
            // Bounded like every input: a job file is small, and /dev/zero
            // is not one.
            let text = read_text("--fio-job", &self.path, InputKind::Small)?;
            let _ = self.text.set(text);
        }
        let text = self.text.get().map_or("", String::as_str);
        parse_job(text, &self.path.display().to_string())
    }
}

/// Parses a job file's text; `origin` names it in messages.
pub fn parse_job(text: &str, origin: &str) -> Result<FioJob, LabError> {
    let map = read_ini(text, origin)?;
    let sections = sections(&map);
    let mut warnings = Vec::new();
    if !sections.unknown.is_empty() {
        warnings.push(format!(
            "not modelled by pollwise, ignored: {} (pollwise models rw, rwmixread, bs, iodepth, \
             numjobs, runtime, ramp_time, filename, ioengine, direct)",
            sections.unknown.join(", ")
        ));
    }
    let jobs = sections.jobs;
    let s = alike(origin, &jobs)?;
    let (rw, rwmixread) = rw_mix(origin, s)?;
    let bs_text = s.bs.clone().flatten_or("4k");
    if bs_text.contains([',', '-', ':']) {
        return Err(err(
            origin,
            format!(
                "bs={bs_text}: separate read/write sizes and ranges are not modelled; give one size"
            ),
        ));
    }
    let bs = size(origin, "bs", &bs_text)?;
    let iodepth = at_least_1(origin, "iodepth", &s.iodepth.clone().flatten_or("1"))?;
    let numjobs = numjobs(origin, &jobs)?;
    let duration_ms = match &s.runtime {
        Some(t) => match time_ms(origin, "runtime", t)? {
            0 => {
                return Err(err(
                    origin,
                    format!(
                        "runtime={t}: out of range: fio's runtime=0 means no limit (run to the \
                         end of size); give a positive time"
                    ),
                ))
            }
            ms => Some(ms),
        },
        _ => None,
    };
    let ramp_ms = match &s.ramp_time {
        Some(t) => Some(time_ms(origin, "ramp_time", t)?),
        _ => None,
    };
    let disks = disks(origin, s)?;
    engine(origin, s, &mut warnings)?;
    Ok(FioJob {
        rw,
        rwmixread,
        bs,
        iodepth,
        numjobs,
        duration_ms,
        ramp_ms,
        disks,
        jobs: jobs.into_iter().map(|(n, _)| n).collect(),
        warnings,
        ignored: sections.ignored,
    })
}

/// The first job, after checking that every job agrees with it on every
/// modelled option but `numjobs` (fio runs sections at once; pollwise
/// models one set of like jobs).
fn alike<'a>(origin: &str, jobs: &'a [(String, Section)]) -> Result<&'a Section, LabError> {
    let Some((first_name, first)) = jobs.first() else {
        return Err(err(
            origin,
            "no job section: add one, e.g. [job1], after [global]".into(),
        ));
    };
    // Sections run at once in fio; pollwise models one set of like jobs.
    for (i, (name, s)) in jobs.iter().enumerate().skip(1) {
        if s.serial.as_ref().is_some_and(|v| v.trim() != "0") {
            return Err(err(
                origin,
                format!(
                    "job [{name}] (job {}) runs after [{first_name}] (stonewall or \
                     wait_for_previous): pollwise models jobs that run at once; write one job \
                     file per phase",
                    i + 1
                ),
            ));
        }
        let fields = [
            ("rw", &first.rw, &s.rw),
            ("rwmixread", &first.rwmixread, &s.rwmixread),
            ("rwmixwrite", &first.rwmixwrite, &s.rwmixwrite),
            ("bs", &first.bs, &s.bs),
            ("iodepth", &first.iodepth, &s.iodepth),
            ("runtime", &first.runtime, &s.runtime),
            ("ioengine", &first.ioengine, &s.ioengine),
            ("direct", &first.direct, &s.direct),
            ("filename", &first.filename, &s.filename),
        ];
        if let Some((key, a, b)) = fields.iter().find(|(_, a, b)| a != b) {
            let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(fio's default)".into());
            return Err(err(
                origin,
                format!(
                    "jobs [{first_name}] (job 1) and [{name}] (job {}) differ in {key} ({} vs \
                     {}): fio runs them at once, and pollwise models one set of identical jobs; \
                     write one job file per workload",
                    i + 1,
                    show(a),
                    show(b)
                ),
            ));
        }
    }
    Ok(first)
}

/// `rw` and the read share of a mix (`rwmixread`, or 100 - `rwmixwrite`).
fn rw_mix(origin: &str, s: &Section) -> Result<(Rw, u32), LabError> {
    let rw_text = s.rw.clone().flatten_or("read");
    let rw = match rw_text.trim() {
        "rw" | "readwrite" => {
            return Err(err(
                origin,
                "rw=readwrite (sequential mixed) is not modelled: use randrw, or read/write".into(),
            ))
        }
        t if t.contains(':') => {
            return Err(err(
                origin,
                format!("rw={t}: an offset modifier (':N') is not modelled"),
            ))
        }
        t => Rw::from_name(t).map_err(|e| err(origin, format!("rw: {e}")))?,
    };
    let pct = |key: &str, v: &String| -> Result<u32, LabError> {
        let n = whole(origin, key, v)?;
        if n > 100 {
            return Err(err(
                origin,
                format!("{key}={n}: out of range: fio accepts a percentage 0 ..= 100"),
            ));
        }
        Ok(n)
    };
    let rwmixread = match (&s.rwmixread, &s.rwmixwrite) {
        (Some(r), Some(w)) => {
            let (r, w) = (pct("rwmixread", r)?, pct("rwmixwrite", w)?);
            if r + w != 100 {
                return Err(err(
                    origin,
                    format!(
                        "rwmixread={r} and rwmixwrite={w} conflict (they must add up to 100; fio \
                         would silently take the later one): give one of them"
                    ),
                ));
            }
            r
        }
        (Some(r), None) => pct("rwmixread", r)?,
        (None, Some(w)) => 100 - pct("rwmixwrite", w)?,
        (None, None) => 50,
    };
    Ok((rw, rwmixread))
}

/// The jobs' `numjobs` added up.
fn numjobs(origin: &str, jobs: &[(String, Section)]) -> Result<u32, LabError> {
    let mut numjobs: u32 = 0;
    for (name, j) in jobs {
        let n = at_least_1(origin, "numjobs", &j.numjobs.clone().flatten_or("1"))?;
        numjobs = numjobs.checked_add(n).ok_or_else(|| {
            err(
                origin,
                format!("[{name}]: numjobs add up past {}", u32::MAX),
            )
        })?;
    }
    Ok(numjobs)
}

/// The number of disks `filename=a:b:c` names, if given.
fn disks(origin: &str, s: &Section) -> Result<Option<u32>, LabError> {
    Ok(match &s.filename {
        Some(list) => {
            let files = split_filenames(list);
            if files.is_empty() {
                return Err(err(origin, "filename= names no file".into()));
            }
            Some(u32::try_from(files.len()).unwrap_or(u32::MAX))
        }
        _ => None,
    })
}

/// `ioengine` and `direct`: refused unless asynchronous; what the model
/// does not match (io_uring, buffered I/O) is a warning.
fn engine(origin: &str, s: &Section, warnings: &mut Vec<String>) -> Result<(), LabError> {
    match s.ioengine.clone().flatten_or("libaio").trim() {
        "libaio" => {}
        "io_uring" => warnings.push(
            "ioengine=io_uring is modelled as libaio (one submission syscall per batch, \
             completions through an eventfd)"
                .into(),
        ),
        e @ ("sync" | "psync" | "vsync" | "pvsync" | "pvsync2" | "mmap") => {
            return Err(err(
                origin,
                format!(
                    "ioengine={e} is synchronous: pollwise models an asynchronous engine \
                     (libaio, as QEMU's guests use with iodepth > 1); use ioengine=libaio"
                ),
            ))
        }
        e => {
            return Err(err(
                origin,
                format!("ioengine={e} is not modelled: use libaio (or io_uring)"),
            ))
        }
    }
    match s.direct.clone().flatten_or("0").trim() {
        "1" | "true" => {}
        "0" | "false" => warnings.push(
            "direct=0 (buffered I/O, fio's default): the page cache is not modelled; the \
             results are for direct I/O (set direct=1 to say so)"
                .into(),
        ),
        d => return Err(err(origin, format!("direct={d}: expected 0 or 1"))),
    }
    Ok(())
}

/// An option's text, with fio's default when it is absent, or given
/// without a value or with an empty one.
trait FlattenOr {
    fn flatten_or(self, default: &str) -> String;
}

impl FlattenOr for Option<String> {
    fn flatten_or(self, default: &str) -> String {
        match self {
            Some(v) if !v.trim().is_empty() => v,
            _ => default.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_and_jobs_with_a_disk_list() {
        let j = parse_job(
            "; a comment\n[global]\nioengine=libaio\ndirect=1\nrw=randread\nbs=8k\niodepth=8\n\
             runtime=30\nramp_time=5s\ntime_based\ngroup_reporting\n\
             filename=/dev/vdb:/dev/vdc:/dev/vdd\n\n[job]\nnumjobs=4\n",
            "t.fio",
        )
        .unwrap();
        assert_eq!(j.rw, Rw::RandRead);
        assert_eq!((j.bs, j.iodepth, j.numjobs), (8192, 8, 4));
        assert_eq!(
            (j.duration_ms, j.ramp_ms, j.disks),
            (Some(30_000), Some(5000), Some(3))
        );
        assert!(j.warnings.is_empty(), "{:?}", j.warnings);
        assert_eq!(j.ignored, ["time_based", "group_reporting"]);
    }

    #[test]
    fn sections_add_their_jobs_and_must_agree() {
        let j = parse_job(
            "[global]\nrw=randrw\nrwmixwrite=30\ndirect=1\n[a]\nnumjobs=2\n[b]\nnumjobs=3\n",
            "t",
        )
        .unwrap();
        assert_eq!((j.numjobs, j.rwmixread), (5, 70));
        assert_eq!(j.jobs, ["a", "b"]);
        let e = parse_job("[a]\nrw=read\ndirect=1\n[b]\nrw=write\ndirect=1\n", "t")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[a] (job 1) and [b] (job 2) differ in rw"),
            "{e}"
        );
    }

    #[test]
    fn what_cannot_be_modelled_is_named() {
        let j = parse_job("[j]\nrw=read\nverify=crc32c\nrate_iops=500\n", "t").unwrap();
        let w = j.warnings.join("\n");
        assert!(w.contains("verify") && w.contains("rate_iops"), "{w}");
        assert!(w.contains("direct=0"), "{w}");
        let e = |text: &str| parse_job(text, "x.fio").unwrap_err().to_string();
        assert!(e("[j]\nioengine=psync\n").contains("ioengine=psync is synchronous"));
        assert!(e("[j]\nioengine=spdk\n").contains("ioengine=spdk"));
        assert!(e("[j]\nrw=readwrite\n").contains("rw=readwrite"));
        assert!(e("[j]\nrw=randomread\n").contains("randomread"));
        assert!(e("[j]\nbs=4k,8k\n").contains("bs=4k,8k"));
        assert!(e("[j]\nbs=lots\n").contains("bs=lots"));
        assert!(e("[j]\nruntime=3 days\n").contains("runtime"));
        assert!(e("[j]\niodepth=-1\n").contains("iodepth=-1"));
        assert!(e("[global]\nrw=read\n").contains("no job section"));
        assert!(e("rw=read\n[j]\n").contains("before the first [section]"));
        assert!(e("include other.fio\n[j]\n").contains("include"));
        assert!(e("[j]\nrwmixread=120\nrw=randrw\n").contains("rwmixread=120"));
        assert!(e("").contains("no job section"));
    }

    #[test]
    fn a_global_applies_to_the_jobs_after_it_and_names_repeat() {
        // A second [global] adds to the first, for the jobs after it only.
        let j = parse_job(
            "[global]\nrw=randread\ndirect=1\n[a]\nbs=8k\n[global]\nbs=8k\n[b]\n",
            "t",
        )
        .unwrap();
        assert_eq!((j.rw, j.bs, j.numjobs), (Rw::RandRead, 8192, 2));
        let e = parse_job("[a]\ndirect=1\n[global]\nbs=8k\n[b]\ndirect=1\n", "t")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[a] (job 1) and [b] (job 2) differ in bs"),
            "{e}"
        );
        // Two sections with one name are two jobs.
        let j = parse_job("[j]\nnumjobs=2\ndirect=1\n[j]\nnumjobs=3\ndirect=1\n", "t").unwrap();
        assert_eq!((j.numjobs, j.jobs.len()), (5, 2));
        let e = parse_job("[j]\nrw=read\n[j]\nrw=write\n", "t")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[j] (job 1) and [j] (job 2) differ in rw"),
            "{e}"
        );
        let e = parse_job("[a]\n[b]\nstonewall\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("[b] (job 2) runs after [a]"), "{e}");
    }

    #[test]
    fn out_of_range_and_conflicting_options_name_fios_range() {
        let e = |text: &str| parse_job(text, "x.fio").unwrap_err().to_string();
        let m = e("[j]\nrw=randrw\nrwmixwrite=150\n");
        assert!(
            m.contains("rwmixwrite=150") && m.contains("0 ..= 100"),
            "{m}"
        );
        let m = e("[j]\nrw=randrw\nrwmixread=70\nrwmixwrite=20\n");
        assert!(m.contains("rwmixread=70 and rwmixwrite=20 conflict"), "{m}");
        let j = parse_job("[j]\nrw=randrw\nrwmixread=70\nrwmixwrite=30\n", "t").unwrap();
        assert_eq!(j.rwmixread, 70);
        let m = e("[j]\nruntime=1500us\n");
        assert!(m.contains("runtime=1500us") && m.contains("2ms"), "{m}");
        assert_eq!(time_ms("t", "runtime", "2000us").unwrap(), 2);
        assert!(e("[j]\nruntime=0\n").contains("runtime=0: out of range"));
        assert!(e("[j]\niodepth=0\n").contains("iodepth=0: out of range"));
        assert!(e("[j]\nnumjobs=0\n").contains("numjobs=0: out of range"));
        assert!(e("[j\n").contains("not a section header"));
    }

    #[test]
    fn filename_lists_split_on_unescaped_colons() {
        assert_eq!(split_filenames("/dev/a:/dev/b"), ["/dev/a", "/dev/b"]);
        assert_eq!(split_filenames(r"c\:\\x:/d"), [r"c:\\x", "/d"]);
        assert!(split_filenames("::").is_empty());
    }

    #[test]
    fn sizes_and_times_in_fio_units() {
        assert_eq!(size("t", "bs", "128K").unwrap(), 131072);
        assert_eq!(size("t", "bs", "1m").unwrap(), 1 << 20);
        assert_eq!(size("t", "bs", "4KiB").unwrap(), 4096);
        assert_eq!(size("t", "bs", "512").unwrap(), 512);
        assert_eq!(time_ms("t", "runtime", "60").unwrap(), 60_000);
        assert_eq!(time_ms("t", "runtime", "250ms").unwrap(), 250);
        assert_eq!(time_ms("t", "runtime", "2m").unwrap(), 120_000);
    }
}
