//! The IOThread machine under random legal event sequences, against an
//! independent model of its rules (the way TigerBeetle's state checker
//! follows its replicas).
//!
//! The test is a host that knows nothing but the steps it is returned: in
//! each state it picks one of the calls that are legal there (and stray
//! events the machine must ignore), with time moving forward by random
//! amounts, ties included. After every call the model checks:
//!
//! - the step is the one the rules give (poll with the policy's window,
//!   arm at a zero window, notice at once when work is pending, the context
//!   was notified or a doorbell is readable, wake only a sleeping loop);
//! - notifications are on exactly while the loop is armed or asleep (from
//!   arming, or a zero-window start, until the next poll phase);
//! - a sleeping loop leaves its sleep only through an arrival;
//! - each notice reports `block_ns` from the start of the iteration, polled
//!   and slept as the path taken, each handler once (the notifier when a
//!   pass found it, stale doorbells when the iteration went through
//!   `ppoll()`), and a trace point exactly when the window changed;
//! - the window stays within the policy's bounds;
//! - the counters are exactly the model's, never decrease, and poll, busy
//!   and blocked time add up to at most the time elapsed.

use pollwise_core::{
    HandlerId, IoThread, LoopCounters, Noticed, Param, Params, Policy, PolicyKind, Step,
    MAX_TIME_NS,
};
use proptest::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    Idle,
    Polling { deadline: u64 },
    Arming,
    Asleep,
    Noticing { polled: bool, slept: bool },
    Processing,
}

/// The model: the loop's rules written again from the module's docs.
#[derive(Debug)]
struct Model {
    at: At,
    now: u64,
    iter_start: u64,
    armed_at: u64,
    blocked_at: u64,
    noticed_at: u64,
    notify: bool,
    notified: bool,
    readable: Vec<bool>,
    notifier: Option<HandlerId>,
    max_ns: u64,
    c: LoopCounters,
}

/// One random choice: which legal call, how much later, which handler,
/// and a flag (work pending at `begin`).
type Choice = (u8, u64, u8, bool);

impl Model {
    fn new(handlers: u32, notifier: bool, max_ns: u64) -> Model {
        let all = handlers + u32::from(notifier);
        Model {
            at: At::Idle,
            now: 0,
            iter_start: 0,
            armed_at: 0,
            blocked_at: 0,
            noticed_at: 0,
            notify: true,
            notified: false,
            readable: vec![false; all as usize],
            notifier: notifier.then_some(handlers as HandlerId),
            max_ns,
            c: LoopCounters::default(),
        }
    }

    fn any_readable(&self) -> bool {
        self.readable.contains(&true)
    }

    /// `begin`: what the rules say for a loop whose window is `window`.
    fn begin(&mut self, t: u64, pending: bool, window: u64) -> Step {
        self.iter_start = t;
        self.armed_at = t;
        self.notify = window == 0;
        let notifier_polled = window > 0 && self.notified && self.notifier.is_some();
        let at_once = window == 0 && (self.notified || self.any_readable());
        if pending || notifier_polled || at_once {
            self.at = At::Noticing {
                polled: window > 0 && (pending || notifier_polled),
                slept: false,
            };
            Step::Notice
        } else if window > 0 {
            self.at = At::Polling {
                deadline: t + window,
            };
            Step::Poll {
                deadline_ns: t + window,
            }
        } else {
            self.at = At::Arming;
            Step::Arm
        }
    }

    fn poll_timeout(&mut self, t: u64) -> Step {
        self.c.poll_ns += t - self.iter_start;
        self.notify = true;
        self.armed_at = t;
        if self.notified || self.any_readable() {
            self.at = At::Noticing {
                polled: false,
                slept: false,
            };
            Step::Notice
        } else {
            self.at = At::Arming;
            Step::Arm
        }
    }

    fn arrival(&mut self, t: u64) -> Step {
        let (polled, slept) = match self.at {
            At::Polling { .. } => (true, false),
            At::Arming => (false, false),
            At::Asleep => (false, true),
            _ => return Step::Nothing,
        };
        if slept {
            self.c.wakeups += 1;
            self.c.blocked_ns += t - self.blocked_at;
        }
        self.at = At::Noticing { polled, slept };
        if slept {
            Step::Wake
        } else {
            Step::Notice
        }
    }

    /// `noticed`: the handlers the machine must report, in order.
    fn noticed(&mut self, t: u64, given: &[HandlerId]) -> (Vec<HandlerId>, bool, bool) {
        let At::Noticing { polled, slept } = self.at else {
            unreachable!("only called while noticing")
        };
        if polled {
            self.c.poll_ns += t - self.iter_start;
        } else if !slept {
            self.c.busy_ns += t - self.armed_at;
        }
        let notifier = self.notifier.filter(|_| self.notified && polled);
        let through_ppoll = !polled && self.any_readable();
        let stale = (0..self.readable.len() as HandlerId)
            .filter(|&h| through_ppoll && self.readable[h as usize]);
        let mut reported: Vec<HandlerId> = Vec::new();
        for h in given.iter().copied().chain(notifier).chain(stale) {
            if !reported.contains(&h) {
                reported.push(h);
            }
        }
        self.notified = false;
        if through_ppoll {
            self.readable.fill(false);
        }
        self.c.iterations += 1;
        self.c.polled_hits += u64::from(polled);
        self.noticed_at = t;
        self.at = At::Processing;
        (reported, polled, slept)
    }

    fn end(&mut self, t: u64) {
        self.c.busy_ns += t - self.noticed_at;
        self.at = At::Idle;
    }
}

/// The test host: one machine, its model, and the checks.
struct Host {
    lp: IoThread,
    m: Model,
    handlers: u32,
}

impl Host {
    fn later(&mut self, delta: u64) -> u64 {
        self.m.now += delta;
        self.m.now
    }

    fn handler(&self, pick: u8) -> HandlerId {
        HandlerId::from(pick) % self.m.readable.len() as HandlerId
    }

    /// Runs one choice; the legal calls depend on the state.
    fn act(&mut self, (pick, delta, h, flag): Choice) {
        let h = self.handler(h);
        match (self.m.at, pick % 4) {
            (At::Idle | At::Processing, 0) => {
                self.lp.notify_self();
                self.m.notified = true;
            }
            (_, 1) => {
                self.lp.doorbell(h);
                self.m.readable[h as usize] = true;
            }
            (At::Idle, _) => self.begin(delta, flag),
            (At::Polling { deadline }, 2) => {
                let t = self.later(delta % (deadline - self.m.now + 1));
                self.arrival(t);
            }
            (At::Polling { deadline }, _) => {
                let t = deadline.max(self.m.now) + delta % 3;
                self.m.now = t;
                let (got, want) = (self.lp.poll_timeout(t), self.m.poll_timeout(t));
                assert_eq!(got, want, "poll_timeout at {t}");
            }
            (At::Arming, 2) => {
                let t = self.later(delta);
                self.lp.block(t);
                self.m.blocked_at = t;
                self.m.at = At::Asleep;
            }
            (At::Asleep, 2) => self.stray_timeout(delta),
            (At::Arming | At::Asleep, _) => {
                let t = self.later(delta);
                self.arrival(t);
            }
            (At::Noticing { .. }, 2) | (At::Processing, 2) => {
                let t = self.later(delta);
                assert_eq!(self.lp.arrival(t), Step::Nothing, "a late arrival");
            }
            (At::Noticing { .. }, _) => self.noticed(delta, h),
            (At::Processing, _) => {
                let t = self.later(delta);
                self.lp.end(t);
                self.m.end(t);
            }
        }
        self.check();
    }

    fn begin(&mut self, delta: u64, pending: bool) {
        let t = self.later(delta);
        let window = self.lp.policy().window_ns();
        assert!(window <= self.m.max_ns, "window {window} over its bound");
        let (got, want) = (self.lp.begin(t, pending), self.m.begin(t, pending, window));
        assert_eq!(
            got, want,
            "begin at {t}, window {window}, pending {pending}"
        );
    }

    fn arrival(&mut self, t: u64) {
        let (got, want) = (self.lp.arrival(t), self.m.arrival(t));
        assert_eq!(got, want, "arrival at {t}");
    }

    /// A poll timeout of an iteration that has moved on: a sleeping loop
    /// stays asleep.
    fn stray_timeout(&mut self, delta: u64) {
        let t = self.later(delta);
        assert_eq!(self.lp.poll_timeout(t), Step::Nothing, "a stray timeout");
        let t = self.later(0);
        self.arrival(t);
        assert_eq!(
            self.m.at,
            At::Noticing {
                polled: false,
                slept: true
            }
        );
    }

    fn noticed(&mut self, delta: u64, h: HandlerId) {
        let t = self.later(delta);
        let given: Vec<HandlerId> = (0..self.handlers as HandlerId)
            .filter(|&g| g == h || (g + h).is_multiple_of(3))
            .collect();
        let before = self.lp.policy().window_ns();
        let n: Noticed = self.lp.noticed(t, given.iter().copied()).expect("noticing");
        let (handlers, polled, slept) = self.m.noticed(t, &given);
        assert_eq!(self.lp.last_handlers(), handlers, "handlers at {t}");
        assert_eq!((n.polled, n.slept), (polled, slept), "path at {t}");
        assert_eq!(n.block_ns, t - self.m.iter_start, "block_ns at {t}");
        let after = self.lp.policy().window_ns();
        assert!(after <= self.m.max_ns, "window {after} over its bound");
        assert_eq!(
            n.trace.is_some(),
            after != before,
            "a trace point iff the window moved"
        );
        if let Some(p) = n.trace {
            assert_eq!((p.time_ns, p.window_ns), (t, after));
        }
    }

    fn check(&self) {
        assert_eq!(
            self.lp.notify_enabled(),
            self.m.notify,
            "notifications in {:?}",
            self.m.at
        );
        let c = self.lp.counters();
        assert_eq!(
            (c.poll_ns, c.busy_ns, c.blocked_ns),
            (self.m.c.poll_ns, self.m.c.busy_ns, self.m.c.blocked_ns),
            "time accounting in {:?}",
            self.m.at
        );
        assert_eq!(
            (c.wakeups, c.iterations, c.polled_hits),
            (self.m.c.wakeups, self.m.c.iterations, self.m.c.polled_hits),
            "event counts"
        );
        assert!(
            c.poll_ns + c.busy_ns + c.blocked_ns <= self.m.now,
            "more time than elapsed"
        );
    }
}

/// Counters never decrease from one call to the next.
fn monotonic(a: &LoopCounters, b: &LoopCounters) -> bool {
    b.poll_ns >= a.poll_ns
        && b.busy_ns >= a.busy_ns
        && b.blocked_ns >= a.blocked_ns
        && b.wakeups >= a.wakeups
        && b.iterations >= a.iterations
        && b.polled_hits >= a.polled_hits
}

fn params(kind: PolicyKind, max: u64) -> Params {
    let mut p = Params::defaults(kind);
    if kind != PolicyKind::Off {
        p.set(Param::PollMaxNs, max.min(MAX_TIME_NS)).unwrap();
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_legal_sequences_keep_the_invariants(
        kind in prop::sample::select(vec![
            PolicyKind::Qemu, PolicyKind::Weighted, PolicyKind::WeightedMerged,
            PolicyKind::KvmHaltPoll, PolicyKind::GuestHaltPoll, PolicyKind::Fixed,
            PolicyKind::Off, PolicyKind::Pollwise,
        ]),
        max in prop_oneof![Just(0u64), 1u64..100_000],
        handlers in 1u32..4,
        notifier in any::<bool>(),
        choices in prop::collection::vec(
            (any::<u8>(), prop_oneof![Just(0u64), 0u64..200, 0u64..100_000], any::<u8>(), any::<bool>()),
            1..300,
        ),
    ) {
        let p = params(kind, max);
        let max_ns = p.poll_max_ns();
        let lp = IoThread::new(p, handlers, 0, u64::MAX);
        let lp = if notifier { lp.with_context_notifier().0 } else { lp };
        let mut host = Host { lp, m: Model::new(handlers, notifier, max_ns), handlers };
        for choice in choices {
            let before = host.lp.counters().clone();
            host.act(choice);
            prop_assert!(monotonic(&before, host.lp.counters()));
        }
        let c = host.lp.clone().finish(host.m.now);
        prop_assert!(c.poll_ns + c.busy_ns + c.blocked_ns <= host.m.now);
    }
}
