//! The IOThread loop as a sans-IO state machine: everything one QEMU
//! `aio_poll()` iteration decides, with time passed in by the host.
//!
//! Every host drives this one type: the simulator's event handlers, the
//! real-device loop over epoll and Linux AIO, and the loom models of that
//! loop. The machine decides; the host only does what it is told and
//! reports what it saw, the way quinn's endpoint drives `quinn-proto`:
//!
//! ```text
//!             begin(now, pending)
//!   Idle ──────────────┬──────────────────┬────────────────┐
//!                      │ window > 0       │ window == 0    │ pending work
//!                      ▼                  ▼                ▼
//!   Step::Poll    Polling ──timeout──▶ Arming ──block──▶ Blocked
//!                      │ arrival          │ arrival        │ arrival
//!                      ▼                  ▼                ▼ (Step::Wake)
//!                   Noticing { polled, slept } ── noticed(now, handlers) ──▶
//!                   Processing ── end(now) ──▶ Idle
//! ```
//!
//! The rules it owns, in one place:
//! - the window of an iteration is the policy's window at its start;
//! - notifications are off from the start of a poll phase until the loop
//!   arms to block (QEMU's `poll_set_started()`), so with a zero window every
//!   request finds them on;
//! - `block_ns` is the time from the start of the iteration to the moment
//!   the work was noticed, and the iteration counts as polled only if the
//!   poll phase saw the work;
//! - each handler that had an event is reported once per iteration;
//! - a trace point is emitted whenever the window changes after an
//!   adjustment and at every live parameter change, and the host may ask for
//!   one at its start;
//! - poll, busy and blocked time, wake-ups and window statistics are counted
//!   only inside the measured interval `[from, to)`;
//! - QEMU's self-notification, when the host turns it on: work that
//!   schedules a bottom half (linux-aio does after every submission and
//!   completion batch) calls `aio_notify()`, which sets the context's
//!   `notified` flag. The next iteration does not sleep: if it polls and the
//!   context's own notifier is a poll handler, the first poll pass finds it
//!   (a polled iteration with that handler's event, block_ns of one pass);
//!   otherwise the loop arms, sees the flag and does not wait. The flag is
//!   cleared when the iteration notices its work (`aio_notify_accept()`).
//! - doorbells that stay readable, when the host reports them
//!   ([`IoThread::doorbell`]): an eventfd written for work that a poll pass
//!   then found is not read by the poll handler (QEMU's
//!   `qemu_laio_poll_ready()` and the virtqueue's poll handler leave it),
//!   so it is still readable when the loop next arms. That `ppoll()`
//!   returns at once: an iteration that neither polled nor slept, whose
//!   `block_ns` runs from its start, reporting the handlers whose doorbells
//!   were readable. Any iteration that does not notice its work by polling
//!   went through `ppoll()`, whose dispatch reads every readable doorbell.
//!
//! It reads no clock, performs no I/O and allocates nothing per step: its
//! only buffers are sized by the handler count at construction.
//!
//! A host acts only on the [`Step`]s it is returned (and on
//! [`IoThread::notify_enabled`], what producers must do); the phase is
//! private. Misuse panics with a message rather than being ignored: a call
//! out of order (`begin` inside an iteration, `block` without arming, `end`
//! before noticing), a handler id out of range, and time that goes
//! backwards (every call that takes `now` checks it against the last one,
//! one comparison). Events that may legitimately come late (an arrival
//! while the loop is busy, a poll timeout of an iteration that has moved
//! on) return [`Step::Nothing`].

use crate::iteration::IterRecord;
use crate::outcome::{HandlerId, Outcome};
use crate::param::ParamError;
use crate::params::Params;
use crate::policies::AnyPolicy;
#[cfg(feature = "clairvoyance")]
use crate::policy::Foresight;
use crate::policy::Policy;
use crate::window_stats::WindowStats;

/// Where the loop is within an iteration (private: hosts act on steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Between iterations (and before the first).
    Idle,
    /// Busy-polling the handlers until the window runs out.
    Polling,
    /// Notifications on; re-checking the handlers before sleeping.
    Arming,
    /// Asleep in the kernel until a doorbell rings.
    Blocked,
    /// A clairvoyant policy waiting for the next arrival: when it comes, the
    /// policy is told the gap and the iteration is settled as polled (the gap
    /// is within its window) or blocked from its start. Only a host that
    /// knows the future (the simulator) can drive this phase: it needs a
    /// [`crate::Foresight`], which only the `clairvoyance` feature builds.
    Foreseeing,
    /// Work was seen by a poll pass, on the re-check, or after a wake-up.
    Noticing { polled: bool, slept: bool },
    /// Submitting and completing.
    Processing,
}

/// What the host must do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Work is visible: the next poll pass (or the re-check) sees it. Call
    /// [`IoThread::noticed`] once it has.
    Notice,
    /// Turn notifications off and busy-poll the handlers until
    /// `deadline_ns`; then call [`IoThread::arrival`] (work found) or
    /// [`IoThread::poll_timeout`].
    Poll { deadline_ns: u64 },
    /// Turn notifications on and re-check the handlers; then call
    /// [`IoThread::arrival`] (work found) or [`IoThread::block`].
    Arm,
    /// The loop was asleep: it runs again after the wake-up latency, then
    /// calls [`IoThread::noticed`].
    Wake,
    /// Wait for the next arrival without deciding (clairvoyant policies).
    Foresee,
    /// Nothing: the loop already has work in hand.
    Nothing,
}

/// One point of the window trajectory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TracePoint {
    pub time_ns: u64,
    pub window_ns: u64,
    pub poll_max_ns: u64,
    /// How many live parameter changes had been applied: 0 for the initial
    /// parameters.
    pub params_version: u32,
}

/// What noticing the work decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Noticed {
    pub block_ns: u64,
    pub polled: bool,
    /// The loop slept and was woken (the host charges the wake-up's CPU).
    pub slept: bool,
    /// The requests in flight the policy was told of (the host's count when
    /// the iteration began).
    pub in_flight: u32,
    /// The window changed.
    pub trace: Option<TracePoint>,
}

/// Time and events counted inside the measured interval.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoopCounters {
    /// Busy-polling, from the start of an iteration until its work was
    /// noticed or its window ran out.
    pub poll_ns: u64,
    /// From noticing the work until the end of the iteration, and the
    /// re-check of an armed loop that found work without sleeping.
    pub busy_ns: u64,
    /// Asleep in the kernel.
    pub blocked_ns: u64,
    pub wakeups: u64,
    pub iterations: u64,
    /// Iterations whose work was found by polling.
    pub polled_hits: u64,
    pub window: WindowStats,
}

/// One IOThread's loop around its policy.
#[derive(Clone, Debug)]
pub struct IoThread {
    policy: AnyPolicy,
    clairvoyant: bool,
    phase: Phase,
    iter_start: u64,
    iter_window: u64,
    noticed_at: u64,
    /// When the loop last armed (or began an iteration without polling).
    armed_at: u64,
    blocked_at: u64,
    notify_enabled: bool,
    params_version: u32,
    /// Per handler: already reported in this iteration.
    seen: Vec<bool>,
    /// The handlers reported in this iteration, each once.
    handlers: Vec<HandlerId>,
    last: Option<Noticed>,
    /// The context's own notifier, when it is one of the poll handlers.
    notifier: Option<HandlerId>,
    /// `aio_notify()` was called since the last notice.
    notified: bool,
    /// Per handler: its doorbell was written and not yet read (only what
    /// the host reports with [`IoThread::doorbell`]).
    readable: Vec<bool>,
    from: u64,
    to: u64,
    /// The latest time any call passed in (time never goes backwards).
    last_now: u64,
    /// Requests at the device as the host last said ([`IoThread::set_in_flight`]).
    in_flight: u32,
    /// `in_flight` when the iteration began.
    iter_in_flight: u32,
    counters: LoopCounters,
    /// When the work of a sleeping iteration arrived.
    arrived_at: u64,
    /// The current iteration's phases, and the last ended iteration's.
    record: IterRecord,
    ended: IterRecord,
}

/// The part of `[a, b)` inside `[lo, hi)`.
fn overlap(a: u64, b: u64, lo: u64, hi: u64) -> u64 {
    b.min(hi).saturating_sub(a.max(lo))
}

impl IoThread {
    /// A loop with `handlers` poll handlers (ids `0..handlers`) measuring
    /// over `[from, to)` in the host's time. Notifications start enabled.
    pub fn new(params: Params, handlers: u32, from: u64, to: u64) -> IoThread {
        IoThread {
            clairvoyant: params.kind().is_clairvoyant(),
            policy: AnyPolicy::new(params),
            phase: Phase::Idle,
            iter_start: 0,
            iter_window: 0,
            noticed_at: 0,
            armed_at: 0,
            blocked_at: 0,
            notify_enabled: true,
            params_version: 0,
            seen: vec![false; handlers as usize],
            handlers: Vec::with_capacity(handlers as usize),
            last: None,
            notifier: None,
            notified: false,
            readable: vec![false; handlers as usize],
            from,
            to,
            last_now: 0,
            in_flight: 0,
            iter_in_flight: 0,
            counters: LoopCounters::default(),
            arrived_at: 0,
            record: IterRecord::default(),
            ended: IterRecord::default(),
        }
    }

    /// Adds the context's own notifier as one more poll handler, with the
    /// next free id, which it returns (QEMU registers it with an `io_poll`
    /// callback; it joins the polled handlers once it has been dispatched).
    pub fn with_context_notifier(mut self) -> (IoThread, HandlerId) {
        let id = self.seen.len() as HandlerId;
        self.seen.push(false);
        self.readable.push(false);
        self.handlers.reserve(1);
        self.notifier = Some(id);
        (self, id)
    }

    /// The host's processing called `aio_notify()` (it scheduled a bottom
    /// half): the next iteration will not sleep.
    pub fn notify_self(&mut self) {
        self.notified = true;
    }

    /// Handler `h`'s doorbell (its eventfd) was written. It stays readable
    /// until an iteration that goes through `ppoll()` dispatches it; until
    /// then the loop cannot sleep (see the module's rules). A host whose
    /// handlers read their doorbells when they poll does not call this.
    pub fn doorbell(&mut self, h: HandlerId) {
        let handlers = self.readable.len();
        match self.readable.get_mut(h as usize) {
            Some(r) => *r = true,
            None => panic!("doorbell of handler {h}: the loop has handlers 0..{handlers}"),
        }
    }

    /// The host has `n` requests at the device that have not completed
    /// (submitted and not yet seen complete). The value at the start of an
    /// iteration reaches the policy in its [`Outcome`]; a host that never
    /// calls this reports 0.
    pub fn set_in_flight(&mut self, n: u32) {
        self.in_flight = n;
    }

    /// Whether arming finds something without waiting: `aio_notify()` was
    /// called, or a doorbell is still readable.
    fn armed_returns_at_once(&self) -> bool {
        self.notified || self.readable.contains(&true)
    }

    /// Checks that time does not go backwards and records `now`.
    fn at(&mut self, now: u64, call: &str) {
        assert!(
            now >= self.last_now,
            "IoThread::{call} at {now} ns, before the previous call at {} ns: the host's clock \
             must be monotonic",
            self.last_now
        );
        self.last_now = now;
    }

    pub fn policy(&self) -> &AnyPolicy {
        &self.policy
    }

    /// Whether a producer that queues work now must ring the doorbell.
    pub fn notify_enabled(&self) -> bool {
        self.notify_enabled
    }

    /// When the loop last went to sleep: at `block`, or at the start of an
    /// iteration a clairvoyant policy chose to sleep through.
    pub fn blocked_at(&self) -> u64 {
        self.blocked_at
    }

    /// The window of the current iteration.
    pub fn iteration_window(&self) -> u64 {
        self.iter_window
    }

    pub fn counters(&self) -> &LoopCounters {
        &self.counters
    }

    /// The window in force now, as a trace point.
    pub fn trace_point(&self, now: u64) -> TracePoint {
        TracePoint {
            time_ns: now,
            window_ns: self.policy.window_ns(),
            poll_max_ns: self.policy.params().poll_max_ns(),
            params_version: self.params_version,
        }
    }

    fn measuring(&self, now: u64) -> bool {
        now >= self.from
    }

    /// A live parameter change (QEMU's `qom-set`), applied between
    /// iterations. Returns the trace point of the parameters now in force:
    /// a trace records every change of the window or of its bounds.
    pub fn set_params(&mut self, params: Params, now: u64) -> Result<TracePoint, ParamError> {
        self.at(now, "set_params");
        self.policy.set_params(params)?;
        self.params_version += 1;
        Ok(self.trace_point(now))
    }

    /// Starts an iteration. `pending` says whether work is already waiting
    /// where the first poll pass will see it; a host that finds work only by
    /// polling passes `false`.
    pub fn begin(&mut self, now: u64, pending: bool) -> Step {
        self.at(now, "begin");
        assert!(
            self.phase == Phase::Idle,
            "IoThread::begin in {:?}: an iteration begins only after `end` of the last",
            self.phase
        );
        self.iter_start = now;
        self.armed_at = now;
        self.record = IterRecord {
            start_ns: now,
            ..IterRecord::default()
        };
        self.iter_in_flight = self.in_flight;
        if self.clairvoyant {
            // A self-notified loop does not sleep whatever its window: it
            // runs the notifier's iteration first, as an online policy's
            // loop does, and foresees from the next one.
            if !pending && !self.notified {
                // The window depends on the next arrival; it is settled when
                // that arrival happens (see `arrival`).
                self.iter_window = 0;
                self.phase = Phase::Foreseeing;
                return Step::Foresee;
            }
            // Work is already here: the next event is "now", which keeps a
            // threshold above 0 in poll mode (notifications off), as an
            // online policy with a window would be.
            self.policy.foresee(&crate::policy::Foresight::known_gap(1));
        }
        let window = self.policy.window_ns();
        self.iter_window = window;
        // Entering poll mode disables notifications; leaving it (no window)
        // enables them again, as QEMU's poll_set_started() does.
        self.notify_enabled = window == 0;
        let notifier_polled = window > 0 && self.notified && self.notifier.is_some();
        if pending || notifier_polled || (window == 0 && self.armed_returns_at_once()) {
            // The first poll pass (or the re-check after arming, which sees
            // the flag and does not wait) finds the work.
            self.phase = Phase::Noticing {
                polled: window > 0 && (pending || notifier_polled),
                slept: false,
            };
            Step::Notice
        } else if window > 0 {
            self.phase = Phase::Polling;
            Step::Poll {
                deadline_ns: now + window,
            }
        } else {
            self.phase = Phase::Arming;
            Step::Arm
        }
    }

    /// The poll window ran out with nothing found.
    pub fn poll_timeout(&mut self, now: u64) -> Step {
        self.at(now, "poll_timeout");
        if self.phase != Phase::Polling {
            return Step::Nothing;
        }
        self.counters.poll_ns += overlap(self.iter_start, now, self.from, self.to);
        self.record.poll_ns = now - self.iter_start;
        self.notify_enabled = true;
        self.armed_at = now;
        if self.armed_returns_at_once() {
            // Armed, the loop sees the flag or a readable doorbell and does
            // not wait.
            self.phase = Phase::Noticing {
                polled: false,
                slept: false,
            };
            return Step::Notice;
        }
        self.phase = Phase::Arming;
        Step::Arm
    }

    /// Armed and nothing found on the re-check: the loop goes to sleep.
    pub fn block(&mut self, now: u64) {
        self.at(now, "block");
        assert!(
            self.phase == Phase::Arming,
            "IoThread::block in {:?}: the loop blocks only after a `Step::Arm`",
            self.phase
        );
        self.phase = Phase::Blocked;
        self.blocked_at = now;
    }

    /// Work arrived (or, for a host that polls, was just seen).
    pub fn arrival(&mut self, now: u64) -> Step {
        self.at(now, "arrival");
        assert!(
            self.phase != Phase::Foreseeing,
            "IoThread::arrival after `Step::Foresee`: a clairvoyant policy's loop is told the \
             future with `arrival_foreseen`"
        );
        self.arrived(now)
    }

    /// Work arrived, and the host (one that knows the future) says what it
    /// is and what a block for it would cost; `next.gap_ns` is filled in
    /// here. Only a clairvoyant policy after [`Step::Foresee`] reads it.
    #[cfg(feature = "clairvoyance")]
    pub fn arrival_foreseen(&mut self, now: u64, next: Foresight) -> Step {
        self.at(now, "arrival_foreseen");
        if self.phase == Phase::Foreseeing {
            self.settle(now, next);
        }
        self.arrived(now)
    }

    /// A foreseeing iteration is settled when its arrival comes: polled if
    /// the policy's window for that gap covers it, blocked from its start
    /// otherwise.
    #[cfg(feature = "clairvoyance")]
    fn settle(&mut self, now: u64, next: Foresight) {
        let gap = now - self.iter_start;
        self.policy.foresee(&next.with_gap_ns(gap + 1));
        let window = self.policy.window_ns();
        self.iter_window = window;
        if window > gap {
            self.phase = Phase::Polling;
            self.notify_enabled = false;
        } else {
            self.phase = Phase::Blocked;
            self.blocked_at = self.iter_start;
            self.notify_enabled = true;
        }
    }

    fn arrived(&mut self, now: u64) -> Step {
        match self.phase {
            Phase::Polling => {
                self.phase = Phase::Noticing {
                    polled: true,
                    slept: false,
                };
                Step::Notice
            }
            Phase::Arming => {
                self.phase = Phase::Noticing {
                    polled: false,
                    slept: false,
                };
                Step::Notice
            }
            Phase::Blocked => {
                self.phase = Phase::Noticing {
                    polled: false,
                    slept: true,
                };
                if self.measuring(now) {
                    self.counters.wakeups += 1;
                }
                self.arrived_at = now;
                self.counters.blocked_ns += overlap(self.blocked_at, now, self.from, self.to);
                Step::Wake
            }
            Phase::Idle | Phase::Noticing { .. } | Phase::Processing | Phase::Foreseeing => {
                Step::Nothing
            }
        }
    }

    /// Counts how the loop waited for the work it noticed at `now`, in the
    /// counters and the iteration's record.
    fn account_wait(&mut self, now: u64, polled: bool, slept: bool) {
        if polled {
            self.counters.poll_ns += overlap(self.iter_start, now, self.from, self.to);
            self.record.poll_ns = now - self.iter_start;
            self.record.polled = true;
        } else if slept {
            self.record.slept_ns = self.arrived_at - self.blocked_at;
            self.record.wake_ns = Some(now - self.arrived_at);
        } else {
            // The re-check (a ppoll() that returned at once) ran on the CPU.
            self.counters.busy_ns += overlap(self.armed_at, now, self.from, self.to);
        }
    }

    /// The handlers this iteration serves, each once, into `self.handlers`:
    /// those that had events, the context's notifier (polled), and through
    /// `ppoll()` every doorbell still readable, whose readiness it consumes.
    fn collect_handlers(&mut self, handlers: impl IntoIterator<Item = HandlerId>, polled: bool) {
        self.handlers.clear();
        let notifier = self.notifier.filter(|_| self.notified && polled);
        self.notified = false;
        // Through ppoll(): every readable doorbell is dispatched and read.
        let through_ppoll = !polled && self.readable.contains(&true);
        let readable = &self.readable;
        let stale = (0..readable.len() as HandlerId)
            .filter(move |&h| through_ppoll && readable[h as usize]);
        for h in handlers.into_iter().chain(notifier).chain(stale) {
            match self.seen.get_mut(h as usize) {
                Some(seen) if !*seen => {
                    *seen = true;
                    self.handlers.push(h);
                }
                Some(_) => {}
                None => panic!(
                    "IoThread::noticed: handler {h} is not one of the loop's 0..{}",
                    self.seen.len()
                ),
            }
        }
        for &h in &self.handlers {
            self.seen[h as usize] = false;
        }
        if through_ppoll {
            self.readable.fill(false);
        }
    }

    /// The loop has seen its work at `now`: `handlers` had events (repeats
    /// are reported once). Reports the iteration to the policy. Returns
    /// `None` if the loop was not noticing work.
    pub fn noticed(
        &mut self,
        now: u64,
        handlers: impl IntoIterator<Item = HandlerId>,
    ) -> Option<Noticed> {
        self.at(now, "noticed");
        let Phase::Noticing { polled, slept } = self.phase else {
            return None;
        };
        self.account_wait(now, polled, slept);
        self.collect_handlers(handlers, polled);
        let block_ns = now - self.iter_start;
        self.record.wait_ns = block_ns;
        self.record.in_flight = self.iter_in_flight;
        self.record.handlers = self
            .handlers
            .iter()
            .filter(|&&h| h < 64)
            .fold(0, |m, &h| m | 1 << h);
        let before = self.policy.window_ns();
        let outcome = if polled {
            Outcome::polled(block_ns, &self.handlers)
        } else if slept {
            // From going to sleep to running again: what the host's wake-up
            // path adds to the wait (the policy learns the price of a block).
            Outcome::slept(block_ns, now - self.blocked_at, &self.handlers)
        } else {
            Outcome::blocked(block_ns, &self.handlers)
        };
        let outcome = outcome.with_in_flight(self.iter_in_flight);
        self.policy.observe(&outcome);
        let after = self.policy.window_ns();
        if self.measuring(now) {
            self.counters.window.record_change(
                self.policy.kind(),
                self.policy.params(),
                before,
                after,
            );
            self.counters.iterations += 1;
            self.counters.polled_hits += u64::from(polled);
        }
        self.phase = Phase::Processing;
        self.noticed_at = now;
        let trace = (after != before).then(|| self.trace_point(now));
        let noticed = |trace| Noticed {
            block_ns,
            polled,
            slept,
            in_flight: self.iter_in_flight,
            trace,
        };
        // Built twice from the same values, not copied: copying a struct
        // just stored field by field with wider loads stalls on store
        // forwarding (a quarter of this function's time).
        self.last = Some(noticed(trace));
        Some(noticed(trace))
    }

    /// What the last [`IoThread::noticed`] reported.
    pub fn last_noticed(&self) -> Option<Noticed> {
        self.last
    }

    /// The handlers reported in the last [`IoThread::noticed`].
    pub fn last_handlers(&self) -> &[HandlerId] {
        &self.handlers
    }

    /// Processing is done; the iteration ends.
    pub fn end(&mut self, now: u64) {
        self.at(now, "end");
        assert!(
            self.phase == Phase::Processing,
            "IoThread::end in {:?}: an iteration ends only after `noticed`",
            self.phase
        );
        self.counters.busy_ns += overlap(self.noticed_at, now, self.from, self.to);
        self.counters.window.record_span(
            self.iter_window,
            overlap(self.iter_start, now, self.from, self.to),
        );
        self.record.busy_ns = now - self.noticed_at;
        self.ended = self.record;
        self.phase = Phase::Idle;
    }

    /// The phases of the last iteration that ended: its poll, sleep and
    /// busy times, whether polling found the work, and, for one that slept,
    /// the wake-up's latency from the arrival the host reported (exact for
    /// a host that reports arrivals as they happen; a host that learns of
    /// an arrival only when it wakes replaces it). The host fills in the
    /// rest of the [`IterRecord`].
    pub fn last_iteration(&self) -> IterRecord {
        self.ended
    }

    /// Closes the iteration still open at `to`, the end of the measured
    /// interval, and returns the counters.
    pub fn finish(mut self, to: u64) -> LoopCounters {
        let (from, end) = (self.from, self.to.min(to));
        let c = &mut self.counters;
        match self.phase {
            Phase::Idle => return self.counters,
            Phase::Polling => c.poll_ns += overlap(self.iter_start, end, from, end),
            Phase::Blocked => c.blocked_ns += overlap(self.blocked_at, end, from, end),
            Phase::Processing => c.busy_ns += overlap(self.noticed_at, end, from, end),
            Phase::Arming | Phase::Foreseeing | Phase::Noticing { .. } => {}
        }
        c.window
            .record_span(self.iter_window, overlap(self.iter_start, end, from, end));
        self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::PolicyKind;

    fn qemu() -> IoThread {
        IoThread::new(Params::defaults(PolicyKind::Qemu), 2, 0, u64::MAX)
    }

    #[test]
    fn zero_window_arms_then_blocks_and_wakes() {
        let mut it = qemu();
        assert_eq!(it.begin(0, false), Step::Arm);
        assert!(it.notify_enabled());
        it.block(10);
        assert_eq!(it.arrival(100), Step::Wake);
        let n = it.noticed(130, [1, 1, 0]).unwrap();
        assert_eq!((n.block_ns, n.polled, n.slept), (130, false, true));
        assert_eq!(it.last_handlers(), &[1, 0]);
        // QEMU grows from 0 to 4000 on a block within poll-max-ns.
        assert_eq!(n.trace.unwrap().window_ns, 4000);
        it.end(200);
        let c = it.finish(1000);
        assert_eq!(
            (c.wakeups, c.blocked_ns, c.busy_ns, c.poll_ns),
            (1, 90, 70, 0)
        );
    }

    #[test]
    fn polling_turns_notifications_off_until_the_loop_arms() {
        let mut p = Params::defaults(PolicyKind::Fixed);
        p.set(crate::Param::PollMaxNs, 1000).unwrap();
        let mut it = IoThread::new(p, 1, 0, u64::MAX);
        assert_eq!(it.begin(0, false), Step::Poll { deadline_ns: 1000 });
        assert!(!it.notify_enabled());
        assert_eq!(it.arrival(400), Step::Notice);
        let n = it.noticed(450, [0]).unwrap();
        assert!(n.polled && !n.slept && n.block_ns == 450);
        // Still off while processing and into the next poll phase.
        assert!(!it.notify_enabled());
        it.end(500);
        assert_eq!(it.begin(500, false), Step::Poll { deadline_ns: 1500 });
        assert_eq!(it.poll_timeout(1500), Step::Arm);
        assert!(it.notify_enabled());
        // Found on the re-check after arming: neither polled nor slept.
        assert_eq!(it.arrival(1500), Step::Notice);
        let n = it.noticed(1500, [0]).unwrap();
        assert!(!n.polled && !n.slept && n.block_ns == 1000);
        it.end(1600);
        let c = it.counters().clone();
        assert_eq!(
            (c.poll_ns, c.busy_ns, c.iterations, c.polled_hits),
            (1450, 150, 2, 1)
        );
    }

    #[test]
    fn counts_only_inside_the_measured_interval() {
        let mut it = IoThread::new(Params::defaults(PolicyKind::Qemu), 1, 100, 300);
        it.begin(0, false);
        it.block(0);
        it.arrival(50);
        it.noticed(60, [0]);
        it.end(150);
        let c = it.clone().finish(300);
        assert_eq!((c.wakeups, c.busy_ns, c.blocked_ns), (0, 50, 0));
        // The iteration open at the end is closed at `to`.
        it.begin(150, false);
        let c = it.finish(300);
        assert_eq!(c.poll_ns, 150, "4000 ns window still polling at the end");
    }

    #[test]
    fn live_change_emits_a_trace_point_with_the_new_bounds() {
        let mut p = Params::defaults(PolicyKind::Fixed);
        p.set(crate::Param::PollMaxNs, 5000).unwrap();
        let mut it = IoThread::new(p.clone(), 1, 0, u64::MAX);
        let t = it.set_params(p.clone(), 7).unwrap();
        assert_eq!((t.time_ns, t.window_ns, t.params_version), (7, 5000, 1));
        p.set(crate::Param::PollMaxNs, 1000).unwrap();
        let t = it.set_params(p, 9).unwrap();
        assert_eq!(
            (t.time_ns, t.window_ns, t.poll_max_ns, t.params_version),
            (9, 1000, 1000, 2)
        );
        // QEMU's rule at window 0: the window stays, the bound moves.
        let mut it = IoThread::new(Params::defaults(PolicyKind::Qemu), 1, 0, u64::MAX);
        let mut q = Params::defaults(PolicyKind::Qemu);
        q.set(crate::Param::PollMaxNs, 0).unwrap();
        let t = it.set_params(q, 3).unwrap();
        assert_eq!((t.window_ns, t.poll_max_ns), (0, 0));
    }

    #[test]
    fn self_notification_polls_the_notifier_or_skips_the_sleep() {
        let mut p = Params::defaults(PolicyKind::Fixed);
        p.set(crate::Param::PollMaxNs, 1000).unwrap();
        let (mut it, notifier) = IoThread::new(p, 2, 0, u64::MAX).with_context_notifier();
        assert_eq!(notifier, 2);
        // Polling: the first pass finds the notifier.
        it.notify_self();
        assert_eq!(it.begin(0, false), Step::Notice);
        let n = it.noticed(10, []).unwrap();
        assert!(n.polled && n.block_ns == 10);
        assert_eq!(it.last_handlers(), &[2]);
        it.end(20);
        // The flag was accepted: the next iteration polls as usual.
        assert_eq!(it.begin(20, false), Step::Poll { deadline_ns: 1020 });

        // Without the notifier among the poll handlers, the loop polls its
        // window, arms, sees the flag and does not sleep.
        let mut p = Params::defaults(PolicyKind::Fixed);
        p.set(crate::Param::PollMaxNs, 1000).unwrap();
        let mut it = IoThread::new(p, 2, 0, u64::MAX);
        it.notify_self();
        assert_eq!(it.begin(0, false), Step::Poll { deadline_ns: 1000 });
        assert_eq!(it.poll_timeout(1000), Step::Notice);
        let n = it.noticed(1000, []).unwrap();
        assert!(!n.polled && !n.slept && n.block_ns == 1000);
        assert!(it.last_handlers().is_empty());

        // A zero window: no poll, no sleep.
        let mut it = qemu();
        it.notify_self();
        assert_eq!(it.begin(0, false), Step::Notice);
        assert!(!it.noticed(5, []).unwrap().polled);
    }

    #[test]
    fn a_doorbell_left_readable_by_polling_makes_the_next_arm_return_at_once() {
        let mut p = Params::defaults(PolicyKind::Fixed);
        p.set(crate::Param::PollMaxNs, 1000).unwrap();
        let mut it = IoThread::new(p, 2, 0, u64::MAX);
        // A completion rings handler 1's doorbell and a poll pass finds it:
        // the doorbell is not read.
        assert_eq!(it.begin(0, false), Step::Poll { deadline_ns: 1000 });
        it.doorbell(1);
        assert_eq!(it.arrival(300), Step::Notice);
        let n = it.noticed(310, [1]).unwrap();
        assert!(n.polled);
        it.end(400);
        // The next window runs out: armed, ppoll() returns at once with the
        // stale doorbell, an iteration that neither polled nor slept.
        assert_eq!(it.begin(400, false), Step::Poll { deadline_ns: 1400 });
        assert_eq!(it.poll_timeout(1400), Step::Notice);
        let n = it.noticed(1450, []).unwrap();
        assert_eq!((n.block_ns, n.polled, n.slept), (1050, false, false));
        assert_eq!(it.last_handlers(), &[1], "the stale handler is dispatched");
        it.end(1500);
        // Dispatching read it: the next arm sleeps.
        assert_eq!(it.begin(1500, false), Step::Poll { deadline_ns: 2500 });
        assert_eq!(it.poll_timeout(2500), Step::Arm);

        // A woken iteration reads every readable doorbell, the one that
        // woke it and the others.
        let mut it = qemu();
        assert_eq!(it.begin(0, false), Step::Arm);
        it.block(0);
        it.doorbell(0);
        it.doorbell(0);
        assert_eq!(it.arrival(50), Step::Wake);
        it.doorbell(1);
        it.noticed(60, [0]).unwrap();
        assert_eq!(it.last_handlers(), &[0, 1]);
        it.end(70);
        // QEMU's window is 4000 now; it runs out and the loop sleeps.
        assert_eq!(it.begin(70, false), Step::Poll { deadline_ns: 4070 });
        assert_eq!(it.poll_timeout(4070), Step::Arm);

        // With a zero window the re-check sees the stale doorbell.
        let mut p = Params::defaults(PolicyKind::Fixed);
        p.set(crate::Param::PollMaxNs, 0).unwrap();
        let mut it = IoThread::new(p, 1, 0, u64::MAX);
        it.doorbell(0);
        assert_eq!(it.begin(0, false), Step::Notice);
        assert!(!it.noticed(5, []).unwrap().polled);
        assert_eq!(it.last_handlers(), &[0]);
    }

    #[test]
    fn the_last_iteration_records_each_phase() {
        let mut it = qemu();
        it.begin(0, false);
        it.block(10);
        it.arrival(100);
        it.noticed(130, [1]).unwrap();
        it.end(200);
        let r = it.last_iteration();
        assert_eq!(
            (r.start_ns, r.poll_ns, r.polled, r.slept_ns, r.wake_ns, r.busy_ns),
            (0, 0, false, 90, Some(30), 70)
        );
        // Window 4000 now: polled, found at 450.
        assert_eq!(it.begin(200, false), Step::Poll { deadline_ns: 4200 });
        it.arrival(650);
        it.noticed(650, [0]).unwrap();
        it.end(700);
        let r = it.last_iteration();
        assert_eq!(
            (r.start_ns, r.poll_ns, r.polled, r.slept_ns, r.wake_ns, r.busy_ns),
            (200, 450, true, 0, None, 50)
        );
        // The window runs out, then the loop sleeps: both phases recorded.
        let w = it.iteration_window();
        let deadline = 700 + it.policy().window_ns();
        assert!(w > 0);
        assert_eq!(
            it.begin(700, false),
            Step::Poll {
                deadline_ns: deadline
            }
        );
        assert_eq!(it.poll_timeout(deadline), Step::Arm);
        it.block(deadline);
        it.arrival(deadline + 1000);
        it.noticed(deadline + 1005, [1]).unwrap();
        it.end(deadline + 1010);
        let r = it.last_iteration();
        assert_eq!(
            (r.poll_ns, r.polled, r.slept_ns, r.wake_ns, r.busy_ns),
            (deadline - 700, false, 1000, Some(5), 5)
        );
    }

    #[test]
    fn the_record_carries_the_handlers_and_the_in_flight_count_at_the_start() {
        let mut it = qemu();
        it.set_in_flight(3);
        it.begin(0, false);
        // A change during the iteration counts from the next one.
        it.set_in_flight(7);
        it.block(10);
        it.arrival(100);
        it.noticed(130, [1, 0, 1]).unwrap();
        it.end(200);
        let r = it.last_iteration();
        assert_eq!((r.handlers, r.in_flight), (0b11, 3));
        it.begin(200, false);
        it.arrival(300);
        it.noticed(300, [1]).unwrap();
        it.end(310);
        let r = it.last_iteration();
        assert_eq!((r.handlers, r.in_flight), (0b10, 7));
    }

    #[test]
    fn stray_events_are_ignored() {
        let mut it = qemu();
        assert_eq!(it.poll_timeout(5), Step::Nothing);
        assert_eq!(it.arrival(5), Step::Nothing);
        assert_eq!(it.noticed(5, [0]), None);
    }
}
