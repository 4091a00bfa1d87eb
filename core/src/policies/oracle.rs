use crate::outcome::Outcome;
use crate::params::{Param, ParamError, Params};
use crate::policy::{check_kind, Policy, PolicyKind};

/// The clairvoyant policy: told by the simulator how long until the next
/// event, it polls exactly that long when the wait is at most
/// `oracle-threshold-ns` (and within `poll-max-ns`), and otherwise does not
/// poll at all. This is the offline optimum of the ski-rental problem
/// (Karlin, Manasse, McGeoch, Owicki): with the threshold set to the cost of
/// blocking, no online policy spends less; sweeping the threshold traces the
/// CPU-vs-latency frontier that online policies are measured against.
/// Without a call to [`Policy::foresee`] it never polls, so it cannot run on
/// a real device.
#[derive(Clone, Debug)]
pub struct Oracle {
    params: Params,
    window_ns: u64,
}

impl Oracle {
    pub fn new(params: Params) -> Oracle {
        debug_assert_eq!(params.kind(), PolicyKind::Oracle);
        Oracle {
            params,
            window_ns: 0,
        }
    }
}

impl Policy for Oracle {
    fn kind(&self) -> PolicyKind {
        PolicyKind::Oracle
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
    fn foresee(&mut self, next_event_ns: u64) {
        let limit = self
            .params
            .get(Param::OracleThresholdNs)
            .min(self.params.poll_max_ns());
        self.window_ns = if next_event_ns <= limit {
            next_event_ns
        } else {
            0
        };
    }
    fn set_params(&mut self, params: Params) -> Result<(), ParamError> {
        check_kind(PolicyKind::Oracle, &params)?;
        self.params = params;
        self.window_ns = self.window_ns.min(self.params.poll_max_ns());
        Ok(())
    }
}
