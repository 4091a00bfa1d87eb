//! One enum over every policy, dispatched by `match` without boxing.

use crate::kind::PolicyKind;
use crate::outcome::Outcome;
use crate::param::ParamError;
use crate::params::Params;
use crate::policy::{Foresight, Policy};

use super::{
    Clairvoyant, Fixed, GuestHaltPoll, KvmHaltPoll, Off, Pollwise, Qemu, ThresholdOracle, Weighted,
};

/// Any policy, dispatched by `match` so the simulator's hot loop needs no
/// virtual calls or boxing.
#[derive(Clone, Debug)]
pub enum AnyPolicy {
    Qemu(Qemu),
    Weighted(Weighted),
    KvmHaltPoll(KvmHaltPoll),
    GuestHaltPoll(GuestHaltPoll),
    Fixed(Fixed),
    Off(Off),
    ThresholdOracle(ThresholdOracle),
    Clairvoyant(Clairvoyant),
    Pollwise(Pollwise),
}

macro_rules! dispatch {
    ($self:expr, $p:ident => $e:expr) => {
        match $self {
            AnyPolicy::Qemu($p) => $e,
            AnyPolicy::Weighted($p) => $e,
            AnyPolicy::KvmHaltPoll($p) => $e,
            AnyPolicy::GuestHaltPoll($p) => $e,
            AnyPolicy::Fixed($p) => $e,
            AnyPolicy::Off($p) => $e,
            AnyPolicy::ThresholdOracle($p) => $e,
            AnyPolicy::Clairvoyant($p) => $e,
            AnyPolicy::Pollwise($p) => $e,
        }
    };
}

impl AnyPolicy {
    /// A fresh policy (window 0) with the given, already validated params.
    pub fn new(params: Params) -> AnyPolicy {
        match params.kind() {
            PolicyKind::Qemu => AnyPolicy::Qemu(Qemu::new(params)),
            PolicyKind::Weighted | PolicyKind::WeightedMerged => {
                AnyPolicy::Weighted(Weighted::new(params))
            }
            PolicyKind::KvmHaltPoll => AnyPolicy::KvmHaltPoll(KvmHaltPoll::new(params)),
            PolicyKind::GuestHaltPoll => AnyPolicy::GuestHaltPoll(GuestHaltPoll::new(params)),
            PolicyKind::Fixed => AnyPolicy::Fixed(Fixed::new(params)),
            PolicyKind::Off => AnyPolicy::Off(Off::new(params)),
            PolicyKind::ThresholdOracle => AnyPolicy::ThresholdOracle(ThresholdOracle::new(params)),
            PolicyKind::Clairvoyant => AnyPolicy::Clairvoyant(Clairvoyant::new(params)),
            PolicyKind::Pollwise => AnyPolicy::Pollwise(Pollwise::new(params)),
        }
    }

    /// Builds a policy from user text: a policy name and `name=value` pairs.
    pub fn from_text<'a, I>(name: &str, pairs: I) -> Result<AnyPolicy, ParamError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let kind = PolicyKind::from_name(name)?;
        Ok(AnyPolicy::new(Params::from_pairs(kind, pairs)?))
    }
}

impl Policy for AnyPolicy {
    fn kind(&self) -> PolicyKind {
        dispatch!(self, p => p.kind())
    }
    fn params(&self) -> &Params {
        dispatch!(self, p => p.params())
    }
    #[inline]
    fn window_ns(&self) -> u64 {
        dispatch!(self, p => p.window_ns())
    }
    #[inline]
    fn observe(&mut self, outcome: &Outcome<'_>) {
        dispatch!(self, p => p.observe(outcome))
    }
    fn set_params(&mut self, params: Params) -> Result<(), ParamError> {
        dispatch!(self, p => p.set_params(params))
    }
    #[inline]
    fn foresee(&mut self, next: &Foresight) {
        dispatch!(self, p => p.foresee(next))
    }
}
