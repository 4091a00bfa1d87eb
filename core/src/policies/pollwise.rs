use crate::kind::PolicyKind;
use crate::outcome::Outcome;
use crate::param::{Param, ParamError};
use crate::params::Params;
use crate::policy::{check_kind, HandlerTable, Policy};

use super::seen_before;

/// pollwise's own policy: poll for the window that, over the waits that
/// followed a handler's events, would have cost the least, counting a wait
/// that outlasts the window as the time polled plus the price of blocking.
///
/// The idea is the ski-rental rule (Karlin et al.) with the wait's
/// distribution learned instead of assumed: for a window `T`, polling costs
/// `E[min(wait, T)] + P(wait > T) * block_cost`, and the best `T` depends on
/// the shape of the waits, not only their mean. On a device that completes
/// in bursts the wait after a submission is either a fraction of a
/// microsecond (the next submission) or longer than `poll-max-ns` (the next
/// burst): the best window catches the first kind and blocks at once for
/// the second, where QEMU's rule and a mean-and-jitter rule both poll to the
/// cap. A wait that is always short gets a window that covers it; a wait
/// that is always long gets none.
///
/// Each poll handler keeps, for each window of a ladder of `LADDER` rungs
/// (0 and `poll-max-ns / 64`, `/ 32`, ... up to `poll-max-ns`), the smoothed
/// `min(wait, T)` and the smoothed share of waits longer than `T`, where
/// "wait" is the following iteration's block time. Both are exponential
/// moving averages with gain `2^-poll-weight`, in integers (the share is
/// scaled by 2^16). After each iteration, every handler that had an event
/// asks for its cheapest rung at the current price of blocking (ties go to
/// the shorter window); rungs shorter than `poll-grow-start-ns`, except 0
/// and the cap, are not asked for. Until a handler has a sample of the wait
/// after its events, the wait before its first event stands in for it (what
/// QEMU's rule learns from): a handler that becomes ready after a short wait
/// starts polling, as in QEMU, whose callers rely on it (a level-triggered
/// poll handler whose fd was drained is seen again only by polling; QEMU's
/// `test-nested-aio-poll` hangs when a new handler never polls). The window
/// moves to the largest request: up at once, and down by at most
/// `poll-shrink` per iteration (hysteresis instead of a reset), dropping to
/// 0 only when nothing is asked and the shrunk window would fall below
/// `poll-grow-start-ns`.
///
/// The price of blocking is what a block costs: one wake-up path of CPU,
/// plus the throughput its delay loses. The wake-up path is learned on the
/// host it runs on: the loop reports how long each sleep took, from going
/// to sleep to running again (`Outcome::slept_ns`), and the short end of
/// those sleeps (the estimate falls by a quarter of the gap towards a
/// shorter one and rises by 1/1024 towards a longer one; a "sleep" under
/// `MIN_SLEEP_NS` returned at once and teaches nothing), each sleep less
/// the part of its wait that was sure to remain (the short end of the
/// waits after the same handlers' events that polling saw end, less the
/// time polled), is the wake-up path `w`. The delay's cost depends on
/// what else is in flight: with `n` requests at the device
/// (`Outcome::in_flight`) a wake-up delays one of `n` requests, so it
/// costs `1/n` of what it costs when everything waits on it. A block is priced at `w + DELAY_WEIGHT * w / max(n, 1)`: at
/// queue depth 1 (or with nothing in flight, when the next event is the
/// guest's) `(1 + DELAY_WEIGHT) w`, far above any window, so the loop
/// polls as QEMU does; with many requests in flight little more than the
/// wake-up's CPU, so waits longer than a wake-up are slept through.
/// `poll-block-cost-ns` pins the price instead (0, the default, learns it;
/// until a sleep is measured `w` is `PRIOR_BLOCK_COST_NS / 4`). A sleep's
/// wake-up is also taken out of the wait it ended, since polling would not
/// have paid it; otherwise a loop that blocks sees its own wake-up in every
/// wait and keeps blocking.
///
/// It is written for QEMU: integers only, `2 * LADDER` words per handler,
/// O(handlers * LADDER) per iteration, no allocation in the step (the table
/// grows only when a new handler id appears, as QEMU's handler list does).
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
    /// Per rung `k` (window `rung(k)`): the smoothed `min(wait, window)`,
    /// in ns, of the waits that followed this handler's events.
    polled: [u64; LADDER],
    /// Per rung: the smoothed share of those waits longer than the window,
    /// scaled by `1 << MISS_SHIFT`.
    missed: [u64; LADDER],
    /// The short end of the waits after this handler's events that polling
    /// saw end (no sleep): a low quantile, tracked as the wake-up path is
    /// (down by a quarter of the gap, up by 1/1024); 0 until one is seen.
    floor_ns: u64,
    /// This handler had an event in the previous iteration, so the current
    /// iteration's block time is a sample of the wait that follows it.
    fired_last: bool,
    seen: bool,
}

/// The windows a handler chooses among: 0 and `poll-max-ns >> (LADDER - 1
/// - k)` for `k` in `1..LADDER`, so the finest rung is 1/64 of the cap.
pub const LADDER: usize = 8;

/// The share of missed waits is kept in units of 2^-16.
const MISS_SHIFT: u32 = 16;

/// The cost of blocking before the loop has measured a sleep (and whenever
/// the host does not measure them): the simulator's hosts wake in 5-8 us.
pub const PRIOR_BLOCK_COST_NS: u64 = 24_000;

/// Until a sleep is measured the wake-up path is taken as this share of
/// the prior: the 24 us are four wake-up paths (the loop's wake-up and its
/// CPU, the producer's kick and its CPU).
pub const PRIOR_WAKEUPS: u64 = 4;

/// What a wake-up's delay costs when it holds up everything in flight, in
/// wake-up paths of CPU: the rule gives up a throughput share `x` only for
/// `DELAY_WEIGHT * x` of the loop's CPU. With `n` requests in flight a
/// delay holds up one of them, so it is weighted `DELAY_WEIGHT / n`.
pub const DELAY_WEIGHT: u64 = 8;

/// A "sleep" shorter than this did not go through the scheduler: the wait
/// returned at once (in QEMU's loop after a poll timeout, `ppoll()` finds
/// the linux-aio eventfd still readable and returns in 0.5-0.7 us). No
/// host's wake-up path is that short, so it is not learned from.
pub const MIN_SLEEP_NS: u64 = 1000;

/// The wake-up estimate falls by 1/4 of the gap towards a shorter sleep and
/// rises by 1/1024 of the gap towards a longer one, so it settles at the
/// short end of the sleeps (about their 1st percentile): those whose event
/// was already on its way, which are all wake-up path. One short outlier
/// moves it by a quarter only. Where every sleep is a long real wait (a
/// virtio disk at queue depth 8) it would read the wait too; each sleep
/// counts less the part of its wait polling has always seen remain
/// (`Pollwise::sure_to_remain`), which leaves the wake-up where the waits
/// have a floor, and nothing is subtracted where they have none. The
/// waits that return at once, which a low quantile would otherwise read,
/// are left out by `MIN_SLEEP_NS` (docs/pollwise-policy.md, "What did not work along the
/// way").
const WAKE_FALL_SHIFT: u32 = 2;
const WAKE_RISE_SHIFT: u32 = 10;

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

    /// The price of blocking the rule compares the waits with, with
    /// `in_flight` requests at the device: `poll-block-cost-ns` when set,
    /// else one wake-up path (learned from the loop's sleeps, else the
    /// prior's share) plus its delay weighted by what the delay holds up,
    /// `w + DELAY_WEIGHT * w / max(in_flight, 1)`.
    pub fn block_cost_ns(&self, in_flight: u32) -> u64 {
        match self.params.get(Param::PollBlockCostNs) {
            0 => {
                let w = match self.wake_ns {
                    0 => PRIOR_BLOCK_COST_NS / PRIOR_WAKEUPS,
                    w => w,
                };
                w + DELAY_WEIGHT * w / u64::from(in_flight.max(1))
            }
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

    /// How much of a sleep's wait was sure to remain when the loop went to
    /// sleep: the loop had polled `block_ns - slept_ns`, and no wait after
    /// the events of the handlers that fired has been seen to end sooner
    /// than their short end (`floor_ns`). The least over those handlers,
    /// and never more than the sleep less `MIN_SLEEP_NS`. A device busy for
    /// 25 us after each submission makes every sleep a real wait; without
    /// this the short end of the sleeps reads that wait as the wake-up.
    fn sure_to_remain(&self, outcome: &Outcome<'_>) -> u64 {
        let polled_for = outcome.block_ns.saturating_sub(outcome.slept_ns);
        let sure = self
            .handlers
            .iter()
            .filter(|e| e.fired_last)
            .map(|e| e.floor_ns.saturating_sub(polled_for))
            .min()
            .unwrap_or(0);
        sure.min(outcome.slept_ns.saturating_sub(MIN_SLEEP_NS))
    }

    /// What one handler asks the window to be: its cheapest rung at price
    /// `cost`. `sample` is this iteration's wait, which stands in for a
    /// handler with no sample yet.
    fn request(&self, e: &Estimate, cost: u64, sample: u64) -> u64 {
        let max = self.params.poll_max_ns();
        let mut first = Estimate::default();
        let e = if e.seen {
            e
        } else {
            update(&mut first, sample, max, self.weight());
            &first
        };
        let floor = self.params.get(Param::PollGrowStartNs);
        let mut best = (u64::MAX, 0);
        for k in 0..LADDER {
            let window = rung(max, k);
            if k != 0 && k != LADDER - 1 && window < floor {
                continue;
            }
            // In units of 2^-16 ns, so that no rounding decides between
            // two rungs (a long wait must never make a longer one cheaper).
            let price = (e.polled[k] << MISS_SHIFT) + e.missed[k] * cost;
            if price < best.0 {
                best = (price, window);
            }
        }
        best.1
    }
}

/// Rung `k` of the ladder of windows under the cap `max`.
fn rung(max: u64, k: usize) -> u64 {
    match k {
        0 => 0,
        k => max >> (LADDER - 1 - k),
    }
}

/// One sample of the wait after a handler's event, at every rung.
fn update(e: &mut Estimate, sample: u64, max: u64, weight: u32) {
    for k in 0..LADDER {
        let window = rung(max, k);
        let polled = sample.min(window);
        let missed = u64::from(sample > window) << MISS_SHIFT;
        if e.seen {
            e.polled[k] = smooth(e.polled[k], polled, weight);
            e.missed[k] = smooth(e.missed[k], missed, weight);
        } else {
            // The first sample is the estimate.
            e.polled[k] = polled;
            e.missed[k] = missed;
        }
    }
    e.seen = true;
}

/// One step of a tracker of the short end of a quantity: down by a quarter
/// of the gap towards a smaller sample, up by 1/1024 towards a larger one,
/// so it settles near the 1st percentile; the first sample (`tracked` 0)
/// is taken as it is.
fn low_end(tracked: u64, sample: u64) -> u64 {
    if tracked == 0 {
        sample
    } else if sample < tracked {
        tracked - ((tracked - sample) >> WAKE_FALL_SHIFT)
    } else {
        tracked + ((sample - tracked) >> WAKE_RISE_SHIFT)
    }
}

/// `x >> s`, rounded up instead of down.
fn shift_up(x: u64, s: u32) -> u64 {
    (x >> s) + u64::from(x & ((1 << s) - 1) != 0)
}

/// One step of an exponential moving average with gain `2^-weight`.
/// Unsigned, with the decreases rounded up: exactly C's arithmetic shift of
/// a signed error (`avg += err >> w` rounds towards minus infinity), so the
/// rule in the QEMU patch and this code agree to the ns.
fn smooth(avg: u64, sample: u64, weight: u32) -> u64 {
    if sample >= avg {
        avg + ((sample - avg) >> weight)
    } else {
        avg - shift_up(avg - sample, weight)
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
        if outcome.slept_ns >= MIN_SLEEP_NS {
            // Learn the wake-up path from the short end of the sleeps, each
            // less the part of its wait that was sure to remain.
            let slept = (outcome.slept_ns - self.sure_to_remain(outcome)).min(limit);
            self.wake_ns = low_end(self.wake_ns, slept);
            // What polling would have waited: the wait without the wake-up
            // it would not have paid. Without this, a loop that blocks sees
            // its own wake-up (and the kick it causes) in every wait and
            // keeps blocking.
            block -= outcome.slept_ns.min(self.wake_ns).min(block);
        }
        let sample = block.min(limit);
        let cost = self.block_cost_ns(outcome.in_flight);
        let weight = self.weight();
        for e in self.handlers.iter_mut() {
            if e.fired_last {
                update(e, sample, max, weight);
                if outcome.slept_ns == 0 {
                    // A wait polling saw end: the short end of such waits.
                    e.floor_ns = low_end(e.floor_ns, sample);
                }
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
