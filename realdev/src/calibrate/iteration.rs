//! The iteration probe: the loop's fixed work per iteration, timed by
//! driving the real loop ([`drive`] over core's [`IoThread`]) rather than a
//! stand-in for it.

use pollwise_core::{HandlerId, IoThread, Params, PolicyKind};

use crate::eventloop::{drive, LoopHost, HANDLERS};
use crate::handoff::{ParamCell, StopSignal, SubmitQueue};
use crate::sys::mono_ns;

/// The loop's fixed work per iteration: the real [`drive`] over core's
/// [`IoThread`] (QEMU's policy, a live-parameter check, the clock reads),
/// `n` iterations over a host whose completion ring always has work and
/// whose processing does nothing. Returns ns per iteration.
pub(super) fn iteration_probe(n: u64) -> f64 {
    let queue: SubmitQueue<()> = SubmitQueue::new();
    let stop = StopSignal::new();
    let cell = ParamCell::new(Params::defaults(PolicyKind::Qemu));
    let mut lp = IoThread::new(Params::defaults(PolicyKind::Qemu), HANDLERS, 0, u64::MAX);
    let mut host = BareHost {
        left: n.max(1),
        stop: &stop,
    };
    let t0 = mono_ns();
    drive(&mut lp, &mut host, &queue, &stop, Some(&cell)).expect("the bare host never fails");
    let total = mono_ns() - t0;
    let iterations = lp.finish(u64::MAX).iterations;
    assert_eq!(iterations, n.max(1), "the probe times whole iterations");
    total as f64 / n.max(1) as f64
}

/// A host with work always in view and nothing to do with it: what
/// [`drive`] costs by itself. Stops the loop after `left` iterations.
struct BareHost<'a> {
    left: u64,
    stop: &'a StopSignal,
}

impl LoopHost for BareHost<'_> {
    type Request = ();

    fn now(&mut self) -> u64 {
        mono_ns()
    }

    fn completions_ready(&mut self) -> bool {
        true
    }

    fn reset_doorbells(&mut self) {}

    fn wait(&mut self, _handlers: &mut Vec<HandlerId>) -> std::io::Result<()> {
        Ok(())
    }

    fn process(&mut self, _requests: &mut Vec<()>, _lp: &IoThread) -> std::io::Result<()> {
        self.left -= 1;
        if self.left == 0 {
            self.stop.stop();
        }
        Ok(())
    }

    fn shutdown(&mut self, _cancelled: &mut Vec<()>) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_iteration_probe_runs_the_loop() {
        let ns = iteration_probe(2000);
        assert!(ns > 0.0 && ns < 1e6, "{ns} ns per bare iteration");
    }
}
