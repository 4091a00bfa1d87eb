use crate::kind::PolicyKind;
use crate::outcome::Outcome;
use crate::param::ParamError;
use crate::params::Params;
use crate::policy::{check_kind, Policy};

/// A constant window of `poll-max-ns`: the static busy-poll setting many
/// pollers (SPDK/DPDK-style) use, and QEMU with `poll-grow`/`poll-shrink`
/// pinned. A reference point, not an adaptive rule.
#[derive(Clone, Debug)]
pub struct Fixed {
    params: Params,
}

impl Fixed {
    pub fn new(params: Params) -> Fixed {
        debug_assert_eq!(params.kind(), PolicyKind::Fixed);
        Fixed { params }
    }
}

impl Policy for Fixed {
    fn kind(&self) -> PolicyKind {
        PolicyKind::Fixed
    }
    fn params(&self) -> &Params {
        &self.params
    }
    fn window_ns(&self) -> u64 {
        self.params.poll_max_ns()
    }
    fn observe(&mut self, _outcome: &Outcome<'_>) {}
    fn set_params(&mut self, params: Params) -> Result<(), ParamError> {
        check_kind(PolicyKind::Fixed, &params)?;
        self.params = params;
        Ok(())
    }
}

/// Never poll: always block and pay the wake-up. QEMU with `poll-max-ns=0`.
#[derive(Clone, Debug)]
pub struct Off {
    params: Params,
}

impl Off {
    pub fn new(params: Params) -> Off {
        debug_assert_eq!(params.kind(), PolicyKind::Off);
        Off { params }
    }
}

impl Policy for Off {
    fn kind(&self) -> PolicyKind {
        PolicyKind::Off
    }
    fn params(&self) -> &Params {
        &self.params
    }
    fn window_ns(&self) -> u64 {
        0
    }
    fn observe(&mut self, _outcome: &Outcome<'_>) {}
    fn set_params(&mut self, params: Params) -> Result<(), ParamError> {
        check_kind(PolicyKind::Off, &params)?;
        self.params = params;
        Ok(())
    }
}
