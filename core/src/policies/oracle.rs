use crate::kind::PolicyKind;
use crate::outcome::Outcome;
use crate::param::{Param, ParamError};
use crate::params::Params;
use crate::policy::{check_kind, Foresight, Policy};

/// The threshold oracle (`threshold-oracle`; `oracle` is accepted as an old
/// name): told by the simulator how long until the next event, it polls
/// exactly that long when the wait is at most `oracle-threshold-ns` (and
/// within `poll-max-ns`), and otherwise does not poll at all.
///
/// It is **not a lower bound**. Its rule is the offline optimum of one
/// ski-rental decision only if every block costs the same fixed price and
/// nothing else depends on the decision. Neither holds in the IOThread: the
/// price of a miss depends on what arrives (a guest submission costs the
/// guest a kick and a wake-up; a device completion's delay may be hidden
/// by the guest's own work), and each decision changes what follows
/// (batching, when the guest kicks, the next gaps). A single threshold for
/// every event is therefore one heuristic among others, and online policies
/// (QEMU's with a short, slowly shrinking window; pollwise) land below its
/// swept curve. [`crate::policies::Clairvoyant`] prices each event by its
/// kind, and the simulator's rollout searches over decisions; the study
/// builds its frontier from all three.
///
/// Without a call to [`Policy::foresee`] it never polls, so it cannot run on
/// a real device.
#[derive(Clone, Debug)]
pub struct ThresholdOracle {
    params: Params,
    window_ns: u64,
}

impl ThresholdOracle {
    pub fn new(params: Params) -> ThresholdOracle {
        debug_assert_eq!(params.kind(), PolicyKind::ThresholdOracle);
        ThresholdOracle {
            params,
            window_ns: 0,
        }
    }
}

impl Policy for ThresholdOracle {
    fn kind(&self) -> PolicyKind {
        PolicyKind::ThresholdOracle
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
        let limit = self
            .params
            .get(Param::OracleThresholdNs)
            .min(self.params.poll_max_ns());
        let poll = match next.forced {
            Some(poll) => poll && next.gap_ns <= self.params.poll_max_ns(),
            None => next.gap_ns <= limit,
        };
        self.window_ns = if poll { next.gap_ns } else { 0 };
    }
    fn set_params(&mut self, params: Params) -> Result<(), ParamError> {
        check_kind(PolicyKind::ThresholdOracle, &params)?;
        self.params = params;
        self.window_ns = self.window_ns.min(self.params.poll_max_ns());
        Ok(())
    }
}
