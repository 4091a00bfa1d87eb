//! The one result schema shared by the simulator, the real-device adapter
//! and QEMU's harness, so `compare`, `plot` and any script work on any of
//! them. Every host builds its row with [`crate::run_row`].

use serde::{Deserialize, Serialize};

/// One measured or simulated run: what was run, and what it cost and gave.
/// Field order is the CSV column order; units are in the names. A field
/// that is an `Option` is `None` where the source cannot know it (fio's
/// JSON has no IOThread loop counters, and no percentiles unless fio
/// computed them): an empty CSV field, never a 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    /// `sim`, `realdev` or `qemu`.
    pub source: String,
    /// Preset name, or the file a device preset was loaded from.
    pub preset: String,
    pub policy: String,
    /// The policy's parameters as `name=value` pairs separated by spaces,
    /// in the policy's spec order (see [`crate::Params`]'s Display).
    pub params: String,
    pub rw: String,
    pub bs: u64,
    pub numjobs: u32,
    pub iodepth: u32,
    pub iothreads: u32,
    pub duration_ms: u64,
    pub seed: u64,
    pub iops: f64,
    pub mb_per_s: f64,
    pub lat_mean_us: f64,
    pub lat_p50_us: Option<f64>,
    pub lat_p99_us: Option<f64>,
    pub lat_p999_us: Option<f64>,
    /// IOThread CPU as a percentage of one core, summed over iothreads and
    /// divided by their count (so 100 means every iothread was always busy).
    pub iothread_cpu_pct: f64,
    /// The part of `iothread_cpu_pct` spent in the poll phase, busy-waiting
    /// for work (the rest is processing and going to sleep and waking).
    pub poll_cpu_pct: Option<f64>,
    pub kicks_per_s: Option<f64>,
    pub wakeups_per_s: Option<f64>,
    pub window_mean_ns: Option<f64>,
    pub window_zero_frac: Option<f64>,
    pub abrupt_resets: Option<u64>,
}

impl RunRow {
    /// The CSV header, in field order.
    pub const COLUMNS: [&'static str; 24] = [
        "source",
        "preset",
        "policy",
        "params",
        "rw",
        "bs",
        "numjobs",
        "iodepth",
        "iothreads",
        "duration_ms",
        "seed",
        "iops",
        "mb_per_s",
        "lat_mean_us",
        "lat_p50_us",
        "lat_p99_us",
        "lat_p999_us",
        "iothread_cpu_pct",
        "poll_cpu_pct",
        "kicks_per_s",
        "wakeups_per_s",
        "window_mean_ns",
        "window_zero_frac",
        "abrupt_resets",
    ];
}

/// One point of a window trajectory (`--trace`): the window a loop iteration
/// started with. Sim and realdev write the same columns so `plot window`
/// reads either.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceRow {
    pub policy: String,
    pub params: String,
    pub iothread: u32,
    /// Time since the start of the run, in ns (virtual time in sim).
    pub time_ns: u64,
    pub window_ns: u64,
    /// The bound in force at that moment, drawn as a line.
    pub poll_max_ns: u64,
}

/// The CSV columns of the paired table `compare --format csv` writes; `plot
/// compare` reads these names. `iops_diff_sd_pct` is the spread of the IOPS
/// change over seeds (or repeats on a real device), in percentage points.
pub const COMPARE_COLUMNS: [&str; 16] = [
    "rw",
    "bs",
    "numjobs",
    "iothreads",
    "baseline_iops",
    "candidate_iops",
    "iops_diff_pct",
    "baseline_cpu_pct",
    "candidate_cpu_pct",
    "cpu_diff_pct",
    "baseline",
    "candidate",
    "preset",
    "baseline_params",
    "candidate_params",
    "iops_diff_sd_pct",
];
