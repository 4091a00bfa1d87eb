//! One record per loop iteration, phase by phase: what the simulator and
//! the device loop both write, so that where the two loops part can be
//! found phase by phase (`pollwise validate --explain`).
//!
//! The loop's own phases (polling, sleeping, the wake-up, the busy phase)
//! come from [`crate::IoThread::last_iteration`], which every host gets
//! the same way; the host adds what only it sees (the `io_submit` batch,
//! the completions it reaped) and may replace the wake-up's latency with
//! its own measurement, or mark it unknown.

/// One iteration of the loop. Times in the host's nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IterRecord {
    /// When the iteration began.
    pub start_ns: u64,
    /// Busy-polling: from the start until the work was seen or the window
    /// ran out (0 without a window).
    pub poll_ns: u64,
    /// The poll phase found the work.
    pub polled: bool,
    /// From the start until the work was noticed (the policy's block
    /// time).
    pub wait_ns: u64,
    /// Asleep in the kernel (0: the iteration did not sleep).
    pub slept_ns: u64,
    /// For an iteration that slept: from the work's arrival (the doorbell)
    /// to the loop noticing it. `None` where the host cannot know when the
    /// work arrived, or the iteration did not sleep.
    pub wake_ns: Option<u64>,
    /// From noticing the work to the end of the iteration.
    pub busy_ns: u64,
    /// The handlers the loop reported when it noticed the work: bit `h`
    /// for handler `h` below 64 (ids from 64 up are not recorded).
    pub handlers: u64,
    /// Requests at the device when the iteration began (what the policy's
    /// [`crate::Outcome`] carries).
    pub in_flight: u32,
    /// The `io_submit` calls of this iteration: their time (0 if none).
    pub submit_ns: u64,
    /// How many `io_submit` calls, and how many requests they took.
    pub submit_calls: u32,
    pub submitted: u32,
    /// Completions reaped in this iteration.
    pub reaped: u32,
    /// Job threads runnable when the iteration ended, where the host
    /// knows it cheaply (`None`: not recorded).
    pub jobs_runnable: Option<u32>,
}

/// At most this many records are kept per run: a run of a second at a
/// million iterations per second, 56 MB.
pub const MAX_ITER_RECORDS: usize = 1_000_000;
