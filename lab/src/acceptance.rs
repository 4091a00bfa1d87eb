//! The verdict every compare ends with, on every backend (`compare` on the
//! simulator, the device or QEMU, `realdev compare`): is every row's IOPS
//! loss within an acceptance bar (`--accept-iops-loss`, the maintainer's is
//! 5%), and which rows use more IOThread CPU without gaining IOPS? Built on
//! [`crate::stats`]: with two or more repeats each row's paired changes get
//! a percentile bootstrap interval of their median; with one repeat only
//! the point estimate is there, and the outcome says so. [`judge`] is the
//! one rule; the tables and CSVs only print what it returns.

use crate::compared::ComparedPoint;
use crate::stats::{Interval, Verdict};
use crate::LabError;

/// The maintainer's bar: a candidate may lose at most 5% IOPS on any row.
pub const DEFAULT_ACCEPT_IOPS_LOSS_PCT: f64 = 5.0;

/// Checks a bar given by a user: a finite percentage in [0, 100].
pub fn check_bar(bar: f64) -> Result<f64, LabError> {
    if bar.is_finite() && (0.0..=100.0).contains(&bar) {
        Ok(bar)
    } else {
        Err(LabError::Input(format!(
            "--accept-iops-loss {bar} is out of range: expected a percentage in 0 ..= 100"
        )))
    }
}

/// One row against the bar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RowOutcome {
    /// The loss is within the bar: the whole interval (or, with one
    /// repeat, the point estimate) is at or above `-bar`.
    Within,
    /// The loss exceeds the bar: the whole interval (or the point
    /// estimate) is below `-bar`.
    Exceeds,
    /// The interval straddles `-bar`: more repeats are needed.
    Unclear,
    /// The baseline completed no request in some repeat's measured
    /// interval, so the change is undefined: a longer run is needed.
    NoIo,
}

impl RowOutcome {
    pub fn label(self) -> &'static str {
        match self {
            RowOutcome::Within => "ok",
            RowOutcome::Exceeds => "LOSS",
            RowOutcome::Unclear => "unclear",
            RowOutcome::NoIo => "no I/O",
        }
    }
}

/// One row's change, interval and outcome.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowAcceptance {
    /// Mean paired IOPS change in percent.
    pub iops_diff_pct: f64,
    /// 95% bootstrap interval of the mean paired change (two+ repeats).
    pub ci: Option<Interval>,
    /// The stats verdict against the bar (two+ repeats).
    pub verdict: Option<Verdict>,
    pub outcome: RowOutcome,
    /// The IOThread CPU rose (the interval of the paired change in points
    /// lies wholly above 0) while IOPS did not resolvably rise. Needs two
    /// or more repeats: one run per policy resolves nothing.
    pub more_cpu: bool,
}

impl RowAcceptance {
    /// The row's verdict as the tables and CSVs print it: `ok`, `LOSS`,
    /// `unclear` or `no I/O`, with `+cpu` when [`RowAcceptance::more_cpu`].
    pub fn label(&self) -> String {
        let cpu = if self.more_cpu { " +cpu" } else { "" };
        format!("{}{cpu}", self.outcome.label())
    }
}

/// The whole compare against the bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overall {
    Accept,
    Reject,
    Inconclusive,
}

impl Overall {
    pub fn name(self) -> &'static str {
        match self {
            Overall::Accept => "ACCEPT",
            Overall::Reject => "REJECT",
            Overall::Inconclusive => "INCONCLUSIVE",
        }
    }
}

/// Every row against the bar, and the overall outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Acceptance {
    pub bar_pct: f64,
    pub rows: Vec<RowAcceptance>,
    pub overall: Overall,
    /// True when there was only one repeat: no intervals, point estimates.
    pub point_estimates_only: bool,
}

impl Acceptance {
    pub fn count(&self, o: RowOutcome) -> usize {
        self.rows.iter().filter(|r| r.outcome == o).count()
    }

    /// One sentence: the outcome, the bar and why.
    pub fn sentence(&self) -> String {
        let n = self.rows.len();
        let bar = self.bar_pct;
        let basis = if self.point_estimates_only {
            "point estimates of one run each, no interval: give --repeat 3 or more for one"
        } else {
            "95% bootstrap intervals of the median paired per-repeat change"
        };
        let why = match self.overall {
            Overall::Accept => format!("all {n} rows lose at most {bar}% IOPS"),
            Overall::Reject => format!(
                "{} of {n} rows lose more than {bar}% IOPS",
                self.count(RowOutcome::Exceeds)
            ),
            Overall::Inconclusive => {
                let (unclear, idle) = (
                    self.count(RowOutcome::Unclear),
                    self.count(RowOutcome::NoIo),
                );
                let mut why = Vec::new();
                if unclear > 0 {
                    why.push(format!(
                        "{unclear} of {n} rows may lose more than {bar}% IOPS (their interval \
                         straddles -{bar}%)"
                    ));
                }
                if idle > 0 {
                    why.push(format!(
                        "{idle} of {n} rows completed no request in the baseline's measured \
                         interval, so their change is undefined (a longer --duration-ms gives \
                         numbers)"
                    ));
                }
                why.join("; ")
            }
        };
        let cpu = match self.count_more_cpu() {
            0 => String::new(),
            k => format!(
                "; {k} of {n} rows use more IOThread CPU without an IOPS gain (+cpu: the CPU \
                 interval lies wholly above 0 points)"
            ),
        };
        format!(
            "verdict: {} at --accept-iops-loss {bar}: {why}{cpu} ({basis})",
            self.overall.name()
        )
    }

    /// Rows whose CPU rose without an IOPS gain.
    pub fn count_more_cpu(&self) -> usize {
        self.rows.iter().filter(|r| r.more_cpu).count()
    }
}

/// One point against the bar.
pub fn judge_point(p: &ComparedPoint, bar_pct: f64) -> RowAcceptance {
    let diff = p.iops_diff_pct();
    let ci = p.iops_diff_ci();
    let outcome = match ci {
        _ if p.baseline.iter().any(|r| r.iops <= 0.0) => RowOutcome::NoIo,
        Some(ci) if ci.lo >= -bar_pct => RowOutcome::Within,
        Some(ci) if ci.hi < -bar_pct => RowOutcome::Exceeds,
        Some(_) => RowOutcome::Unclear,
        None if diff >= -bar_pct => RowOutcome::Within,
        None => RowOutcome::Exceeds,
    };
    let iops_gain = ci.is_some_and(|ci| ci.lo > 0.0);
    let cpu_rise = p.cpu_paired().ci.is_some_and(|ci| ci.lo > 0.0);
    RowAcceptance {
        iops_diff_pct: diff,
        ci,
        verdict: p.iops_verdict(bar_pct),
        outcome,
        more_cpu: cpu_rise && !iops_gain && outcome != RowOutcome::NoIo,
    }
}

/// Judges `points` against a loss bar of `bar_pct` percent: the one
/// verdict rule of every command that compares two policies.
pub fn judge(points: &[ComparedPoint], bar_pct: f64) -> Acceptance {
    let rows: Vec<RowAcceptance> = points.iter().map(|p| judge_point(p, bar_pct)).collect();
    let overall = if rows.iter().any(|r| r.outcome == RowOutcome::Exceeds) {
        Overall::Reject
    } else if rows
        .iter()
        .any(|r| matches!(r.outcome, RowOutcome::Unclear | RowOutcome::NoIo))
    {
        Overall::Inconclusive
    } else {
        Overall::Accept
    };
    Acceptance {
        bar_pct,
        point_estimates_only: rows.iter().all(|r| r.ci.is_none()),
        rows,
        overall,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_point;
    use crate::test_row;
    use pollwise_core::RunRow;

    fn point(base: &[f64], cand: &[f64]) -> ComparedPoint {
        with_cpu(base, cand, 50.0, 50.0)
    }

    /// IOPS per repeat; CPU rises by one point per repeat from the given
    /// starts.
    fn with_cpu(base: &[f64], cand: &[f64], base_cpu: f64, cand_cpu: f64) -> ComparedPoint {
        let rows = |iops: &[f64], cpu: f64| -> Vec<RunRow> {
            iops.iter()
                .enumerate()
                .map(|(i, &iops)| RunRow {
                    iops,
                    iothread_cpu_pct: cpu + i as f64,
                    ..test_row()
                })
                .collect()
        };
        test_point(rows(base, base_cpu), rows(cand, cand_cpu))
    }

    #[test]
    fn a_resolved_cpu_rise_without_an_iops_gain_is_reported() {
        // Same IOPS, CPU 10 points higher on every pair: accepted on IOPS,
        // reported for CPU.
        let flat = [100.0, 100.0, 100.0];
        let a = judge(&[with_cpu(&flat, &flat, 40.0, 50.0)], 5.0);
        assert_eq!(a.overall, Overall::Accept);
        assert!(a.rows[0].more_cpu);
        assert_eq!(a.rows[0].label(), "ok +cpu");
        assert!(
            a.sentence().contains("1 of 1 rows use more IOThread CPU"),
            "{}",
            a.sentence()
        );
        // The same CPU rise paid for by a resolved IOPS gain is not.
        let a = judge(&[with_cpu(&flat, &[110.0, 111.0, 112.0], 40.0, 50.0)], 5.0);
        assert!(!a.rows[0].more_cpu, "{:?}", a.rows[0]);
        // CPU saved is not reported, and one run resolves nothing.
        assert!(!judge(&[with_cpu(&flat, &flat, 50.0, 40.0)], 5.0).rows[0].more_cpu);
        assert!(!judge(&[with_cpu(&[100.0], &[100.0], 40.0, 50.0)], 5.0).rows[0].more_cpu);
        assert!(!judge(&[point(&flat, &flat)], 5.0)
            .sentence()
            .contains("CPU"));
    }

    #[test]
    fn one_seed_judges_the_point_estimate() {
        let a = judge(&[point(&[100.0], &[96.0])], 5.0);
        assert_eq!(a.overall, Overall::Accept);
        assert!(a.point_estimates_only);
        assert!(a.sentence().contains("--repeat 3"), "{}", a.sentence());
        let a = judge(&[point(&[100.0], &[96.0]), point(&[100.0], &[94.0])], 5.0);
        assert_eq!(a.overall, Overall::Reject);
        assert_eq!(a.count(RowOutcome::Exceeds), 1);
        assert!(
            a.sentence().starts_with("verdict: REJECT"),
            "{}",
            a.sentence()
        );
        // The bar moves the outcome.
        assert_eq!(
            judge(&[point(&[100.0], &[94.0])], 7.0).overall,
            Overall::Accept
        );
    }

    #[test]
    fn a_row_whose_baseline_completed_nothing_has_no_verdict_of_its_own() {
        // Both sides idle: +0.00% would read as "no loss".
        let a = judge(&[point(&[0.0], &[0.0]), point(&[100.0], &[99.0])], 5.0);
        assert_eq!(a.rows[0].outcome, RowOutcome::NoIo);
        assert_eq!(a.rows[0].label(), "no I/O");
        assert_eq!(a.rows[1].outcome, RowOutcome::Within);
        assert_eq!(a.overall, Overall::Inconclusive);
        let s = a.sentence();
        assert!(
            s.starts_with("verdict: INCONCLUSIVE")
                && s.contains("1 of 2 rows completed no request"),
            "{s}"
        );
        assert!(!s.contains("may lose"), "{s}");
        // One idle repeat of three is enough to leave the change undefined.
        let a = judge(&[point(&[100.0, 0.0, 100.0], &[99.0, 98.0, 99.0])], 5.0);
        assert_eq!(a.rows[0].outcome, RowOutcome::NoIo);
        // A loss elsewhere still rejects.
        let a = judge(&[point(&[0.0], &[0.0]), point(&[100.0], &[90.0])], 5.0);
        assert_eq!(a.overall, Overall::Reject);
        // A candidate that completed nothing lost everything.
        let a = judge(&[point(&[100.0], &[0.0])], 5.0);
        assert_eq!(a.rows[0].outcome, RowOutcome::Exceeds);
    }

    #[test]
    fn intervals_decide_with_several_seeds() {
        // Paired changes -10% and -8%: the whole interval is below -5%.
        let a = judge(&[point(&[100.0, 100.0], &[90.0, 92.0])], 5.0);
        assert_eq!(a.overall, Overall::Reject);
        assert_eq!(a.rows[0].verdict, Some(Verdict::Regression));
        // -8% and -2%: straddles -5%.
        let a = judge(&[point(&[100.0, 100.0], &[92.0, 98.0])], 5.0);
        assert_eq!(a.overall, Overall::Inconclusive);
        // -1% and +1%: within.
        let a = judge(&[point(&[100.0, 100.0], &[99.0, 101.0])], 5.0);
        assert_eq!(a.overall, Overall::Accept);
        assert!(!a.point_estimates_only);
    }

    #[test]
    fn bars_outside_0_100_are_refused() {
        assert!(check_bar(5.0).is_ok());
        for bad in [-1.0, 101.0, f64::NAN, f64::INFINITY] {
            let e = check_bar(bad).unwrap_err().to_string();
            assert!(e.contains("--accept-iops-loss"), "{e}");
        }
    }
}
