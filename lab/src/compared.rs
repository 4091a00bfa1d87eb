//! One point of a compare: both policies' runs at one workload, in repeat
//! order, and their paired changes (what [`crate::acceptance`] judges and
//! [`crate::compare`] produces).

use pollwise_core::{RunRow, Workload};

use crate::stats::{mean, mean_row, pct_diff, sample_sd, Interval, PairedDiff, Verdict};

/// One point, both policies' runs in repeat order.
#[derive(Clone, Debug)]
pub struct ComparedPoint {
    pub workload: Workload,
    pub baseline: Vec<RunRow>,
    pub candidate: Vec<RunRow>,
}

impl ComparedPoint {
    /// The baseline's runs averaged.
    pub fn baseline_mean(&self) -> RunRow {
        mean_row(&self.baseline).expect("a compared point has runs")
    }
    pub fn candidate_mean(&self) -> RunRow {
        mean_row(&self.candidate).expect("a compared point has runs")
    }
    fn metric(rows: &[RunRow], f: fn(&RunRow) -> f64) -> Vec<f64> {
        rows.iter().map(f).collect()
    }
    /// Candidate IOPS (mean over repeats) relative to the baseline's, in %.
    pub fn iops_diff_pct(&self) -> f64 {
        pct_diff(
            mean(&Self::metric(&self.baseline, |r| r.iops)),
            mean(&Self::metric(&self.candidate, |r| r.iops)),
        )
    }
    /// Candidate IOThread CPU relative to the baseline's, in %.
    pub fn cpu_diff_pct(&self) -> f64 {
        pct_diff(
            mean(&Self::metric(&self.baseline, |r| r.iothread_cpu_pct)),
            mean(&Self::metric(&self.candidate, |r| r.iothread_cpu_pct)),
        )
    }
    /// The IOPS change of each repeat against its pair, in %.
    pub fn iops_diffs(&self) -> Vec<f64> {
        self.baseline
            .iter()
            .zip(&self.candidate)
            .map(|(b, c)| pct_diff(b.iops, c.iops))
            .collect()
    }
    /// The sample sd of [`Self::iops_diffs`] (0 with one repeat).
    pub fn iops_diff_sd_pct(&self) -> f64 {
        sample_sd(&self.iops_diffs())
    }
    /// The IOPS change, per repeat against its pair: median and 95%
    /// interval for the median ([`PAIRED_CI_METHOD`]).
    pub fn iops_paired(&self) -> PairedDiff {
        PairedDiff::of(&self.iops_diffs())
    }
    /// A 95% interval for the median paired IOPS change, in %.
    pub fn iops_diff_ci(&self) -> Option<Interval> {
        self.iops_paired().ci
    }
    /// The IOPS verdict against `bar` percent (none with one repeat).
    pub fn iops_verdict(&self, bar: f64) -> Option<Verdict> {
        self.iops_paired().verdict(bar, true)
    }
    /// The IOThread CPU change of each repeat against its pair, in points
    /// of one core.
    pub fn cpu_diffs_pts(&self) -> Vec<f64> {
        self.baseline
            .iter()
            .zip(&self.candidate)
            .map(|(b, c)| c.iothread_cpu_pct - b.iothread_cpu_pct)
            .collect()
    }
    /// The paired CPU change in points: median and 95% interval.
    pub fn cpu_paired(&self) -> PairedDiff {
        PairedDiff::of(&self.cpu_diffs_pts())
    }
}
