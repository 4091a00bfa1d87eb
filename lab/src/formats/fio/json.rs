//! fio's JSON output (`--output-format=json` or `json+`) as a row of the
//! common schema (`source=fio`): IOPS, bandwidth and latency; the
//! IOThread's CPU comes from elsewhere ([`crate::formats::import`]).
//!
//! Latency: the mean is fio's total latency (`lat_ns`); the percentiles are
//! fio's completion latency (`clat_ns`, what fio reports percentiles for by
//! default). With `json+` the latency bins of every job and direction are
//! merged and the percentiles computed from them, which is exact over
//! jobs; without bins, one job's (or `group_reporting`'s) percentile table
//! is used, and several jobs' tables are combined by an IOPS-weighted mean
//! (an approximation, reported as a warning).

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

/// One fio JSON output as a row; `iothread_cpu_pct` comes from elsewhere.
/// Returns the row and any warnings.
pub fn fio_json_row(
    text: &str,
    origin: &str,
    labels: &Labels,
    iothread_cpu_pct: f64,
) -> Result<(RunRow, Vec<String>), LabError> {
    // fio may print notes before the JSON; start at the first '{'.
    let start = text
        .find('{')
        .ok_or_else(|| bad(origin, "no JSON object (run fio with --output-format=json)"))?;
    let v: Value = serde_json::from_str(&text[start..])
        .map_err(|e| bad(origin, format!("not fio JSON: {e}")))?;
    let jobs = v
        .get("jobs")
        .and_then(Value::as_array)
        .filter(|j| !j.is_empty())
        .ok_or_else(|| bad(origin, "no \"jobs\" array (is this fio's JSON output?)"))?;
    let mut warnings = Vec::new();
    let (rw, bs, iodepth, numjobs) = job_options(&v, jobs, origin)?;
    let mut t = totals(jobs, origin)?;
    if t.iops <= 0.0 {
        return Err(bad(origin, "no read or write IOPS in any job"));
    }
    let pct_us = percentiles_us(&mut t, origin, &mut warnings);
    if t.runtime_ms <= 0.0 {
        warnings.push(format!("{origin}: no job_runtime; duration_ms is 0"));
    }
    let row = RunRow {
        source: "fio".into(),
        preset: labels.testbed.clone(),
        policy: labels.policy.clone(),
        params: labels.params.clone(),
        rw: rw.name().into(),
        bs,
        numjobs: u32::try_from(numjobs).map_err(|_| bad(origin, "numjobs out of range"))?,
        iodepth: u32::try_from(iodepth).map_err(|_| bad(origin, "iodepth out of range"))?,
        iothreads: labels.iothreads,
        duration_ms: t.runtime_ms as u64,
        seed: 0,
        iops: t.iops,
        mb_per_s: t.bytes_per_s / 1e6,
        lat_mean_us: t.lat_weighted / t.iops / 1000.0,
        lat_p50_us: pct_us[0],
        lat_p99_us: pct_us[1],
        lat_p999_us: pct_us[2],
        iothread_cpu_pct,
        poll_cpu_pct: 0.0,
        kicks_per_s: 0.0,
        wakeups_per_s: 0.0,
        window_mean_ns: 0.0,
        window_zero_frac: 0.0,
        abrupt_resets: 0,
    };
    Ok((row, warnings))
}

/// The workload of the first job (its options, else the global ones, else
/// fio's defaults): rw, bs, iodepth and numjobs (with `group_reporting`
/// one entry stands for `numjobs` jobs).
fn job_options(v: &Value, jobs: &[Value], origin: &str) -> Result<(Rw, u64, u64, u64), LabError> {
    let global = v.get("global options");
    let opt = |job: &Value, key: &str| -> Option<String> {
        job.get("job options")
            .and_then(|o| o.get(key))
            .or_else(|| global.and_then(|g| g.get(key)))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let first = &jobs[0];
    let rw_text = opt(first, "rw").unwrap_or_else(|| "read".into());
    let rw = Rw::from_name(&rw_text).map_err(|e| bad(origin, format!("rw: {e}")))?;
    let bs_text = opt(first, "bs").unwrap_or_else(|| "4k".into());
    let bs = parse_size(&bs_text).ok_or_else(|| bad(origin, format!("bs '{bs_text}'")))?;
    let num = |key: &str, default: u64| -> Result<u64, LabError> {
        match opt(first, key) {
            None => Ok(default),
            Some(t) => t
                .trim()
                .parse()
                .map_err(|_| bad(origin, format!("{key} '{t}' is not a whole number"))),
        }
    };
    let iodepth = num("iodepth", 1)?;
    // With group_reporting fio reports one entry for numjobs jobs.
    let numjobs = if jobs.len() == 1 {
        num("numjobs", 1)?
    } else {
        jobs.len() as u64
    };
    Ok((rw, bs, iodepth, numjobs))
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

/// The number at `path` in `x`, 0 where absent.
fn num_at(x: &Value, path: &[&str]) -> f64 {
    let mut cur = x;
    for p in path {
        match cur.get(p) {
            Some(n) => cur = n,
            None => return 0.0,
        }
    }
    cur.as_f64().unwrap_or(0.0)
}

fn totals(jobs: &[Value], origin: &str) -> Result<Totals, LabError> {
    let mut t = Totals::default();
    for job in jobs {
        t.runtime_ms = t.runtime_ms.max(num_at(job, &["job_runtime"]));
        for d in ["read", "write"] {
            let Some(side) = job.get(d) else { continue };
            let side_iops = num_at(side, &["iops"]);
            if side_iops <= 0.0 {
                continue;
            }
            t.iops += side_iops;
            t.bytes_per_s += num_at(side, &["bw_bytes"]);
            t.lat_weighted += side_iops * num_at(side, &["lat_ns", "mean"]);
            let clat = side.get("clat_ns");
            if let Some(b) = clat.and_then(|c| c.get("bins")).and_then(Value::as_object) {
                for (k, n) in b {
                    let ns: u64 = k
                        .parse()
                        .map_err(|_| bad(origin, format!("latency bin '{k}'")))?;
                    t.bins.push((ns, n.as_u64().unwrap_or(0)));
                }
            } else if let Some(p) = clat.and_then(|c| c.get("percentile")) {
                let at = |q: &str| p.get(q).and_then(Value::as_f64);
                match (at("50.000000"), at("99.000000"), at("99.900000")) {
                    (Some(a), Some(b), Some(c)) => t.pct_tables.push((side_iops, [a, b, c])),
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
/// the percentile tables' IOPS-weighted mean (warned about), else 0.
fn percentiles_us(t: &mut Totals, origin: &str, warnings: &mut Vec<String>) -> [f64; 3] {
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
            "{origin}: no completion latency percentiles; they are 0"
        ));
        [0.0; 3]
    };
    pct_us
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
  {"jobname": "a", "job_runtime": 10000,
   "read": {"iops": 3000.0, "bw_bytes": 24576000, "lat_ns": {"mean": 10000.0},
            "clat_ns": {"bins": {"10000": 250, "20000": 50}}}}
 ]}"#;

    #[test]
    fn json_plus_bins_merge_over_jobs() {
        let (r, w) = fio_json_row(JSON, "f.json", &labels(), 12.5).unwrap();
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
            (10.0, 20.0, 90.0)
        );
        assert_eq!(r.iothread_cpu_pct, 12.5);
    }

    #[test]
    fn percentile_tables_without_bins() {
        let one = r#"{"jobs": [{"job_runtime": 500, "job options": {"rw": "read", "bs": "4096", "numjobs": "4"},
          "read": {"iops": 10.0, "bw_bytes": 40960, "lat_ns": {"mean": 1000.0},
            "clat_ns": {"percentile": {"50.000000": 900, "99.000000": 2000, "99.900000": 3000}}}}]}"#;
        let (r, w) = fio_json_row(one, "g.json", &labels(), 1.0).unwrap();
        assert!(w.is_empty());
        assert_eq!((r.numjobs, r.lat_p50_us, r.lat_p999_us), (4, 0.9, 3.0));
        let e = |t: &str| {
            fio_json_row(t, "x.json", &labels(), 0.0)
                .unwrap_err()
                .to_string()
        };
        assert!(e("fio: error").contains("no JSON object"));
        assert!(e("{\"jobs\": []}").contains("no \"jobs\""));
        assert!(e("{\"jobs\": [{\"read\": {\"iops\": 0}}]}").contains("no read or write IOPS"));
        assert!(e("{\"jobs\": [{\"job options\": {\"rw\": \"trim\"}}]}").contains("trim"));
    }
}
