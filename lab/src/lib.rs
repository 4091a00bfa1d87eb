//! Experiments as a library: what to run ([`Matrix`], [`Point`]), where
//! ([`Backend`]: the simulator or the device), and what it shows
//! ([`compare`], [`validate`], [`study`], [`report`], all numbers through
//! [`stats`]). No command line and no terminal here: long work reports
//! [`Progress`] to a callback the caller supplies.

pub mod acceptance;
pub mod backend;
pub mod bench;
pub mod calibrated;
pub mod cmd;
pub mod compare;
mod compared;
pub mod effective;
mod error;
pub mod escape;
pub mod formats;
pub mod local_preset;
pub mod matrix;
pub mod qemu_backend;
pub mod ratio;
pub mod replay;
pub mod report;
pub mod runcache;
pub mod stats;
pub mod study;
pub mod text;
pub mod tune;
pub mod validate;
pub mod wait_summary;

pub use backend::{online, Backend, DeviceBackend, Point, SimBackend};
pub use compare::{compare, CompareSpec, ComparedPoint};
pub use error::LabError;
pub use formats::output::{Input, Kind, Output, OutputDir};
pub use matrix::{Matrix, MAX_POINTS};
/// The longest time any policy parameter or price takes (the flags of `src/` check it).
pub use pollwise_core::MAX_TIME_NS;
// The old paths, still named by study, report, tests/hostile.rs and
// inline paths of the binary.
pub use cmd::study::study;
pub use qemu_backend::QemuBackend;
pub use report::{report, ReportOptions};
pub use study::{MeasureOptions, StudyOptions};
pub use validate::{validate, validate_diffs, Agreement, DiffSpec, DiffValidation};

/// What long work tells its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress<'a> {
    /// A new stage begins (e.g. "report [2/4]: sweep ...").
    Step(&'a str),
    /// `done` of `total` runs of the current stage are finished.
    Run {
        done: usize,
        total: usize,
        what: &'a str,
    },
    /// `done` of `total` runs of the current stage are finished, `secs`
    /// seconds after it began; `eta`: the seconds left, estimated from the
    /// expected cost of the runs still to come (None before a run finished).
    Timed {
        done: usize,
        total: usize,
        what: &'a str,
        secs: u64,
        eta: Option<u64>,
    },
}

/// The seconds left after `elapsed` seconds in which runs of expected cost
/// `ran` finished, with runs of expected cost `left` still to come: the
/// rate so far, kept. None while nothing ran and something is left.
pub fn eta_secs(elapsed: f64, ran: f64, left: f64) -> Option<u64> {
    if left <= 0.0 {
        // Nothing left (every run so far may have come from the cache).
        return Some(0);
    }
    (ran > 0.0).then(|| (elapsed * left / ran).round() as u64)
}

/// A callback that ignores progress.
pub fn quiet(_: Progress) {}

/// 4k randread, one job at depth 8, one IOThread, 100 ms: the workload of
/// the tests' points.
#[cfg(test)]
pub(crate) fn test_workload() -> pollwise_core::Workload {
    pollwise_core::Workload {
        rw: pollwise_core::Rw::RandRead,
        rwmixread: 50,
        bs: 4096,
        numjobs: 1,
        iodepth: 8,
        iothreads: 1,
        duration_ms: 100,
    }
}

/// A point of [`test_workload`] with these runs, for tests.
#[cfg(test)]
pub(crate) fn test_point(
    baseline: Vec<pollwise_core::RunRow>,
    candidate: Vec<pollwise_core::RunRow>,
) -> ComparedPoint {
    ComparedPoint {
        workload: test_workload(),
        baseline,
        candidate,
    }
}

/// A row with every field set, for tests to override.
#[cfg(test)]
pub(crate) fn test_row() -> pollwise_core::RunRow {
    pollwise_core::RunRow {
        source: "sim".into(),
        preset: "test".into(),
        policy: "qemu".into(),
        params: String::new(),
        rw: "randread".into(),
        bs: 4096,
        numjobs: 1,
        iodepth: 8,
        iothreads: 1,
        duration_ms: 100,
        seed: 1,
        iops: 0.0,
        mb_per_s: 0.0,
        lat_mean_us: 0.0,
        lat_p50_us: Some(0.0),
        lat_p99_us: Some(0.0),
        lat_p999_us: Some(0.0),
        iothread_cpu_pct: 0.0,
        poll_cpu_pct: Some(0.0),
        kicks_per_s: Some(0.0),
        wakeups_per_s: Some(0.0),
        window_mean_ns: Some(0.0),
        window_zero_frac: Some(0.0),
        abrupt_resets: Some(0),
    }
}

/// Counts finished runs of a stage (from any thread) for [`Progress`],
/// with an ETA from their expected costs (`batch::run_events`).
pub(crate) struct Ticker<'a> {
    tally: std::sync::Mutex<Tally>,
    start: std::time::Instant,
    total: usize,
    what: &'a str,
    progress: &'a (dyn Fn(Progress) + Sync),
}

/// Runs finished, and the expected cost of those that ran (not from the
/// run cache) and of those still to come.
struct Tally {
    done: usize,
    ran: f64,
    left: f64,
}

impl<'a> Ticker<'a> {
    /// For `total` runs of expected cost `events` in all.
    pub(crate) fn new(
        total: usize,
        events: f64,
        what: &'a str,
        progress: &'a (dyn Fn(Progress) + Sync),
    ) -> Ticker<'a> {
        Ticker {
            tally: std::sync::Mutex::new(Tally {
                done: 0,
                ran: 0.0,
                left: events,
            }),
            start: std::time::Instant::now(),
            total,
            what,
            progress,
        }
    }

    pub(crate) fn tick(&self, run: pollwise_sim::batch::Finished) {
        let (done, ran, left) = {
            let mut t = self.tally.lock().unwrap_or_else(|e| e.into_inner());
            t.done += 1;
            t.left -= run.events;
            if !run.cached {
                t.ran += run.events;
            }
            (t.done, t.ran, t.left)
        };
        let elapsed = self.start.elapsed().as_secs_f64();
        (self.progress)(Progress::Timed {
            done,
            total: self.total,
            what: self.what,
            secs: elapsed as u64,
            // The costs left are a float total less each run's: at the end
            // a rounding error, not 0.
            eta: if done == self.total {
                Some(0)
            } else {
                eta_secs(elapsed, ran, left)
            },
        });
    }
}

#[cfg(test)]
mod eta_tests {
    use super::eta_secs;

    #[test]
    fn the_eta_keeps_the_rate_so_far_and_is_zero_when_nothing_is_left() {
        // 10 s for cost 2, cost 6 to go: 30 s more.
        assert_eq!(eta_secs(10.0, 2.0, 6.0), Some(30));
        // Nothing simulated yet (all from the cache so far): unknown...
        assert_eq!(eta_secs(0.5, 0.0, 6.0), None);
        // ...unless nothing is left.
        assert_eq!(eta_secs(0.5, 0.0, 0.0), Some(0));
        assert_eq!(eta_secs(0.5, 0.0, -1e-9), Some(0));
    }
}
