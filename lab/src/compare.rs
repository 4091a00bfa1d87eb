//! A baseline and a candidate policy over a set of workloads, paired point
//! by point, on any backend. On a deterministic backend the repeats are
//! seeds `seed, seed+1, ...` shared by both policies (common random
//! numbers) and run in parallel; on a non-deterministic one a warm-up run
//! comes first, then baseline and candidate runs alternate (AB, then BA in
//! the next repeat) so a drift in the machine's load hits both alike.

use std::sync::atomic::{AtomicUsize, Ordering};

use pollwise_core::{Params, RunRow, Workload, COMPARE_COLUMNS};
use pollwise_sim::batch::{check_runs, nth_seed};

use crate::acceptance::judge_point;
use crate::backend::{Backend, Point};
pub use crate::compared::ComparedPoint;
use crate::effective::{effective_row_text, effective_text};
use crate::stats::{mean, PAIRED_CI_METHOD};
use crate::{LabError, Progress, Ticker};

/// What to compare.
#[derive(Clone, Debug)]
pub struct CompareSpec {
    pub workloads: Vec<Workload>,
    pub baseline: Params,
    pub candidate: Params,
    /// QEMU variants built from patch series that run the baseline's or
    /// the candidate's parameters (`None`: the policy's own).
    pub variants: [Option<String>; 2],
    pub seed: u64,
    /// Runs per point and policy (seeds on a deterministic backend).
    pub repeats: u32,
}

impl CompareSpec {
    /// How the baseline (`candidate` false) or the candidate is named in
    /// tables: a series variant by its name and raw properties, a policy
    /// by its name and its parameters as they act.
    pub fn label(&self, candidate: bool) -> (String, String) {
        let params = if candidate {
            &self.candidate
        } else {
            &self.baseline
        };
        match &self.variants[usize::from(candidate)] {
            Some(v) => (v.clone(), params.to_string()),
            None => (params.kind().to_string(), effective_text(params)),
        }
    }
}

/// Every single run of every point, baseline then candidate, in point order
/// (what `--rows` writes).
pub fn all_runs(points: &[ComparedPoint]) -> Vec<RunRow> {
    points
        .iter()
        .flat_map(|p| p.baseline.iter().chain(&p.candidate).cloned())
        .collect()
}

/// Runs the comparison. `progress` hears of every finished run.
pub fn compare(
    backend: &dyn Backend,
    spec: &CompareSpec,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<ComparedPoint>, LabError> {
    if spec.repeats == 0 {
        return Err(LabError::Input(
            "repeats = 0: at least one run per point is needed".into(),
        ));
    }
    backend.check_variant(&spec.baseline, spec.variants[0].as_deref())?;
    backend.check_variant(&spec.candidate, spec.variants[1].as_deref())?;
    let total = check_runs(
        (spec.workloads.len() as u64)
            .checked_mul(2)
            .and_then(|n| n.checked_mul(u64::from(spec.repeats))),
        "this compare",
    )? as usize;
    for w in &spec.workloads {
        w.check(backend.limits())?;
    }
    if backend.deterministic() {
        return seeded(backend, spec, progress);
    }
    let done = AtomicUsize::new(0);
    let tick = |what: &str| {
        let done = done.fetch_add(1, Ordering::Relaxed) + 1;
        progress(Progress::Run { done, total, what });
    };
    interleaved(backend, spec, &tick)
}

/// Repeat `rep` of the baseline (`candidate` false) or the candidate at
/// workload `w`.
fn point(spec: &CompareSpec, w: &Workload, candidate: bool, rep: usize) -> Result<Point, LabError> {
    let params = if candidate {
        &spec.candidate
    } else {
        &spec.baseline
    };
    Ok(Point {
        workload: w.clone(),
        params: params.clone(),
        seed: nth_seed(spec.seed, rep as u64)?,
        qemu_variant: spec.variants[usize::from(candidate)].clone(),
    })
}

/// On a deterministic backend: every run at once, both policies on the
/// same seeds.
fn seeded(
    backend: &dyn Backend,
    spec: &CompareSpec,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<ComparedPoint>, LabError> {
    let per = spec.repeats as usize;
    let what = format!("{} vs {}", spec.candidate.kind(), spec.baseline.kind());
    let mut points = Vec::new();
    for w in &spec.workloads {
        for candidate in [false, true] {
            for rep in 0..per {
                points.push(point(spec, w, candidate, rep)?);
            }
        }
    }
    let cost = points.iter().map(|p| backend.cost(p)).sum();
    let ticker = Ticker::new(points.len(), cost, &what, progress);
    let rows = backend.run_each(&points, &|run| ticker.tick(run))?;
    Ok(rows
        .chunks(2 * per)
        .zip(&spec.workloads)
        .map(|(runs, w)| ComparedPoint {
            workload: w.clone(),
            baseline: runs[..per].to_vec(),
            candidate: runs[per..].to_vec(),
        })
        .collect())
}

/// On a measuring backend: a warm-up run, then the policies alternate
/// (AB, then BA) point by point.
fn interleaved(
    backend: &dyn Backend,
    spec: &CompareSpec,
    tick: &(dyn Fn(&str) + Sync),
) -> Result<Vec<ComparedPoint>, LabError> {
    let mut out: Vec<ComparedPoint> = spec
        .workloads
        .iter()
        .map(|w| ComparedPoint {
            workload: w.clone(),
            baseline: Vec::new(),
            candidate: Vec::new(),
        })
        .collect();
    // A warm-up run, discarded: caches, clocks and the target settle.
    if let Some(w) = spec.workloads.first() {
        backend.run(&point(spec, w, false, 0)?)?;
    }
    for rep in 0..spec.repeats as usize {
        for p in &mut out {
            let order = if rep.is_multiple_of(2) {
                [true, false]
            } else {
                [false, true]
            };
            for is_baseline in order {
                let pt = point(spec, &p.workload, !is_baseline, rep)?;
                let w = &p.workload;
                tick(&format!(
                    "{} {} bs={} qd={} jobs={}",
                    spec.label(!is_baseline).0,
                    w.rw,
                    w.bs,
                    w.iodepth,
                    w.numjobs
                ));
                let row = backend.run(&pt)?;
                if is_baseline {
                    p.baseline.push(row);
                } else {
                    p.candidate.push(row);
                }
            }
        }
    }
    Ok(out)
}

/// The summary line: the worst IOPS change and the mean CPU change.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub worst_iops_diff_pct: f64,
    pub mean_iops_diff_pct: f64,
    /// Mean over points of the CPU change in percent (negative = saving).
    pub mean_cpu_diff_pct: f64,
    /// Mean over points of the CPU change in points of one core.
    pub mean_cpu_diff_points: f64,
}

pub fn summarize(points: &[ComparedPoint]) -> Summary {
    let iops: Vec<f64> = points.iter().map(ComparedPoint::iops_diff_pct).collect();
    let cpu: Vec<f64> = points.iter().map(ComparedPoint::cpu_diff_pct).collect();
    let points_diff: Vec<f64> = points
        .iter()
        .map(|p| p.candidate_mean().iothread_cpu_pct - p.baseline_mean().iothread_cpu_pct)
        .collect();
    Summary {
        worst_iops_diff_pct: iops.iter().copied().fold(f64::INFINITY, f64::min),
        mean_iops_diff_pct: mean(&iops),
        mean_cpu_diff_pct: mean(&cpu),
        mean_cpu_diff_points: mean(&points_diff),
    }
}

/// The point whose candidate loses the most IOPS.
pub fn worst(points: &[ComparedPoint]) -> Option<&ComparedPoint> {
    points
        .iter()
        .min_by(|a, b| a.iops_diff_pct().total_cmp(&b.iops_diff_pct()))
}

/// Columns the device compare adds to [`COMPARE_COLUMNS`]: iodepth (its
/// matrix varies it), the paired differences (median, 95% interval of the
/// median, the row's verdict from [`crate::acceptance::judge`], the method)
/// and the range of each mean over the repeats.
pub const SPREAD_COLUMNS: [&str; 18] = [
    "iodepth",
    "repeat",
    "iops_diff_median_pct",
    "iops_diff_ci_low_pct",
    "iops_diff_ci_high_pct",
    "verdict",
    "cpu_diff_median_pts",
    "cpu_diff_ci_low_pts",
    "cpu_diff_ci_high_pts",
    "ci_method",
    "baseline_iops_min",
    "baseline_iops_max",
    "candidate_iops_min",
    "candidate_iops_max",
    "baseline_cpu_min",
    "baseline_cpu_max",
    "candidate_cpu_min",
    "candidate_cpu_max",
];

/// The smallest IOPS change, in percent either way, that the verdict
/// counts as a change: criterion's default noise threshold is 1%; below it
/// a resolved difference is still reported as "no resolvable difference",
/// since a change that small is within what a machine's state moves.
pub const NOISE_BAR_PCT: f64 = 1.0;

fn opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.4}")).unwrap_or_default()
}

fn min_max(rows: &[RunRow], f: fn(&RunRow) -> f64) -> (f64, f64) {
    rows.iter()
        .map(f)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// The value of one compare column for a point, its verdict judged at an
/// IOPS loss bar of `bar_pct`; `None` for a column not in
/// [`COMPARE_COLUMNS`] or [`SPREAD_COLUMNS`]. Parameters are printed as
/// they act ([`effective_row_text`]).
pub fn column(p: &ComparedPoint, name: &str, bar_pct: f64) -> Option<String> {
    let (b, c) = (p.baseline_mean(), p.candidate_mean());
    let w = &p.workload;
    let iops = |r: &RunRow| r.iops;
    let cpu = |r: &RunRow| r.iothread_cpu_pct;
    Some(match name {
        "rw" => w.rw.name().to_string(),
        "bs" => w.bs.to_string(),
        "numjobs" => w.numjobs.to_string(),
        "iothreads" => w.iothreads.to_string(),
        "baseline_iops" => format!("{:.1}", b.iops),
        "candidate_iops" => format!("{:.1}", c.iops),
        "iops_diff_pct" => format!("{:.4}", p.iops_diff_pct()),
        "baseline_cpu_pct" => format!("{:.3}", b.iothread_cpu_pct),
        "candidate_cpu_pct" => format!("{:.3}", c.iothread_cpu_pct),
        "cpu_diff_pct" => format!("{:.4}", p.cpu_diff_pct()),
        "baseline" => b.policy,
        "candidate" => c.policy,
        "preset" => b.preset,
        "baseline_params" => effective_row_text(&b.policy, &b.params),
        "candidate_params" => effective_row_text(&c.policy, &c.params),
        "iops_diff_sd_pct" => format!("{:.4}", p.iops_diff_sd_pct()),
        "iodepth" => w.iodepth.to_string(),
        "repeat" => p.baseline.len().to_string(),
        "iops_diff_median_pct" => format!("{:.4}", p.iops_paired().median),
        "iops_diff_ci_low_pct" => opt(p.iops_diff_ci().map(|c| c.lo)),
        "iops_diff_ci_high_pct" => opt(p.iops_diff_ci().map(|c| c.hi)),
        "verdict" => judge_point(p, bar_pct).label(),
        "cpu_diff_median_pts" => format!("{:.3}", p.cpu_paired().median),
        "cpu_diff_ci_low_pts" => opt(p.cpu_paired().ci.map(|c| c.lo)),
        "cpu_diff_ci_high_pts" => opt(p.cpu_paired().ci.map(|c| c.hi)),
        "ci_method" => PAIRED_CI_METHOD.to_string(),
        "baseline_iops_min" => format!("{:.1}", min_max(&p.baseline, iops).0),
        "baseline_iops_max" => format!("{:.1}", min_max(&p.baseline, iops).1),
        "candidate_iops_min" => format!("{:.1}", min_max(&p.candidate, iops).0),
        "candidate_iops_max" => format!("{:.1}", min_max(&p.candidate, iops).1),
        "baseline_cpu_min" => format!("{:.3}", min_max(&p.baseline, cpu).0),
        "baseline_cpu_max" => format!("{:.3}", min_max(&p.baseline, cpu).1),
        "candidate_cpu_min" => format!("{:.3}", min_max(&p.candidate, cpu).0),
        "candidate_cpu_max" => format!("{:.3}", min_max(&p.candidate, cpu).1),
        _ => return None,
    })
}

/// Writes one CSV row per point: [`COMPARE_COLUMNS`], then
/// [`SPREAD_COLUMNS`] if `spread` (their verdict at the default bar,
/// [`crate::acceptance::DEFAULT_ACCEPT_IOPS_LOSS_PCT`]).
pub fn write_csv<W: std::io::Write>(
    out: W,
    points: &[ComparedPoint],
    spread: bool,
) -> Result<(), LabError> {
    write_csv_at(
        out,
        points,
        spread,
        crate::acceptance::DEFAULT_ACCEPT_IOPS_LOSS_PCT,
    )
}

/// [`write_csv`] with the verdict judged at an IOPS loss bar of `bar_pct`.
pub fn write_csv_at<W: std::io::Write>(
    out: W,
    points: &[ComparedPoint],
    spread: bool,
    bar_pct: f64,
) -> Result<(), LabError> {
    let mut w = csv::Writer::from_writer(out);
    let extra: &[&str] = if spread { &SPREAD_COLUMNS } else { &[] };
    let header: Vec<&str> = COMPARE_COLUMNS.iter().chain(extra).copied().collect();
    w.write_record(&header)?;
    for p in points {
        let record: Vec<String> = header
            .iter()
            .map(|name| column(p, name, bar_pct).unwrap_or_default())
            .collect();
        w.write_record(&record)?;
    }
    w.flush().map_err(csv::Error::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Verdict;
    use crate::test_row;

    fn row(policy: &str, iops: f64, cpu: f64) -> RunRow {
        RunRow {
            policy: policy.into(),
            iops,
            iothread_cpu_pct: cpu,
            ..test_row()
        }
    }

    fn point() -> ComparedPoint {
        crate::test_point(
            vec![row("qemu", 100.0, 50.0), row("qemu", 200.0, 70.0)],
            vec![row("weighted", 110.0, 40.0), row("weighted", 180.0, 40.0)],
        )
    }

    #[test]
    fn every_column_has_a_value() {
        let p = point();
        for name in COMPARE_COLUMNS.iter().chain(SPREAD_COLUMNS.iter()) {
            assert!(column(&p, name, 5.0).is_some(), "unknown column {name}");
        }
        assert!(column(&p, "nope", 5.0).is_none());
    }

    #[test]
    fn means_spreads_and_diffs_by_hand() {
        let p = point();
        let v = |c| column(&p, c, 5.0).unwrap();
        // Baseline IOPS 100, 200 -> mean 150; candidate 110, 180 -> 145.
        assert_eq!(v("baseline_iops"), "150.0");
        assert_eq!(v("candidate_iops"), "145.0");
        assert_eq!(v("iops_diff_pct"), "-3.3333");
        assert_eq!(v("baseline_iops_min"), "100.0");
        assert_eq!(v("baseline_iops_max"), "200.0");
        // CPU 60 -> 40: -33.33%.
        assert_eq!(v("cpu_diff_pct"), "-33.3333");
        // Paired diffs +10% and -10%: sample sd = sqrt(200) = 14.1421.
        assert_eq!(v("iops_diff_sd_pct"), "14.1421");
        assert_eq!(
            (v("baseline"), v("candidate")),
            ("qemu".into(), "weighted".into())
        );
        // +10 and -10 straddle zero: nothing resolvable at any bar.
        assert_eq!(p.iops_verdict(0.0), Some(Verdict::NoResolvableDifference));
        assert_eq!(v("iops_diff_median_pct"), "0.0000");
        // The interval straddles -5%: the shared rule says unclear.
        assert_eq!(v("verdict"), "unclear");
        // CPU pairs: 40 - 50 = -10, 40 - 70 = -30 points.
        assert_eq!(p.cpu_diffs_pts(), vec![-10.0, -30.0]);
        assert_eq!(v("cpu_diff_median_pts"), "-20.000");
        assert!(v("ci_method").contains("bootstrap"));
    }

    #[test]
    fn summary_by_hand() {
        let s = summarize(&[point()]);
        assert_eq!(s.worst_iops_diff_pct, 100.0 * -5.0 / 150.0);
        assert_eq!(s.mean_cpu_diff_points, -20.0);
    }
}
