use crate::kind::PolicyKind;
use crate::outcome::Outcome;
use crate::param::{Param, ParamError};
use crate::params::Params;
use crate::policy::{check_kind, Policy};

/// KVM's host halt polling, `kvm_vcpu_halt()` with `grow_halt_poll_ns()` and
/// `shrink_halt_poll_ns()` in Linux 6.x `virt/kvm/kvm_main.c`.
///
/// After a halt of `halt_ns` (polling included): no change if it is within
/// the window; shrink if the window is non-zero and the halt exceeded
/// `halt_poll_ns` (`poll-max-ns`); grow if both the window and the halt are
/// below it. Grow multiplies by `halt_poll_ns_grow` (0 never grows) and
/// starts at `halt_poll_ns_grow_start`; shrink divides by
/// `halt_poll_ns_shrink` (0 resets) and drops to 0 below the grow start.
/// KVM lets the window exceed the max after a grow and clamps it at the next
/// halt before using it; we clamp at once, which gives the same windows.
/// With `poll-max-ns` 0 the window is 0. Invalid wake-ups (which always
/// shrink in KVM) do not occur in our hosts. Handlers are ignored: the
/// window belongs to one vCPU.
#[derive(Clone, Debug)]
pub struct KvmHaltPoll {
    params: Params,
    window_ns: u64,
}

impl KvmHaltPoll {
    pub fn new(params: Params) -> KvmHaltPoll {
        debug_assert_eq!(params.kind(), PolicyKind::KvmHaltPoll);
        KvmHaltPoll {
            params,
            window_ns: 0,
        }
    }

    fn grow(&mut self) {
        let grow = self.params.get(Param::PollGrow);
        if grow == 0 {
            return;
        }
        let start = self.params.get(Param::PollGrowStartNs);
        self.window_ns = (self.window_ns * grow).max(start);
    }
}

/// Shared by KVM and the guest governor: divide, or reset when the divisor
/// is 0, and never keep a window below the grow start.
fn shrink(window_ns: u64, params: &Params) -> u64 {
    let shrink = params.get(Param::PollShrink);
    // A divisor of 0 means "reset", which checked_div gives as None.
    let val = window_ns.checked_div(shrink).unwrap_or(0);
    if val < params.get(Param::PollGrowStartNs) {
        0
    } else {
        val
    }
}

impl Policy for KvmHaltPoll {
    fn kind(&self) -> PolicyKind {
        PolicyKind::KvmHaltPoll
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn window_ns(&self) -> u64 {
        self.window_ns
    }

    fn observe(&mut self, outcome: &Outcome<'_>) {
        let max = self.params.poll_max_ns();
        let halt_ns = outcome.block_ns;
        if max == 0 {
            self.window_ns = 0;
        } else if halt_ns <= self.window_ns {
            // Polling covered it.
        } else if self.window_ns != 0 && halt_ns > max {
            self.window_ns = shrink(self.window_ns, &self.params);
        } else if self.window_ns < max && halt_ns < max {
            self.grow();
        }
        self.window_ns = self.window_ns.min(max);
    }

    fn set_params(&mut self, params: Params) -> Result<(), ParamError> {
        check_kind(PolicyKind::KvmHaltPoll, &params)?;
        self.params = params;
        self.window_ns = self.window_ns.min(self.params.poll_max_ns());
        Ok(())
    }
}

/// The guest-side cpuidle haltpoll governor, `adjust_poll_limit()` in
/// Linux `drivers/cpuidle/governors/haltpoll.c` (6.9 and later, which zero a
/// window shrunk below the grow start).
///
/// Grow when `window < block_ns <= guest_halt_poll_ns`: `window *
/// guest_halt_poll_grow`, at least `guest_halt_poll_grow_start`, at most
/// `guest_halt_poll_ns`. Shrink when `block_ns > guest_halt_poll_ns`:
/// divide by `guest_halt_poll_shrink` (0 resets) and drop to 0 below the
/// grow start. `guest_halt_poll_allow_shrink` is taken as its default, true.
/// Handlers are ignored: the window belongs to one guest CPU.
#[derive(Clone, Debug)]
pub struct GuestHaltPoll {
    params: Params,
    window_ns: u64,
}

impl GuestHaltPoll {
    pub fn new(params: Params) -> GuestHaltPoll {
        debug_assert_eq!(params.kind(), PolicyKind::GuestHaltPoll);
        GuestHaltPoll {
            params,
            window_ns: 0,
        }
    }
}

impl Policy for GuestHaltPoll {
    fn kind(&self) -> PolicyKind {
        PolicyKind::GuestHaltPoll
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn window_ns(&self) -> u64 {
        self.window_ns
    }

    fn observe(&mut self, outcome: &Outcome<'_>) {
        let max = self.params.poll_max_ns();
        let block_ns = outcome.block_ns;
        if block_ns > self.window_ns && block_ns <= max {
            let grown = self.window_ns * self.params.get(Param::PollGrow);
            self.window_ns = grown.max(self.params.get(Param::PollGrowStartNs));
        } else if block_ns > max {
            self.window_ns = shrink(self.window_ns, &self.params);
        }
        self.window_ns = self.window_ns.min(max);
    }

    fn set_params(&mut self, params: Params) -> Result<(), ParamError> {
        check_kind(PolicyKind::GuestHaltPoll, &params)?;
        self.params = params;
        self.window_ns = self.window_ns.min(self.params.poll_max_ns());
        Ok(())
    }
}
