//! The policy contract, the registry of policy kinds, and one enum that
//! dispatches to them without boxing.

use std::fmt;

use crate::outcome::{HandlerId, Outcome, MAX_HANDLER_ID};
use crate::params::{
    Param, ParamError, ParamSpec, Params, MAX_FACTOR, MAX_TIME_NS, MAX_WEIGHT_SHIFT,
};
use crate::policies::{
    Clairvoyant, Fixed, GuestHaltPoll, KvmHaltPoll, Off, Pollwise, Qemu, ThresholdOracle, Weighted,
};

/// A poll-window policy: a state machine over integer nanoseconds.
///
/// Each iteration the host reads [`Policy::window_ns`], busy-polls for at
/// most that long, blocks if nothing came, and then reports the iteration
/// with [`Policy::observe`]. The policy never reads a clock; all time comes in
/// through the outcome. After every call `0 <= window_ns() <=
/// params().poll_max_ns()` holds (for `fixed`, the window is its own bound).
pub trait Policy {
    fn kind(&self) -> PolicyKind;
    fn params(&self) -> &Params;
    /// The window the next iteration may poll for.
    fn window_ns(&self) -> u64;
    /// Adjusts the window after one iteration.
    fn observe(&mut self, outcome: &Outcome<'_>);
    /// Changes parameters on a live policy (QEMU's `qom-set` on an IOThread).
    /// The window is brought within the new bounds at once.
    fn set_params(&mut self, params: Params) -> Result<(), ParamError>;
    /// Tells a clairvoyant policy about the next event; only the simulator
    /// can know this. Online policies ignore it.
    fn foresee(&mut self, _next: &Foresight) {}
}

/// What the next event of an IOThread is, for a clairvoyant policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EventKind {
    /// Not said (work already in view, or a host that does not know).
    #[default]
    Unknown,
    /// The guest queued a request: a block makes it kick and wait.
    Submission,
    /// The device completed a request: a block delays its delivery.
    Completion,
}

/// What a host that knows the future tells a clairvoyant policy at the
/// start of an iteration: when the next event comes and what a block for it
/// would cost. The loop fills in `gap_ns`; the host the rest.
///
/// Clairvoyance is a type only the simulator can build: the fields are
/// public to read, but `#[non_exhaustive]` keeps struct literals out, and the
/// constructors exist only with this crate's `clairvoyance` feature, which
/// only `pollwise-sim` turns on. A host of real threads (realdev) cannot
/// make one, so it cannot settle an iteration after the fact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Foresight {
    /// From the start of the iteration to the event, plus one pass.
    pub gap_ns: u64,
    pub kind: EventKind,
    /// Latency a block adds before the loop runs again (the wake-up).
    pub wake_ns: u64,
    /// IOThread CPU a wake-up costs.
    pub wake_cpu_ns: u64,
    /// Guest CPU of the kick a block makes a submission pay.
    pub kick_ns: u64,
    /// Of a completion's delay, how much the guest would spend busy anyway.
    pub hidden_ns: u64,
    /// A decision imposed by a host that searches over decisions (the
    /// simulator's rollout): `Some(true)` polls (if within `poll-max-ns`),
    /// `Some(false)` blocks.
    pub forced: Option<bool>,
}

impl Foresight {
    /// Only the gap is known (inside this crate: work already in view).
    pub(crate) fn known_gap(gap_ns: u64) -> Foresight {
        Foresight {
            gap_ns,
            kind: EventKind::Unknown,
            wake_ns: 0,
            wake_cpu_ns: 0,
            kick_ns: 0,
            hidden_ns: 0,
            forced: None,
        }
    }
}

#[cfg(feature = "clairvoyance")]
impl Foresight {
    /// Nothing is known yet; the loop fills in the gap.
    pub fn unknown() -> Foresight {
        Foresight::known_gap(0)
    }

    /// Only the gap is known.
    pub fn gap(gap_ns: u64) -> Foresight {
        Foresight::known_gap(gap_ns)
    }

    /// The next event is of `kind`; a wake-up for it costs `wake_cpu_ns`
    /// of IOThread CPU, a kick `kick_ns` of guest CPU, and the guest hides
    /// `hidden_ns` of a completion's delay; `forced` imposes a decision.
    pub fn event(
        kind: EventKind,
        wake_cpu_ns: u64,
        kick_ns: u64,
        hidden_ns: u64,
        forced: Option<bool>,
    ) -> Foresight {
        Foresight {
            kind,
            wake_cpu_ns,
            kick_ns,
            hidden_ns,
            forced,
            ..Foresight::known_gap(0)
        }
    }

    /// The same, with a block's wake-up latency.
    pub fn with_wake_ns(self, wake_ns: u64) -> Foresight {
        Foresight { wake_ns, ..self }
    }

    /// The same, with the gap to the event.
    pub fn with_gap_ns(self, gap_ns: u64) -> Foresight {
        Foresight { gap_ns, ..self }
    }
}

/// Every policy this crate provides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyKind {
    Qemu,
    Weighted,
    WeightedMerged,
    KvmHaltPoll,
    GuestHaltPoll,
    Fixed,
    Off,
    ThresholdOracle,
    Clairvoyant,
    Pollwise,
}

const QEMU_SPECS: &[ParamSpec] = &[
    ParamSpec {
        param: Param::PollMaxNs,
        default: 32768,
        min: 0,
        max: MAX_TIME_NS,
        help: "maximum polling time; 0 disables polling (IOThread default 32768)",
    },
    ParamSpec {
        param: Param::PollGrow,
        default: 0,
        min: 0,
        max: MAX_FACTOR,
        help: "growth factor; 0 means 2",
    },
    ParamSpec {
        param: Param::PollShrink,
        default: 0,
        min: 0,
        max: MAX_FACTOR,
        help: "shrink divisor; 0 means reset to 0 at once",
    },
];

const WEIGHTED_SPECS: &[ParamSpec] = &[
    QEMU_SPECS[0],
    QEMU_SPECS[1],
    ParamSpec {
        param: Param::PollShrink,
        default: 0,
        min: 0,
        max: MAX_FACTOR,
        help: "shrink divisor; 0 means 2 (the proposal's new default)",
    },
    ParamSpec {
        param: Param::PollWeight,
        default: 0,
        min: 0,
        max: MAX_WEIGHT_SHIFT,
        help: "EWMA weight as a shift: a new sample counts 2^-w; 0 means 2",
    },
];

/// The proposal as merged (May 2026): the defaults live in iothread.c.
const WEIGHTED_MERGED_SPECS: &[ParamSpec] = &[
    QEMU_SPECS[0],
    ParamSpec {
        param: Param::PollGrow,
        default: 2,
        min: 0,
        max: MAX_FACTOR,
        help: "growth factor (IOTHREAD_POLL_GROW_DEFAULT 2); 0 means 2",
    },
    ParamSpec {
        param: Param::PollShrink,
        default: 2,
        min: 0,
        max: MAX_FACTOR,
        help: "shrink divisor (IOTHREAD_POLL_SHRINK_DEFAULT 2); 0 means 2",
    },
    ParamSpec {
        param: Param::PollWeight,
        default: 3,
        min: 0,
        max: MAX_WEIGHT_SHIFT,
        help: "EWMA weight as a shift (IOTHREAD_POLL_WEIGHT_DEFAULT 3); 0 means 3",
    },
];

const KVM_SPECS: &[ParamSpec] = &[
    ParamSpec {
        param: Param::PollMaxNs,
        default: 200_000,
        min: 0,
        max: MAX_TIME_NS,
        help: "halt_poll_ns: maximum polling time (x86 default 200000); 0 disables",
    },
    ParamSpec {
        param: Param::PollGrow,
        default: 2,
        min: 0,
        max: MAX_FACTOR,
        help: "halt_poll_ns_grow; 0 never grows",
    },
    ParamSpec {
        param: Param::PollGrowStartNs,
        default: 10_000,
        min: 0,
        max: MAX_TIME_NS,
        help: "halt_poll_ns_grow_start: first window; a shrink below it goes to 0",
    },
    ParamSpec {
        param: Param::PollShrink,
        default: 2,
        min: 0,
        max: MAX_FACTOR,
        help: "halt_poll_ns_shrink; 0 resets to 0 at once",
    },
];

const GUEST_HALTPOLL_SPECS: &[ParamSpec] = &[
    ParamSpec {
        param: Param::PollMaxNs,
        default: 200_000,
        min: 0,
        max: MAX_TIME_NS,
        help: "guest_halt_poll_ns: maximum polling time",
    },
    // Linux accepts 0 here, but then a "grow" sets the window to the grow
    // start, which can lower it; we refuse that degenerate setting.
    ParamSpec {
        param: Param::PollGrow,
        default: 2,
        min: 1,
        max: MAX_FACTOR,
        help: "guest_halt_poll_grow",
    },
    ParamSpec {
        param: Param::PollGrowStartNs,
        default: 50_000,
        min: 0,
        max: MAX_TIME_NS,
        help: "guest_halt_poll_grow_start: first window; a shrink below it goes to 0",
    },
    ParamSpec {
        param: Param::PollShrink,
        default: 2,
        min: 0,
        max: MAX_FACTOR,
        help: "guest_halt_poll_shrink; 0 resets to 0 at once",
    },
];

const FIXED_SPECS: &[ParamSpec] = &[ParamSpec {
    param: Param::PollMaxNs,
    default: 32768,
    min: 0,
    max: MAX_TIME_NS,
    help: "the constant window",
}];

const ORACLE_SPECS: &[ParamSpec] = &[
    ParamSpec {
        param: Param::PollMaxNs,
        default: 32768,
        min: 0,
        max: MAX_TIME_NS,
        help: "never poll longer than this",
    },
    ParamSpec {
        param: Param::OracleThresholdNs,
        default: 32768,
        min: 0,
        max: MAX_TIME_NS,
        help: "poll exactly until the next event when it is at most this far away",
    },
];

const CLAIRVOYANT_SPECS: &[ParamSpec] = &[
    ParamSpec {
        param: Param::PollMaxNs,
        default: 32768,
        min: 0,
        max: MAX_TIME_NS,
        help: "never poll longer than this",
    },
    ParamSpec {
        param: Param::DelayPriceMilli,
        default: 1000,
        min: 0,
        max: MAX_TIME_NS,
        help: "IOThread CPU ns worth 1000 ns of delay to the guest: poll when the gap costs less than the wake-up CPU plus the priced delay",
    },
];

const POLLWISE_SPECS: &[ParamSpec] = &[
    QEMU_SPECS[0],
    ParamSpec {
        param: Param::PollBlockCostNs,
        default: 0,
        min: 0,
        max: MAX_TIME_NS,
        help: "cost of blocking (wake-up + kick); poll only for events nearer than this on average; 0 means learned from the loop's sleeps (4 wake-ups; 24000 until one is measured)",
    },
    ParamSpec {
        param: Param::PollWeight,
        default: 0,
        min: 0,
        max: 16,
        help: "gain of the mean block time as a shift: a new sample counts 2^-w; 0 means 3",
    },
    ParamSpec {
        param: Param::PollShrink,
        default: 0,
        min: 0,
        max: MAX_FACTOR,
        help: "largest divisor of one shrink step; 0 means 2",
    },
    ParamSpec {
        param: Param::PollGrowStartNs,
        default: 4000,
        min: 0,
        max: MAX_TIME_NS,
        help: "a window shrinking below this may drop to 0",
    },
];

impl PolicyKind {
    pub const ALL: [PolicyKind; 10] = [
        PolicyKind::Qemu,
        PolicyKind::Weighted,
        PolicyKind::WeightedMerged,
        PolicyKind::KvmHaltPoll,
        PolicyKind::GuestHaltPoll,
        PolicyKind::Fixed,
        PolicyKind::Off,
        PolicyKind::ThresholdOracle,
        PolicyKind::Clairvoyant,
        PolicyKind::Pollwise,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Qemu => "qemu",
            PolicyKind::Weighted => "weighted",
            PolicyKind::WeightedMerged => "weighted-merged",
            PolicyKind::KvmHaltPoll => "kvm-halt-poll",
            PolicyKind::GuestHaltPoll => "guest-haltpoll",
            PolicyKind::Fixed => "fixed",
            PolicyKind::Off => "off",
            PolicyKind::ThresholdOracle => "threshold-oracle",
            PolicyKind::Clairvoyant => "clairvoyant",
            PolicyKind::Pollwise => "pollwise",
        }
    }

    /// The old name of the threshold oracle, still accepted.
    pub const OLD_ORACLE_NAME: &'static str = "oracle";

    /// A kind by name; [`PolicyKind::OLD_ORACLE_NAME`] is accepted for the
    /// threshold oracle (see [`PolicyKind::renamed_from`]).
    pub fn from_name(name: &str) -> Result<PolicyKind, ParamError> {
        if name == PolicyKind::OLD_ORACLE_NAME {
            return Ok(PolicyKind::ThresholdOracle);
        }
        PolicyKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| ParamError::UnknownPolicy {
                name: name.to_string(),
                known: PolicyKind::ALL.iter().map(|k| k.name()).collect(),
            })
    }

    /// A note for a user who named a policy by its old name.
    pub fn renamed_from(name: &str) -> Option<String> {
        (name == PolicyKind::OLD_ORACLE_NAME).then(|| {
            "note: policy `oracle` is now `threshold-oracle` (it is not a lower bound; see \
             `clairvoyant` and the study's frontier)"
                .to_string()
        })
    }

    pub fn description(self) -> &'static str {
        match self {
            PolicyKind::Qemu => "QEMU 10.x adjust_polling_time: per-handler grow x2 from 4 us, reset to 0 on a long block",
            PolicyKind::Weighted => "2026 proposal as benchmarked (RFC v1, weight 0 = 2): per-handler EWMA of block time, context window grows to it, halves gradually",
            PolicyKind::WeightedMerged => "2026 proposal as merged (defaults weight 3, grow 2, shrink 2; the merged body was not read, see docs)",
            PolicyKind::KvmHaltPoll => "Linux KVM host halt polling (virt/kvm/kvm_main.c)",
            PolicyKind::GuestHaltPoll => "Linux guest cpuidle haltpoll governor",
            PolicyKind::Fixed => "always poll for poll-max-ns",
            PolicyKind::Off => "never poll",
            PolicyKind::ThresholdOracle => "threshold oracle (simulation only): polls exactly until the next event when it is near; not a lower bound",
            PolicyKind::Clairvoyant => "priced clairvoyant (simulation only): knows the next event's time and kind, polls when that costs less than blocking at a price of delay",
            PolicyKind::Pollwise => "ours: per handler, the window that would have cost least over the waits after its events, at a learned price of blocking; shrink gradually",
        }
    }

    pub fn specs(self) -> &'static [ParamSpec] {
        match self {
            PolicyKind::Qemu => QEMU_SPECS,
            PolicyKind::Weighted => WEIGHTED_SPECS,
            PolicyKind::WeightedMerged => WEIGHTED_MERGED_SPECS,
            PolicyKind::KvmHaltPoll => KVM_SPECS,
            PolicyKind::GuestHaltPoll => GUEST_HALTPOLL_SPECS,
            PolicyKind::Fixed => FIXED_SPECS,
            PolicyKind::Off => &[],
            PolicyKind::ThresholdOracle => ORACLE_SPECS,
            PolicyKind::Clairvoyant => CLAIRVOYANT_SPECS,
            PolicyKind::Pollwise => POLLWISE_SPECS,
        }
    }

    pub fn param_names(self) -> Vec<&'static str> {
        self.specs().iter().map(|s| s.param.name()).collect()
    }

    /// Whether the policy needs [`Policy::foresee`], i.e. can only run in
    /// the simulator.
    pub fn is_clairvoyant(self) -> bool {
        matches!(self, PolicyKind::ThresholdOracle | PolicyKind::Clairvoyant)
    }

    /// Whether one adjustment may drop the window straight to 0 from above
    /// the grow-start value under these parameters. The no-abrupt-reset
    /// property holds for every other configuration.
    pub fn may_reset_abruptly(self, params: &Params) -> bool {
        match self {
            PolicyKind::Qemu | PolicyKind::KvmHaltPoll | PolicyKind::GuestHaltPoll => {
                params.get(Param::PollShrink) == 0
            }
            PolicyKind::ThresholdOracle | PolicyKind::Clairvoyant => true,
            PolicyKind::Weighted
            | PolicyKind::WeightedMerged
            | PolicyKind::Fixed
            | PolicyKind::Off
            | PolicyKind::Pollwise => false,
        }
    }

    /// The divisor by which one adjustment may at most lower the window, and
    /// the value below which it may fall to 0 instead.
    pub fn shrink_bound(self, params: &Params) -> (u64, u64) {
        let shrink = params.get(Param::PollShrink);
        match self {
            PolicyKind::Qemu => (shrink.max(1), crate::policies::QEMU_GROW_START_NS),
            PolicyKind::Weighted | PolicyKind::WeightedMerged => {
                (if shrink == 0 { 2 } else { shrink }, 0)
            }
            PolicyKind::KvmHaltPoll | PolicyKind::GuestHaltPoll => {
                (shrink.max(1), params.get(Param::PollGrowStartNs))
            }
            PolicyKind::Pollwise => (
                if shrink == 0 { 2 } else { shrink },
                params.get(Param::PollGrowStartNs),
            ),
            PolicyKind::Fixed
            | PolicyKind::Off
            | PolicyKind::ThresholdOracle
            | PolicyKind::Clairvoyant => (1, 0),
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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

/// Rejects parameters built for another policy kind.
pub(crate) fn check_kind(expected: PolicyKind, params: &Params) -> Result<(), ParamError> {
    if params.kind() == expected {
        Ok(())
    } else {
        Err(ParamError::WrongKind {
            expected: expected.name(),
            got: params.kind().name(),
        })
    }
}

/// Per-handler state, indexed by [`HandlerId`], grown on first sight of an id
/// (so the step allocates only the first time a handler appears).
#[derive(Clone, Debug, Default)]
pub(crate) struct HandlerTable<T> {
    slots: Vec<T>,
}

impl<T: Default + Clone> HandlerTable<T> {
    /// The slot of `id`, or `None` for an id beyond [`MAX_HANDLER_ID`]
    /// (which the step then ignores rather than panicking).
    pub(crate) fn get_mut(&mut self, id: HandlerId) -> Option<&mut T> {
        if id > MAX_HANDLER_ID {
            return None;
        }
        let i = id as usize;
        if i >= self.slots.len() {
            self.slots.resize(i + 1, T::default());
        }
        Some(&mut self.slots[i])
    }

    pub(crate) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.slots.iter()
    }

    pub(crate) fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.slots.iter_mut()
    }
}
