//! One timeline, two drivers of the one loop: the simulator's
//! (`pollwise_sim::loop_driver::LoopDriver` on an event queue) and the real
//! device's (`pollwise_realdev::eventloop::drive`) over a fake clock. Both
//! must report the same iterations to the policy (block_ns, polled or not,
//! which handlers), the same window trajectory and the same kicks, for every
//! policy and any timeline of arrivals.
//!
//! The timeline is a list of arrivals, each on handler 0 (a guest request
//! in the submission queue) or handler 1 (a completion in the AIO ring). A
//! poll pass costs no time, a wake-up `WAKE_NS`, processing `BUSY_NS`; the
//! loop's own times are all even and arrivals odd, so no arrival ties with a
//! deadline (the one place where two correct loops may order events either
//! way).
//!
//! Each timeline runs with QEMU's optional rules off and on ([`Rules`]): the
//! context's notifier as a poll handler, self-notification after
//! processing (linux-aio's bottom half), and doorbells left readable by
//! polling. The simulator reports them as its engine does; the device's
//! driver learns them through `LoopHost::rung` and
//! `LoopHost::notified_self`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};

use pollwise_core::{HandlerId, IoThread, Param, Params, PolicyKind, TracePoint, MAX_TIME_NS};
use pollwise_realdev::eventloop::{drive, LoopHost, AIO_HANDLER, HANDLERS, SUBMIT_HANDLER};
use pollwise_realdev::handoff::{Doorbell, StopSignal, SubmitQueue};
use pollwise_sim::loop_driver::{LoopDriver, LoopEvent};
use proptest::prelude::*;

const WAKE_NS: u64 = 6_000;
const BUSY_NS: u64 = 2_000;
/// The context notifier's handler id, next after the two of `drive`.
const NOTIFIER: HandlerId = HANDLERS as HandlerId;

/// QEMU's optional loop rules, each as the simulator's preset turns it on.
#[derive(Clone, Copy, Debug, Default)]
struct Rules {
    /// The context's notifier is a poll handler (`notifier_polled`).
    notifier: bool,
    /// Processing that submitted or ran the AIO handler calls
    /// `aio_notify()` (`self_notify`).
    self_notify: bool,
    /// Doorbells stay readable when polling finds the work
    /// (`stale_eventfd`): every completion writes the AIO eventfd, every
    /// kick the queue's.
    stale: bool,
}

impl Rules {
    fn all() -> [Rules; 8] {
        std::array::from_fn(|i| Rules {
            notifier: i & 1 != 0,
            self_notify: i & 2 != 0,
            stale: i & 4 != 0,
        })
    }

    fn machine(self, params: &Params) -> IoThread {
        let lp = IoThread::new(params.clone(), HANDLERS, 0, u64::MAX);
        if self.notifier {
            lp.with_context_notifier().0
        } else {
            lp
        }
    }

    /// Whether processing `submitted` requests after `lp`'s notice
    /// schedules a bottom half.
    fn notifies(self, submitted: bool, lp: &IoThread) -> bool {
        self.self_notify && (submitted || lp.last_handlers().contains(&AIO_HANDLER))
    }
}

/// What one iteration reported to the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    block_ns: u64,
    polled: bool,
    slept: bool,
    handlers: Vec<HandlerId>,
    in_flight: u32,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Record {
    iterations: Vec<Seen>,
    trace: Vec<TracePoint>,
    /// Per arrival on handler 0, in order: whether it found notifications
    /// on (a guest would kick).
    kicks: Vec<bool>,
}

fn seen(lp: &IoThread) -> Seen {
    let n = lp.last_noticed().expect("processing follows a notice");
    Seen {
        block_ns: n.block_ns,
        polled: n.polled,
        slept: n.slept,
        handlers: lp.last_handlers().to_vec(),
        in_flight: n.in_flight,
    }
}

// ---- the simulator's driver --------------------------------------------

fn through_sim(params: &Params, rules: Rules, arrivals: &[(u64, HandlerId)]) -> Record {
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    enum Ev {
        Arrival(usize),
        Loop(LoopEvent),
        IterEnd,
    }
    let mut rec = Record::default();
    let mut d = LoopDriver::new(params.clone(), HANDLERS, 0, WAKE_NS, 0, u64::MAX);
    if rules.notifier {
        d = d.with_context_notifier();
    }
    rec.trace.push(d.machine().trace_point(0));
    let mut q = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |q: &mut BinaryHeap<_>, at: u64, ev: Ev| {
        seq += 1;
        q.push(Reverse((at, seq, ev)));
    };
    for (i, &(at, _)) in arrivals.iter().enumerate() {
        push(&mut q, at, Ev::Arrival(i));
    }
    let mut ready: Vec<HandlerId> = Vec::new();
    let mut done = 0;
    let mut in_flight = 0u32;
    if let Some((at, ev)) = d.begin(0, false) {
        push(&mut q, at, Ev::Loop(ev));
    }
    while let Some(Reverse((now, _, ev))) = q.pop() {
        let next = match ev {
            Ev::Arrival(i) => {
                let h = arrivals[i].1;
                ready.push(h);
                sim_arrival(&mut d, rules, &mut rec, now, h)
            }
            Ev::Loop(LoopEvent::PollTimeout { gen }) => d.poll_timeout(now, gen),
            Ev::Loop(LoopEvent::Noticed { gen }) => {
                let handlers = [SUBMIT_HANDLER, AIO_HANDLER]
                    .into_iter()
                    .filter(|h| ready.contains(h));
                if let Some(n) = d.noticed(now, gen, handlers) {
                    rec.iterations.push(seen(d.machine()));
                    rec.trace.extend(n.trace);
                    if rules.notifies(ready.contains(&SUBMIT_HANDLER), d.machine()) {
                        d.notify_self();
                    }
                    done += ready.len();
                    in_flight = after_processing(in_flight, &ready);
                    d.set_in_flight(in_flight);
                    ready.clear();
                    push(&mut q, now + BUSY_NS, Ev::IterEnd);
                }
                None
            }
            Ev::IterEnd => {
                if done == arrivals.len() {
                    break;
                }
                d.end(now, !ready.is_empty())
            }
        };
        if let Some((at, ev)) = next {
            push(&mut q, at, Ev::Loop(ev));
        }
    }
    rec
}

/// Requests at the device after processing `ready` (one entry per arrival):
/// every request is submitted, every completion reaped. The timeline's
/// completions are not tied to its requests, so the count stops at 0.
fn after_processing(in_flight: u32, ready: &[HandlerId]) -> u32 {
    let subs = ready.iter().filter(|&&h| h == SUBMIT_HANDLER).count() as u32;
    let cmps = ready.len() as u32 - subs;
    (in_flight + subs).saturating_sub(cmps)
}

/// An arrival on handler `h` at `now` through the simulator's driver: the
/// doorbell it writes under the stale rule, the loop's next event, and for
/// a request whether it kicked.
fn sim_arrival(
    d: &mut LoopDriver,
    rules: Rules,
    rec: &mut Record,
    now: u64,
    h: HandlerId,
) -> Option<(u64, LoopEvent)> {
    if h == AIO_HANDLER && rules.stale {
        d.doorbell(h);
    }
    let next = d.arrival(now);
    if h == SUBMIT_HANDLER {
        let kick = d.machine().notify_enabled();
        rec.kicks.push(kick);
        if kick && rules.stale {
            d.doorbell(h);
        }
    }
    next
}

// ---- the real device's driver on a fake clock --------------------------

struct FakeDevice<'a> {
    rules: Rules,
    arrivals: &'a [(u64, HandlerId)],
    clock: u64,
    /// Arrivals released so far.
    next: usize,
    queue: &'a SubmitQueue<usize>,
    ring: Vec<usize>,
    done: usize,
    stop: &'a StopSignal,
    rec: Record,
    /// Doorbells written and not yet reported to the machine.
    rung: Vec<HandlerId>,
    /// Requests at the device after the last processing.
    in_flight: u32,
    /// The last processing scheduled a bottom half.
    bottom_half: bool,
}

/// Notes that a request found notifications on (the guest kicks).
struct Kick(AtomicBool);

impl Doorbell for Kick {
    fn ring(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl FakeDevice<'_> {
    /// Moves the clock to `to` and lets every arrival up to then happen.
    fn advance(&mut self, to: u64) {
        self.clock = to;
        while let Some(&(at, h)) = self.arrivals.get(self.next) {
            if at > self.clock {
                break;
            }
            if h == SUBMIT_HANDLER {
                let kick = Kick(AtomicBool::new(false));
                self.queue
                    .push(self.next, &kick)
                    .expect("the queue closes after the last arrival");
                let kicked = kick.0.into_inner();
                self.rec.kicks.push(kicked);
                if kicked && self.rules.stale {
                    self.rung.push(SUBMIT_HANDLER);
                }
            } else {
                self.ring.push(self.next);
                if self.rules.stale {
                    self.rung.push(AIO_HANDLER);
                }
            }
            self.next += 1;
        }
    }
}

impl LoopHost for FakeDevice<'_> {
    type Request = usize;

    fn now(&mut self) -> u64 {
        self.clock
    }

    fn completions_ready(&mut self) -> bool {
        !self.ring.is_empty()
    }

    fn spin(&mut self) {
        self.advance(self.clock + 1);
    }

    fn reset_doorbells(&mut self) {}

    /// Sleeps until the next arrival and wakes `WAKE_NS` later; epoll then
    /// reports every handler with work.
    fn wait(&mut self, handlers: &mut Vec<HandlerId>) -> std::io::Result<()> {
        let (at, _) = self.arrivals[self.next];
        self.advance(at + WAKE_NS);
        if self.queue.has_work() {
            handlers.push(SUBMIT_HANDLER);
        }
        if !self.ring.is_empty() {
            handlers.push(AIO_HANDLER);
        }
        Ok(())
    }

    fn process(&mut self, requests: &mut Vec<usize>, lp: &IoThread) -> std::io::Result<()> {
        self.rec.iterations.push(seen(lp));
        let ready: Vec<HandlerId> = requests
            .iter()
            .map(|_| SUBMIT_HANDLER)
            .chain(self.ring.iter().map(|_| AIO_HANDLER))
            .collect();
        self.in_flight = after_processing(self.in_flight, &ready);
        self.bottom_half = self.rules.notifies(!requests.is_empty(), lp);
        self.done += requests.len() + self.ring.len();
        requests.clear();
        self.ring.clear();
        self.advance(self.clock + BUSY_NS);
        if self.done == self.arrivals.len() {
            self.stop.stop();
        }
        Ok(())
    }

    fn shutdown(&mut self, cancelled: &mut Vec<usize>) -> std::io::Result<()> {
        assert!(cancelled.is_empty());
        Ok(())
    }

    fn trace(&mut self, point: TracePoint) {
        self.rec.trace.push(point);
    }

    fn rung(&mut self, doorbells: &mut Vec<HandlerId>) {
        doorbells.append(&mut self.rung);
    }

    fn notified_self(&mut self) -> bool {
        std::mem::take(&mut self.bottom_half)
    }

    fn in_flight(&self) -> u32 {
        self.in_flight
    }
}

fn through_device(params: &Params, rules: Rules, arrivals: &[(u64, HandlerId)]) -> Record {
    let queue = SubmitQueue::new();
    let stop = StopSignal::new();
    let mut host = FakeDevice {
        rules,
        arrivals,
        clock: 0,
        next: 0,
        queue: &queue,
        ring: Vec::new(),
        done: 0,
        stop: &stop,
        rec: Record::default(),
        rung: Vec::new(),
        bottom_half: false,
        in_flight: 0,
    };
    let mut lp = rules.machine(params);
    drive(&mut lp, &mut host, &queue, &stop, None).unwrap();
    host.rec
}

// ---- the comparison ----------------------------------------------------

/// Odd arrival times from gaps (the loop's own times are even).
fn timeline(gaps: &[(u64, bool)]) -> Vec<(u64, HandlerId)> {
    let mut t = 1;
    gaps.iter()
        .map(|&(gap, completion)| {
            t += 2 * gap;
            (t, HandlerId::from(completion))
        })
        .collect()
}

fn policy(kind: PolicyKind, max: u64) -> Params {
    let mut p = Params::defaults(kind);
    if kind != PolicyKind::Off {
        p.set(Param::PollMaxNs, max.min(MAX_TIME_NS)).unwrap();
    }
    p
}

fn assert_same(params: &Params, rules: Rules, arrivals: &[(u64, HandlerId)]) -> Record {
    let sim = through_sim(params, rules, arrivals);
    let dev = through_device(params, rules, arrivals);
    assert!(!sim.iterations.is_empty());
    assert_eq!(
        sim.iterations, dev.iterations,
        "{params} {rules:?}: outcomes differ"
    );
    assert_eq!(
        sim.trace, dev.trace,
        "{params} {rules:?}: window trajectories differ"
    );
    assert_eq!(sim.kicks, dev.kicks, "{params} {rules:?}: kicks differ");
    sim
}

/// A hand-made timeline that takes every path: a first block from a zero
/// window, growth, hits while polling, a completion and a request close
/// together, long gaps that time the window out, and a burst that lands
/// while the loop is busy.
fn hand_made() -> Vec<(u64, HandlerId)> {
    timeline(&[
        (10_000, false),
        (4_500, false),
        (1_500, false),
        (1_200, true),
        (1_100, false),
        (40_000, false),
        (300, true),
        (500, false),
        (100_000, true),
        (1, false),
        (1, true),
        (1, false),
        (2_000, false),
    ])
}

#[test]
fn hand_made_timeline_gives_identical_outcomes() {
    let arrivals = hand_made();
    for kind in [
        PolicyKind::Qemu,
        PolicyKind::Weighted,
        PolicyKind::KvmHaltPoll,
        PolicyKind::GuestHaltPoll,
        PolicyKind::Fixed,
        PolicyKind::Off,
        PolicyKind::Pollwise,
    ] {
        for rules in Rules::all() {
            assert_same(&Params::defaults(kind), rules, &arrivals);
        }
    }
}

/// The record is not trivially equal: QEMU's rule grew and polled.
#[test]
fn the_hand_made_timeline_polls_grows_and_kicks() {
    let sim = through_sim(
        &Params::defaults(PolicyKind::Qemu),
        Rules::default(),
        &hand_made(),
    );
    assert!(sim.iterations.iter().any(|s| s.polled));
    assert!(sim.iterations.iter().any(|s| !s.polled));
    assert!(sim.trace.len() > 2);
    assert!(
        sim.kicks.contains(&true) && sim.kicks.contains(&false),
        "{sim:#?}"
    );
}

/// Each optional rule changes what the loop does on the hand-made
/// timeline, so the comparisons of `hand_made_timeline_gives_identical_outcomes`
/// cover it.
#[test]
fn each_optional_rule_changes_what_the_loop_does() {
    let arrivals = hand_made();
    let qemu = Params::defaults(PolicyKind::Qemu);
    let with = |rules| assert_same(&qemu, rules, &arrivals);
    let notifier = Rules {
        notifier: true,
        self_notify: true,
        ..Rules::default()
    };
    let polled_notifier = |r: &Record| {
        r.iterations
            .iter()
            .any(|s| s.polled && s.handlers == [NOTIFIER])
    };
    assert!(
        polled_notifier(&with(notifier)),
        "the notifier was never polled"
    );
    // Self-notified without the notifier polled: an armed loop that does
    // not sleep, with no handler at all.
    let armed_at_once = |r: &Record| {
        r.iterations
            .iter()
            .any(|s| !s.polled && !s.slept && s.handlers.is_empty())
    };
    let self_notify = Rules {
        self_notify: true,
        ..Rules::default()
    };
    assert!(
        armed_at_once(&with(self_notify)),
        "self-notification never kept the loop awake"
    );
    assert!(!armed_at_once(&through_sim(
        &qemu,
        Rules::default(),
        &arrivals
    )));
    // A stale doorbell: ppoll() returns at once with only that handler.
    let stale = with(Rules {
        stale: true,
        ..Rules::default()
    });
    assert!(
        stale
            .iterations
            .iter()
            .any(|s| !s.polled && !s.slept && s.handlers == [AIO_HANDLER]),
        "no stale doorbell was dispatched: {stale:#?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_timeline_gives_identical_outcomes(
        gaps in prop::collection::vec((0u64..40_000, any::<bool>()), 1..40),
        kind in prop::sample::select(vec![
            PolicyKind::Qemu, PolicyKind::Weighted, PolicyKind::KvmHaltPoll,
            PolicyKind::Fixed, PolicyKind::Off, PolicyKind::Pollwise,
        ]),
        max in 0u64..100_000,
        (notifier, self_notify, stale) in (any::<bool>(), any::<bool>(), any::<bool>()),
    ) {
        let arrivals = timeline(&gaps);
        let rules = Rules { notifier, self_notify, stale };
        assert_same(&policy(kind, max), rules, &arrivals);
    }
}
