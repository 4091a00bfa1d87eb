//! What the host reports to a policy after one loop iteration.

/// Identifies one poll handler (a virtqueue notifier, the AIO completion
/// ring, ...) within one event loop. Hosts number their handlers densely
/// from 0; policies keep per-handler state in a table indexed by it.
pub type HandlerId = u32;

/// The largest handler id a policy accepts. Per-handler tables grow on first
/// sight of an id, so the bound keeps a bad id from allocating gigabytes.
pub const MAX_HANDLER_ID: HandlerId = 4095;

/// One loop iteration, as QEMU's `aio_poll()` sees it.
///
/// `block_ns` is QEMU's `block_ns`: the time from the start of the iteration
/// (before polling) until the event that ended it, so it covers the polling
/// time and any blocking time. `polled` says whether the event was found by
/// busy-polling (no wake-up was needed) or only after blocking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome<'a> {
    pub block_ns: u64,
    pub polled: bool,
    /// The poll handlers that had an event in this iteration. Empty when the
    /// iteration ended for another reason (a timer, a bottom half), which
    /// per-handler policies treat as "no handler event".
    pub handlers: &'a [HandlerId],
    /// For an iteration that went to sleep: the time from the loop's
    /// decision to block (entering the kernel's wait) until it ran again,
    /// which covers the rest of the wait and the host's wake-up path. 0 when
    /// the loop did not sleep, or when the host does not measure it. Always
    /// at most `block_ns`.
    pub slept_ns: u64,
    /// Requests the host had submitted to the device and not yet seen
    /// complete when the iteration began: the work whose completions may
    /// end the wait (QEMU's linux-aio `in_flight`). 0 when none, and from a
    /// host that does not count them.
    pub in_flight: u32,
}

impl<'a> Outcome<'a> {
    /// An event found while polling, `after_ns` into the iteration.
    pub fn polled(after_ns: u64, handlers: &'a [HandlerId]) -> Self {
        Outcome {
            block_ns: after_ns,
            polled: true,
            handlers,
            slept_ns: 0,
            in_flight: 0,
        }
    }

    /// The loop blocked; the event arrived `after_ns` after the iteration
    /// began.
    pub fn blocked(after_ns: u64, handlers: &'a [HandlerId]) -> Self {
        Outcome {
            block_ns: after_ns,
            polled: false,
            handlers,
            slept_ns: 0,
            in_flight: 0,
        }
    }

    /// The loop slept: the event arrived `after_ns` after the iteration
    /// began, and the loop ran again `slept_ns` after it went to sleep.
    pub fn slept(after_ns: u64, slept_ns: u64, handlers: &'a [HandlerId]) -> Self {
        Outcome {
            block_ns: after_ns,
            polled: false,
            handlers,
            slept_ns: slept_ns.min(after_ns),
            in_flight: 0,
        }
    }

    /// The same, with `n` requests in flight when the iteration began.
    pub fn with_in_flight(self, n: u32) -> Self {
        Outcome {
            in_flight: n,
            ..self
        }
    }
}
