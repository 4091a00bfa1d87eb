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
    /// For an iteration woken by the doorbell: whether the loop ran on the
    /// CPU of the thread that rang it (the kernel packed it there) or on
    /// another (`None`: not woken by the doorbell, or not known).
    pub on_ringer_cpu: Option<bool>,
    /// For the same wake-ups: whether the loop had last run, before it
    /// slept, on the CPU the ringer rang from (the two ran together) or
    /// on another (apart), so that a reader sees how often a wake-up
    /// moves the pair from one placement to the other.
    pub slept_on_ringer_cpu: Option<bool>,
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

impl IterRecord {
    /// The loop slept in this iteration (a sleep of 0 ns with a known
    /// wake-up counts: the host timed all of it as the wake-up).
    pub fn slept(&self) -> bool {
        self.slept_ns > 0 || self.wake_ns.is_some()
    }

    /// This record with its wake-up timed as a host that sees only the
    /// submission doorbell times it: from `rung`, when the doorbell first
    /// rang (the host's clock, as `start_ns`), to the loop noticing the
    /// work, at most the whole time asleep; without a ring (`None`: the
    /// doorbell did not ring, or the loop was woken by a completion alone)
    /// the wake-up is unknown and the sleep holds it. A record that did
    /// not sleep is returned as it is. The device loop and the simulator
    /// both time their wake-ups this way, so that `validate --explain`
    /// compares the same wake-ups on both sides.
    #[must_use]
    pub fn woken_by_doorbell(self, rung: Option<u64>) -> IterRecord {
        if !self.slept() {
            return self;
        }
        let asleep = self.slept_ns + self.wake_ns.unwrap_or(0);
        let noticed = self.start_ns + self.wait_ns;
        let wake_ns = rung.map(|at| noticed.saturating_sub(at).min(asleep));
        IterRecord {
            slept_ns: asleep - wake_ns.unwrap_or(0),
            wake_ns,
            ..self
        }
    }
}

/// At most this many records are kept per run: a run of a second at a
/// million iterations per second, 56 MB.
pub const MAX_ITER_RECORDS: usize = 1_000_000;

/// The job threads' wake-ups by their loop's completions inside the
/// measured interval, where a host records them: how many there were
/// and how many ran the job on the CPU the loop sent from (the kernel
/// packed the two).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobWakes {
    pub woken: u64,
    pub on_loop_cpu: u64,
}

#[cfg(test)]
mod tests {
    use super::IterRecord;

    fn slept(start_ns: u64, wait_ns: u64, slept_ns: u64, wake_ns: u64) -> IterRecord {
        IterRecord {
            start_ns,
            wait_ns,
            slept_ns,
            wake_ns: Some(wake_ns),
            ..IterRecord::default()
        }
    }

    #[test]
    fn a_wake_up_is_timed_from_the_doorbell_and_never_longer_than_the_sleep() {
        // Asleep 100..190, noticed at 200 (10 ns of wake-up the loop knew).
        let r = slept(100, 100, 90, 10);
        let timed = r.woken_by_doorbell(Some(170));
        assert_eq!((timed.slept_ns, timed.wake_ns), (70, Some(30)));
        // A ring before the sleep began: the wake-up is the whole sleep.
        let early = r.woken_by_doorbell(Some(50));
        assert_eq!((early.slept_ns, early.wake_ns), (0, Some(100)));
        // Woken by a completion alone: unknown, the sleep holds it.
        let none = r.woken_by_doorbell(None);
        assert_eq!((none.slept_ns, none.wake_ns), (100, None));
    }

    #[test]
    fn a_record_that_did_not_sleep_keeps_its_times() {
        let busy = IterRecord {
            start_ns: 5,
            wait_ns: 40,
            poll_ns: 40,
            polled: true,
            ..IterRecord::default()
        };
        assert_eq!(busy.woken_by_doorbell(Some(10)), busy);
    }
}
