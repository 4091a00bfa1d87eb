//! fio's JSON output (`--output-format=json` or `json+`, fio 3.x) as rows
//! of the common schema (`source=fio`), one per job (the entries of one
//! job section, `numjobs` clones, make one row; with `group_reporting` fio
//! gives one entry per group): IOPS, bandwidth and latency; the IOThread's
//! CPU comes from elsewhere ([`crate::formats::import`]); what fio cannot
//! know (the loop's poll CPU, kicks, wake-ups and window; percentiles fio
//! did not compute) is left empty. Refused: a job
//! with `error != 0`, a negative number, a JSON version other than fio
//! 3's. What has to be assumed (an option fio's JSON leaves out) is warned
//! about.
//!
//! Latency: the mean is fio's total latency (`lat_ns`); the percentiles are
//! fio's completion latency (`clat_ns`, what fio reports percentiles for by
//! default). With `json+` the latency bins of a row's entries and
//! directions are merged and the percentiles computed from them, which is
//! exact; without bins, one entry's percentile table is used, and several
//! tables are combined by an IOPS-weighted mean (an approximation,
//! reported as a warning).

use pollwise_core::{RunRow, Rw};
use serde_json::Value;

use crate::LabError;

fn bad(origin: &str, msg: impl std::fmt::Display) -> LabError {
    LabError::Input(format!("{origin}: {msg}"))
}

/// What the row is labelled with: fio does not know the policy or the
/// number of IOThreads.
#[derive(Clone, Debug)]
pub struct Labels {
    pub testbed: String,
    pub policy: String,
    pub params: String,
    pub iothreads: u32,
}

/// One fio JSON output as rows, one per job; `iothread_cpu_pct` comes
/// from elsewhere. Returns the rows and any warnings.
pub fn fio_json_rows(
    text: &str,
    origin: &str,
    labels: &Labels,
    iothread_cpu_pct: f64,
) -> Result<(Vec<RunRow>, Vec<String>), LabError> {
    // fio may print notes before the JSON; start at the first '{'.
    let start = text
        .find('{')
        .ok_or_else(|| bad(origin, "no JSON object (run fio with --output-format=json)"))?;
    let v: Value = serde_json::from_str(&text[start..])
        .map_err(|e| bad(origin, format!("not fio JSON: {e}")))?;
    let version = v.get("fio version").and_then(Value::as_str).unwrap_or("");
    if !version.starts_with("fio-3.") {
        return Err(bad(
            origin,
            format!(
                "\"fio version\" is {version:?}: pollwise reads fio 3.x JSON (lat_ns, clat_ns, \
                 bw_bytes); rerun with fio 3 or later"
            ),
        ));
    }
    let jobs = v
        .get("jobs")
        .and_then(Value::as_array)
        .filter(|j| !j.is_empty())
        .ok_or_else(|| bad(origin, "no \"jobs\" array (is this fio's JSON output?)"))?;
    let mut warnings = Vec::new();
    let mut groups: Vec<(JobOptions, Vec<&Value>)> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let name = job.get("jobname").and_then(Value::as_str).unwrap_or("");
        let job_origin = format!("{origin}: job {} [{name}]", i + 1);
        let error = job.get("error").and_then(Value::as_f64).unwrap_or(0.0);
        if error != 0.0 {
            return Err(bad(
                &job_origin,
                format!("fio reports error {error}: its numbers are not a measurement"),
            ));
        }
        let o = job_options(&v, job, &job_origin, &mut warnings)?;
        match groups.iter_mut().find(|(k, _)| *k == o) {
            Some((_, entries)) => entries.push(job),
            None => groups.push((o, vec![job])),
        }
    }
    let mut rows = Vec::new();
    for (o, entries) in groups {
        let job_origin = format!("{origin}: [{}]", o.name);
        rows.push(row(&o, &entries, &job_origin, labels, &mut warnings)?);
    }
    for r in &mut rows {
        r.iothread_cpu_pct = iothread_cpu_pct;
    }
    Ok((rows, warnings))
}

/// The row of one job: its entries (clones, or one group) added up.
fn row(
    o: &JobOptions,
    entries: &[&Value],
    origin: &str,
    labels: &Labels,
    warnings: &mut Vec<String>,
) -> Result<RunRow, LabError> {
    let mut t = totals(entries, origin)?;
    if t.iops <= 0.0 {
        return Err(bad(origin, "no read or write IOPS"));
    }
    let pct_us = percentiles_us(&mut t, origin, warnings);
    if t.runtime_ms <= 0.0 {
        // IOPS over no time: not a run fio finished.
        return Err(bad(
            origin,
            "job_runtime is 0 or missing while the job reports IOPS: give the JSON of a run \
             that finished (fio --output-format=json)",
        ));
    }
    // With group_reporting fio reports one entry for numjobs jobs.
    let numjobs = if entries.len() == 1 {
        o.numjobs
    } else {
        entries.len() as u64
    };
    Ok(RunRow {
        source: "fio".into(),
        preset: labels.testbed.clone(),
        policy: labels.policy.clone(),
        params: labels.params.clone(),
        rw: o.rw.name().into(),
        bs: o.bs,
        numjobs: count_in_range(numjobs, "numjobs", origin)?,
        iodepth: count_in_range(o.iodepth, "iodepth", origin)?,
        iothreads: labels.iothreads,
        duration_ms: t.runtime_ms as u64,
        seed: 0,
        iops: t.iops,
        mb_per_s: t.bytes_per_s / 1e6,
        lat_mean_us: t.lat_weighted / t.iops / 1000.0,
        lat_p50_us: pct_us.map(|p| p[0]),
        lat_p99_us: pct_us.map(|p| p[1]),
        lat_p999_us: pct_us.map(|p| p[2]),
        iothread_cpu_pct: 0.0,
        // fio does not see the IOThread's loop: unknown, not 0.
        poll_cpu_pct: None,
        kicks_per_s: None,
        wakeups_per_s: None,
        window_mean_ns: None,
        window_zero_frac: None,
        abrupt_resets: None,
    })
}

/// A job option that counts (numjobs, iodepth): at least 1 and within a
/// row's u32, as the job-file parser requires.
fn count_in_range(n: u64, what: &str, origin: &str) -> Result<u32, LabError> {
    u32::try_from(n).ok().filter(|&n| n >= 1).ok_or_else(|| {
        bad(
            origin,
            format!("{what} {n} is out of range: [1, {}]", u32::MAX),
        )
    })
}

/// What identifies a job's row: its group, name and workload.
#[derive(Clone, Debug, PartialEq)]
struct JobOptions {
    group: u64,
    name: String,
    rw: Rw,
    bs: u64,
    iodepth: u64,
    numjobs: u64,
}

/// One job's workload (its options, else the global ones, else fio's
/// defaults, warned about): rw, bs, iodepth and numjobs.
fn job_options(
    v: &Value,
    job: &Value,
    origin: &str,
    warnings: &mut Vec<String>,
) -> Result<JobOptions, LabError> {
    let global = v.get("global options");
    let opt = |key: &str| -> Option<String> {
        job.get("job options")
            .and_then(|o| o.get(key))
            .or_else(|| global.and_then(|g| g.get(key)))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let mut or_default = |key: &str, default: &str| {
        opt(key).unwrap_or_else(|| {
            warnings.push(format!(
                "{origin}: no {key} in its options; fio's default {key}={default} assumed"
            ));
            default.to_string()
        })
    };
    let rw_text = or_default("rw", "read");
    let bs_text = or_default("bs", "4k");
    let iodepth_text = or_default("iodepth", "1");
    let rw = Rw::from_name(&rw_text).map_err(|e| bad(origin, format!("rw: {e}")))?;
    let bs = parse_size(&bs_text).ok_or_else(|| bad(origin, format!("bs '{bs_text}'")))?;
    let num = |key: &str, t: &str| -> Result<u64, LabError> {
        t.trim()
            .parse()
            .map_err(|_| bad(origin, format!("{key} '{t}' is not a whole number")))
    };
    Ok(JobOptions {
        group: job.get("groupid").and_then(Value::as_u64).unwrap_or(0),
        name: job
            .get("jobname")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        rw,
        bs,
        iodepth: num("iodepth", &iodepth_text)?,
        numjobs: num("numjobs", &opt("numjobs").unwrap_or_else(|| "1".into()))?,
    })
}

/// What every job and direction adds up to: IOPS, bandwidth,
/// IOPS-weighted mean latency, the longest runtime, and the latency bins
/// (`json+`) or percentile tables with their IOPS weights.
#[derive(Default)]
struct Totals {
    iops: f64,
    bytes_per_s: f64,
    lat_weighted: f64,
    runtime_ms: f64,
    bins: Vec<(u64, u64)>,
    pct_tables: Vec<(f64, [f64; 3])>,
}

/// The number at `path` in `x`, 0 where absent; a negative one is refused.
fn num_at(x: &Value, path: &[&str], origin: &str) -> Result<f64, LabError> {
    let mut cur = x;
    for p in path {
        match cur.get(p) {
            Some(n) => cur = n,
            None => return Ok(0.0),
        }
    }
    let Some(n) = cur.as_f64() else {
        return Err(bad(
            origin,
            format!(
                "{} is {cur}, not a number: give fio's JSON output as fio wrote it",
                path.join(".")
            ),
        ));
    };
    match n {
        n if n < 0.0 => Err(bad(
            origin,
            format!(
                "{} is {n}: fio never reports a negative one",
                path.join(".")
            ),
        )),
        n => Ok(n),
    }
}

/// More I/Os a second than any disk reaches: a job reporting them is not
/// a measurement.
const MAX_IOPS: f64 = 1e9;

fn totals(jobs: &[&Value], origin: &str) -> Result<Totals, LabError> {
    let mut t = Totals::default();
    for job in jobs {
        t.runtime_ms = t.runtime_ms.max(num_at(job, &["job_runtime"], origin)?);
        for d in ["read", "write"] {
            let Some(side) = job.get(d) else { continue };
            let side_iops = num_at(side, &["iops"], origin)?;
            let bytes_per_s = num_at(side, &["bw_bytes"], origin)?;
            let lat_ns = num_at(side, &["lat_ns", "mean"], origin)?;
            if side_iops <= 0.0 {
                continue;
            }
            // No disk reaches a billion I/Os a second, and I/Os move bytes.
            if side_iops > MAX_IOPS {
                return Err(bad(
                    origin,
                    format!("{d}.iops {side_iops:e} is beyond any disk (at most {MAX_IOPS:e})"),
                ));
            }
            if bytes_per_s <= 0.0 {
                return Err(bad(
                    origin,
                    format!(
                        "{d}.bw_bytes is {bytes_per_s} while {d}.iops is {side_iops}: I/Os that \
                         move no bytes are not a measurement"
                    ),
                ));
            }
            t.iops += side_iops;
            t.bytes_per_s += bytes_per_s;
            t.lat_weighted += side_iops * lat_ns;
            let clat = side.get("clat_ns");
            if let Some(b) = clat.and_then(|c| c.get("bins")).and_then(Value::as_object) {
                for (k, n) in b {
                    let ns: u64 = k
                        .parse()
                        .map_err(|_| bad(origin, format!("latency bin '{k}'")))?;
                    let n = n.as_u64().ok_or_else(|| {
                        bad(origin, format!("latency bin '{k}': {n} is not a count"))
                    })?;
                    t.bins.push((ns, n));
                }
            } else if let Some(p) = clat.and_then(|c| c.get("percentile")) {
                let at = |q: &str| p.get(q).and_then(Value::as_f64);
                match (at("50.000000"), at("99.000000"), at("99.900000")) {
                    (Some(a), Some(b), Some(c)) if a.min(b).min(c) >= 0.0 => {
                        t.pct_tables.push((side_iops, [a, b, c]))
                    }
                    (Some(_), Some(_), Some(_)) => {
                        return Err(bad(origin, "a negative clat_ns.percentile"))
                    }
                    _ => {
                        return Err(bad(
                            origin,
                            "clat_ns.percentile lacks 50, 99 or 99.9 (fio's default list has them)",
                        ))
                    }
                }
            }
        }
    }
    Ok(t)
}

/// p50, p99 and p99.9 of completion latency in µs: exact from bins, else
/// the percentile tables' IOPS-weighted mean (warned about), else
/// unknown (warned about).
fn percentiles_us(t: &mut Totals, origin: &str, warnings: &mut Vec<String>) -> Option<[f64; 3]> {
    let pct_us: [f64; 3] = if !t.bins.is_empty() {
        t.bins.sort_unstable();
        let total: u64 = t.bins.iter().map(|(_, n)| n).sum();
        [0.5, 0.99, 0.999].map(|q| {
            let want = (q * total as f64).ceil() as u64;
            let mut seen = 0;
            let ns = t
                .bins
                .iter()
                .find(|(_, n)| {
                    seen += n;
                    seen >= want.max(1)
                })
                .map_or(0, |(ns, _)| *ns);
            ns as f64 / 1000.0
        })
    } else if !t.pct_tables.is_empty() {
        if t.pct_tables.len() > 1 {
            warnings.push(format!(
                "{origin}: {} latency percentile tables (jobs or directions) combined by an \
                 IOPS-weighted mean, an approximation: use --output-format=json+ (exact) or \
                 group_reporting",
                t.pct_tables.len()
            ));
        }
        let w: f64 = t.pct_tables.iter().map(|(w, _)| w).sum();
        [0, 1, 2].map(|i| t.pct_tables.iter().map(|(wi, t)| wi * t[i]).sum::<f64>() / w / 1000.0)
    } else {
        warnings.push(format!(
            "{origin}: no completion latency percentiles; they are left empty"
        ));
        return None;
    };
    Some(pct_us)
}

fn parse_size(t: &str) -> Option<u64> {
    let t = t.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (d, m) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1u64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        _ => (t, 1),
    };
    d.parse::<u64>().ok()?.checked_mul(m).filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Labels {
        Labels {
            testbed: "lab-nvme".into(),
            policy: "qemu".into(),
            params: "poll-max-ns=32768".into(),
            iothreads: 1,
        }
    }

    const JSON: &str = r#"note: both iodepth >= 1 and synchronous I/O engine
{"fio version": "fio-3.33",
 "global options": {"rw": "randread", "bs": "8k", "iodepth": "8"},
 "jobs": [
  {"jobname": "a", "job_runtime": 10000, "job options": {"numjobs": "2"},
   "read": {"iops": 1000.0, "bw_bytes": 8192000, "lat_ns": {"mean": 20000.0},
            "clat_ns": {"bins": {"10000": 50, "20000": 49, "90000": 1}}},
   "write": {"iops": 0.0}},
  {"jobname": "a", "job_runtime": 10000, "job options": {"numjobs": "2"},
   "read": {"iops": 3000.0, "bw_bytes": 24576000, "lat_ns": {"mean": 10000.0},
            "clat_ns": {"bins": {"10000": 250, "20000": 50}}}}
 ]}"#;

    #[test]
    fn json_plus_bins_merge_over_jobs() {
        let (rows, w) = fio_json_rows(JSON, "f.json", &labels(), 12.5).unwrap();
        let [r] = &rows[..] else { panic!("{rows:?}") };
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            (r.source.as_str(), r.rw.as_str(), r.bs),
            ("fio", "randread", 8192)
        );
        assert_eq!((r.numjobs, r.iodepth, r.duration_ms), (2, 8, 10_000));
        assert_eq!(r.iops, 4000.0);
        assert_eq!(r.mb_per_s, 32.768);
        // (1000 x 20 + 3000 x 10) / 4000 = 12.5 us.
        assert_eq!(r.lat_mean_us, 12.5);
        // 400 samples: 300 at 10 us, 99 at 20 us, 1 at 90 us.
        assert_eq!(
            (r.lat_p50_us, r.lat_p99_us, r.lat_p999_us),
            (Some(10.0), Some(20.0), Some(90.0))
        );
        assert_eq!(r.iothread_cpu_pct, 12.5);
        // fio does not see the IOThread's loop: its counters are unknown.
        assert_eq!(
            [r.poll_cpu_pct, r.kicks_per_s, r.wakeups_per_s],
            [None, None, None]
        );
        assert_eq!((r.window_mean_ns, r.window_zero_frac), (None, None));
        assert_eq!(r.abrupt_resets, None);
    }

    /// Figures no run reports are refused by name: numjobs or iodepth 0,
    /// IOPS beyond any disk, I/Os that move no bytes, a non-number.
    #[test]
    fn impossible_figures_are_refused_by_name() {
        for (nj, qd, iops, bw, says) in [
            ("0", "1", "10", "4096", "numjobs 0 is out of range: [1, "),
            ("1", "0", "10", "4096", "iodepth 0 is out of range: [1, "),
            (
                "1",
                "1",
                "1e300",
                "4096",
                "read.iops 1e300 is beyond any disk",
            ),
            (
                "1",
                "1",
                "10",
                "0",
                "read.bw_bytes is 0 while read.iops is 10",
            ),
            (
                "1",
                "1",
                r#""lots""#,
                "4096",
                r#"iops is "lots", not a number"#,
            ),
        ] {
            let text = format!(
                r#"{{"fio version": "fio-3.33", "jobs": [{{"job_runtime": 500, "job options":
                  {{"rw": "randread", "bs": "4096", "numjobs": "{nj}", "iodepth": "{qd}"}},
                  "read": {{"iops": {iops}, "bw_bytes": {bw}, "lat_ns": {{"mean": 1000.0}}}}}}]}}"#
            );
            let err = fio_json_rows(&text, "f.json", &labels(), 12.5)
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn what_fio_does_not_report_is_an_empty_field() {
        // No clat_ns at all (fio run with clat_percentiles=0).
        let text = r#"{"fio version": "fio-3.33", "jobs": [{"job_runtime": 500,
          "job options": {"rw": "randread", "bs": "4096", "iodepth": "1"},
          "read": {"iops": 10.0, "bw_bytes": 40960, "lat_ns": {"mean": 1000.0}}}]}"#;
        let (rows, w) = fio_json_rows(text, "n.json", &labels(), 7.0).unwrap();
        assert!(w.join("\n").contains("left empty"), "{w:?}");
        assert_eq!(rows[0].lat_p99_us, None);
        let mut csv = Vec::new();
        crate::formats::rows::write_csv(&mut csv, &rows).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        let line = csv.lines().nth(1).unwrap();
        // iops .. lat_mean_us known, percentiles empty, CPU 7, the loop's
        // counters empty.
        assert!(line.ends_with(",10.0,0.04096,1.0,,,,7.0,,,,,,"), "{line}");
    }

    #[test]
    fn percentile_tables_without_bins() {
        let one = r#"{"fio version": "fio-3.33", "jobs": [{"job_runtime": 500, "job options": {"rw": "read", "bs": "4096", "numjobs": "4"},
          "read": {"iops": 10.0, "bw_bytes": 40960, "lat_ns": {"mean": 1000.0},
            "clat_ns": {"percentile": {"50.000000": 900, "99.000000": 2000, "99.900000": 3000}}}}]}"#;
        let (rows, w) = fio_json_rows(one, "g.json", &labels(), 1.0).unwrap();
        let [r] = &rows[..] else { panic!("{rows:?}") };
        assert_eq!(
            w,
            ["g.json: job 1 []: no iodepth in its options; fio's default iodepth=1 assumed"]
        );
        assert_eq!(
            (r.numjobs, r.lat_p50_us, r.lat_p999_us),
            (4, Some(0.9), Some(3.0))
        );
        let e = |t: &str| {
            let t = t.replacen('{', "{\"fio version\": \"fio-3.33\", ", 1);
            fio_json_rows(&t, "x.json", &labels(), 0.0)
                .unwrap_err()
                .to_string()
        };
        assert!(e("fio: error").contains("no JSON object"));
        assert!(e("{\"jobs\": []} ").contains("no \"jobs\""));
        assert!(e("{\"jobs\": []}").contains("no \"jobs\""));
        assert!(e("{\"jobs\": [{\"read\": {\"iops\": 0}}]}").contains("no read or write IOPS"));
        assert!(e("{\"jobs\": [{\"job options\": {\"rw\": \"trim\"}}]}").contains("trim"));
    }

    /// A job of fio's JSON with `iops` IOPS at `lat` ns and its options.
    fn job(name: &str, options: &str, iops: f64, lat: f64) -> String {
        format!(
            r#"{{"jobname": "{name}", "groupid": 0, "error": 0, "job_runtime": 1000,
              "job options": {{{options}}},
              "read": {{"iops": {iops}, "bw_bytes": {}, "lat_ns": {{"mean": {lat}}},
                "clat_ns": {{"bins": {{"{lat}": 10}}}}}}}}"#,
            iops * 4096.0
        )
    }

    fn doc(version: &str, jobs: &[String]) -> String {
        format!(
            r#"{{"fio version": "{version}", "jobs": [{}]}}"#,
            jobs.join(",")
        )
    }

    #[test]
    fn one_row_per_job_and_what_cannot_be_trusted_is_refused() {
        let big = job(
            "big",
            r#""rw": "randread", "bs": "4k", "iodepth": "32""#,
            99e3,
            300e3,
        );
        let small = job(
            "small",
            r#""rw": "randwrite", "bs": "64k", "iodepth": "1""#,
            1e3,
            20e3,
        );
        let (rows, w) =
            fio_json_rows(&doc("fio-3.33", &[big.clone(), small]), "m", &labels(), 1.0).unwrap();
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.rw.as_str(), r.bs, r.iodepth, r.iops, r.lat_p50_us))
            .collect();
        assert_eq!(
            got,
            [
                ("randread", 4096, 32, 99e3, Some(300.0)),
                ("randwrite", 65536, 1, 1e3, Some(20.0))
            ]
        );
        assert!(w.is_empty(), "{w:?}");
        let (_, w) = fio_json_rows(
            &doc("fio-3.33", &[job("d", "", 5.0, 1e3)]),
            "m",
            &labels(),
            1.0,
        )
        .unwrap();
        assert!(
            w.join("\n").contains("fio's default rw=read assumed"),
            "{w:?}"
        );
        let e = |text: String| {
            fio_json_rows(&text, "x", &labels(), 0.0)
                .unwrap_err()
                .to_string()
        };
        let failed = big.replace(r#""error": 0"#, r#""error": 5"#);
        assert!(e(doc("fio-3.33", &[failed])).contains("[big]: fio reports error 5"));
        let negative = job("n", r#""rw": "read""#, -5.0, 1e3);
        assert!(e(doc("fio-3.33", &[negative])).contains("iops is -5"));
        let slow = job("s", r#""rw": "read""#, 5.0, -1e3);
        assert!(e(doc("fio-3.33", &[slow])).contains("lat_ns.mean is -1000"));
        let m = e(doc("fio-2.2.10", &[big]));
        assert!(m.contains("\"fio-2.2.10\"") && m.contains("fio 3.x"), "{m}");
    }
}
