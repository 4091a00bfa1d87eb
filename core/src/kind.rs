//! The registry of policy kinds: every kind's name, description and the
//! parameters it accepts (names, defaults, ranges, help).

use std::fmt;

use crate::param::{Param, ParamError, ParamSpec, MAX_FACTOR, MAX_TIME_NS, MAX_WEIGHT_SHIFT};

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

/// The bound both clairvoyant references share.
const CLAIRVOYANT_POLL_MAX: ParamSpec = ParamSpec {
    param: Param::PollMaxNs,
    default: 32768,
    min: 0,
    max: MAX_TIME_NS,
    help: "never poll longer than this",
};

const ORACLE_SPECS: &[ParamSpec] = &[
    CLAIRVOYANT_POLL_MAX,
    ParamSpec {
        param: Param::OracleThresholdNs,
        default: 32768,
        min: 0,
        max: MAX_TIME_NS,
        help: "poll exactly until the next event when it is at most this far away",
    },
];

const CLAIRVOYANT_SPECS: &[ParamSpec] = &[
    CLAIRVOYANT_POLL_MAX,
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
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
