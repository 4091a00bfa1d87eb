//! One module per policy family. Each policy's doc comment cites where its
//! rule comes from.

mod any;
mod clairvoyant;
mod fixed;
mod halt_poll;
mod oracle;
mod pollwise;
mod qemu;
mod weighted;

pub use any::AnyPolicy;
pub use clairvoyant::Clairvoyant;
pub use fixed::{Fixed, Off};
pub use halt_poll::{GuestHaltPoll, KvmHaltPoll};
pub use oracle::ThresholdOracle;
pub use pollwise::{Pollwise, DELAY_WEIGHT, PRIOR_BLOCK_COST_NS, PRIOR_WAKEUPS};
pub use qemu::{Qemu, QEMU_GROW_START_NS};
pub use weighted::Weighted;

use crate::kind::PolicyKind;
use crate::outcome::HandlerId;
use crate::param::Param;
use crate::params::Params;

/// Whether `handlers[i]` already appeared earlier in the slice. Hosts report
/// each handler once per iteration (QEMU's ready list holds a node once);
/// this makes a careless duplicate harmless without allocating.
pub(crate) fn seen_before(handlers: &[HandlerId], i: usize) -> bool {
    handlers[..i].contains(&handlers[i])
}

/// Facts about each kind's rule, stated beside the rules themselves.
impl PolicyKind {
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
            PolicyKind::Qemu => (shrink.max(1), QEMU_GROW_START_NS),
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
