//! One module per policy family. Each policy's doc comment cites where its
//! rule comes from.

mod clairvoyant;
mod fixed;
mod halt_poll;
mod oracle;
mod pollwise;
mod qemu;
mod weighted;

pub use clairvoyant::Clairvoyant;
pub use fixed::{Fixed, Off};
pub use halt_poll::{GuestHaltPoll, KvmHaltPoll};
pub use oracle::ThresholdOracle;
pub use pollwise::Pollwise;
pub use qemu::{Qemu, QEMU_GROW_START_NS};
pub use weighted::Weighted;

use crate::outcome::HandlerId;

/// Whether `handlers[i]` already appeared earlier in the slice. Hosts report
/// each handler once per iteration (QEMU's ready list holds a node once);
/// this makes a careless duplicate harmless without allocating.
pub(crate) fn seen_before(handlers: &[HandlerId], i: usize) -> bool {
    handlers[..i].contains(&handlers[i])
}
