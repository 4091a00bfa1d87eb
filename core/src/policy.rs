//! The policy contract, what a clairvoyant policy is told, and the helpers
//! every policy shares.

use crate::kind::PolicyKind;
use crate::outcome::{HandlerId, Outcome, MAX_HANDLER_ID};
use crate::param::ParamError;
use crate::params::Params;

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
