use crate::kind::PolicyKind;
use crate::outcome::Outcome;
use crate::param::{Param, ParamError};
use crate::params::Params;
use crate::policy::{check_kind, HandlerTable, Policy};

use super::seen_before;

/// QEMU's "start polling at 4 microseconds".
pub const QEMU_GROW_START_NS: u64 = 4000;

/// QEMU's current adaptive polling, `adjust_polling_time()` in
/// `util/aio-posix.c` as of QEMU 10.0 (Kevin Wolf's "Separate AioPolledEvent
/// per AioHandler", March 2025).
///
/// Each poll handler keeps its own window `poll.ns`. After an iteration,
/// every handler that had an event is adjusted with the iteration's
/// `block_ns`: no change if `block_ns <= ns`; if `block_ns > poll-max-ns` it
/// shrinks (`ns / poll-shrink`, or straight to 0 when `poll-shrink` is 0, the
/// default); otherwise, if both `ns` and `block_ns` are below `poll-max-ns`,
/// it grows (0 -> 4000, else `ns * poll-grow`, `poll-grow` 0 meaning 2),
/// capped at `poll-max-ns`. `try_poll_mode()` polls for the largest window of
/// any handler in the poll list, which is what [`Policy::window_ns`] returns.
///
/// How handlers are modelled: a handler joins the poll list with its first
/// event and is adjusted in that same iteration (QEMU adjusts after dispatch,
/// which is what adds it). Handlers without an event are left alone. With
/// `poll-max-ns` 0 nothing is adjusted, as in QEMU. Not modelled: removal
/// of a handler that saw no event for 7 s (`POLL_IDLE_INTERVAL_NS`) from
/// the poll list, and the cap of the window by the next timer deadline;
/// both are host matters, not part of the rule.
///
/// A live parameter change zeroes every handler's window, as
/// `aio_context_set_poll_params()` does.
#[derive(Clone, Debug)]
pub struct Qemu {
    params: Params,
    handler_ns: HandlerTable<u64>,
    window_ns: u64,
}

impl Qemu {
    pub fn new(params: Params) -> Qemu {
        debug_assert_eq!(params.kind(), PolicyKind::Qemu);
        Qemu {
            params,
            handler_ns: HandlerTable::default(),
            window_ns: 0,
        }
    }

    /// The window of one handler (for traces and tests).
    pub fn handler_window_ns(&self, handler: usize) -> u64 {
        self.handler_ns.iter().nth(handler).copied().unwrap_or(0)
    }
}

fn adjust_polling_time(ns: &mut u64, block_ns: u64, params: &Params) {
    let max = params.poll_max_ns();
    if block_ns <= *ns {
        // The sweet spot.
    } else if block_ns > max {
        let shrink = params.get(Param::PollShrink);
        // poll-shrink 0 means "reset to 0", which checked_div gives as None.
        *ns = ns.checked_div(shrink).unwrap_or(0);
    } else if *ns < max && block_ns < max {
        let grow = match params.get(Param::PollGrow) {
            0 => 2,
            g => g,
        };
        *ns = if *ns != 0 {
            *ns * grow
        } else {
            QEMU_GROW_START_NS
        };
        *ns = (*ns).min(max);
    }
}

impl Policy for Qemu {
    fn kind(&self) -> PolicyKind {
        PolicyKind::Qemu
    }

    fn params(&self) -> &Params {
        &self.params
    }

    fn window_ns(&self) -> u64 {
        self.window_ns
    }

    fn observe(&mut self, outcome: &Outcome<'_>) {
        if self.params.poll_max_ns() == 0 {
            return;
        }
        for (i, &h) in outcome.handlers.iter().enumerate() {
            if seen_before(outcome.handlers, i) {
                continue;
            }
            if let Some(ns) = self.handler_ns.get_mut(h) {
                adjust_polling_time(ns, outcome.block_ns, &self.params);
            }
        }
        self.window_ns = self.handler_ns.iter().copied().max().unwrap_or(0);
        debug_assert!(self.window_ns <= self.params.poll_max_ns());
    }

    fn set_params(&mut self, params: Params) -> Result<(), ParamError> {
        check_kind(PolicyKind::Qemu, &params)?;
        self.params = params;
        self.handler_ns.iter_mut().for_each(|ns| *ns = 0);
        self.window_ns = 0;
        Ok(())
    }
}
