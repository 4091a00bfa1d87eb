//! The IOThread: one thread running QEMU's `aio_poll()` shape over epoll.
//!
//! Each iteration asks the policy for a window, busy-polls its two poll
//! handlers (handler 0: the submission queue, handler 1: the AIO completion
//! ring, both read without a system call) until one has work or the window
//! has elapsed, and otherwise enables notifications and blocks in
//! `epoll_wait` on the two eventfds. Then it submits what was queued, hands
//! out what completed, and reports the iteration to the policy as an
//! [`Outcome`], exactly as the simulator does.

use std::sync::mpsc::Sender;
use std::sync::Arc;

use pollwise_core::{AnyPolicy, HandlerId, Outcome, Params, Policy, WindowStats};

use crate::aio::{AioContext, IoEvent, Iocb};
use crate::buffer::BufferPool;
use crate::handoff::{ParamCell, StopSignal, SubmitQueue};
use crate::loadgen::{Completion, Request, Status};
use crate::sys::{mono_ns, thread_cpu_ns, Epoll, EventFd};

/// Handler ids reported to the policy (and epoll tokens).
pub const SUBMIT_HANDLER: HandlerId = 0;
pub const AIO_HANDLER: HandlerId = 1;

/// One point of the window trajectory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TracePoint {
    /// Since the run's epoch (see [`EventLoop::run`]).
    pub time_ns: u64,
    pub window_ns: u64,
    pub poll_max_ns: u64,
    /// Index into [`LoopReport::params_history`].
    pub params_index: u32,
}

/// What the loop measured between its start and the stop signal.
#[derive(Debug, Default)]
pub struct LoopReport {
    pub elapsed_ns: u64,
    /// CLOCK_THREAD_CPUTIME_ID over the run.
    pub cpu_ns: u64,
    /// Time spent busy-polling (wall clock of the poll phases).
    pub poll_ns: u64,
    /// Time spent submitting and completing (wall clock of the busy phases).
    pub busy_ns: u64,
    /// Wall-clock time inside blocking `epoll_wait` calls.
    pub blocked_ns: u64,
    pub iterations: u64,
    /// Iterations whose event was found by polling.
    pub polled_hits: u64,
    /// Blocking `epoll_wait` calls that returned: the loop was woken.
    pub wakeups: u64,
    pub submit_calls: u64,
    pub window: WindowStats,
    pub trace: Vec<TracePoint>,
    /// The parameters in force over time: the initial set, then each live
    /// change, as `Params` Display strings.
    pub params_history: Vec<String>,
    /// Live changes the policy refused (e.g. parameters of another kind).
    pub param_rejections: u64,
    /// Whether completions were read from the ring without system calls.
    pub user_space_ring: bool,
    /// Time requests spent in the kernel and device: from io_submit
    /// returning to the loop reaping the completion, summed, and how many.
    /// The rest of a job's latency is hand-off between threads.
    pub device_ns_total: u64,
    pub device_reaped: u64,
}

/// Everything the loop thread owns or shares.
pub struct EventLoop {
    pub aio: AioContext,
    pub aio_efd: EventFd,
    pub submit_efd: Arc<EventFd>,
    pub epoll: Epoll,
    pub fd: i32,
    pub bs: u64,
    pub iodepth: u32,
    pub pool: Arc<BufferPool>,
    pub queue: Arc<SubmitQueue<Request>>,
    /// One channel per job; completions go out as one batch per job per
    /// iteration, as a virtio device raises one interrupt per batch.
    pub completions: Vec<Sender<Vec<Completion>>>,
    outbox: Vec<Vec<Completion>>,
    /// Per slot: when its request was submitted (CLOCK_MONOTONIC).
    submitted_at: Vec<u64>,
    device_ns_total: u64,
    device_reaped: u64,
    pub policy: AnyPolicy,
    pub params: Arc<ParamCell>,
    pub stop: Arc<StopSignal>,
    pub trace: bool,
}

impl EventLoop {
    /// Builds the loop's kernel objects: the AIO context for `slots`
    /// requests and the epoll set over the two eventfds.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        fd: i32,
        bs: u64,
        iodepth: u32,
        pool: Arc<BufferPool>,
        queue: Arc<SubmitQueue<Request>>,
        submit_efd: Arc<EventFd>,
        completions: Vec<Sender<Vec<Completion>>>,
        params: Arc<ParamCell>,
        initial: Params,
        stop: Arc<StopSignal>,
        trace: bool,
    ) -> std::io::Result<EventLoop> {
        let slots = pool.slots();
        let aio = AioContext::new(slots as u32)?;
        let aio_efd = EventFd::new()?;
        let epoll = Epoll::new()?;
        use std::os::fd::AsRawFd;
        epoll.add(submit_efd.as_raw_fd(), u64::from(SUBMIT_HANDLER))?;
        epoll.add(aio_efd.as_raw_fd(), u64::from(AIO_HANDLER))?;
        Ok(EventLoop {
            aio,
            aio_efd,
            submit_efd,
            epoll,
            fd,
            bs,
            iodepth,
            pool,
            queue,
            outbox: vec![Vec::new(); completions.len()],
            submitted_at: vec![0; slots],
            device_ns_total: 0,
            device_reaped: 0,
            completions,
            policy: AnyPolicy::new(initial),
            params,
            stop,
            trace,
        })
    }

    /// Runs until the stop signal, then cancels what was never submitted,
    /// waits for what is in flight and returns the measurements. Trace times
    /// count from `epoch_ns` (CLOCK_MONOTONIC), the run's start.
    pub fn run(mut self, epoch_ns: u64) -> std::io::Result<LoopReport> {
        let mut r = LoopReport {
            user_space_ring: self.aio.user_space_ring(),
            params_history: vec![self.policy.params().to_string()],
            ..LoopReport::default()
        };
        let mut seen_version = 0u64;
        let mut handlers: Vec<HandlerId> = Vec::with_capacity(2);
        let mut tokens = Vec::with_capacity(8);
        let mut requests: Vec<Request> = Vec::with_capacity(self.pool.slots());
        let mut backlog: Vec<Request> = Vec::new();
        let mut events: Vec<IoEvent> = Vec::with_capacity(self.pool.slots());
        let mut iocbs: Vec<Iocb> = Vec::with_capacity(self.pool.slots());
        let mut in_flight = 0usize;

        let start = mono_ns();
        let cpu_start = thread_cpu_ns();
        let mut now = start;
        while !self.stop.is_stopped() {
            let t0 = now;
            if let Some(p) = self.params.take_newer(&mut seen_version) {
                match self.policy.set_params(p) {
                    Ok(()) => r.params_history.push(self.policy.params().to_string()),
                    Err(_) => r.param_rejections += 1,
                }
            }
            let window = self.policy.window_ns();
            if self.trace {
                // A fresh reading: `t0` may predate a change just taken.
                r.trace.push(TracePoint {
                    time_ns: mono_ns().saturating_sub(epoch_ns),
                    window_ns: window,
                    poll_max_ns: self.policy.params().poll_max_ns(),
                    params_index: (r.params_history.len() - 1) as u32,
                });
            }

            // Poll phase: the two handlers, no system calls. Polling is
            // what turns the producers' notifications off (QEMU's
            // poll_begin); they stay on from blocking until the next poll
            // phase, so with a zero window every request kicks, as in QEMU
            // with polling disabled and in the simulator.
            handlers.clear();
            let mut polled = false;
            if window > 0 {
                self.queue.disable_notify();
                loop {
                    if self.queue.has_work() {
                        handlers.push(SUBMIT_HANDLER);
                    }
                    if self.aio.ready() > 0 {
                        handlers.push(AIO_HANDLER);
                    }
                    now = mono_ns();
                    if !handlers.is_empty() {
                        polled = true;
                        break;
                    }
                    if now - t0 >= window {
                        break;
                    }
                    std::hint::spin_loop();
                }
                r.poll_ns += now - t0;
            }

            // Block phase. The eventfds are reset first and the handlers
            // re-checked after: an event that lands after the re-check
            // signals its eventfd after the reset, so epoll sees it.
            if !polled {
                self.submit_efd.drain();
                self.aio_efd.drain();
                if !self.queue.enable_notify() {
                    handlers.push(SUBMIT_HANDLER);
                }
                if self.aio.ready() > 0 {
                    handlers.push(AIO_HANDLER);
                }
                if handlers.is_empty() && !backlog.is_empty() && in_flight == 0 {
                    // Requests the kernel refused for lack of resources, with
                    // nothing in flight to free any: retry at once.
                    handlers.push(SUBMIT_HANDLER);
                }
                if handlers.is_empty() && !self.stop.is_stopped() {
                    let before = mono_ns();
                    self.epoll.wait(-1, &mut tokens)?;
                    now = mono_ns();
                    r.blocked_ns += now - before;
                    r.wakeups += 1;
                    handlers.extend(tokens.iter().map(|&t| t as HandlerId));
                } else {
                    now = mono_ns();
                }
            }
            let outcome_ns = now - t0;

            // Busy phase: submit first, so the device starts as early as
            // possible, then hand out completions.
            let busy_start = now;
            requests.clear();
            self.queue.drain_into(&mut requests);
            backlog.append(&mut requests);
            if !backlog.is_empty() {
                in_flight += self.submit(&mut backlog, &mut iocbs, &mut r);
            }
            events.clear();
            self.aio.reap(&mut events);
            in_flight -= events.len();
            self.complete(&events);
            self.flush();
            now = mono_ns();
            r.busy_ns += now - busy_start;

            let before = self.policy.window_ns();
            let outcome = if polled {
                Outcome::polled(outcome_ns, &handlers)
            } else {
                Outcome::blocked(outcome_ns, &handlers)
            };
            self.policy.observe(&outcome);
            let after = self.policy.window_ns();
            r.window.record_span(window, now - t0);
            if after != before {
                r.window
                    .record_change(self.policy.kind(), self.policy.params(), before, after);
            }
            r.iterations += 1;
            r.polled_hits += u64::from(polled);
        }
        r.elapsed_ns = mono_ns() - start;
        r.cpu_ns = thread_cpu_ns() - cpu_start;
        r.device_ns_total = self.device_ns_total;
        r.device_reaped = self.device_reaped;

        // Shutdown: nothing new is accepted; queued requests are cancelled,
        // in-flight ones awaited, so every request is answered.
        self.queue.close();
        requests.clear();
        self.queue.drain_into(&mut requests);
        backlog.append(&mut requests);
        for req in backlog.drain(..) {
            self.send(req.slot, Status::Cancelled);
        }
        events.clear();
        self.aio.wait_for(in_flight, &mut events)?;
        self.complete(&events);
        self.flush();
        Ok(r)
    }

    /// Submits the backlog; returns how many the kernel took. Requests the
    /// kernel rejects outright are failed with its errno; requests refused
    /// for lack of resources stay in the backlog.
    fn submit(
        &mut self,
        backlog: &mut Vec<Request>,
        iocbs: &mut Vec<Iocb>,
        r: &mut LoopReport,
    ) -> usize {
        let resfd = {
            use std::os::fd::AsRawFd;
            self.aio_efd.as_raw_fd()
        };
        iocbs.clear();
        iocbs.extend(backlog.iter().map(|req| {
            Iocb::new(
                req.op,
                self.fd,
                self.pool.slot_ptr(req.slot as usize),
                self.bs,
                req.offset,
                u64::from(req.slot),
                resfd,
            )
        }));
        let mut ptrs: Vec<*mut Iocb> = iocbs.iter_mut().map(|c| c as *mut Iocb).collect();
        let mut done = 0;
        let mut taken = 0;
        while done < ptrs.len() {
            r.submit_calls += 1;
            // SAFETY: each buffer slot belongs to exactly one outstanding
            // request and lives in the pool, which outlives the AIO context
            // (the loop holds an Arc to it and destroys the context first).
            match unsafe { self.aio.submit(&mut ptrs[done..]) } {
                Ok(0) => break,
                Ok(n) => {
                    let at = mono_ns();
                    for req in &backlog[done..done + n] {
                        self.submitted_at[req.slot as usize] = at;
                    }
                    done += n;
                    taken += n;
                }
                Err(e) => {
                    let req = backlog[done];
                    self.send(
                        req.slot,
                        Status::Failed(e.raw_os_error().unwrap_or(libc::EIO)),
                    );
                    done += 1;
                }
            }
        }
        backlog.drain(..done);
        taken
    }

    fn complete(&mut self, events: &[IoEvent]) {
        let now = mono_ns();
        for ev in events {
            let slot = ev.data as usize;
            if let Some(&at) = self.submitted_at.get(slot) {
                self.device_ns_total += now.saturating_sub(at);
                self.device_reaped += 1;
            }
            let status = if ev.res < 0 {
                Status::Failed((-ev.res) as i32)
            } else {
                Status::Done(ev.res as u64)
            };
            self.send(ev.data as u32, status);
        }
    }

    fn send(&mut self, slot: u32, status: Status) {
        let job = (slot / self.iodepth) as usize;
        self.outbox[job].push(Completion { slot, status });
    }

    /// Hands every job its batch of completions.
    fn flush(&mut self) {
        for (outbox, tx) in self.outbox.iter_mut().zip(&self.completions) {
            if !outbox.is_empty() {
                // A job that has gone away no longer needs the answer.
                let _ = tx.send(std::mem::take(outbox));
            }
        }
    }
}
