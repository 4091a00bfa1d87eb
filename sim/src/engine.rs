//! The discrete-event model: guest vCPUs running fio jobs, virtqueues,
//! IOThreads driven by a core policy, and the device. One run is a pure
//! function of (preset, workload, policy parameters, seed).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use hdrhistogram::Histogram;
use pollwise_core::{
    run_row, EventKind, Foresight, IterRecord, JobWakes, Latency, Params, RawCounts, RunLabels,
    RunRow, TracePoint, TraceRow, WindowStats, MAX_ITER_RECORDS,
};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal};
use rand_pcg::Pcg64;

use crate::dist::{round_ns, Sampler};
use crate::error::SimError;
use crate::host::{Dispatch, HostCpus, Resume, WakeCause, Waker};
use crate::loop_driver::{Awaiting, LoopDriver, LoopEvent};
use crate::preset::{Preset, VqMapping};
use crate::queue::{self, EventQueue, Slots};
use crate::trace::TraceSink;
use crate::workload::{Validate as _, Workload};

type Time = u64;

const NS_PER_MS: u64 = 1_000_000;

/// Everything that happens, ordered by (time, sequence number) so that
/// simultaneous events always run in the order they were scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// A vCPU finished its current work item.
    VcpuDone { vcpu: u32 },
    /// The device's media finished a request; its data now queues for the
    /// transfer path.
    MediaDone { slot: u32 },
    /// The device finished a request (its data is in the AIO ring).
    DeviceDone { slot: u32 },
    /// A request reaches the queue of a host that serves in passes.
    Arrive { slot: u32 },
    /// An IOThread's poll window ran out with nothing found. Like the
    /// other two loop events below, it is kept in the IOThread's slot
    /// ([`Engine::loop_events`]), never in the queue, and it always
    /// belongs to the current iteration.
    PollTimeout { it: u32 },
    /// An IOThread saw its work: by a poll pass, or after waking up.
    Noticed { it: u32 },
    /// An IOThread finished processing; the next iteration begins.
    IterEnd { it: u32 },
    /// Completions reach a vCPU as an interrupt.
    GuestIrq { vcpu: u32 },
    /// Shared host: a woken thread's wake-up latency has passed.
    Runnable { thread: u32 },
    /// Shared host: a thread gets the CPU another gave up.
    OnCpu { thread: u32 },
}

// Eight bytes, so a queue entry is 24.
const _: () = assert!(std::mem::size_of::<Event>() == 8);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Work {
    /// The guest's interrupt handler.
    Irq,
    /// fio issues the request in this slot; `reap` first completes the
    /// previous one (its latency is recorded when the work starts).
    Issue { slot: u32, reap: bool },
    /// The VM exit of a virtqueue kick, costing `ns` of the vCPU's time
    /// ([`Engine::kick_cost`]).
    Kick { ns: u64 },
}

/// One in-flight request; there is one slot per (job, iodepth) pair.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    job: u32,
    vcpu: u32,
    /// How many requests this slot has issued: picks the disk (fio's
    /// round-robin over files) and the operation.
    issued: u64,
    disk: u32,
    write: bool,
    iothread: u32,
    handler: u32,
    submitted_at: Time,
}

#[derive(Clone, Debug, Default)]
struct Vcpu {
    work: VecDeque<Work>,
    busy: bool,
    /// When the current work item ends (for a clairvoyant's foresight).
    busy_until: Time,
    current: Option<Work>,
    /// Completions on their way to this vCPU: (delivery time, slot).
    inbox: Vec<(Time, u32)>,
    /// The IOThread that sent the last of them (its job's waker).
    sent_by: Option<u32>,
    /// On a shared host while iterations are logged: the IOThread whose
    /// completions woke this job, until the job runs.
    woken_by: Option<u32>,
    /// On a host that packs: the send that wakes this job, asleep on
    /// another CPU than its IOThread's, was drawn packed onto the
    /// IOThread's CPU (see [`Engine::vcpus_to_notify`]), until it is woken.
    packed_send: bool,
}

/// One simulated IOThread: the one loop (see [`LoopDriver`]) and what it has to
/// process.
#[derive(Clone)]
struct SimThread {
    lp: LoopDriver,
    /// Poll handlers: one per virtqueue served, then the AIO ring.
    handlers: u32,
    ready_sub: Vec<u32>,
    ready_cmp: Vec<u32>,
    /// What the current iteration submitted and reaped (only while
    /// iterations are logged).
    io: IterRecord,
    /// When a submission first rang this IOThread's doorbell since a
    /// woken iteration last took it (only while iterations are logged):
    /// what the device loop times a wake-up from; and on a shared host
    /// the CPU of the job that rang and the one the IOThread last ran on
    /// before the ring.
    rung: Option<(u64, Option<u32>, Option<u32>)>,
    /// Requests this IOThread submitted whose completions it has not yet
    /// processed (what it tells its loop before each iteration).
    in_flight: u32,
}

impl SimThread {
    fn pending(&self) -> bool {
        !self.ready_sub.is_empty() || !self.ready_cmp.is_empty()
    }
}

/// A disk of the device: internal channels (busy for a request's media
/// latency) and one transfer path shared by its requests.
#[derive(Clone)]
struct Disk {
    channels_free_at: BinaryHeap<Reverse<Time>>,
    transfer_free_at: Time,
    /// What the transfer times so far left below a nanosecond, per
    /// direction (read, write), in units of 1/rate ns: carried so that a
    /// transfer shorter than 1 ns still adds up to the device's bandwidth.
    transfer_carry: [u128; 2],
    /// Requests between submission and the end of their media access.
    in_media: u64,
    /// The loop iteration that last notified it (`Engine::notify_round`).
    notified_round: u64,
    /// A host serving in passes (`device.passes`): requests waiting in its
    /// queue, whether it is serving one, and the pass's finished requests.
    ring: VecDeque<u32>,
    serving: bool,
    pass_done: Vec<u32>,
    /// Requests whose transfer has finished or will, in order, behind the
    /// one in the engine's `done_events` slot for this disk: (queue key,
    /// slot). The transfer path is one FIFO (and a pass delivers at one
    /// time), so their times never decrease.
    done_queue: VecDeque<(u128, u32)>,
}

/// The measurements of one run before they become a [`RunRow`].
#[derive(Clone)]
struct Meters {
    latency: Histogram<u64>,
    completions: u64,
    kicks: u64,
    /// Loop wall time its CPU clock does not count (`notify_guest_stall_ns`).
    stalled_ns: u64,
}

/// One run of the model. A clone is an independent copy of the run's
/// state (the rollout explores futures from clones).
#[derive(Clone)]
pub struct Engine<'a> {
    preset: &'a Preset,
    workload: &'a Workload,
    params: &'a Params,
    seed: u64,
    now: Time,
    events: EventQueue<Event>,
    /// Per IOThread, its one pending loop event (`PollTimeout`, `Noticed`
    /// or `IterEnd`), kept out of the queue under a key from the queue's
    /// sequence, so that events pop in the same order as if it were
    /// queued. An IOThread waits for one thing at a time: its window's
    /// end while it polls, its notice, or its iteration's end. A window
    /// cut short by an arrival (most are) leaves no event behind to pop.
    loop_events: Slots<Event>,
    /// Per vCPU, the end of its current work item (`VcpuDone`) while it is
    /// busy, kept out of the queue in the same way.
    vcpu_events: Slots<Event>,
    /// Per disk, the earliest of its finished requests (`DeviceDone`),
    /// the rest waiting in the disk's `done_queue`, kept out of the queue
    /// in the same way.
    done_events: Slots<Event>,
    rng: Pcg64,
    read_latency: Sampler,
    write_latency: Sampler,
    /// Mean-1 lognormal factor on the guest's per-I/O time.
    guest_jitter: Option<LogNormal<f64>>,
    slots: Vec<Slot>,
    vcpus: Vec<Vcpu>,
    iothreads: Vec<SimThread>,
    disks: Vec<Disk>,
    /// The shared-CPU model (`crate::host`), when the preset asks for it:
    /// threads `0..iothreads` are the IOThreads, then one per vCPU (per
    /// job). `None`: every thread has a CPU of its own.
    host: Option<HostCpus>,
    /// Per vCPU, the last processing round that notified it.
    notify_stamp: Vec<u64>,
    notify_round: u64,
    /// Global queue index -> (iothread, handler id on it).
    queue_map: Vec<(u32, u32)>,
    measure_from: Time,
    measure_to: Time,
    meters: Meters,
    trace: Option<TraceSink<'a>>,
    params_text: String,
    /// Events processed, for the benchmark.
    processed: u64,
    /// A decision to impose on the next clairvoyant decision (the rollout).
    force_next: Option<bool>,
    /// Who wakes the IOThread for the arrival being handled: the job that
    /// submitted (`None` for the device's completion).
    arrival_by: Option<WakeCause>,
    /// Clairvoyant decisions made so far.
    decisions: u64,
    /// Every iteration begun inside the measured interval, when asked for
    /// ([`Engine::log_iterations`]).
    iters: Option<Vec<IterRecord>>,
    /// The jobs' wake-ups by completions (only while iterations are
    /// logged).
    job_wakes: JobWakes,
}

/// Every job's `iodepth` request slots, job j on vCPU j % `vcpus`.
fn new_slots(workload: &Workload, vcpus: u32) -> Vec<Slot> {
    let nslots = workload.numjobs * workload.iodepth;
    (0..nslots)
        .map(|s| {
            let job = s / workload.iodepth;
            Slot {
                job,
                vcpu: job % vcpus,
                // Start the slots of one job on different disks.
                issued: u64::from(s % workload.iodepth),
                ..Slot::default()
            }
        })
        .collect()
}

impl Disk {
    /// An idle disk with the preset's parallelism.
    fn new(preset: &Preset) -> Disk {
        Disk {
            channels_free_at: (0..preset.device.parallelism).map(|_| Reverse(0)).collect(),
            transfer_free_at: 0,
            transfer_carry: [0; 2],
            in_media: 0,
            notified_round: 0,
            ring: VecDeque::new(),
            serving: false,
            pass_done: Vec::new(),
            done_queue: VecDeque::new(),
        }
    }
}

/// Which IOThread serves each virtqueue and under which handler id there:
/// (handlers per IOThread, `(iothread, handler)` per queue).
fn map_queues(preset: &Preset, n_it: u32) -> (Vec<u32>, Vec<(u32, u32)>) {
    let top = &preset.topology;
    let queues = top.disks * top.queues_per_disk;
    let mut per_it_handlers = vec![0u32; n_it as usize];
    let mut queue_map = Vec::with_capacity(queues as usize);
    for g in 0..queues {
        let disk = g / top.queues_per_disk;
        let it = match top.vq_mapping {
            VqMapping::Spread => g % n_it,
            VqMapping::PerDisk => disk % n_it,
        };
        queue_map.push((it, per_it_handlers[it as usize]));
        per_it_handlers[it as usize] += 1;
    }
    (per_it_handlers, queue_map)
}

/// One IOThread with `handlers` handlers (its queues and the AIO ring),
/// measuring over `window`.
fn new_iothread(
    preset: &Preset,
    params: &Params,
    handlers: u32,
    host: Option<&HostCpus>,
    window: (Time, Time),
) -> SimThread {
    let costs = &preset.iothread;
    // An arrival is noticed one poll pass (every handler checked once)
    // later, or a wake-up later.
    let pass_ns = costs.poll_check_ns * u64::from(handlers);
    // A shared host draws each wake-up and stretches the pass.
    let (pass_ns, wake_ns) = match host {
        Some(h) => (h.cost(pass_ns), 0),
        None => (pass_ns, costs.wakeup_latency_ns),
    };
    let lp = LoopDriver::new(
        params.clone(),
        handlers,
        pass_ns,
        wake_ns,
        window.0,
        window.1,
    )
    // A shared host's wake-up curve already depends on idle time.
    .with_cstates(costs.cstates().filter(|_| host.is_none()));
    SimThread {
        lp: if costs.notifier_polled {
            lp.with_context_notifier()
        } else {
            lp
        },
        handlers,
        ready_sub: Vec::new(),
        ready_cmp: Vec::new(),
        io: IterRecord::default(),
        rung: None,
        in_flight: 0,
    }
}

impl<'a> Engine<'a> {
    pub fn new(
        preset: &'a Preset,
        workload: &'a Workload,
        params: &'a Params,
        seed: u64,
        trace: bool,
    ) -> Result<Engine<'a>, SimError> {
        workload.validate()?;
        preset.validate()?;
        let top = &preset.topology;
        let n_it = workload.iothreads;
        let (per_it_handlers, queue_map) = map_queues(preset, n_it);
        let measure_from = preset.matrix.warmup_ms * NS_PER_MS;
        let measure_to = measure_from + workload.duration_ms * NS_PER_MS;
        // On a shared host every fio job is a thread of its own.
        let shared = preset.host.as_ref().filter(|h| h.shared);
        let vcpus = shared.map_or(preset.guest.vcpus, |_| workload.numjobs);
        let host = shared.map(|h| HostCpus::new(h, n_it + vcpus, measure_from, measure_to));
        let window = (measure_from, measure_to);
        let iothreads = per_it_handlers
            .iter()
            .map(|&queues| new_iothread(preset, params, queues + 1, host.as_ref(), window))
            .collect();
        let slots = new_slots(workload, vcpus);
        let disks = (0..top.disks).map(|_| Disk::new(preset)).collect();
        Ok(Engine {
            preset,
            workload,
            params,
            seed,
            now: 0,
            events: EventQueue::new(),
            loop_events: Slots::new(n_it as usize, Event::IterEnd { it: 0 }),
            vcpu_events: Slots::new(vcpus as usize, Event::VcpuDone { vcpu: 0 }),
            done_events: Slots::new(top.disks as usize, Event::DeviceDone { slot: 0 }),
            rng: Pcg64::seed_from_u64(seed),
            read_latency: preset.device.read_latency.sampler(),
            write_latency: preset.device.write_latency.sampler(),
            guest_jitter: {
                let sigma = preset.guest.io_cpu_jitter_sigma;
                (sigma > 0.0)
                    .then(|| LogNormal::new(-sigma * sigma / 2.0, sigma).expect("validated sigma"))
            },
            slots,
            vcpus: (0..vcpus).map(|_| Vcpu::default()).collect(),
            notify_stamp: vec![0; vcpus as usize],
            notify_round: 0,
            iothreads,
            disks,
            host,
            queue_map,
            measure_from,
            measure_to,
            meters: Meters {
                latency: Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
                    .expect("static histogram bounds are valid"),
                completions: 0,
                kicks: 0,
                stalled_ns: 0,
            },
            trace: trace.then(TraceSink::collect),
            params_text: params.to_string(),
            processed: 0,
            force_next: None,
            arrival_by: None,
            decisions: 0,
            iters: None,
            job_wakes: JobWakes::default(),
        })
    }

    fn schedule(&mut self, at: Time, event: Event) {
        debug_assert!(at >= self.now, "event scheduled in the past");
        self.events.push(at, event);
    }

    fn measuring(&self) -> bool {
        self.now >= self.measure_from && self.now < self.measure_to
    }

    /// Runs to the end of the measured interval and returns the metrics.
    pub fn run(self) -> (RunRow, Vec<TraceRow>) {
        let (row, trace, _) = self.run_counted();
        (row, trace)
    }

    /// [`Engine::run`], also returning how many events were processed.
    pub fn run_counted(mut self) -> (RunRow, Vec<TraceRow>, u64) {
        self.start();
        while self.step() {}
        let processed = self.processed;
        let (row, trace) = self.finish();
        (row, trace, processed)
    }

    /// Queues the first requests and starts every IOThread and vCPU.
    pub(crate) fn start(&mut self) {
        for s in 0..self.slots.len() as u32 {
            let vcpu = self.slots[s as usize].vcpu;
            self.vcpus[vcpu as usize].work.push_back(Work::Issue {
                slot: s,
                reap: false,
            });
        }
        for it in 0..self.iothreads.len() as u32 {
            match &mut self.host {
                Some(h) => {
                    h.wake_at(it, 0, Resume::Begin);
                    self.schedule(0, Event::Runnable { thread: it });
                }
                None => self.begin_iteration(it),
            }
        }
        for v in 0..self.vcpus.len() as u32 {
            self.start_work(v);
        }
    }

    /// Processes the next event; `false` once the measured interval is over
    /// (then `now` is its end).
    pub(crate) fn step(&mut self) -> bool {
        let (l, v) = (self.loop_events.first_key(), self.vcpu_events.first_key());
        let (d, q) = (self.done_events.first_key(), self.events.first_key());
        let next = if l < v && l < d {
            if l < q {
                Some(self.loop_events.take_first())
            } else {
                self.events.pop()
            }
        } else if v < d {
            if v < q {
                Some(self.vcpu_events.take_first())
            } else {
                self.events.pop()
            }
        } else if d < q {
            Some(self.take_device_done())
        } else {
            self.events.pop()
        };
        match next {
            Some((at, _, event)) if at < self.measure_to => {
                self.now = at;
                self.processed += 1;
                match event {
                    Event::VcpuDone { vcpu } => self.vcpu_done(vcpu),
                    Event::MediaDone { slot } => self.media_done(slot),
                    Event::DeviceDone { slot } => self.device_done(slot),
                    Event::Arrive { slot } => self.arrive(slot),
                    Event::PollTimeout { it } => self.poll_timeout(it, self.loop_gen(it)),
                    Event::Noticed { it } => self.noticed(it, self.loop_gen(it)),
                    Event::IterEnd { it } => self.iter_end(it),
                    Event::GuestIrq { vcpu } => self.guest_irq(vcpu),
                    Event::Runnable { thread } => self.runnable(thread),
                    Event::OnCpu { thread } => self.on_cpu(thread),
                }
                true
            }
            _ => {
                self.now = self.measure_to;
                false
            }
        }
    }

    // ---- guest ----------------------------------------------------------

    fn start_work(&mut self, vcpu: u32) {
        if self.vcpus[vcpu as usize].busy || !self.job_on_cpu(vcpu) {
            return;
        }
        let v = &mut self.vcpus[vcpu as usize];
        let Some(work) = v.work.pop_front() else {
            return;
        };
        v.busy = true;
        v.current = Some(work);
        let preset = self.preset;
        let g = &preset.guest;
        let cost = match work {
            Work::Irq => g.irq_cpu_ns,
            Work::Kick { ns } => ns,
            Work::Issue { slot, reap } => {
                if reap {
                    let latency = self.now - self.slots[slot as usize].submitted_at;
                    if self.measuring() {
                        self.meters.latency.saturating_record(latency.max(1));
                        self.meters.completions += 1;
                    }
                }
                self.route(slot);
                let base = g.io_cpu_ns + g.io_cpu_ns_per_kib * self.workload.bs / 1024;
                match &self.guest_jitter {
                    // A lognormal factor is unbounded; one I/O never takes
                    // the guest more than a second.
                    Some(j) => {
                        round_ns(base as f64 * j.sample(&mut self.rng)).min(NS_PER_MS * 1000)
                    }
                    None => base,
                }
            }
        };
        let end = self.now + self.wall(cost);
        self.vcpus[vcpu as usize].busy_until = end;
        debug_assert!(end >= self.now, "work ending in the past");
        // A busy vCPU starts no work, so it has no other end pending.
        debug_assert!(self.vcpu_events.get(vcpu).is_none());
        let seq = self.events.take_seq();
        self.vcpu_events
            .set(vcpu, queue::key(end, seq), Event::VcpuDone { vcpu });
    }

    /// Chooses the disk, queue and operation of a slot's next request.
    fn route(&mut self, slot: u32) {
        let top = &self.preset.topology;
        let read_pct = self.workload.rw.read_pct(self.workload.rwmixread);
        let write = match read_pct {
            100 => false,
            0 => true,
            p => self.rng.random_range(0..100) >= p,
        };
        let s = &mut self.slots[slot as usize];
        s.disk = ((u64::from(s.job) + s.issued) % u64::from(top.disks)) as u32;
        s.issued += 1;
        s.write = write;
        let queue = s.disk * top.queues_per_disk + s.vcpu % top.queues_per_disk;
        (s.iothread, s.handler) = self.queue_map[queue as usize];
    }

    fn vcpu_done(&mut self, vcpu: u32) {
        let v = &mut self.vcpus[vcpu as usize];
        let work = v.current.take().expect("a vCPU finishing work has work");
        v.busy = false;
        if let Work::Issue { slot, .. } = work {
            let it = self.slots[slot as usize].iothread;
            self.slots[slot as usize].submitted_at = self.now;
            self.iothreads[it as usize].ready_sub.push(slot);
            // A kick wakes the IOThread only if it waits for its doorbell;
            // one already woken is on its way.
            let wakes = self.iothreads[it as usize].lp.awaiting() == Awaiting::Doorbell;
            let loop_cpu = self.host.as_ref().and_then(|h| h.cpu(it));
            // First let the IOThread react (a clairvoyant one decides now
            // whether it was polling), then see whether the guest must kick.
            self.arrival(it, EventKind::Submission, vcpu);
            if self.iothreads[it as usize].lp.machine().notify_enabled() {
                if self.now >= self.measure_from {
                    self.meters.kicks += 1;
                }
                if self.iters.is_some() {
                    let job = self.iothreads.len() as u32 + vcpu;
                    let cpu = self.host.as_ref().and_then(|h| h.cpu(job));
                    let rung = &mut self.iothreads[it as usize].rung;
                    rung.get_or_insert((self.now, cpu, loop_cpu));
                }
                if self.preset.iothread.stale_eventfd {
                    let handler = self.slots[slot as usize].handler;
                    self.iothreads[it as usize].lp.doorbell(handler);
                }
                let packed = self.host.as_ref().is_some_and(|h| h.packed_waking(it));
                let ns = self.kick_cost(wakes, packed);
                self.vcpus[vcpu as usize].work.push_front(Work::Kick { ns });
            }
        }
        self.start_work(vcpu);
    }

    fn guest_irq(&mut self, vcpu: u32) {
        let now = self.now;
        let v = &mut self.vcpus[vcpu as usize];
        // One interrupt is queued per delivery time (`deliver`), so each
        // finds its completions due.
        let due = v.inbox.iter().any(|&(t, _)| t <= now);
        debug_assert!(due, "an interrupt with no completion due at {now}");
        if !due {
            return;
        }
        v.work.push_back(Work::Irq);
        let work = &mut v.work;
        v.inbox.retain(|&(t, slot)| {
            let due = t <= now;
            if due {
                work.push_back(Work::Issue { slot, reap: true });
            }
            !due
        });
        self.start_work(vcpu);
    }

    // ---- device ---------------------------------------------------------

    fn submit_to_device(&mut self, slot: u32, at: Time) {
        let s = self.slots[slot as usize];
        if self.preset.device.passes.is_some() {
            self.disks[s.disk as usize].in_media += 1;
            self.schedule(at, Event::Arrive { slot });
            return;
        }
        let sampler = if s.write {
            &self.write_latency
        } else {
            &self.read_latency
        };
        let disk = &mut self.disks[s.disk as usize];
        let shared = self.preset.device.latency_per_inflight_ns * disk.in_media;
        disk.in_media += 1;
        let latency = sampler.sample(&mut self.rng) + shared;
        let Reverse(free) = disk.channels_free_at.pop().expect("parallelism >= 1");
        let media_done = at.max(free) + latency;
        disk.channels_free_at.push(Reverse(media_done));
        self.schedule(media_done, Event::MediaDone { slot });
    }

    /// The transfer path serves requests in the order their media access
    /// finished, so a slow request does not hold up faster ones behind it.
    fn media_done(&mut self, slot: u32) {
        if self.preset.device.passes.is_some() {
            return self.served(slot);
        }
        let s = self.slots[slot as usize];
        let transfer = self.transfer_ns(slot);
        let disk = &mut self.disks[s.disk as usize];
        disk.in_media -= 1;
        let done = self.now.max(disk.transfer_free_at) + transfer;
        disk.transfer_free_at = done;
        self.schedule_device_done(s.disk, done, slot);
    }

    /// Schedules `slot`'s `DeviceDone` at `at` behind its disk's earlier
    /// ones, under the key a push would have taken.
    fn schedule_device_done(&mut self, disk: u32, at: Time, slot: u32) {
        debug_assert!(at >= self.now, "a completion scheduled in the past");
        let key = queue::key(at, self.events.take_seq());
        let d = &mut self.disks[disk as usize];
        debug_assert!(
            d.done_queue.back().is_none_or(|&(k, _)| k < key),
            "disk {disk}'s completions out of order"
        );
        if self.done_events.get(disk).is_none() {
            self.done_events.set(disk, key, Event::DeviceDone { slot });
        } else {
            d.done_queue.push_back((key, slot));
        }
    }

    /// Takes the earliest disk's next `DeviceDone` and moves that disk's
    /// following one into its slot.
    fn take_device_done(&mut self) -> (u64, u64, Event) {
        let next = self.done_events.take_first();
        let Event::DeviceDone { slot } = next.2 else {
            unreachable!("only completions are kept in done_events");
        };
        let disk = self.slots[slot as usize].disk;
        if let Some((key, following)) = self.disks[disk as usize].done_queue.pop_front() {
            self.done_events
                .set(disk, key, Event::DeviceDone { slot: following });
        }
        next
    }

    /// The time a request's data takes on its disk's transfer path.
    fn transfer_ns(&mut self, slot: u32) -> u64 {
        let s = self.slots[slot as usize];
        let dev = &self.preset.device;
        let rate = if s.write {
            dev.write_bytes_per_s
        } else {
            dev.read_bytes_per_s
        };
        let carry = &mut self.disks[s.disk as usize].transfer_carry[usize::from(s.write)];
        let exact = u128::from(self.workload.bs) * 1_000_000_000 + *carry;
        *carry = exact % u128::from(rate);
        dev.transfer_overhead_ns + (exact / u128::from(rate)) as u64
    }

    // ---- a host serving in passes (device.passes) -------------------------

    /// A request reaches the host's queue; an idle host starts a pass.
    fn arrive(&mut self, slot: u32) {
        let disk = self.slots[slot as usize].disk as usize;
        self.disks[disk].ring.push_back(slot);
        if !self.disks[disk].serving {
            self.serve_next(disk);
        }
    }

    /// The host runs the request at the head of its queue: its service time
    /// and its transfer.
    fn serve_next(&mut self, disk: usize) {
        let Some(slot) = self.disks[disk].ring.pop_front() else {
            return;
        };
        self.disks[disk].serving = true;
        let sampler = if self.slots[slot as usize].write {
            &self.write_latency
        } else {
            &self.read_latency
        };
        let service = sampler.sample(&mut self.rng) + self.transfer_ns(slot);
        self.schedule(self.now + service, Event::MediaDone { slot });
    }

    /// The host finished a request. With its queue empty the pass ends: one
    /// signal delivers every request the pass finished.
    fn served(&mut self, slot: u32) {
        let disk = self.slots[slot as usize].disk as usize;
        let d = &mut self.disks[disk];
        d.in_media -= 1;
        d.pass_done.push(slot);
        if !d.ring.is_empty() {
            return self.serve_next(disk);
        }
        d.serving = false;
        let delivery = self
            .preset
            .device
            .passes
            .as_ref()
            .map_or(0, |p| p.delivery_ns);
        let done = std::mem::take(&mut self.disks[disk].pass_done);
        for &s in &done {
            self.schedule_device_done(disk as u32, self.now + delivery, s);
        }
        // Hand the buffer back so the steady state does not allocate.
        self.disks[disk].pass_done = done;
        self.disks[disk].pass_done.clear();
    }

    fn device_done(&mut self, slot: u32) {
        let s = self.slots[slot as usize];
        let t = &mut self.iothreads[s.iothread as usize];
        t.ready_cmp.push(slot);
        if self.preset.iothread.stale_eventfd {
            // The kernel writes the AIO eventfd (IOCB_FLAG_RESFD).
            t.lp.doorbell(t.handlers - 1);
        }
        self.arrival(s.iothread, EventKind::Completion, s.vcpu);
    }

    // ---- IOThread -------------------------------------------------------

    fn schedule_loop(&mut self, it: u32, next: Option<(Time, LoopEvent)>) {
        // A loop no longer polling has no use for its window's end: the
        // timeout would find it noticing, processing or in a later
        // iteration, and do nothing.
        if self.iothreads[it as usize].lp.awaiting() != Awaiting::Deadline
            && matches!(self.loop_events.get(it), Some(Event::PollTimeout { .. }))
        {
            self.loop_events.clear(it);
        }
        if self.host.is_some() && self.loop_on_host(it, next) {
            return;
        }
        match next {
            Some((at, LoopEvent::PollTimeout { gen })) => {
                debug_assert_eq!(gen, self.iothreads[it as usize].lp.generation());
                self.schedule_loop_event(it, at, Event::PollTimeout { it });
            }
            Some((at, LoopEvent::Noticed { gen })) => {
                debug_assert_eq!(gen, self.iothreads[it as usize].lp.generation());
                self.schedule_loop_event(it, at, Event::Noticed { it });
            }
            None => {}
        }
    }

    /// Schedules IOThread `it`'s loop `event` at `at`, in its slot: with
    /// the sequence number a push would have taken, so it pops exactly
    /// where the queue would have popped it.
    fn schedule_loop_event(&mut self, it: u32, at: Time, event: Event) {
        debug_assert!(at >= self.now, "a loop event scheduled in the past");
        // One pending loop event per IOThread: what it waited for has
        // happened (and was taken from the slot), or a poll window cut
        // short had its timeout cleared.
        debug_assert!(
            self.loop_events.get(it).is_none(),
            "IOThread {it} schedules {event:?} with {:?} pending",
            self.loop_events.get(it)
        );
        let seq = self.events.take_seq();
        self.loop_events.set(it, queue::key(at, seq), event);
    }

    /// The loop generation of IOThread `it`'s event just taken from its
    /// slot: always the current one, as an iteration begins only with
    /// the slot empty (see [`Engine::begin_iteration`]), so no loop event
    /// outlives its iteration.
    fn loop_gen(&self, it: u32) -> u64 {
        self.iothreads[it as usize].lp.generation()
    }

    fn begin_iteration(&mut self, it: u32) {
        debug_assert!(
            self.loop_events.get(it).is_none(),
            "IOThread {it} begins an iteration with a loop event pending"
        );
        let t = &mut self.iothreads[it as usize];
        let next = t.lp.begin(self.now, t.pending());
        self.schedule_loop(it, next);
    }

    /// Work of `kind` for `vcpu`'s request arrived at IOThread `it`. A
    /// clairvoyant policy deciding now is told what a block would cost: the
    /// wake-up's CPU, the kick a submission pays, and how much of a
    /// completion's delay the vCPU's current work item hides (its queued
    /// work is not counted).
    fn arrival(&mut self, it: u32, kind: EventKind, vcpu: u32) {
        let lp = &self.iothreads[it as usize].lp;
        let next = if lp.awaiting() == Awaiting::Foresight {
            self.decisions += 1;
            let g = &self.preset.guest;
            let v = &self.vcpus[vcpu as usize];
            let delivered = self.now + g.irq_latency_ns;
            let hidden_ns = if v.busy {
                v.busy_until.saturating_sub(delivered)
            } else {
                0
            };
            // What the host charges a sleep this event ends: the
            // interrupt's measured cost for a completion on a shared host.
            let wakeup_cpu_ns = self.preset.iothread.wakeup_cpu_ns;
            let wake_cpu_ns = match (kind, &self.host) {
                (EventKind::Completion, Some(h)) => h.irq_sleep_cpu_ns(wakeup_cpu_ns),
                _ => wakeup_cpu_ns,
            };
            Foresight::event(
                kind,
                wake_cpu_ns,
                g.kick_cpu_ns,
                hidden_ns,
                self.force_next.take(),
            )
        } else {
            Foresight::unknown()
        };
        let next = self.iothreads[it as usize]
            .lp
            .arrival_foreseen(self.now, next);
        // Only a shared host asks who woke the loop.
        self.arrival_by = match kind {
            _ if self.host.is_none() => None,
            // The job runs on through its kick and its queued work. A loop
            // packed onto its CPU runs once the job yields it: after the
            // kick's write (the wake-up itself is in the measured
            // same-CPU wake-up, so the write costs what one that wakes
            // nobody does) and the queued work, each queued request
            // ringing again (the loop has not run to turn notifications
            // off).
            EventKind::Submission => {
                let (queued_ns, issues) = self.job_queued(vcpu);
                let g = &self.preset.guest;
                let rings = 1 + issues;
                Some(WakeCause {
                    thread: self.iothreads.len() as u32 + vcpu,
                    runs_on_ns: g.kick_cpu_ns + queued_ns,
                    yields_in_ns: queued_ns + g.kick_ns(false) * rings,
                    decided: false,
                })
            }
            EventKind::Completion | EventKind::Unknown => None,
        };
        self.schedule_loop(it, next);
        self.arrival_by = None;
    }

    fn poll_timeout(&mut self, it: u32, gen: u64) {
        let next = self.iothreads[it as usize].lp.poll_timeout(self.now, gen);
        self.schedule_loop(it, next);
    }

    fn noticed(&mut self, it: u32, gen: u64) {
        let now = self.now;
        let preset = self.preset;
        let costs = &preset.iothread;
        let t = &mut self.iothreads[it as usize];
        // Which handlers had events: each ready request's queue, then the
        // AIO ring if anything completed.
        let aio = t.handlers - 1;
        let slots = &self.slots;
        let handlers = t
            .ready_sub
            .iter()
            .map(|&slot| slots[slot as usize].handler)
            .chain((!t.ready_cmp.is_empty()).then_some(aio));
        let Some(n) = t.lp.noticed(now, gen, handlers) else {
            return;
        };
        if let Some(point) = n.trace {
            self.record_trace(it, point);
        }
        let mut busy = costs.iteration_ns;
        if n.slept {
            match &mut self.host {
                // The measured wake-up runs until the thread is back in
                // user space: the kernel's side of the sleep lies inside
                // it or before the sleep. Its CPU counts; nothing waits
                // for it.
                Some(h) => {
                    let cpu_ns = h.sleep_cpu_ns(it, costs.wakeup_cpu_ns);
                    h.charge(it, now, cpu_ns);
                }
                None => busy += costs.wakeup_cpu_ns,
            }
        }

        let t = &mut self.iothreads[it as usize];
        let subs = std::mem::take(&mut t.ready_sub);
        let cmps = std::mem::take(&mut t.ready_cmp);
        t.in_flight = t.in_flight + subs.len() as u32 - cmps.len() as u32;
        t.lp.set_in_flight(t.in_flight);
        // linux-aio schedules (and cancels) a bottom half after every
        // submission batch and whenever its handler runs, even when a stale
        // doorbell finds no completion; scheduling it calls aio_notify().
        // (Completions report the AIO handler, so this covers them too.)
        let aio_ran = t.lp.machine().last_handlers().contains(&aio);
        if costs.self_notify && (!subs.is_empty() || aio_ran) {
            t.lp.notify_self();
        }
        self.notify_round += 1;
        let submit_ns = self.submit_cost(it, n.slept, &subs);
        if self.iters.is_some() {
            self.iothreads[it as usize].io = IterRecord {
                submit_ns: self.wall(submit_ns),
                submit_calls: u32::from(!subs.is_empty()),
                submitted: subs.len() as u32,
                reaped: cmps.len() as u32,
                ..IterRecord::default()
            };
        }
        busy += submit_ns;
        let submit_at = now + self.wall(busy);
        busy += costs.complete_ns * cmps.len() as u64;
        let sends_from = now + self.wall(busy);
        let notify = self.vcpus_to_notify(it, &cmps);
        let beside = notify.2;
        busy += self.sends_cost(notify);
        let stall = costs.notify_guest_stall_ns * beside;
        if self.measuring() {
            self.meters.stalled_ns += stall;
        }
        let end = now + self.wall(busy) + stall;
        self.schedule_loop_event(it, end, Event::IterEnd { it });

        for &slot in &subs {
            self.submit_to_device(slot, submit_at);
        }
        self.deliver(it, (end, sends_from), &cmps);
        // Hand the buffers back so the steady state does not allocate.
        let t = &mut self.iothreads[it as usize];
        t.ready_sub = subs;
        t.ready_sub.clear();
        t.ready_cmp = cmps;
        t.ready_cmp.clear();
    }

    /// IOThread `it`'s work to submit a batch of requests: the batch, each
    /// request, one notification of each disk the batch finds idle, and
    /// (the first call after a sleep, `slept`) a vCPU back from halt.
    fn submit_cost(&mut self, it: u32, slept: bool, subs: &[u32]) -> u64 {
        if subs.is_empty() {
            return 0;
        }
        let costs = &self.preset.iothread;
        let mut busy = costs.submit_batch_ns + costs.submit_ns * subs.len() as u64;
        if let (true, Some(h)) = (slept, &self.host) {
            busy += h.submit_after_sleep_ns(it);
        }
        let idle_notify = self.preset.device.idle_notify_ns;
        if idle_notify > 0 {
            for &slot in subs {
                let disk = &mut self.disks[self.slots[slot as usize].disk as usize];
                if disk.in_media == 0 && disk.notified_round != self.notify_round {
                    disk.notified_round = self.notify_round;
                    busy += idle_notify;
                }
            }
        }
        busy
    }

    /// How many irqfd writes IOThread `it`'s completions take: one per
    /// vCPU with completions in this iteration; how many of them wake a
    /// thread (on a shared host, a blocked job thread; otherwise an idle
    /// vCPU); and how many of those wake it beside the IOThread, on the CPU
    /// it last ran on (the send's stall, `notify_guest_stall_ns`, is that
    /// job running on the sender's CPU: one woken on another CPU does not
    /// stall it; without a shared host, every one).
    fn vcpus_to_notify(&mut self, it: u32, cmps: &[u32]) -> (u64, u64, u64) {
        let (mut notified, mut woken, mut beside) = (0u64, 0u64, 0u64);
        for &slot in cmps {
            let vcpu = self.slots[slot as usize].vcpu;
            if self.notify_stamp[vcpu as usize] != self.notify_round {
                self.notify_stamp[vcpu as usize] = self.notify_round;
                notified += 1;
                let (asleep, mut here) = self.send_to(it, vcpu);
                here |= asleep && !here && self.send_packs(it, vcpu);
                woken += u64::from(asleep);
                beside += u64::from(asleep && here);
            }
        }
        (notified, woken, beside)
    }

    /// Whether the kernel packs `vcpu`'s job, asleep on another CPU, onto
    /// IOThread `it`'s CPU as `it`'s send wakes it, drawn now (the send
    /// across CPUs starts the wake-up while the loop still runs) and kept
    /// for the wake ([`Vcpu::packed_send`]): by the share measured for
    /// how long the loop runs on, taken as the window it polls after the
    /// iteration (the rest of the iteration's sends are a few us). Packed,
    /// the send is the plain one and the job runs once the loop yields
    /// its CPU, as one that slept beside it.
    fn send_packs(&mut self, it: u32, vcpu: u32) -> bool {
        let job = self.iothreads.len() as u32 + vcpu;
        let window = self.iothreads[it as usize].lp.window_ns();
        let packs = match &self.host {
            Some(h) if self.across_send().is_some() => {
                let by = WakeCause {
                    thread: it,
                    runs_on_ns: window,
                    yields_in_ns: window,
                    decided: false,
                };
                h.packs(job, by, &mut self.rng)
            }
            _ => false,
        };
        self.vcpus[vcpu as usize].packed_send = packs;
        packs
    }

    /// Whom IOThread `it`'s send to `vcpu`'s job finds: whether it is
    /// asleep (on a shared host, its thread blocked; otherwise the vCPU
    /// idle) and whether it last ran on the IOThread's CPU (always, without
    /// a shared host).
    fn send_to(&self, it: u32, vcpu: u32) -> (bool, bool) {
        let job = self.iothreads.len() as u32 + vcpu;
        match &self.host {
            Some(h) => (
                h.blocked(job),
                h.cpu(job) == h.cpu(it) || self.vcpus[vcpu as usize].packed_send,
            ),
            None => (!self.vcpus[vcpu as usize].busy, true),
        }
    }

    /// Hands completions to their vCPUs' inboxes; the interrupt arrives an
    /// IRQ latency after the iteration `end`s (on a shared host the job's
    /// wake-up is drawn when it is woken instead). On a host that measured
    /// the send across CPUs (`host.wake_across_send_ns`), a job asleep on
    /// another CPU is woken when the send to it begins, the sends made one
    /// after another from `sends_from` (the wake-up's latency is measured
    /// from the send's start, and the sender's 10 us in the exit is not
    /// on the woken job's path).
    fn deliver(&mut self, it: u32, (end, sends_from): (Time, Time), cmps: &[u32]) {
        let deliver = end
            + self
                .host
                .as_ref()
                .map_or(self.preset.guest.irq_latency_ns, |_| 0);
        // Every iteration takes time, so no delivery is due at once: an
        // interrupt queued for `deliver` has not yet run.
        debug_assert!(deliver > self.now, "a delivery is due after the iteration");
        let across = self.across_send();
        // (vCPU, its delivery) for those sent to so far, and when the next
        // send begins.
        let mut sent: Vec<(u32, Time)> = Vec::new();
        let mut next_send = sends_from;
        for &slot in cmps {
            let vcpu = self.slots[slot as usize].vcpu;
            let deliver = match across {
                Some([_, channel]) => {
                    if let Some(&(_, at)) = sent.iter().find(|&&(v, _)| v == vcpu) {
                        at
                    } else {
                        // As `sends_cost` costs them: a job asleep
                        // elsewhere the send across, one asleep beside
                        // the loop the plain send (it runs there once the
                        // loop is done), an awake one nothing.
                        let (at, cost) = match self.send_to(it, vcpu) {
                            (true, false) => (next_send.max(self.now + 1), channel),
                            (true, true) => (deliver, self.preset.iothread.notify_guest_ns),
                            (false, _) => (deliver, 0),
                        };
                        next_send += self.wall(cost);
                        sent.push((vcpu, at));
                        at
                    }
                }
                None => deliver,
            };
            let v = &mut self.vcpus[vcpu as usize];
            v.sent_by = Some(it);
            // A completion in the inbox has its interrupt queued, and one
            // interrupt delivers every completion due by its time.
            let queued = v.inbox.iter().any(|&(t, _)| t == deliver);
            v.inbox.push((deliver, slot));
            if !queued {
                self.schedule(deliver, Event::GuestIrq { vcpu });
            }
        }
    }

    fn iter_end(&mut self, it: u32) {
        if let Some(h) = &mut self.host {
            if let Some(d) = h.preempt(it, self.now, Resume::Begin) {
                self.iothreads[it as usize].lp.end_only(self.now);
                self.log_iteration(it);
                self.dispatch(Some(d));
                return;
            }
        }
        debug_assert!(
            self.loop_events.get(it).is_none(),
            "IOThread {it} ends an iteration with a loop event pending"
        );
        let t = &mut self.iothreads[it as usize];
        let next = t.lp.end(self.now, t.pending());
        self.log_iteration(it);
        self.schedule_loop(it, next);
    }

    /// The send across CPUs a shared host measured, `[eventfd, channel]`
    /// (`host.wake_across_send_ns`).
    fn across_send(&self) -> Option<[u64; 2]> {
        self.host
            .as_ref()
            .and_then(|_| self.preset.host.as_ref()?.wake_across_send_ns)
    }

    /// The IOThread's sends of `(notified, woken, beside)` jobs
    /// ([`Engine::vcpus_to_notify`]): on a shared host a send costs only
    /// when it wakes the job, and where measured, one that wakes it on
    /// another CPU costs the send across CPUs.
    fn sends_cost(&self, (notified, woken, beside): (u64, u64, u64)) -> u64 {
        let n = self.preset.iothread.notify_guest_ns;
        match (&self.host, self.across_send()) {
            (Some(_), Some([_, channel])) => n * beside + channel * (woken - beside),
            (Some(_), None) => n * woken,
            (None, _) => n * notified,
        }
    }

    /// A job's kick: one that `wakes` its IOThread costs `kick_cpu_ns`, or
    /// on a host that measured it the send across CPUs (the IOThread is
    /// woken elsewhere); one that wakes nobody, or that `packed` the
    /// IOThread onto the job's own CPU (the wake-up is inside the measured
    /// same-CPU wake-up), what a ring that wakes nobody does.
    fn kick_cost(&self, wakes: bool, packed: bool) -> u64 {
        let g = &self.preset.guest;
        match self.across_send() {
            Some([eventfd, _]) if wakes && !packed => eventfd,
            _ => g.kick_ns(wakes && !packed),
        }
    }

    /// The work the job of `vcpu` has queued behind its current
    /// submission: after the kick it pays (the IOThread it wakes asked for
    /// one), it runs on this long; and how many requests it has yet to
    /// issue.
    fn job_queued(&self, vcpu: u32) -> (u64, u64) {
        let g = &self.preset.guest;
        let per_io = g.io_cpu_ns + g.io_cpu_ns_per_kib * self.workload.bs / 1024;
        self.vcpus[vcpu as usize]
            .work
            .iter()
            .fold((0, 0), |(ns, issues), w| match w {
                Work::Irq => (ns + g.irq_cpu_ns, issues),
                Work::Kick { ns: kick } => (ns + kick, issues),
                Work::Issue { .. } => (ns + per_io, issues + 1),
            })
    }

    /// Keeps the iteration IOThread `it` just ended, if iterations are
    /// logged and it began inside the measured interval.
    fn log_iteration(&mut self, it: u32) {
        let (from, to) = (self.measure_from, self.measure_to);
        let Some(iters) = &mut self.iters else {
            return;
        };
        let t = &mut self.iothreads[it as usize];
        let r = t.lp.machine().last_iteration();
        // As on the device: a woken iteration that noticed a submission
        // takes the doorbell's first ring and times its wake-up from it;
        // one woken by completions alone leaves it unknown.
        let aio = t.handlers - 1;
        let submissions = if aio >= 64 {
            u64::MAX
        } else {
            (1u64 << aio) - 1
        };
        let rung = if r.slept() && r.handlers & submissions != 0 {
            t.rung.take()
        } else {
            None
        };
        let r = r.woken_by_doorbell(rung.map(|(at, _, _)| at));
        let loop_cpu = self.host.as_ref().and_then(|h| h.cpu(it));
        if (from..to).contains(&r.start_ns) && iters.len() < MAX_ITER_RECORDS {
            let io = t.io;
            iters.push(IterRecord {
                start_ns: r.start_ns - from,
                on_ringer_cpu: rung
                    .and_then(|(_, cpu, _)| cpu)
                    .zip(loop_cpu)
                    .map(|(a, b)| a == b),
                slept_on_ringer_cpu: rung
                    .and_then(|(_, cpu, slept_on)| cpu.zip(slept_on))
                    .map(|(a, b)| a == b),
                submit_ns: io.submit_ns,
                submit_calls: io.submit_calls,
                submitted: io.submitted,
                reaped: io.reaped,
                ..r
            });
        }
    }

    /// Logs every iteration of the measured interval (see
    /// [`Engine::run_logged`]).
    pub(crate) fn log_iterations(mut self) -> Self {
        self.iters = Some(Vec::new());
        self
    }

    /// Runs to the end and returns the metrics, the iterations logged and
    /// the jobs' wake-ups by completions.
    pub(crate) fn run_logged(mut self) -> (RunRow, Vec<IterRecord>, JobWakes) {
        self.start();
        while self.step() {}
        let iters = self.iters.take().unwrap_or_default();
        let wakes = self.job_wakes;
        (self.finish().0, iters, wakes)
    }

    // ---- shared host (crate::host) ----------------------------------------

    /// Wall time of `cpu_ns` of work: stretched by other load on a shared
    /// host, itself otherwise.
    fn wall(&self, cpu_ns: u64) -> u64 {
        self.host.as_ref().map_or(cpu_ns, |h| h.cost(cpu_ns))
    }

    fn dispatch(&mut self, d: Option<Dispatch>) {
        if let Some(d) = d {
            self.schedule(d.at, Event::OnCpu { thread: d.thread });
        }
    }

    fn runnable(&mut self, thread: u32) {
        let h = self
            .host
            .as_mut()
            .expect("host events only on a shared host");
        if let Some(resume) = h.runnable(thread, self.now) {
            self.count_job_wake(thread);
            self.resume(thread, resume);
        }
    }

    /// A job woken by completions runs: counts whether it runs on the CPU
    /// of the IOThread that woke it (inside the measured interval, while
    /// iterations are logged).
    fn count_job_wake(&mut self, thread: u32) {
        let Some(vcpu) = thread.checked_sub(self.iothreads.len() as u32) else {
            return;
        };
        let Some(it) = self.vcpus[vcpu as usize].woken_by.take() else {
            return;
        };
        if self.measuring() {
            let h = self
                .host
                .as_ref()
                .expect("only a shared host wakes threads");
            self.job_wakes.woken += 1;
            self.job_wakes.on_loop_cpu += u64::from(h.cpu(thread) == h.cpu(it));
        }
    }

    fn on_cpu(&mut self, thread: u32) {
        let h = self
            .host
            .as_ref()
            .expect("host events only on a shared host");
        let resume = h.dispatched(thread);
        self.count_job_wake(thread);
        self.resume(thread, resume);
    }

    fn resume(&mut self, thread: u32, resume: Resume) {
        match resume {
            Resume::Notice { gen } => self.noticed(thread, gen),
            Resume::Begin => self.begin_iteration(thread),
            Resume::Work => self.start_work(thread - self.iothreads.len() as u32),
        }
    }

    /// A loop step on a shared host: a loop that went to sleep gives up its
    /// CPU; a sleeping loop's wake-up is drawn and it must get a CPU before
    /// it notices. True if the step's event is taken care of.
    fn loop_on_host(&mut self, it: u32, next: Option<(Time, LoopEvent)>) -> bool {
        let now = self.now;
        let awaiting = self.iothreads[it as usize].lp.awaiting();
        let h = self.host.as_mut().expect("called on a shared host");
        match (awaiting, next) {
            (Awaiting::Doorbell, _) if h.running(it) => {
                let d = h.block(it, now);
                self.dispatch(d);
                false
            }
            (Awaiting::Wake, Some((_, LoopEvent::Noticed { gen }))) if h.blocked(it) => {
                let resume = Resume::Notice { gen };
                let by = self.arrival_by;
                if let Some(at) = h.wake_by(it, by, now, Waker::Eventfd, resume, &mut self.rng) {
                    self.schedule(at, Event::Runnable { thread: it });
                }
                true
            }
            _ => false,
        }
    }

    /// On a shared host, whether the job thread of `vcpu` runs its next
    /// work item now: a blocked thread with work is woken, a running one
    /// without work blocks, one whose slice is over while others wait
    /// queues behind them. Always true on a host of dedicated CPUs.
    fn job_on_cpu(&mut self, vcpu: u32) -> bool {
        let now = self.now;
        let thread = self.iothreads.len() as u32 + vcpu;
        let has_work = !self.vcpus[vcpu as usize].work.is_empty();
        let sent_by = self.vcpus[vcpu as usize].sent_by;
        let decided = std::mem::take(&mut self.vcpus[vcpu as usize].packed_send);
        let Some(h) = self.host.as_mut() else {
            return true;
        };
        // The IOThread that sent the completions sleeps, polls (it runs
        // on to its window's end) or processes (it runs on: a longer
        // run-on than any measured; but a send drawn packed yields once
        // the iteration and the window after it are over).
        let by = sent_by.map(|it| {
            let lp = &self.iothreads[it as usize].lp;
            let runs_on_ns = if h.blocked(it) {
                0
            } else if decided {
                lp.runs_on(now).unwrap_or_else(|| lp.window_ns())
            } else {
                lp.runs_on(now).unwrap_or(u64::MAX)
            };
            WakeCause {
                thread: it,
                runs_on_ns,
                yields_in_ns: runs_on_ns,
                decided,
            }
        });
        // A thread handed a CPU starts when its context switch is over.
        if !h.runs_at(thread, now) {
            if h.blocked(thread) && has_work {
                if let Some(at) =
                    h.wake_by(thread, by, now, Waker::Channel, Resume::Work, &mut self.rng)
                {
                    self.schedule(at, Event::Runnable { thread });
                    if self.iters.is_some() {
                        self.vcpus[vcpu as usize].woken_by = sent_by;
                    }
                }
            }
            return false;
        }
        let d = if has_work {
            h.preempt(thread, now, Resume::Work)
        } else {
            h.block(thread, now)
        };
        let keep = d.is_none() && has_work;
        self.dispatch(d);
        keep
    }

    /// Hands the trace to `sink` row by row instead of keeping it.
    pub(crate) fn stream_trace(mut self, sink: Box<dyn FnMut(TraceRow) + 'a>) -> Self {
        self.trace = Some(TraceSink::Stream(sink));
        self
    }

    fn record_trace(&mut self, it: u32, point: TracePoint) {
        let Some(trace) = &mut self.trace else {
            return;
        };
        trace.push(TraceRow {
            policy: self.params.kind().name().to_string(),
            params: self.params_text.clone(),
            iothread: it,
            time_ns: point.time_ns,
            window_ns: point.window_ns,
            poll_max_ns: point.poll_max_ns,
        });
    }

    // ---- hooks for the rollout (sim/src/rollout.rs) ----------------------

    /// Imposes `poll` on the next clairvoyant decision.
    pub(crate) fn force_next(&mut self, poll: bool) {
        self.force_next = Some(poll);
    }

    /// Clairvoyant decisions made so far.
    pub(crate) fn decisions(&self) -> u64 {
        self.decisions
    }

    pub(crate) fn now(&self) -> Time {
        self.now
    }

    /// The measured interval `[from, to)`.
    pub(crate) fn measured(&self) -> (Time, Time) {
        (self.measure_from, self.measure_to)
    }

    /// Completions counted so far.
    pub(crate) fn completions(&self) -> u64 {
        self.meters.completions
    }

    /// Completions counted so far, and the IOThreads' CPU (poll and busy)
    /// in the measured interval up to now, open iterations included.
    pub(crate) fn progress(&self) -> (u64, u64) {
        let cpu = self
            .iothreads
            .iter()
            .map(|t| {
                let c = t.lp.machine().clone().finish(self.now);
                c.poll_ns + c.busy_ns
            })
            .sum();
        (self.meters.completions, cpu)
    }

    // ---- results --------------------------------------------------------

    pub(crate) fn finish(self) -> (RunRow, Vec<TraceRow>) {
        let (from, to) = (self.measure_from, self.measure_to);
        let loops = self.iothreads.len() as u32;
        let it_cpu_ns = self.host.as_ref().map(|h| h.cpu_ns(0..loops));
        let mut stats = WindowStats::default();
        let (mut poll, mut busy, mut wakeups) = (0u64, 0u64, 0u64);
        for t in self.iothreads {
            // Closes the iteration still open at the end.
            let c = t.lp.into_machine().finish(to);
            stats.merge(&c.window);
            poll += c.poll_ns;
            busy += c.busy_ns;
            wakeups += c.wakeups;
        }
        let h = &self.meters.latency;
        let counts = RawCounts {
            span_ns: to - from,
            completions: self.meters.completions,
            kicks: self.meters.kicks,
            wakeups,
            // On a shared host, what the threads' CPU clocks would count.
            cpu_ns: it_cpu_ns
                .unwrap_or(poll + busy)
                .saturating_sub(self.meters.stalled_ns),
            poll_ns: self.host.as_ref().map_or(poll, |h| h.cpu_of(poll)),
            loops,
            latency: Latency::from_histogram(h.mean(), |q| h.value_at_quantile(q) as f64),
            window: stats,
        };
        let labels = RunLabels {
            source: "sim".into(),
            preset: self.preset.name.clone(),
            policy: self.params.kind().name().into(),
            params: self.params_text.clone(),
            rw: self.workload.rw.name().into(),
            bs: self.workload.bs,
            numjobs: self.workload.numjobs,
            iodepth: self.workload.iodepth,
            iothreads: self.workload.iothreads,
            duration_ms: self.workload.duration_ms,
            seed: self.seed,
        };
        let row = run_row(labels, &counts);
        (
            row,
            self.trace.map(TraceSink::into_rows).unwrap_or_default(),
        )
    }
}
