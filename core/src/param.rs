//! One tunable knob of a policy: its name in QEMU's spelling, what a policy
//! accepts for it, the bounds every range lies within, and every way a
//! policy name or parameter given as text can be wrong.

use std::fmt;

/// One tunable knob. The names are the QEMU IOThread property names where one
/// exists, so a value found here can be passed to `qom-set` unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Param {
    /// Upper bound of the window (QEMU `poll-max-ns`, KVM `halt_poll_ns`).
    PollMaxNs,
    /// Growth factor.
    PollGrow,
    /// Shrink divisor.
    PollShrink,
    /// EWMA weight as a shift count (the 2026 proposal's `poll-weight`).
    PollWeight,
    /// First non-zero window after growing from 0.
    PollGrowStartNs,
    /// The threshold oracle polls when the next event is at most this far
    /// away.
    OracleThresholdNs,
    /// What blocking costs (wake-up latency and CPU, the guest's kick):
    /// pollwise polls only for events nearer than this on average.
    PollBlockCostNs,
    /// The priced clairvoyant's price of delay: IOThread CPU ns per 1000 ns
    /// of delay to the guest.
    DelayPriceMilli,
}

impl Param {
    pub const ALL: [Param; 8] = [
        Param::PollMaxNs,
        Param::PollGrow,
        Param::PollShrink,
        Param::PollWeight,
        Param::PollGrowStartNs,
        Param::OracleThresholdNs,
        Param::PollBlockCostNs,
        Param::DelayPriceMilli,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Param::PollMaxNs => "poll-max-ns",
            Param::PollGrow => "poll-grow",
            Param::PollShrink => "poll-shrink",
            Param::PollWeight => "poll-weight",
            Param::PollGrowStartNs => "poll-grow-start-ns",
            Param::OracleThresholdNs => "oracle-threshold-ns",
            Param::PollBlockCostNs => "poll-block-cost-ns",
            Param::DelayPriceMilli => "delay-price-milli",
        }
    }

    pub fn from_name(name: &str) -> Option<Param> {
        Param::ALL.into_iter().find(|p| p.name() == name)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a policy accepts for one parameter.
#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    pub param: Param,
    pub default: u64,
    pub min: u64,
    pub max: u64,
    pub help: &'static str,
}

/// Ranges are capped well below overflow: with every factor at most
/// [`MAX_FACTOR`] and every time at most [`MAX_TIME_NS`], a product of a window
/// and a factor fits in a u64 with room to spare, so no policy needs checked
/// arithmetic in its step.
pub const MAX_TIME_NS: u64 = 10_000_000_000;
pub const MAX_FACTOR: u64 = 1 << 16;
/// A shift of 63 or more is undefined behaviour in C; the proposal does not
/// bound it, we do.
pub const MAX_WEIGHT_SHIFT: u64 = 62;

/// Every way a policy name or parameter can be wrong. Each message names the
/// offending input and what would be accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamError {
    UnknownPolicy {
        name: String,
        known: Vec<&'static str>,
    },
    UnknownParam {
        policy: &'static str,
        param: String,
        accepted: Vec<&'static str>,
    },
    NotANumber {
        param: &'static str,
        value: String,
        min: u64,
        max: u64,
    },
    OutOfRange {
        param: &'static str,
        value: String,
        min: u64,
        max: u64,
    },
    /// A parameter set built for one policy handed to another.
    WrongKind {
        expected: &'static str,
        got: &'static str,
    },
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamError::UnknownPolicy { name, known } => write!(
                f,
                "unknown policy '{name}'; known policies: {}",
                known.join(", ")
            ),
            ParamError::UnknownParam {
                policy,
                param,
                accepted,
            } => {
                if accepted.is_empty() {
                    write!(f, "policy '{policy}' takes no parameters, got '{param}'")
                } else {
                    write!(
                        f,
                        "unknown parameter '{param}' for policy '{policy}'; it accepts: {}",
                        accepted.join(", ")
                    )
                }
            }
            ParamError::NotANumber {
                param,
                value,
                min,
                max,
            } => write!(
                f,
                "{param}: '{value}' is not a whole number; expected an integer in [{min}, {max}]"
            ),
            ParamError::OutOfRange {
                param,
                value,
                min,
                max,
            } => write!(
                f,
                "{param}: {value} is out of range; expected an integer in [{min}, {max}]"
            ),
            ParamError::WrongKind { expected, got } => write!(
                f,
                "parameters for policy '{got}' cannot be applied to policy '{expected}'"
            ),
        }
    }
}

impl std::error::Error for ParamError {}
