//! The lab's statistics: the generic ones from `pollwise-stats` (the one
//! statistics crate, re-exported here so the lab names them in one place),
//! the mean of a set of result rows, and how many device repeats a paired
//! comparison runs by default.

use pollwise_core::RunRow;
pub use pollwise_stats::{
    bootstrap_ci, ks_distance, mean, mean_of, median, paired_ci, paired_median_ci, pct_diff,
    quantile, quantile_sorted, quantiles, range, ratio, repeats_to_resolve, sample_sd, spread_pct,
    Interval, PairedDiff, Verdict, BOOTSTRAP_RESAMPLES, PAIRED_CI_METHOD,
};

/// Paired device runs per point by default (`realdev compare`,
/// `validate`). With [`repeats_to_resolve`], ten pairs resolve a 5% IOPS
/// change when the paired differences' sd is at most 4.5%. On the 2-vCPU
/// shared VM this project is developed on, A/A runs (qemu against itself,
/// docs/validation.md) measured a paired sd of 40-85% while other tenants
/// kept both CPUs busy, which would need hundreds to thousands of pairs:
/// no default can promise 5% there, so the output states the spread and
/// the pairs it would need (n(5%)) instead, and the verdict stays "no
/// resolvable difference" until the data can tell.
pub const DEFAULT_DEVICE_REPEATS: u32 = 10;

/// The mean of several runs of one point (repeats or seeds): every metric
/// averaged, `abrupt_resets` rounded to the nearest whole count, the
/// descriptive columns taken from the first run. A metric some run does
/// not know is unknown in the mean. `None` for no runs.
pub fn mean_row(rows: &[RunRow]) -> Option<RunRow> {
    let first = rows.first()?;
    let mean = |f: fn(&RunRow) -> f64| mean_of(rows.iter().map(f));
    let known = |f: fn(&RunRow) -> Option<f64>| {
        let all: Option<Vec<f64>> = rows.iter().map(f).collect();
        all.map(mean_of)
    };
    let resets: Option<u64> = rows.iter().map(|r| r.abrupt_resets).sum();
    Some(RunRow {
        iops: mean(|r| r.iops),
        mb_per_s: mean(|r| r.mb_per_s),
        lat_mean_us: mean(|r| r.lat_mean_us),
        lat_p50_us: known(|r| r.lat_p50_us),
        lat_p99_us: known(|r| r.lat_p99_us),
        lat_p999_us: known(|r| r.lat_p999_us),
        iothread_cpu_pct: mean(|r| r.iothread_cpu_pct),
        poll_cpu_pct: known(|r| r.poll_cpu_pct),
        kicks_per_s: known(|r| r.kicks_per_s),
        wakeups_per_s: known(|r| r.wakeups_per_s),
        window_mean_ns: known(|r| r.window_mean_ns),
        window_zero_frac: known(|r| r.window_zero_frac),
        abrupt_resets: resets.map(|n| (n as f64 / rows.len() as f64).round() as u64),
        ..first.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_row_averages_metrics_and_keeps_labels() {
        let row = |iops, resets| RunRow {
            iops,
            abrupt_resets: resets,
            ..crate::test_row()
        };
        let m = mean_row(&[row(100.0, Some(1)), row(200.0, Some(2))]).unwrap();
        assert_eq!(m.iops, 150.0);
        assert_eq!(m.abrupt_resets, Some(2)); // 1.5 rounds half away from zero
        assert!(mean_row(&[]).is_none());
        // A count one run does not know is not a 0 in the mean.
        let m = mean_row(&[row(100.0, Some(4)), row(200.0, None)]).unwrap();
        assert_eq!(m.abrupt_resets, None);
        let kicks = |k| RunRow {
            kicks_per_s: k,
            ..crate::test_row()
        };
        let m = mean_row(&[kicks(Some(10.0)), kicks(None)]).unwrap();
        assert_eq!(m.kicks_per_s, None);
    }
}
