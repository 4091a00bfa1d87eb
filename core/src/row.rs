//! The one derivation of a result row: every host (the simulator, the
//! device loop, QEMU's harness) reports raw counts over one measured span,
//! and [`run_row`] turns them into a [`RunRow`], so a rate or a percentage
//! means the same thing whichever backend produced it.

use crate::schema::RunRow;
use crate::window_stats::WindowStats;

/// What a row says about the run besides the measurements.
#[derive(Clone, Debug, PartialEq)]
pub struct RunLabels {
    /// `sim`, `realdev` or `qemu`.
    pub source: String,
    pub preset: String,
    pub policy: String,
    pub params: String,
    pub rw: String,
    pub bs: u64,
    pub numjobs: u32,
    pub iodepth: u32,
    pub iothreads: u32,
    pub duration_ms: u64,
    pub seed: u64,
}

/// Completion latency, in ns, read from the host's histogram.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Latency {
    pub mean_ns: f64,
    pub p50_ns: f64,
    pub p99_ns: f64,
    pub p999_ns: f64,
}

impl Latency {
    /// The quantiles a row reports (0.5, 0.99, 0.999), read through
    /// `quantile_ns` from whatever histogram the host keeps.
    pub fn from_histogram(mean_ns: f64, quantile_ns: impl Fn(f64) -> f64) -> Latency {
        Latency {
            mean_ns,
            p50_ns: quantile_ns(0.5),
            p99_ns: quantile_ns(0.99),
            p999_ns: quantile_ns(0.999),
        }
    }
}

/// What a host counted over the measured span. Every rate of the row is a
/// count divided by `span_ns`, every CPU percentage a CPU time divided by
/// it, so all of them cover the same interval.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawCounts {
    /// The measured span, ns: the simulator's measured interval, the device
    /// loop's wall-clock run, the harness's measure phase.
    pub span_ns: u64,
    /// Requests completed. Each moves `bs` bytes (a short transfer is an
    /// error on every backend), so bytes are not counted apart.
    pub completions: u64,
    /// Guest notifications (kicks) written to the IOThread.
    pub kicks: u64,
    /// Times the IOThread was woken from a blocking wait.
    pub wakeups: u64,
    /// IOThread CPU time, summed over the loops.
    pub cpu_ns: u64,
    /// The part of `cpu_ns` spent busy-polling, summed over the loops.
    pub poll_ns: u64,
    /// How many IOThreads the CPU times sum (at least one is assumed).
    pub loops: u32,
    pub latency: Latency,
    pub window: WindowStats,
}

/// `ns` of CPU summed over `loops` loops (at least one) as a percentage of
/// one core per loop over `span_ns`; 0 for a zero span.
pub fn cpu_pct(ns: u64, span_ns: u64, loops: u32) -> f64 {
    if span_ns == 0 {
        0.0
    } else {
        100.0 * ns as f64 / span_ns as f64 / f64::from(loops.max(1))
    }
}

/// The row of a run. Rates are per second of the measured span; the CPU
/// percentages are of one core per loop (100 = every loop always busy),
/// the poll part capped at the total; a zero span gives zero rates and
/// percentages, not infinities.
pub fn run_row(labels: RunLabels, c: &RawCounts) -> RunRow {
    let secs = c.span_ns as f64 / 1e9;
    let per_s = |n: u64| if c.span_ns == 0 { 0.0 } else { n as f64 / secs };
    let pct = |ns: u64| cpu_pct(ns, c.span_ns, c.loops);
    let iops = per_s(c.completions);
    let cpu = pct(c.cpu_ns);
    let us = |ns: f64| ns / 1000.0;
    RunRow {
        source: labels.source,
        preset: labels.preset,
        policy: labels.policy,
        params: labels.params,
        rw: labels.rw,
        bs: labels.bs,
        numjobs: labels.numjobs,
        iodepth: labels.iodepth,
        iothreads: labels.iothreads,
        duration_ms: labels.duration_ms,
        seed: labels.seed,
        iops,
        mb_per_s: iops * labels.bs as f64 / 1e6,
        lat_mean_us: us(c.latency.mean_ns),
        lat_p50_us: Some(us(c.latency.p50_ns)),
        lat_p99_us: Some(us(c.latency.p99_ns)),
        lat_p999_us: Some(us(c.latency.p999_ns)),
        iothread_cpu_pct: cpu,
        poll_cpu_pct: Some(pct(c.poll_ns).min(cpu)),
        kicks_per_s: Some(per_s(c.kicks)),
        wakeups_per_s: Some(per_s(c.wakeups)),
        window_mean_ns: Some(c.window.mean_ns()),
        window_zero_frac: Some(c.window.zero_frac()),
        abrupt_resets: Some(c.window.abrupt_resets()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> RunLabels {
        RunLabels {
            source: "sim".into(),
            preset: "p".into(),
            policy: "off".into(),
            params: String::new(),
            rw: "randread".into(),
            bs: 4096,
            numjobs: 2,
            iodepth: 1,
            iothreads: 2,
            duration_ms: 500,
            seed: 7,
        }
    }

    #[test]
    fn every_rate_divides_by_the_measured_span() {
        let mut window = WindowStats::default();
        window.record_span(1000, 300);
        window.record_span(0, 100);
        let c = RawCounts {
            // 2 s measured, whatever the configured duration (500 ms).
            span_ns: 2_000_000_000,
            completions: 8,
            kicks: 6,
            wakeups: 4,
            cpu_ns: 1_000_000_000,
            poll_ns: 200_000_000,
            loops: 2,
            latency: Latency::from_histogram(25_000.0, |q| q * 1e5),
            window,
        };
        let r = run_row(labels(), &c);
        assert_eq!(
            (r.iops, r.kicks_per_s, r.wakeups_per_s),
            (4.0, Some(3.0), Some(2.0))
        );
        assert_eq!(r.mb_per_s, 4.0 * 4096.0 / 1e6);
        // 1 s of CPU over 2 s and 2 loops: a quarter of each loop's core.
        assert_eq!((r.iothread_cpu_pct, r.poll_cpu_pct), (25.0, Some(5.0)));
        assert_eq!((r.lat_mean_us, r.lat_p50_us), (25.0, Some(50.0)));
        assert_eq!((r.lat_p99_us, r.lat_p999_us), (Some(99.0), Some(99.9)));
        assert_eq!(
            (r.window_mean_ns, r.window_zero_frac),
            (Some(750.0), Some(0.25))
        );
        assert_eq!((r.source.as_str(), r.duration_ms, r.seed), ("sim", 500, 7));
    }

    #[test]
    fn a_zero_span_gives_zeros_not_infinities() {
        let c = RawCounts {
            completions: 5,
            kicks: 1,
            wakeups: 1,
            cpu_ns: 10,
            poll_ns: 10,
            ..RawCounts::default()
        };
        let r = run_row(labels(), &c);
        for v in [r.iops, r.mb_per_s] {
            assert_eq!(v, 0.0);
        }
        assert_eq!((r.kicks_per_s, r.wakeups_per_s), (Some(0.0), Some(0.0)));
        assert_eq!((r.iothread_cpu_pct, r.poll_cpu_pct), (0.0, Some(0.0)));
    }

    #[test]
    fn poll_cpu_is_a_part_of_the_total_and_no_loops_means_one() {
        let c = RawCounts {
            span_ns: 1000,
            cpu_ns: 300,
            poll_ns: 500,
            loops: 0,
            ..RawCounts::default()
        };
        let r = run_row(labels(), &c);
        assert_eq!((r.iothread_cpu_pct, r.poll_cpu_pct), (30.0, Some(30.0)));
    }
}
