//! The IOThread on a real device, and the one driver every host of the
//! loop shares.
//!
//! [`drive`] runs core's [`IoThread`] machine over a [`LoopHost`]: each
//! iteration it asks the machine what to do, busy-polls the two poll
//! handlers (handler 0: the submission queue, handler 1: the completion
//! ring, both read without a system call) until one has work or the window
//! has elapsed, and otherwise arms (resets the doorbells, enables
//! notifications, re-checks) and blocks. Then the host submits and
//! completes, and the machine reports the iteration to the policy. What
//! differs between hosts is only the [`LoopHost`]: [`DiskHost`] here (epoll,
//! eventfds, Linux AIO on an O_DIRECT file), a model of the device under
//! loom, and a fake clock in the differential test against the simulator.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use pollwise_core::{
    HandlerId, IoThread, IterRecord, ParamError, Params, Policy, Step, TracePoint, WindowStats,
    MAX_ITER_RECORDS,
};

use crate::aio::{AioContext, IoEvent, Iocb};
use crate::buffer::BufferPool;
use crate::handoff::{ParamCell, StopSignal, SubmitQueue};
use crate::loadgen::{Completion, Request, Status};
use crate::sys::{current_cpu, mono_ns, thread_cpu_ns, Epoll, EventFd, NO_CPU};

/// Handler ids reported to the policy (and epoll tokens).
pub const SUBMIT_HANDLER: HandlerId = 0;
pub const AIO_HANDLER: HandlerId = 1;
/// How many poll handlers the loop has.
pub const HANDLERS: u32 = 2;

/// What the loop needs from the world around it. The submission queue, the
/// stop signal and live parameters are the real handoff types in every
/// host; only time, the completion side and sleeping differ.
pub trait LoopHost {
    type Request: Send;
    /// Monotonic time in nanoseconds.
    fn now(&mut self) -> u64;
    /// Poll handler 1: completions wait to be reaped (no system call).
    fn completions_ready(&mut self) -> bool;
    /// Between two poll passes.
    fn spin(&mut self) {
        crate::sync::hint::spin_loop();
    }
    /// Before the re-check that precedes blocking: consume stale doorbell
    /// rings, so that one landing after the re-check wakes the loop.
    fn reset_doorbells(&mut self);
    /// Work that no doorbell will announce (requests the device refused for
    /// lack of resources, with nothing in flight to free any).
    fn stranded(&self) -> bool {
        false
    }
    /// Sleeps until a doorbell rings; appends the handlers that rang.
    fn wait(&mut self, handlers: &mut Vec<HandlerId>) -> std::io::Result<()>;
    /// The busy phase: submits `requests` (drained from the queue), then
    /// reaps and hands out completions. `lp` is the loop, for hosts that
    /// check its state.
    fn process(&mut self, requests: &mut Vec<Self::Request>, lp: &IoThread) -> std::io::Result<()>;
    /// After the stop: `cancelled` were queued and never submitted; answer
    /// them, and wait for everything in flight.
    fn shutdown(&mut self, cancelled: &mut Vec<Self::Request>) -> std::io::Result<()>;
    /// The window changed (or the run began).
    fn trace(&mut self, _point: TracePoint) {}
    /// A live parameter change was applied (`Ok`) or refused.
    fn params_changed(&mut self, _result: Result<&Params, ParamError>) {}
    /// Appends the handlers whose doorbells were written since the last
    /// call and are still readable (see [`IoThread::doorbell`]): a host
    /// whose poll handlers leave their eventfds unread, as QEMU's
    /// linux-aio and virtqueue handlers do. [`DiskHost`] reads its
    /// doorbells before it arms and reports none.
    fn rung(&mut self, _doorbells: &mut Vec<HandlerId>) {}
    /// Whether the last [`LoopHost::process`] scheduled a bottom half
    /// (QEMU's linux-aio does after every submission batch and whenever its
    /// handler ran), which calls `aio_notify()`: the next iteration does
    /// not sleep.
    fn notified_self(&mut self) -> bool {
        false
    }
    /// An iteration ended: its phases as the machine saw them
    /// ([`IoThread::last_iteration`]), for a host that logs iterations.
    fn iteration(&mut self, _record: IterRecord) {}
    /// Requests at the device whose completions have not been reaped,
    /// after the last [`LoopHost::process`]: the loop tells its policy (see
    /// [`IoThread::set_in_flight`]). A host without a device reports 0.
    fn in_flight(&self) -> u32 {
        0
    }
}

/// Runs the loop until `stop`, then shuts it down: the queue is closed,
/// what it still holds is cancelled and what is in flight is awaited, so
/// every accepted request is answered.
///
/// The driver acts only on the [`Step`]s the machine returns, and mirrors
/// [`IoThread::notify_enabled`] into the queue (producers ring exactly when
/// the machine says a guest would kick). What the host reports reaches
/// every rule of the machine: doorbells left readable
/// ([`LoopHost::rung`]), self-notification ([`LoopHost::notified_self`])
/// and, when the host built the machine with
/// [`IoThread::with_context_notifier`], the notifier's poll handler.
pub fn drive<H: LoopHost>(
    lp: &mut IoThread,
    host: &mut H,
    queue: &SubmitQueue<H::Request>,
    stop: &StopSignal,
    params: Option<&ParamCell>,
) -> std::io::Result<()> {
    let mut seen_version = 0u64;
    let mut handlers: Vec<HandlerId> = Vec::with_capacity(8);
    let mut rung: Vec<HandlerId> = Vec::with_capacity(4);
    let mut requests: Vec<H::Request> = Vec::new();
    let start = host.now();
    host.trace(lp.trace_point(start));
    while !stop.is_stopped() {
        if let Some(p) = params.and_then(|cell| cell.take_newer(&mut seen_version)) {
            match lp.set_params(p, host.now()) {
                Ok(point) => {
                    host.params_changed(Ok(lp.policy().params()));
                    host.trace(point);
                }
                Err(e) => host.params_changed(Err(e)),
            }
        }
        let now = find_work(lp, host, queue, stop, &mut handlers, &mut rung)?;
        if let Some(point) = lp
            .noticed(now, handlers.iter().copied())
            .and_then(|n| n.trace)
        {
            host.trace(point);
        }
        requests.clear();
        queue.drain_into(&mut requests);
        host.process(&mut requests, lp)?;
        lp.set_in_flight(host.in_flight());
        if host.notified_self() {
            lp.notify_self();
        }
        lp.end(host.now());
        host.iteration(lp.last_iteration());
    }
    queue.close();
    requests.clear();
    queue.drain_into(&mut requests);
    host.shutdown(&mut requests)
}

/// Tells the machine which doorbells were written since it last heard:
/// before each call that may read them (`begin`, `poll_timeout`, and the
/// `arrival` that leads to `noticed`).
fn report_doorbells<H: LoopHost>(lp: &mut IoThread, host: &mut H, rung: &mut Vec<HandlerId>) {
    rung.clear();
    host.rung(rung);
    for &h in rung.iter() {
        lp.doorbell(h);
    }
}

/// Begins an iteration and does what the machine says until the work is in
/// view: poll, arm, sleep. Appends the handlers that had events to
/// `handlers` and returns the time the work was seen.
fn find_work<H: LoopHost>(
    lp: &mut IoThread,
    host: &mut H,
    queue: &SubmitQueue<H::Request>,
    stop: &StopSignal,
    handlers: &mut Vec<HandlerId>,
    rung: &mut Vec<HandlerId>,
) -> std::io::Result<u64> {
    handlers.clear();
    let mut now = host.now();
    report_doorbells(lp, host, rung);
    let mut step = lp.begin(now, false);
    if !lp.notify_enabled() {
        // Poll mode turns the producers' notifications off (QEMU's
        // poll_set_started()); they stay off until the loop next arms.
        queue.disable_notify();
    }
    if let Step::Poll { deadline_ns } = step {
        (step, now) = poll(lp, host, queue, deadline_ns, handlers, rung);
    }
    match step {
        // A poll pass saw the work; or, self-notified, the first pass finds
        // the context's notifier, and whatever else is ready.
        Step::Notice if !lp.notify_enabled() => {
            if handlers.is_empty() {
                poll_pass(host, queue, handlers);
            }
            Ok(now)
        }
        // Armed, and ppoll() returns at once: the context was notified or a
        // doorbell is still readable; its dispatch reads the doorbells.
        Step::Notice => {
            arm(host, queue, handlers);
            Ok(host.now())
        }
        Step::Arm => {
            arm(host, queue, handlers);
            if handlers.is_empty() && !stop.is_stopped() {
                lp.block(host.now());
                host.wait(handlers)?;
            }
            now = host.now();
            report_doorbells(lp, host, rung);
            // Found by the re-check (`Notice`) or woken (`Wake`): either
            // way the work is in view now.
            lp.arrival(now);
            Ok(now)
        }
        Step::Foresee => Err(std::io::Error::other(
            "a clairvoyant policy needs the simulator's knowledge of the future",
        )),
        other => unreachable!("begin and poll_timeout never return {other:?}"),
    }
}

/// Busy-polls both handlers until one has work (then `arrival`) or the
/// deadline passes (then `poll_timeout`); returns the machine's step and
/// the time.
fn poll<H: LoopHost>(
    lp: &mut IoThread,
    host: &mut H,
    queue: &SubmitQueue<H::Request>,
    deadline_ns: u64,
    handlers: &mut Vec<HandlerId>,
    rung: &mut Vec<HandlerId>,
) -> (Step, u64) {
    loop {
        poll_pass(host, queue, handlers);
        let now = host.now();
        if !handlers.is_empty() {
            report_doorbells(lp, host, rung);
            return (lp.arrival(now), now);
        }
        if now >= deadline_ns {
            report_doorbells(lp, host, rung);
            return (lp.poll_timeout(now), now);
        }
        host.spin();
    }
}

/// One poll pass over both handlers; appends those with work.
fn poll_pass<H: LoopHost>(
    host: &mut H,
    queue: &SubmitQueue<H::Request>,
    handlers: &mut Vec<HandlerId>,
) {
    if queue.has_work() {
        handlers.push(SUBMIT_HANDLER);
    }
    if host.completions_ready() {
        handlers.push(AIO_HANDLER);
    }
}

/// Arms: resets the doorbells (so an event that lands after the re-check
/// rings after the reset and the wait sees it), turns notifications on and
/// re-checks both handlers.
fn arm<H: LoopHost>(host: &mut H, queue: &SubmitQueue<H::Request>, handlers: &mut Vec<HandlerId>) {
    host.reset_doorbells();
    if !queue.enable_notify() {
        handlers.push(SUBMIT_HANDLER);
    }
    if host.completions_ready() {
        handlers.push(AIO_HANDLER);
    }
    if handlers.is_empty() && host.stranded() {
        handlers.push(SUBMIT_HANDLER);
    }
}

/// What the loop measured between its start and the stop signal.
#[derive(Debug, Default)]
pub struct LoopReport {
    /// How many loops these numbers sum (0 or 1: one loop); see
    /// [`LoopReport::merge`].
    pub loops: u32,
    pub elapsed_ns: u64,
    /// CLOCK_THREAD_CPUTIME_ID over the run.
    pub cpu_ns: u64,
    /// Time spent busy-polling (wall clock of the poll phases).
    pub poll_ns: u64,
    /// Time spent submitting and completing (wall clock of the busy phases).
    pub busy_ns: u64,
    /// Wall-clock time asleep in `epoll_wait`.
    pub blocked_ns: u64,
    pub iterations: u64,
    /// Iterations whose event was found by polling.
    pub polled_hits: u64,
    /// Blocking `epoll_wait` calls that returned: the loop was woken.
    pub wakeups: u64,
    pub submit_calls: u64,
    pub window: WindowStats,
    /// The window at the start, at every change and at every live parameter
    /// change, times since the run's epoch (see [`EventLoop::run`]);
    /// `params_version` indexes `params_history`.
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
    /// Every iteration, phase by phase, when the run logs them
    /// ([`EventLoop::log_iterations`]; at most
    /// [`pollwise_core::MAX_ITER_RECORDS`]); start times from the run's
    /// epoch. A woken iteration's `wake_ns` runs from the submission
    /// doorbell's ring; a wake-up by a completion alone is `None` (the
    /// kernel's write of the AIO eventfd is not timed), and its `slept_ns`
    /// then holds the wake-up too.
    pub iterations_log: Vec<IterRecord>,
}

impl LoopReport {
    /// Adds another loop's report to this one (runs with several
    /// IOThreads): counts and times are summed, the elapsed time is the
    /// longer, the window statistics merged; the trace and parameter
    /// history stay this loop's.
    pub fn merge(&mut self, o: &LoopReport) {
        self.loops = self.loops.max(1) + o.loops.max(1);
        self.elapsed_ns = self.elapsed_ns.max(o.elapsed_ns);
        self.cpu_ns += o.cpu_ns;
        self.poll_ns += o.poll_ns;
        self.busy_ns += o.busy_ns;
        self.blocked_ns += o.blocked_ns;
        self.iterations += o.iterations;
        self.polled_hits += o.polled_hits;
        self.wakeups += o.wakeups;
        self.submit_calls += o.submit_calls;
        self.window.merge(&o.window);
        self.param_rejections += o.param_rejections;
        self.user_space_ring &= o.user_space_ring;
        self.device_ns_total += o.device_ns_total;
        self.device_reaped += o.device_reaped;
        let room = MAX_ITER_RECORDS.saturating_sub(self.iterations_log.len());
        self.iterations_log
            .extend(o.iterations_log.iter().take(room).copied());
    }
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
    /// The parameters the run starts with.
    pub initial: Params,
    pub params: Arc<ParamCell>,
    pub stop: Arc<StopSignal>,
    pub trace: bool,
    /// Log every iteration (see [`LoopReport::iterations_log`]).
    log: bool,
    /// Where the loop's CPU at each completion send goes, when asked
    /// ([`EventLoop::record_send_cpu`]).
    send_cpu: Option<Arc<AtomicU64>>,
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
            initial,
            params,
            stop,
            trace,
            log: false,
            send_cpu: None,
        })
    }

    /// Logs every iteration phase by phase, timing each submission and
    /// each submission doorbell's ring (a few clock reads per iteration).
    pub fn log_iterations(&mut self) {
        self.log = true;
        self.submit_efd.record_rings();
    }

    /// From now on every completion send first stores the loop's CPU in
    /// the cell returned, for its jobs to compare with their own when the
    /// send wakes them ([`crate::loadgen::Job::loop_cpu`]).
    pub fn record_send_cpu(&mut self) -> Arc<AtomicU64> {
        let cell = Arc::new(AtomicU64::new(NO_CPU));
        self.send_cpu = Some(cell.clone());
        cell
    }

    /// Runs until the stop signal, then cancels what was never submitted,
    /// waits for what is in flight and returns the measurements. Trace times
    /// count from `epoch_ns` (CLOCK_MONOTONIC), the run's start.
    pub fn run(self, epoch_ns: u64) -> std::io::Result<LoopReport> {
        let queue = Arc::clone(&self.queue);
        let stop = Arc::clone(&self.stop);
        let cell = Arc::clone(&self.params);
        let mut lp = IoThread::new(self.initial.clone(), HANDLERS, 0, u64::MAX);
        let slots = self.pool.slots();
        let log = self.log.then(Vec::new);
        let mut host = DiskHost {
            log,
            io: IterRecord::default(),
            woke_rung: None,
            report: LoopReport {
                user_space_ring: self.aio.user_space_ring(),
                params_history: vec![self.initial.to_string()],
                ..LoopReport::default()
            },
            epoch_ns,
            backlog: Vec::new(),
            events: Vec::with_capacity(slots),
            iocbs: Vec::with_capacity(slots),
            tokens: Vec::with_capacity(8),
            in_flight: 0,
            lp: self,
        };
        let start = mono_ns();
        let cpu_start = thread_cpu_ns();
        let result = drive(&mut lp, &mut host, &queue, &stop, Some(&cell));
        let mut r = host.report;
        r.iterations_log = host.log.unwrap_or_default();
        r.elapsed_ns = mono_ns() - start;
        r.cpu_ns = thread_cpu_ns() - cpu_start;
        r.device_ns_total = host.lp.device_ns_total;
        r.device_reaped = host.lp.device_reaped;
        let c = lp.finish(u64::MAX);
        r.poll_ns = c.poll_ns;
        r.busy_ns = c.busy_ns;
        r.blocked_ns = c.blocked_ns;
        r.iterations = c.iterations;
        r.polled_hits = c.polled_hits;
        r.wakeups = c.wakeups;
        r.window = c.window;
        result.map(|()| r)
    }
}

/// The loop on a disk: epoll over the submission and completion eventfds,
/// Linux AIO for the I/O.
pub struct DiskHost {
    lp: EventLoop,
    report: LoopReport,
    epoch_ns: u64,
    /// Requests drained from the queue and not yet taken by the kernel.
    backlog: Vec<Request>,
    events: Vec<IoEvent>,
    iocbs: Vec<Iocb>,
    tokens: Vec<u64>,
    in_flight: usize,
    /// The iterations logged, when asked for; this iteration's submission
    /// and reaping; when the submission doorbell that woke it rang, and
    /// whether the loop woke on the ringing thread's CPU and had slept on
    /// it.
    log: Option<Vec<IterRecord>>,
    io: IterRecord,
    woke_rung: Option<(u64, Option<(bool, bool)>)>,
}

impl LoopHost for DiskHost {
    type Request = Request;

    fn now(&mut self) -> u64 {
        mono_ns()
    }

    fn completions_ready(&mut self) -> bool {
        self.lp.aio.ready() > 0
    }

    fn reset_doorbells(&mut self) {
        self.lp.submit_efd.drain();
        self.lp.aio_efd.drain();
        self.lp.submit_efd.take_rung();
    }

    fn stranded(&self) -> bool {
        !self.backlog.is_empty() && self.in_flight == 0
    }

    fn in_flight(&self) -> u32 {
        u32::try_from(self.in_flight).unwrap_or(u32::MAX)
    }

    fn wait(&mut self, handlers: &mut Vec<HandlerId>) -> std::io::Result<()> {
        let slept_on = self.log.as_ref().and_then(|_| current_cpu());
        self.lp.epoll.wait(-1, &mut self.tokens)?;
        handlers.extend(self.tokens.iter().map(|&t| t as HandlerId));
        if self.log.is_some() {
            let woke_on = current_cpu();
            self.woke_rung = handlers
                .contains(&SUBMIT_HANDLER)
                .then(|| self.lp.submit_efd.take_rung())
                .flatten()
                .map(|(at, cpu)| {
                    let on = |c: Option<usize>| cpu.zip(c).map(|(a, b)| a == b);
                    (at, on(woke_on).zip(on(slept_on)))
                });
        }
        Ok(())
    }

    fn process(&mut self, requests: &mut Vec<Request>, _lp: &IoThread) -> std::io::Result<()> {
        // Submit first, so the device starts as early as possible, then hand
        // out completions.
        self.backlog.append(requests);
        if !self.backlog.is_empty() {
            let (at, calls) = (
                self.log.as_ref().map(|_| mono_ns()),
                self.report.submit_calls,
            );
            let taken = self
                .lp
                .submit(&mut self.backlog, &mut self.iocbs, &mut self.report);
            self.in_flight += taken;
            if let Some(at) = at {
                self.io.submit_ns = mono_ns() - at;
                self.io.submit_calls = (self.report.submit_calls - calls) as u32;
                self.io.submitted = taken as u32;
            }
        }
        self.events.clear();
        self.lp.aio.reap(&mut self.events);
        self.io.reaped = self.events.len() as u32;
        self.in_flight -= self.events.len();
        self.lp.complete(&self.events);
        self.lp.flush();
        Ok(())
    }

    fn shutdown(&mut self, cancelled: &mut Vec<Request>) -> std::io::Result<()> {
        self.backlog.append(cancelled);
        for req in std::mem::take(&mut self.backlog) {
            self.lp.send(req.slot, Status::Cancelled);
        }
        self.events.clear();
        self.lp.aio.wait_for(self.in_flight, &mut self.events)?;
        self.in_flight = 0;
        self.lp.complete(&self.events);
        self.lp.flush();
        Ok(())
    }

    fn trace(&mut self, point: TracePoint) {
        if self.lp.trace {
            self.report.trace.push(TracePoint {
                time_ns: point.time_ns.saturating_sub(self.epoch_ns),
                ..point
            });
        }
    }

    fn params_changed(&mut self, result: Result<&Params, ParamError>) {
        match result {
            Ok(p) => self.report.params_history.push(p.to_string()),
            Err(_) => self.report.param_rejections += 1,
        }
    }

    fn iteration(&mut self, r: IterRecord) {
        let io = std::mem::take(&mut self.io);
        let rung = self.woke_rung.take();
        let Some(log) = self.log.as_mut().filter(|l| l.len() < MAX_ITER_RECORDS) else {
            return;
        };
        log.push(device_record(r, io, rung, self.epoch_ns));
    }
}

/// The machine's record `r` of an iteration on the device, with its
/// submission and reaping `io`: times from `epoch_ns`, and for a woken
/// iteration the wake-up measured from the doorbell's ring `rung` (the
/// machine heard of the arrival only when the loop woke), the sleep up to
/// it, and whether it woke on the ringer's CPU and had slept on it;
/// without a ring, the wake-up is unknown and the sleep holds it.
fn device_record(
    r: IterRecord,
    io: IterRecord,
    rung: Option<(u64, Option<(bool, bool)>)>,
    epoch_ns: u64,
) -> IterRecord {
    let r = r.woken_by_doorbell(rung.map(|(at, _)| at));
    let cpus = rung.and_then(|(_, cpus)| cpus).filter(|_| r.slept());
    IterRecord {
        start_ns: r.start_ns.saturating_sub(epoch_ns),
        on_ringer_cpu: cpus.map(|(woke_on, _)| woke_on),
        slept_on_ringer_cpu: cpus.map(|(_, slept_on)| slept_on),
        submit_ns: io.submit_ns,
        submit_calls: io.submit_calls,
        submitted: io.submitted,
        reaped: io.reaped,
        ..r
    }
}

impl EventLoop {
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
        if let Some(cell) = &self.send_cpu {
            if self.outbox.iter().any(|o| !o.is_empty()) {
                let cpu = current_cpu().map_or(NO_CPU, |c| c as u64);
                cell.store(cpu, Ordering::Release);
            }
        }
        for (outbox, tx) in self.outbox.iter_mut().zip(&self.completions) {
            if !outbox.is_empty() {
                // A job that has gone away no longer needs the answer.
                let _ = tx.send(std::mem::take(outbox));
            }
        }
    }
}
