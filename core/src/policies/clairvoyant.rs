use crate::kind::PolicyKind;
use crate::outcome::Outcome;
use crate::param::{Param, ParamError};
use crate::params::Params;
use crate::policy::{check_kind, EventKind, Foresight, Policy};

/// The priced clairvoyant (`clairvoyant`, simulation only): told the time
/// *and kind* of the next event and what a block would cost, it polls until
/// that event when the poll is cheaper than the block at a price of
/// `delay-price-milli` / 1000 ns of IOThread CPU per ns of delay:
///
/// - polling costs the gap in IOThread CPU and delays nothing;
/// - blocking costs the wake-up's CPU, and delays the event by the wake-up
///   latency; a guest submission also pays the kick (a VM exit on the
///   guest's vCPU), while of a device completion's delay the part the guest
///   spends busy anyway (its current work item) is hidden and costs nothing.
///
/// Work already in view (kind [`EventKind::Unknown`], gap 1) is polled, as
/// the threshold oracle does. An event farther than `poll-max-ns` is always
/// blocked for. A host that searches over decisions (the simulator's
/// rollout) may impose one through [`Foresight::forced`].
///
/// What it guarantees: each decision is the cheaper of the two for that
/// event at that price, given everything else fixed. It is **not** a global
/// optimum: a decision changes what follows (how requests batch, whether
/// the guest's next request finds notifications on, the gaps after it), and
/// the per-decision price ignores that. Swept over the price it traces a
/// curve of (IOPS, IOThread CPU) points, each achievable by a clairvoyant,
/// none proven optimal; the study takes the lower envelope of this curve,
/// the threshold oracle's and the rollout's as its best-known frontier.
#[derive(Clone, Debug)]
pub struct Clairvoyant {
    params: Params,
    window_ns: u64,
}

impl Clairvoyant {
    pub fn new(params: Params) -> Clairvoyant {
        debug_assert_eq!(params.kind(), PolicyKind::Clairvoyant);
        Clairvoyant {
            params,
            window_ns: 0,
        }
    }

    /// Whether polling until the event is cheaper than blocking for it.
    pub fn polls(params: &Params, next: &Foresight) -> bool {
        if next.gap_ns > params.poll_max_ns() {
            return false;
        }
        if let Some(poll) = next.forced {
            return poll;
        }
        let delay_ns = match next.kind {
            EventKind::Unknown => return true,
            EventKind::Submission => next.wake_ns.saturating_add(next.kick_ns),
            EventKind::Completion => next.wake_ns.saturating_sub(next.hidden_ns),
        };
        let price_milli = u128::from(params.get(Param::DelayPriceMilli));
        let poll_cost = u128::from(next.gap_ns) * 1000;
        let block_cost = u128::from(next.wake_cpu_ns) * 1000 + price_milli * u128::from(delay_ns);
        poll_cost <= block_cost
    }
}

impl Policy for Clairvoyant {
    fn kind(&self) -> PolicyKind {
        PolicyKind::Clairvoyant
    }
    fn params(&self) -> &Params {
        &self.params
    }
    fn window_ns(&self) -> u64 {
        self.window_ns
    }
    fn observe(&mut self, _outcome: &Outcome<'_>) {
        self.window_ns = 0;
    }
    fn foresee(&mut self, next: &Foresight) {
        self.window_ns = if Clairvoyant::polls(&self.params, next) {
            next.gap_ns
        } else {
            0
        };
    }
    fn set_params(&mut self, params: Params) -> Result<(), ParamError> {
        check_kind(PolicyKind::Clairvoyant, &params)?;
        self.params = params;
        self.window_ns = self.window_ns.min(self.params.poll_max_ns());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(price_milli: u64) -> Params {
        Params::from_pairs(
            PolicyKind::Clairvoyant,
            [("delay-price-milli", price_milli.to_string().as_str())],
        )
        .unwrap()
    }

    fn next(gap_ns: u64, kind: EventKind, hidden_ns: u64) -> Foresight {
        Foresight {
            gap_ns,
            kind,
            wake_ns: 5000,
            wake_cpu_ns: 2000,
            kick_ns: 3000,
            hidden_ns,
            ..Foresight::known_gap(0)
        }
    }

    #[test]
    fn prices_a_submission_above_a_hidden_completion() {
        // Price 1: a submission's block costs 2000 + 8000, a completion's
        // 2000 + 5000, a fully hidden completion's 2000.
        let p = params(1000);
        assert!(Clairvoyant::polls(
            &p,
            &next(9000, EventKind::Submission, 0)
        ));
        assert!(!Clairvoyant::polls(
            &p,
            &next(9000, EventKind::Completion, 0)
        ));
        assert!(Clairvoyant::polls(
            &p,
            &next(6000, EventKind::Completion, 0)
        ));
        assert!(!Clairvoyant::polls(
            &p,
            &next(6000, EventKind::Completion, 9000)
        ));
        assert!(Clairvoyant::polls(
            &p,
            &next(2000, EventKind::Completion, 9000)
        ));
    }

    #[test]
    fn price_zero_polls_only_what_is_cheaper_than_a_wakeup_and_never_past_the_max() {
        let p = params(0);
        assert!(Clairvoyant::polls(
            &p,
            &next(1999, EventKind::Submission, 0)
        ));
        assert!(!Clairvoyant::polls(
            &p,
            &next(2001, EventKind::Submission, 0)
        ));
        let p = params(1_000_000);
        assert!(Clairvoyant::polls(
            &p,
            &next(32768, EventKind::Submission, 0)
        ));
        assert!(!Clairvoyant::polls(
            &p,
            &next(32769, EventKind::Submission, 0)
        ));
    }

    #[test]
    fn a_forced_decision_wins_within_the_max() {
        let p = params(0);
        let mut f = next(20000, EventKind::Submission, 0);
        f.forced = Some(true);
        assert!(Clairvoyant::polls(&p, &f));
        f.gap_ns = 40000;
        assert!(!Clairvoyant::polls(&p, &f));
        let mut f = next(10, EventKind::Unknown, 0);
        f.forced = Some(false);
        assert!(!Clairvoyant::polls(&p, &f));
    }
}
