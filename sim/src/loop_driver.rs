//! The simulator's driver of the one IOThread loop ([`IoThread`] in core).
//!
//! The machine decides; this driver turns its [`Step`]s into timed events:
//! a poll pass takes `pass_ns` to see work that has arrived, a sleeping loop
//! runs again `wake_ns` after its doorbell rings, and a poll window ends at
//! its deadline. Events carry a generation number so that a timeout or a
//! notice scheduled for an iteration that has since moved on is ignored. The
//! engine owns what the iteration processes (requests, completions, the
//! guest's interrupts); this type owns nothing but the loop. It acts only on
//! the steps the machine returns, and remembers the last as [`Awaiting`]
//! for the engine (which must know whether the loop sleeps or foresees).

use pollwise_core::{Foresight, HandlerId, IoThread, Noticed, Params, Policy, Step};

use crate::preset::MAX_CSTATES;

/// A timed event of the loop, for the host's event queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LoopEvent {
    /// The poll window ran out.
    PollTimeout { gen: u64 },
    /// The loop sees its work (after a poll pass or a wake-up).
    Noticed { gen: u64 },
}

/// What the machine's last step told the driver to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Awaiting {
    /// Nothing of the loop's: between iterations, or processing.
    Nothing,
    /// `Step::Foresee`: the next arrival settles the iteration.
    Foresight,
    /// `Step::Poll`: the window's deadline (or an arrival first).
    Deadline,
    /// `Step::Arm` and nothing found: asleep until a doorbell rings.
    Doorbell,
    /// `Step::Wake`: woken, the loop runs again after the wake-up.
    Wake,
    /// `Step::Notice`: the next poll pass (or re-check) sees the work.
    Notice,
}

/// One simulated IOThread's loop.
#[derive(Clone, Debug)]
pub struct LoopDriver {
    lp: IoThread,
    awaiting: Awaiting,
    gen: u64,
    /// The current poll window's end (while awaiting the deadline).
    deadline_ns: u64,
    pass_ns: u64,
    wake_ns: u64,
    /// Idle states: (target residency, extra exit latency), residencies
    /// increasing; `cstates[..n_cstates]` are used. A fixed array, so a
    /// rollout's clone of the state does not allocate.
    cstates: [(u64, u64); MAX_CSTATES],
    n_cstates: usize,
}

impl LoopDriver {
    /// A loop over `handlers` poll handlers; one poll pass costs `pass_ns`,
    /// a wake-up `wake_ns`; measured over `[from, to)`.
    pub fn new(
        params: Params,
        handlers: u32,
        pass_ns: u64,
        wake_ns: u64,
        from: u64,
        to: u64,
    ) -> LoopDriver {
        LoopDriver {
            lp: IoThread::new(params, handlers, from, to),
            awaiting: Awaiting::Nothing,
            gen: 0,
            deadline_ns: 0,
            pass_ns,
            wake_ns,
            cstates: [(0, 0); MAX_CSTATES],
            n_cstates: 0,
        }
    }

    /// Idle states for the sleeping loop's CPU: (target residency, exit
    /// latency over `wake_ns`) pairs with increasing residencies, at most
    /// [`MAX_CSTATES`] (the preset's validation guarantees both).
    pub fn with_cstates(mut self, table: impl IntoIterator<Item = (u64, u64)>) -> LoopDriver {
        self.n_cstates = 0;
        for (i, state) in table.into_iter().take(MAX_CSTATES).enumerate() {
            debug_assert!(i == 0 || state.0 > self.cstates[i - 1].0);
            self.cstates[i] = state;
            self.n_cstates = i + 1;
        }
        self
    }

    /// The wake-up latency after a sleep of `idle_ns`: `wake_ns` plus the
    /// exit latency of the deepest idle state the sleep reached.
    fn wake_after(&self, idle_ns: u64) -> u64 {
        let deeper = self.cstates[..self.n_cstates]
            .iter()
            .take_while(|&&(residency, _)| idle_ns >= residency)
            .last()
            .map_or(0, |&(_, exit)| exit);
        self.wake_ns + deeper
    }

    /// Makes the context's own notifier one of the poll handlers (see
    /// [`IoThread::with_context_notifier`]).
    pub fn with_context_notifier(mut self) -> LoopDriver {
        self.lp = self.lp.with_context_notifier().0;
        self
    }

    /// The iteration's processing scheduled a bottom half.
    pub fn notify_self(&mut self) {
        self.lp.notify_self();
    }

    /// Handler `h`'s doorbell was written (see [`IoThread::doorbell`]).
    pub fn doorbell(&mut self, h: HandlerId) {
        self.lp.doorbell(h);
    }

    /// What the loop waits for, from the last step the machine returned.
    pub fn awaiting(&self) -> Awaiting {
        self.awaiting
    }

    /// How long the loop runs on from `now` before it blocks if nothing
    /// arrives: 0 asleep, the rest of its window while it polls, `None`
    /// while it processes or notices (it will run on for a while).
    pub fn runs_on(&self, now: u64) -> Option<u64> {
        match self.awaiting {
            Awaiting::Doorbell => Some(0),
            Awaiting::Deadline => Some(self.deadline_ns.saturating_sub(now)),
            _ => None,
        }
    }

    /// The window its policy polls next (what it runs on after an
    /// iteration that ends in a poll).
    pub fn window_ns(&self) -> u64 {
        self.lp.policy().window_ns()
    }

    /// Requests at the device (see [`IoThread::set_in_flight`]).
    pub fn set_in_flight(&mut self, n: u32) {
        self.lp.set_in_flight(n);
    }

    /// The generation of the current iteration: the `gen` its events
    /// carry (one more at every [`LoopDriver::begin`]).
    pub fn generation(&self) -> u64 {
        self.gen
    }

    pub fn machine(&self) -> &IoThread {
        &self.lp
    }

    pub fn into_machine(self) -> IoThread {
        self.lp
    }

    /// Starts an iteration at `now`; `pending` says work is already queued.
    /// Returns the event to schedule, if any.
    pub fn begin(&mut self, now: u64, pending: bool) -> Option<(u64, LoopEvent)> {
        self.gen += 1;
        let step = self.lp.begin(now, pending);
        self.act(now, step)
    }

    /// Does what `step` says at `now`; returns the event to schedule.
    fn act(&mut self, now: u64, step: Step) -> Option<(u64, LoopEvent)> {
        let gen = self.gen;
        let (awaiting, event) = match step {
            Step::Notice => (
                Awaiting::Notice,
                Some((now + self.pass_ns, LoopEvent::Noticed { gen })),
            ),
            Step::Poll { deadline_ns } => {
                self.deadline_ns = deadline_ns;
                (
                    Awaiting::Deadline,
                    Some((deadline_ns, LoopEvent::PollTimeout { gen })),
                )
            }
            Step::Arm => {
                // The host calls the machine as each piece of work arrives,
                // so an armed re-check finds nothing.
                self.lp.block(now);
                (Awaiting::Doorbell, None)
            }
            Step::Wake => (
                Awaiting::Wake,
                Some((
                    now + self.wake_after(now.saturating_sub(self.lp.blocked_at())),
                    LoopEvent::Noticed { gen },
                )),
            ),
            Step::Foresee => (Awaiting::Foresight, None),
            // A late event: the loop goes on as it was.
            Step::Nothing => return None,
        };
        self.awaiting = awaiting;
        event
    }

    /// Work arrived at `now` for this loop.
    pub fn arrival(&mut self, now: u64) -> Option<(u64, LoopEvent)> {
        let step = self.lp.arrival(now);
        self.act(now, step)
    }

    /// Work arrived at `now`, described for a clairvoyant policy (see
    /// [`IoThread::arrival_foreseen`]); the wake-up latency is this driver's.
    pub fn arrival_foreseen(&mut self, now: u64, next: Foresight) -> Option<(u64, LoopEvent)> {
        let step = self
            .lp
            .arrival_foreseen(now, next.with_wake_ns(self.wake_ns));
        self.act(now, step)
    }

    /// The poll window of iteration `gen` ran out at `now`.
    pub fn poll_timeout(&mut self, now: u64, gen: u64) -> Option<(u64, LoopEvent)> {
        if gen != self.gen {
            return None;
        }
        // Arm (and sleep), or, self-notified or with a doorbell still
        // readable, notice at once: the armed loop does not wait.
        let step = self.lp.poll_timeout(now);
        self.act(now, step)
    }

    /// The notice of iteration `gen` happens at `now`, with events on
    /// `handlers`. `None` if the event is stale.
    pub fn noticed(
        &mut self,
        now: u64,
        gen: u64,
        handlers: impl IntoIterator<Item = HandlerId>,
    ) -> Option<Noticed> {
        if gen != self.gen {
            return None;
        }
        let noticed = self.lp.noticed(now, handlers);
        if noticed.is_some() {
            self.awaiting = Awaiting::Nothing;
        }
        noticed
    }

    /// Processing ended at `now`; the next iteration begins at once.
    pub fn end(&mut self, now: u64, pending: bool) -> Option<(u64, LoopEvent)> {
        self.lp.end(now);
        self.begin(now, pending)
    }

    /// Processing ended at `now`; the next iteration begins later, with
    /// [`LoopDriver::begin`] (the thread gave up its CPU in between).
    pub fn end_only(&mut self, now: u64) {
        self.lp.end(now);
    }
}
