use crate::outcome::Outcome;
use crate::params::{Param, ParamError, Params};
use crate::policy::{check_kind, HandlerTable, Policy, PolicyKind};

use super::seen_before;

/// pollwise's own policy: poll only for events that are, on average, nearer
/// than the cost of blocking, and never more than the jitter says is needed.
///
/// The idea is the ski-rental rule (Karlin et al.): when the wait for the
/// next event is memoryless, polling pays off exactly when its mean is
/// below the cost of blocking (wake-up latency and CPU, and the guest's
/// virtqueue kick), whatever the device. QEMU's rule instead polls for any
/// wait up to `poll-max-ns`, so on a device that keeps the IOThread waiting
/// 10-30 us it burns the CPU for the whole wait; the 2026 proposal tracks the
/// mean wait but not its spread, so it misses the slow half of the events
/// and pays wake-ups and kicks for them.
///
/// Each poll handler learns how long the loop waits for the next event
/// after that handler had one: a smoothed mean `srtt` and mean deviation
/// `rttvar` of the following iteration's block time, the integer estimator
/// of TCP's retransmission timer (Jacobson and Karels, 1988; RFC 6298), with
/// gain `2^-poll-weight` for the mean and 1/4 for the deviation. The wait
/// after an event depends on what the event was: after a completion the
/// guest submits again within microseconds, after a submission the device
/// takes as long as it takes. After each iteration, every handler that had
/// an event asks for a window: if the wait that follows it is on average at
/// most `poll-block-cost-ns`, it asks for `srtt + 4 * rttvar` (at least
/// `poll-grow-start-ns`, at most `poll-max-ns`), which covers the jitter and
/// not only the mean; otherwise, or if the last wait after
/// it was longer than `poll-max-ns`, it asks for nothing. Until a handler
/// has a sample of the wait after its events, the wait before its first
/// event stands in for it (what QEMU's rule learns from): a handler that
/// becomes ready after a short wait starts polling, as in QEMU, whose
/// callers rely on it (a level-triggered poll handler whose fd was drained
/// is seen again only by polling; QEMU's `test-nested-aio-poll` hangs when
/// a new handler never polls). The
/// window moves to the largest request: up at once, and down by at most
/// `poll-shrink` per iteration (hysteresis instead of a reset), dropping to 0
/// only when nothing is asked and the shrunk window would fall below
/// `poll-grow-start-ns`.
///
/// The price of blocking is learned on the host it runs on: the loop
/// reports how long each sleep took, from going to sleep to running again
/// (`Outcome::slept_ns`). The short end of those sleeps (the estimate falls
/// by a quarter of the gap towards a shorter one and rises by 1/64 towards a
/// longer one) is the host's wake-up path, and a block costs
/// `BLOCK_COST_WAKEUPS` of them: the loop's wake-up and its CPU, the
/// producer's kick and its CPU. `poll-block-cost-ns` pins the price instead
/// (0, the default, learns it; 24 us until a sleep is measured). A sleep's
/// wake-up is also taken out of the wait it ended, since polling would not
/// have paid it; otherwise a loop that blocks sees its own wake-up in every
/// wait and keeps blocking.
///
/// It is written for QEMU: integers only, three words per handler, O(handlers)
/// per iteration, no allocation in the step (the table grows only when a new
/// handler id appears, as QEMU's handler list does).
#[derive(Clone, Debug)]
pub struct Pollwise {
    params: Params,
    handlers: HandlerTable<Estimate>,
    window_ns: u64,
    /// The host's wake-up path, learned from the loop's sleeps (a low
    /// quantile of `slept_ns`); 0 until the first measured sleep.
    wake_ns: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Estimate {
    /// Smoothed block time and its mean deviation, in ns.
    srtt: u64,
    rttvar: u64,
    /// This handler had an event in the previous iteration, so the current
    /// iteration's block time is a sample of the wait that follows it.
    fired_last: bool,
    /// The last wait after this handler's event was longer than
    /// `poll-max-ns`: the mean is stale, ask for nothing until it is short
    /// again.
    last_long: bool,
    seen: bool,
}

/// The deviation's gain, as in RFC 6298 (beta = 1/4).
const RTTVAR_SHIFT: u32 = 2;

/// The cost of blocking before the loop has measured a sleep (and whenever
/// the host does not measure them): the simulator's hosts wake in 5-8 us.
pub const PRIOR_BLOCK_COST_NS: u64 = 24_000;

/// A block costs about this many wake-up paths: the loop's own wake-up and
/// its CPU, and the producer's kick (a doorbell write through the same
/// kernel, an exit in a VM) and its CPU.
pub const BLOCK_COST_WAKEUPS: u64 = 4;

/// The wake-up estimate falls by 1/4 of the gap towards a shorter sleep and
/// rises by 1/64 of the gap towards a longer one, so it settles at the
/// short end of the sleeps: those whose event was already on its way, which
/// are all wake-up path. One short outlier moves it by a quarter only.
const WAKE_FALL_SHIFT: u32 = 2;
const WAKE_RISE_SHIFT: u32 = 6;

impl Pollwise {
    pub fn new(params: Params) -> Pollwise {
        debug_assert_eq!(params.kind(), PolicyKind::Pollwise);
        Pollwise {
            params,
            handlers: HandlerTable::default(),
            window_ns: 0,
            wake_ns: 0,
        }
    }

    /// The host's wake-up path as learned so far (0: nothing measured).
    pub fn wake_ns(&self) -> u64 {
        self.wake_ns
    }

    /// The price of blocking the rule compares the waits with:
    /// `poll-block-cost-ns` when set, else learned from the loop's sleeps
    /// (`BLOCK_COST_WAKEUPS` wake-up paths), else the prior.
    pub fn block_cost_ns(&self) -> u64 {
        match self.params.get(Param::PollBlockCostNs) {
            0 if self.wake_ns == 0 => PRIOR_BLOCK_COST_NS,
            0 => BLOCK_COST_WAKEUPS * self.wake_ns,
            fixed => fixed,
        }
    }

    /// The largest sample the estimators take: waits beyond twice the
    /// largest useful window all mean "slow", and clamping keeps the sums
    /// far from overflow.
    fn sample_limit(&self) -> u64 {
        let cost = match self.params.get(Param::PollBlockCostNs) {
            0 => PRIOR_BLOCK_COST_NS,
            fixed => fixed,
        };
        2 * self.params.poll_max_ns().max(cost)
    }

    fn weight(&self) -> u32 {
        match self.params.get(Param::PollWeight) {
            0 => 3,
            w => w as u32,
        }
    }

    fn shrink(&self) -> u64 {
        match self.params.get(Param::PollShrink) {
            0 => 2,
            s => s,
        }
    }

    /// What one handler asks the window to be; `sample` is this
    /// iteration's wait.
    fn request(&self, e: &Estimate, cost: u64, sample: u64) -> u64 {
        let max = self.params.poll_max_ns();
        let (srtt, rttvar, last_long) = if e.seen {
            (e.srtt, e.rttvar, e.last_long)
        } else {
            // No sample yet of the wait after this handler's events: the
            // wait before its first event (this iteration's) stands in.
            (sample, 0, sample > max)
        };
        if last_long || srtt > cost {
            return 0;
        }
        // Four deviations, TCP's choice: with two, the SAN preset's
        // latency-bound rows missed enough completions to lose 1.3% IOPS.
        (srtt + 4 * rttvar)
            .max(self.params.get(Param::PollGrowStartNs))
            .min(max)
    }
}

/// `x >> s`, rounded up instead of down.
fn shift_up(x: u64, s: u32) -> u64 {
    (x >> s) + u64::from(x & ((1 << s) - 1) != 0)
}

/// One step of the estimator; every value stays within `0 ..= limit`.
fn update(e: &mut Estimate, sample: u64, weight: u32, max: u64) {
    e.last_long = sample > max;
    if !e.seen {
        // The first sample is the estimate; its deviation is unknown, and
        // starting it at 0 means identical samples never move the window.
        e.srtt = sample;
        e.rttvar = 0;
        e.seen = true;
        return;
    }
    // Unsigned, with the decreases rounded up: exactly C's arithmetic
    // shift of a signed error (`srtt += err >> w` rounds towards minus
    // infinity), so the rule in the docs and this code agree to the ns.
    let err = sample.abs_diff(e.srtt);
    if sample >= e.srtt {
        e.srtt += err >> weight;
    } else {
        e.srtt -= shift_up(err, weight);
    }
    if err >= e.rttvar {
        e.rttvar += (err - e.rttvar) >> RTTVAR_SHIFT;
    } else {
        e.rttvar -= shift_up(e.rttvar - err, RTTVAR_SHIFT);
    }
}

impl Policy for Pollwise {
    fn kind(&self) -> PolicyKind {
        PolicyKind::Pollwise
    }
    fn params(&self) -> &Params {
        &self.params
    }
    fn window_ns(&self) -> u64 {
        self.window_ns
    }

    fn observe(&mut self, outcome: &Outcome<'_>) {
        let max = self.params.poll_max_ns();
        if max == 0 {
            return;
        }
        let limit = self.sample_limit();
        let mut block = outcome.block_ns;
        if outcome.slept_ns > 0 {
            // Learn the wake-up path from the short end of the sleeps.
            let slept = outcome.slept_ns.min(limit);
            self.wake_ns = if self.wake_ns == 0 {
                slept
            } else if slept < self.wake_ns {
                self.wake_ns - ((self.wake_ns - slept) >> WAKE_FALL_SHIFT)
            } else {
                self.wake_ns + ((slept - self.wake_ns) >> WAKE_RISE_SHIFT)
            };
            // What polling would have waited: the wait without the wake-up
            // it would not have paid. Without this, a loop that blocks sees
            // its own wake-up (and the kick it causes) in every wait and
            // keeps blocking.
            block -= outcome.slept_ns.min(self.wake_ns).min(block);
        }
        let sample = block.min(limit);
        let cost = self.block_cost_ns();
        let weight = self.weight();
        for e in self.handlers.iter_mut() {
            if e.fired_last {
                update(e, sample, weight, max);
                e.fired_last = false;
            }
        }
        let mut target = 0;
        for (i, &h) in outcome.handlers.iter().enumerate() {
            if seen_before(outcome.handlers, i) {
                continue;
            }
            if let Some(e) = self.handlers.get_mut(h) {
                e.fired_last = true;
                let e = *e;
                target = target.max(self.request(&e, cost, sample));
            }
        }

        let window = self.window_ns;
        self.window_ns = if target >= window {
            target
        } else {
            let gentle = window / self.shrink();
            if target >= gentle {
                target
            } else if gentle < self.params.get(Param::PollGrowStartNs) && target == 0 {
                0
            } else {
                gentle
            }
        };
        debug_assert!(self.window_ns <= max);
    }

    fn set_params(&mut self, params: Params) -> Result<(), ParamError> {
        check_kind(PolicyKind::Pollwise, &params)?;
        self.params = params;
        // The estimates describe the workload, not the parameters: keep
        // them, and bring the window within the new bound at once.
        self.window_ns = self.window_ns.min(self.params.poll_max_ns());
        Ok(())
    }
}
