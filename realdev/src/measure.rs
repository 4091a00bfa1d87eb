//! Turns what the jobs and the loop measured into the common result row.

use hdrhistogram::Histogram;
use pollwise_core::{cpu_pct, run_row as core_run_row, Latency, RawCounts, RunLabels, RunRow};

use crate::eventloop::LoopReport;
use crate::loadgen::{new_histogram, JobReport, JobSpec};

/// The loop thread's time, split the way the simulator accounts it, each as
/// a percentage of the run's wall-clock time (the measured span, as in the
/// row).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuSplit {
    /// All CPU the loop thread used (CLOCK_THREAD_CPUTIME_ID).
    pub total_pct: f64,
    /// Busy-polling.
    pub poll_pct: f64,
    /// Submitting and completing requests.
    pub busy_pct: f64,
    /// The rest of the CPU: entering and leaving `epoll_wait`, eventfd
    /// resets, wake-ups.
    pub block_overhead_pct: f64,
    /// Wall-clock time asleep in `epoll_wait` (not CPU).
    pub blocked_pct: f64,
}

impl CpuSplit {
    /// Reading the thread's CPU clock is a system call (about 0.75 us in a
    /// VM, against 30 ns for CLOCK_MONOTONIC in the vDSO), too dear for
    /// every phase of every iteration. So the total comes from the CPU
    /// clock, read at start and end, and the poll and busy phases, which
    /// never leave the CPU voluntarily, from the monotonic clock; the
    /// remainder is the cost of blocking. Preemption during a poll phase
    /// would count as poll CPU; the parts are capped at the total. With
    /// several loops (`lp.loops`) the report holds their sums, and each
    /// percentage is the mean per loop, as the simulator reports it.
    pub fn from_loop(lp: &LoopReport) -> CpuSplit {
        let pct = |ns: u64| cpu_pct(ns, lp.elapsed_ns, lp.loops);
        let total = pct(lp.cpu_ns);
        let poll = pct(lp.poll_ns).min(total);
        let busy = pct(lp.busy_ns).min(total - poll);
        CpuSplit {
            total_pct: total,
            poll_pct: poll,
            busy_pct: busy,
            block_overhead_pct: total - poll - busy,
            blocked_pct: pct(lp.blocked_ns),
        }
    }
}

/// What a row says about the run besides the measurements.
#[derive(Clone, Debug)]
pub struct RowMeta {
    pub preset: String,
    pub policy: String,
    pub params: String,
    pub workload: JobSpec,
    pub duration_ms: u64,
}

/// All jobs' latencies in one histogram.
pub fn merged_latency(jobs: &[JobReport]) -> Histogram<u64> {
    let mut all = new_histogram();
    for j in jobs {
        // Same bounds on both sides, so adding cannot fail.
        all.add(&j.latency).expect("histograms share bounds");
    }
    all
}

/// The common result row (source `realdev`), by core's one derivation over
/// the measured span: the loop's wall-clock run (`elapsed_ns`, the longest
/// loop's with several), which holds every I/O the jobs counted.
pub fn run_row(meta: &RowMeta, jobs: &[JobReport], lp: &LoopReport) -> RunRow {
    let lat = merged_latency(jobs);
    let latency = if lat.is_empty() {
        Latency::default()
    } else {
        Latency::from_histogram(lat.mean(), |q| lat.value_at_quantile(q) as f64)
    };
    let counts = RawCounts {
        span_ns: lp.elapsed_ns,
        completions: jobs.iter().map(|j| j.ios).sum(),
        kicks: jobs.iter().map(|j| j.kicks).sum(),
        wakeups: lp.wakeups,
        cpu_ns: lp.cpu_ns,
        poll_ns: lp.poll_ns,
        loops: lp.loops,
        latency,
        window: lp.window.clone(),
    };
    let labels = RunLabels {
        source: "realdev".into(),
        preset: meta.preset.clone(),
        policy: meta.policy.clone(),
        params: meta.params.clone(),
        rw: meta.workload.rw.name().into(),
        bs: meta.workload.bs,
        numjobs: meta.workload.numjobs,
        iodepth: meta.workload.iodepth,
        iothreads: meta.workload.iothreads,
        duration_ms: meta.duration_ms,
        seed: meta.workload.seed,
    };
    core_run_row(labels, &counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pollwise_core::Rw;

    fn job(latencies_ns: &[u64], kicks: u64) -> JobReport {
        let mut h = new_histogram();
        for &l in latencies_ns {
            h.record(l).unwrap();
        }
        JobReport {
            latency: h,
            ios: latencies_ns.len() as u64,
            bytes: latencies_ns.len() as u64 * 4096,
            kicks,
            errors: 0,
            first_error: None,
            cancelled: 0,
            lost: 0,
            wakes: pollwise_core::JobWakes::default(),
        }
    }

    #[test]
    fn row_from_hand_made_reports() {
        let meta = RowMeta {
            preset: "scratch".into(),
            policy: "off".into(),
            params: String::new(),
            workload: JobSpec {
                rw: Rw::RandRead,
                rwmixread: 50,
                bs: 4096,
                numjobs: 2,
                iodepth: 1,
                iothreads: 1,
                seed: 7,
            },
            duration_ms: 500,
        };
        let jobs = [job(&[10_000, 20_000], 3), job(&[30_000, 40_000], 1)];
        let lp = LoopReport {
            elapsed_ns: 1_000_000_000,
            cpu_ns: 400_000_000,
            poll_ns: 100_000_000,
            busy_ns: 200_000_000,
            wakeups: 50,
            ..LoopReport::default()
        };
        let row = run_row(&meta, &jobs, &lp);
        // 4 I/Os over the measured 1 s (not the configured 0.5 s), like
        // every other rate of the row.
        assert_eq!(row.iops, 4.0);
        assert_eq!(row.mb_per_s, 4.0 * 4096.0 / 1e6);
        // Mean of 10, 20, 30, 40 us, within the histogram's resolution
        // (3 significant digits: buckets of 32 ns at 40 us).
        assert!((row.lat_mean_us - 25.0).abs() < 0.1, "{}", row.lat_mean_us);
        assert!(
            (row.lat_p50_us.unwrap() - 20.0).abs() < 0.1,
            "{}",
            row.lat_p50_us.unwrap()
        );
        assert!(
            (row.lat_p99_us.unwrap() - 40.0).abs() < 0.1,
            "{}",
            row.lat_p99_us.unwrap()
        );
        assert_eq!(row.iothread_cpu_pct, 40.0);
        assert_eq!(row.poll_cpu_pct.unwrap(), 10.0);
        assert_eq!(row.kicks_per_s.unwrap(), 4.0);
        assert_eq!(row.wakeups_per_s.unwrap(), 50.0);
        assert_eq!(row.duration_ms, 500);
        assert_eq!(row.source, "realdev");
        assert_eq!(row.numjobs, 2);
    }

    #[test]
    fn several_loops_report_the_mean_per_loop() {
        let lp = LoopReport {
            loops: 2,
            elapsed_ns: 1000,
            cpu_ns: 600,
            poll_ns: 200,
            busy_ns: 100,
            ..LoopReport::default()
        };
        let s = CpuSplit::from_loop(&lp);
        assert_eq!((s.total_pct, s.poll_pct, s.busy_pct), (30.0, 10.0, 5.0));
    }

    #[test]
    fn split_caps_parts_at_the_total() {
        let lp = LoopReport {
            elapsed_ns: 1000,
            cpu_ns: 500,
            poll_ns: 400,
            busy_ns: 300,
            blocked_ns: 100,
            ..LoopReport::default()
        };
        let s = CpuSplit::from_loop(&lp);
        assert_eq!(s.total_pct, 50.0);
        assert_eq!(s.poll_pct, 40.0);
        assert_eq!(s.busy_pct, 10.0);
        assert_eq!(s.block_overhead_pct, 0.0);
        assert_eq!(s.blocked_pct, 10.0);
    }
}
