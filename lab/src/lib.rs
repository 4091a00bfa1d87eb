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
pub mod replay;
pub mod report;
pub mod stats;
pub mod study;
pub mod text;
pub mod tune;
pub mod validate;

pub use backend::{online, Backend, DeviceBackend, Point, SimBackend};
pub use compare::{compare, CompareSpec, ComparedPoint};
pub use error::LabError;
pub use formats::output::{Input, Kind, Output, OutputDir};
pub use matrix::{Matrix, MAX_POINTS};
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
}

/// A callback that ignores progress.
pub fn quiet(_: Progress) {}

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
        lat_p50_us: 0.0,
        lat_p99_us: 0.0,
        lat_p999_us: 0.0,
        iothread_cpu_pct: 0.0,
        poll_cpu_pct: 0.0,
        kicks_per_s: 0.0,
        wakeups_per_s: 0.0,
        window_mean_ns: 0.0,
        window_zero_frac: 0.0,
        abrupt_resets: 0,
    }
}

/// Counts finished runs of a stage (from any thread) for [`Progress`].
pub(crate) struct Ticker<'a> {
    done: std::sync::atomic::AtomicUsize,
    total: usize,
    what: &'a str,
    progress: &'a (dyn Fn(Progress) + Sync),
}

impl<'a> Ticker<'a> {
    pub(crate) fn new(
        total: usize,
        what: &'a str,
        progress: &'a (dyn Fn(Progress) + Sync),
    ) -> Ticker<'a> {
        Ticker {
            done: std::sync::atomic::AtomicUsize::new(0),
            total,
            what,
            progress,
        }
    }

    pub(crate) fn tick(&self) {
        let done = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        (self.progress)(Progress::Run {
            done,
            total: self.total,
            what: self.what,
        });
    }
}
