//! The iteration log (`simulate_iterations`): the same run as without it,
//! and records that add up to the run's own counts.

use pollwise_core::{Params, PolicyKind};
use pollwise_sim::{simulate, simulate_iterations, Preset};

#[test]
fn logging_iterations_changes_nothing_and_the_records_add_up() {
    let preset = Preset::load("optane-p4800x").unwrap();
    let mut w = preset.matrix.workloads()[0].clone(); // randread 8k numjobs=1
    w.duration_ms = 20;
    w.iodepth = 1;
    for kind in [PolicyKind::Qemu, PolicyKind::Off] {
        let p = Params::defaults(kind);
        let (row, log) = simulate_iterations(&preset, &w, &p, 5).unwrap();
        assert_eq!(row, simulate(&preset, &w, &p, 5).unwrap(), "{kind}");
        let span_ns = w.duration_ms * 1_000_000;
        assert!(log.iter().all(|r| r.start_ns < span_ns), "{kind}");
        // At queue depth 1 one request is reaped per completion: the
        // records' reaps are the run's IOPS, within the iterations open at
        // either end.
        let reaped: u64 = log.iter().map(|r| u64::from(r.reaped)).sum();
        let completions = row.iops * w.duration_ms as f64 / 1000.0;
        assert!(
            (reaped as f64 - completions).abs() <= 2.0,
            "{kind}: {reaped} reaped, {completions} completions"
        );
        // Poll and busy time are the loop's CPU.
        let cpu_ns: u64 = log.iter().map(|r| r.poll_ns + r.busy_ns).sum();
        let cpu_pct = 100.0 * cpu_ns as f64 / span_ns as f64;
        assert!(
            (cpu_pct - row.iothread_cpu_pct).abs() < 2.0,
            "{kind}: {cpu_pct} from the records, {} in the row",
            row.iothread_cpu_pct
        );
        // As on the device, a wake-up is timed from the job's doorbell: only
        // in a woken iteration that noticed the job's queue (handler 0
        // here; the AIO ring's handler comes after the queues), and never
        // longer than the wait.
        for r in &log {
            if let Some(wake) = r.wake_ns {
                assert!(
                    r.handlers & 1 != 0,
                    "{kind}: timed without the doorbell: {r:?}"
                );
                assert!(wake <= r.wait_ns, "{kind}: {r:?}");
            }
        }
        if kind == PolicyKind::Off {
            assert!(log.iter().all(|r| !r.polled && r.poll_ns == 0));
            assert!(log.iter().any(|r| r.slept_ns > 0), "off never slept");
            // At queue depth 1 the loop sleeps for the completion (woken by
            // it, untimed) and for the next request (woken by the doorbell).
            let timed = log.iter().filter(|r| r.wake_ns.is_some()).count();
            let untimed = log
                .iter()
                .filter(|r| r.slept_ns > 0 && r.wake_ns.is_none())
                .count();
            assert!(
                timed > 0 && untimed > 0,
                "{kind}: {timed} timed, {untimed} untimed"
            );
        } else {
            assert!(log.iter().any(|r| r.polled), "qemu never polled");
        }
    }
}
