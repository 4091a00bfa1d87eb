//! A host whose CPUs are shared: the run's threads (each IOThread, each
//! job) compete for `cpus` CPUs with each other and with other load.
//!
//! On only when the preset's `[host]` section says `shared = true`; without
//! it every thread has a CPU of its own and the engine never builds this
//! type. The model:
//!
//! - **CPUs**: [`HostCpus`] holds `cpus` CPUs. A thread is blocked (asleep
//!   in the kernel), waking (its wake-up is on its way), queued (runnable,
//!   every CPU taken by the run's other threads) or running. A running
//!   thread holds its CPU until it blocks, whatever it does with it: a
//!   busy-polling IOThread holds it for its whole poll window, which is the
//!   cost of polling when CPUs are few.
//! - **Wake-ups**: a blocked thread that is woken becomes runnable after a
//!   wake-up latency drawn from the calibrated percentiles
//!   ([`WakeupDist`]): the eventfd distribution for an IOThread, the
//!   channel distribution for a job. The draw uses the run's seeded
//!   generator. The measured latency already includes the switch onto an
//!   idle CPU. When the preset has a table by idle time
//!   (`wakeup_idle_ns`), the draw is from the row for how long the CPU the
//!   thread will run on has been idle ([`WakeupCurve`]): 0 when every CPU
//!   is held by the run's threads (it queues on a CPU that is awake).
//! - **Which CPU**: as Linux's `select_idle_sibling()` does, a woken
//!   thread runs on the CPU it last ran on if that one is idle, else on
//!   the idle CPU released most recently (the shallowest asleep), else it
//!   queues; a queued thread takes whichever CPU is released first.
//! - **Run queue**: a runnable thread that finds every CPU held by the
//!   run's threads waits in a FIFO queue. A CPU that its thread releases
//!   goes to the head of the queue after [`CONTEXT_SWITCH_NS`].
//! - **Time slices**: a thread that has held its CPU for a slice
//!   ([`slice_ns`]) while others wait gives it up at its next step
//!   boundary (an IOThread between iterations, a job between work items)
//!   and queues again behind them.
//! - **Other load**: `background_load_cpus` CPUs' worth of other work,
//!   spread evenly over the CPUs, shares each CPU fairly with the run's
//!   thread on it, and the hypervisor takes `steal_frac` of the rest, so
//!   CPU work of `c` ns takes `c * stretch` ns of wall time
//!   ([`stretch`]) and a thread's CPU clock counts `1 / stretch` of the
//!   time it holds a CPU.

use std::collections::VecDeque;

use rand::Rng;

use crate::preset::{Host, Packing};

/// [`Thread::run_avg_ns`] moves by `1 >> RUN_AVG_SHIFT` of each run's
/// difference from it.
const RUN_AVG_SHIFT: u32 = 3;

/// Wall time a CPU takes to pass from one of the run's threads to another
/// that waited for it in the run queue, in ns (saving and restoring
/// registers, the scheduler's pick, cache and TLB refills). Not measured
/// here: the usual order of a Linux context switch between threads of one
/// process on x86 is 1-3 us (lmbench `lat_ctx`), more in a VM; 2 us.
pub const CONTEXT_SWITCH_NS: u64 = 2_000;

/// Linux's base time slice of the EEVDF scheduler, in ns
/// (`sysctl_sched_base_slice`, kernel/sched/fair.c, Linux 6.6 and later),
/// before it is scaled by the CPU count ([`slice_ns`]).
pub const BASE_SLICE_NS: u64 = 750_000;

/// The slice on `cpus` CPUs: the base slice times `1 + log2(cpus)` with the
/// CPU count capped at 8 (the kernel's default `SCHED_TUNABLESCALING_LOG`,
/// `get_update_sysctl_factor()`): 750 us on 1 CPU, 1.5 ms on 2 or 3.
pub fn slice_ns(cpus: u32) -> u64 {
    let capped = cpus.clamp(1, 8);
    BASE_SLICE_NS * u64::from(1 + capped.ilog2())
}

/// Smallest share of a CPU the hypervisor leaves the guest in [`stretch`],
/// whatever `steal_frac` says, so that CPU work always ends (a steal of
/// 100% would stop the machine).
pub const MIN_UNSTOLEN_FRAC: f64 = 0.05;

/// Wall time per ns of CPU work for a thread holding a CPU: other load of
/// `background_load_cpus` spread over `cpus` CPUs shares each CPU fairly
/// with it (`1 + load / cpus`, as CFS/EEVDF share a CPU between runnable
/// threads of equal weight), and the hypervisor steals `steal_frac` of
/// what is left. 1.0 on an idle, unstolen host.
pub fn stretch(host: &Host) -> f64 {
    let share = 1.0 + host.background_load_cpus / f64::from(host.cpus.max(1));
    share / (1.0 - host.steal_frac).max(MIN_UNSTOLEN_FRAC)
}

/// A wake-up latency distribution from four measured percentiles (p10,
/// p50, p90, p99, in ns): the inverse of its distribution function is
/// linear between them; below p10 it is flat at p10 (no wake-up is faster
/// than the fastest measured decile), and from p99 to 1 it rises linearly
/// by the p90..p99 step once more.
#[derive(Clone, Debug, PartialEq)]
pub struct WakeupDist {
    q: [u64; 4],
}

impl WakeupDist {
    const AT: [f64; 4] = [0.10, 0.50, 0.90, 0.99];

    pub fn new(percentiles_ns: [u64; 4]) -> WakeupDist {
        WakeupDist { q: percentiles_ns }
    }

    /// The latency at quantile `u` in [0, 1).
    pub fn quantile(&self, u: f64) -> u64 {
        let q = self.q.map(|v| v as f64);
        let v = if u <= Self::AT[0] {
            q[0]
        } else if u >= Self::AT[3] {
            q[3] + (q[3] - q[2]) * (u - Self::AT[3]) / (1.0 - Self::AT[3])
        } else {
            let i = Self::AT.partition_point(|&a| a <= u) - 1;
            let f = (u - Self::AT[i]) / (Self::AT[i + 1] - Self::AT[i]);
            q[i] + (q[i + 1] - q[i]) * f
        };
        v.round().max(0.0) as u64
    }

    pub fn sample(&self, rng: &mut impl Rng) -> u64 {
        self.quantile(rng.random::<f64>())
    }
}

/// Wake-up latency against how long the CPU woken on had been idle: one
/// [`WakeupDist`] per measured idle time. Between two idle times each
/// quantile is interpolated linearly in the idle time; before the first
/// and after the last the nearest row holds.
#[derive(Clone, Debug, PartialEq)]
pub struct WakeupCurve {
    idle_ns: Vec<u64>,
    rows: Vec<WakeupDist>,
}

impl WakeupCurve {
    /// The same distribution whatever the idle time.
    pub fn flat(percentiles_ns: [u64; 4]) -> WakeupCurve {
        WakeupCurve {
            idle_ns: vec![0],
            rows: vec![WakeupDist::new(percentiles_ns)],
        }
    }

    /// One row of percentiles per idle time (`idle_ns` increasing, as
    /// many rows as idle times, at least one; the preset's validation
    /// checks both).
    pub fn by_idle(idle_ns: &[u64], rows: &[[u64; 4]]) -> WakeupCurve {
        assert!(!rows.is_empty() && idle_ns.len() == rows.len());
        WakeupCurve {
            idle_ns: idle_ns.to_vec(),
            rows: rows.iter().map(|&q| WakeupDist::new(q)).collect(),
        }
    }

    /// The latency at quantile `u` after the CPU was idle `idle` ns.
    pub fn quantile(&self, idle: u64, u: f64) -> u64 {
        let i = self.idle_ns.partition_point(|&t| t <= idle);
        if i == 0 {
            return self.rows[0].quantile(u);
        }
        if i == self.rows.len() {
            return self.rows[i - 1].quantile(u);
        }
        let (a, b) = (self.idle_ns[i - 1], self.idle_ns[i]);
        let (qa, qb) = (self.rows[i - 1].quantile(u), self.rows[i].quantile(u));
        let f = (idle - a) as f64 / (b - a) as f64;
        (qa as f64 + (qb as f64 - qa as f64) * f).round() as u64
    }

    pub fn sample(&self, idle: u64, rng: &mut impl Rng) -> u64 {
        self.quantile(idle, rng.random::<f64>())
    }
}

/// What a thread does when it next runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// An IOThread woken from its sleep: it notices the work of
    /// iteration `gen`.
    Notice { gen: u64 },
    /// An IOThread that gave up its CPU between iterations: it begins the
    /// next one.
    Begin,
    /// A job: it starts its next work item.
    Work,
}

/// A measured curve at `x` (the share of wake-ups packed when the waker
/// runs on that long, the extra of a submission after that much idle
/// time): linear between the measured points, the nearest beyond them.
fn curve_at(curve: &[(u64, f64)], x: u64) -> f64 {
    let i = curve.partition_point(|&(t, _)| t <= x);
    match (i.checked_sub(1).map(|j| curve[j]), curve.get(i)) {
        (Some((a, sa)), Some(&(b, sb))) => sa + (sb - sa) * (x - a) as f64 / (b - a) as f64,
        (Some((_, s)), None) | (None, Some(&(_, s))) => s,
        (None, None) => 0.0,
    }
}

/// Who wakes a thread, for a host that packs ([`Packing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WakeCause {
    /// The waking thread.
    pub thread: u32,
    /// How long it runs on after the wake-up before it blocks, ns (0: it
    /// has blocked or blocks at once).
    pub runs_on_ns: u64,
    /// Of that, how long it holds its CPU after the wake itself (the
    /// write that wakes is part of the measured same-CPU wake-up):
    /// a thread packed onto its CPU runs only then. `u64::MAX`: it runs
    /// on for an unknown time, and nothing is packed onto its CPU.
    pub yields_in_ns: u64,
    /// The kernel's choice was drawn already ([`HostCpus::packs`], when
    /// the send that wakes it began): the thread is packed wherever the
    /// waker's CPU can take it, with no second draw.
    pub decided: bool,
}

/// Which measured wake-up a thread's wake-up is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waker {
    /// An eventfd write waking a thread in `epoll_wait` (an IOThread).
    Eventfd,
    /// A channel send waking a blocked receiver (a job).
    Channel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Blocked,
    /// Its wake-up is on its way; `claimed`: on an idle CPU, which is its
    /// from the wake on.
    Waking {
        claimed: bool,
    },
    Queued,
    /// Holding a CPU since `since` (a dispatch after a context switch holds
    /// it from the moment it was released, runs from `since`).
    Running {
        since: u64,
    },
}

#[derive(Clone, Debug)]
struct Thread {
    state: State,
    /// The CPU it runs on or last ran on.
    cpu: Option<u32>,
    resume: Resume,
    /// Time holding a CPU inside the measured interval.
    held_ns: u64,
    /// CPU time counted without holding a CPU for it ([`HostCpus::charge`]).
    charged_ns: u64,
    /// Time it held a CPU while a thread packed onto that CPU ran instead
    /// (see [`Packing`]), inside the measured interval.
    lent_ns: u64,
    /// How long it runs each time it is woken, smoothed: from running to
    /// blocking, each run moving it by 1/8 of the difference (as the
    /// kernel's `update_avg()` smooths a runqueue's idle time). 0 until
    /// its first run ends.
    run_avg_ns: u64,
    /// Its last wake-up had no waking thread: the device's interrupt.
    woken_by_irq: bool,
    /// How long the CPU it last woke on had been idle, ns (0: held).
    woke_idle_ns: u64,
}

/// The packed wake-ups of [`Packing`], as drawn.
#[derive(Clone, Debug)]
struct Packed {
    /// (how long the waker runs on, share packed), run-on increasing.
    share: Vec<(u64, f64)>,
    /// The same with no CPU idle, where measured (else empty).
    busy_share: Vec<(u64, f64)>,
    /// By the woken thread's own run per wake-up, where measured (else
    /// `share`).
    wakee_share: Vec<(u64, f64)>,
    eventfd: WakeupDist,
    channel: WakeupDist,
}

impl Packed {
    fn new(p: &Packing) -> Packed {
        // (run-on, share) at each measured run-on time.
        let curve = |shares: &[f64]| -> Vec<(u64, f64)> {
            p.run_on_ns
                .iter()
                .copied()
                .zip(shares.iter().copied())
                .collect()
        };
        let wakee = if p.wakee_share.is_empty() {
            &p.share
        } else {
            &p.wakee_share
        };
        Packed {
            share: curve(&p.share),
            busy_share: curve(&p.busy_share),
            wakee_share: curve(wakee),
            eventfd: WakeupDist::new(p.eventfd_wakeup_ns),
            channel: WakeupDist::new(p.channel_wakeup_ns),
        }
    }
}

/// The host's CPUs and the run's threads on them (see the module doc).
#[derive(Clone, Debug)]
pub struct HostCpus {
    queue: VecDeque<u32>,
    /// Per CPU: since when no thread of the run holds it (`None`: held,
    /// or handed to a thread across a context switch).
    idle_since: Vec<Option<u64>>,
    threads: Vec<Thread>,
    stretch: f64,
    slice_ns: u64,
    eventfd: WakeupCurve,
    channel: WakeupCurve,
    /// Per CPU: the thread woken onto it while another held it (see
    /// [`Packing`]), waking or running.
    guest: Vec<Option<u32>>,
    packed: Option<Packed>,
    /// A wake-up by the device's interrupt, where measured.
    irq: Option<WakeupDist>,
    /// The same by the CPU the sleeper wakes on, where measured.
    irq_by_cpu: Vec<WakeupDist>,
    /// What a sleep ended by the device's interrupt costs the sleeper's
    /// CPU clock, where measured.
    irq_cpu_ns: Option<u64>,
    /// (idle time, extra CPU of the first `io_submit` after it, ns), idle
    /// increasing, from (0, 0); empty where not measured.
    submit_after_idle: Vec<(u64, f64)>,
    from: u64,
    to: u64,
}

/// A CPU handed to `thread`, running from `at`: the host schedules its
/// [`HostCpus::dispatched`] then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dispatch {
    pub thread: u32,
    pub at: u64,
}

impl HostCpus {
    /// `threads` threads, all blocked, on the host `host`; CPU time is
    /// counted inside `[from, to)`.
    pub fn new(host: &Host, threads: u32, from: u64, to: u64) -> HostCpus {
        let cpus = host.cpus.max(1);
        let curve = |one: [u64; 4], table: &[[u64; 4]]| {
            if table.is_empty() {
                WakeupCurve::flat(one)
            } else {
                WakeupCurve::by_idle(&host.wakeup_idle_ns, table)
            }
        };
        HostCpus {
            queue: VecDeque::with_capacity(threads as usize),
            // Idle since the run began.
            idle_since: vec![Some(0); cpus as usize],
            threads: (0..threads)
                .map(|_| Thread {
                    state: State::Blocked,
                    cpu: None,
                    resume: Resume::Work,
                    held_ns: 0,
                    charged_ns: 0,
                    lent_ns: 0,
                    run_avg_ns: 0,
                    woken_by_irq: false,
                    woke_idle_ns: 0,
                })
                .collect(),
            stretch: stretch(host),
            slice_ns: slice_ns(host.cpus),
            eventfd: curve(host.eventfd_wakeup_ns, &host.eventfd_wakeup_by_idle_ns),
            channel: curve(host.channel_wakeup_ns, &host.channel_wakeup_by_idle_ns),
            guest: vec![None; cpus as usize],
            packed: host.packing.as_ref().map(Packed::new),
            irq: host.irq_wakeup_ns.map(WakeupDist::new),
            irq_by_cpu: host
                .irq_wakeup_by_cpu_ns
                .iter()
                .copied()
                .map(WakeupDist::new)
                .collect(),
            irq_cpu_ns: host.irq_wakeup_cpu_ns,
            submit_after_idle: if host.submit_after_idle_ns.is_empty() {
                Vec::new()
            } else {
                std::iter::once((0, 0.0))
                    .chain(
                        host.wakeup_idle_ns
                            .iter()
                            .zip(&host.submit_after_idle_ns)
                            .map(|(&idle, &ns)| (idle, ns as f64)),
                    )
                    .collect()
            },
            from,
            to,
        }
    }

    /// The CPU `thread` runs on or last ran on (`None`: it never ran).
    pub fn cpu(&self, thread: u32) -> Option<u32> {
        self.threads[thread as usize].cpu
    }

    /// Wall time of `cpu_ns` of CPU work on a shared CPU.
    pub fn cost(&self, cpu_ns: u64) -> u64 {
        crate::dist::round_ns(cpu_ns as f64 * self.stretch)
    }

    pub fn running(&self, thread: u32) -> bool {
        matches!(self.threads[thread as usize].state, State::Running { .. })
    }

    /// Running at `now`: holding a CPU and past the context switch that
    /// handed it over.
    pub fn runs_at(&self, thread: u32, now: u64) -> bool {
        matches!(self.threads[thread as usize].state, State::Running { since } if since <= now)
    }

    pub fn blocked(&self, thread: u32) -> bool {
        self.threads[thread as usize].state == State::Blocked
    }

    /// Woken onto the CPU of a thread that still holds it ([`Packing`]),
    /// and not yet running.
    pub fn packed_waking(&self, thread: u32) -> bool {
        let t = &self.threads[thread as usize];
        matches!(t.state, State::Waking { claimed: true })
            && t.cpu
                .is_some_and(|c| self.guest[c as usize] == Some(thread))
    }

    /// Wakes a blocked thread at `now`: it becomes runnable after a
    /// wake-up latency drawn from `waker`'s distribution. Returns that
    /// time, at which the host calls [`HostCpus::runnable`]; `None` if the
    /// thread was not blocked (already awake or on its way).
    pub fn wake(
        &mut self,
        thread: u32,
        now: u64,
        waker: Waker,
        resume: Resume,
        rng: &mut impl Rng,
    ) -> Option<u64> {
        self.wake_by(thread, None, now, waker, resume, rng)
    }

    /// [`HostCpus::wake`] by `by` (`None`: the device's interrupt, or a
    /// waker outside the run). On a host that packs ([`Packing`]), the
    /// woken thread lands on the waker's CPU with the share measured for
    /// how long the waker runs on (while a CPU is idle, at most the share
    /// at the woken thread's own run per wake-up: a thread that runs long
    /// once woken goes to the idle CPU; with none idle, the share measured
    /// with the other CPU busy, where it was), after the measured same-CPU wake-up
    /// counted from when the waker yields its CPU (the kernel pulls the
    /// woken thread onto a CPU that goes idle: that race is what the
    /// measured share is): a waker asleep yields it now, a running one
    /// after [`WakeCause::yields_in_ns`]. If the waker then still runs
    /// (a polling loop that found work), the woken thread runs beside it
    /// (the waker's CPU time stops meanwhile, as when it is preempted). A
    /// wake-up by the interrupt is drawn from `irq_wakeup_ns` where
    /// measured.
    pub fn wake_by(
        &mut self,
        thread: u32,
        by: Option<WakeCause>,
        now: u64,
        waker: Waker,
        resume: Resume,
        rng: &mut impl Rng,
    ) -> Option<u64> {
        if self.threads[thread as usize].state != State::Blocked {
            return None;
        }
        self.threads[thread as usize].woken_by_irq = by.is_none();
        if let Some((cpu, yields_in_ns)) = self.packed_cpu(thread, by, rng) {
            if self.idle_since[cpu as usize].take().is_none() {
                self.guest[cpu as usize] = Some(thread);
            }
            let t = &mut self.threads[thread as usize];
            t.cpu = Some(cpu);
            t.resume = resume;
            t.state = State::Waking { claimed: true };
            t.woke_idle_ns = 0;
            let p = self
                .packed
                .as_ref()
                .expect("packed_cpu packs only when packing");
            let latency = match waker {
                Waker::Eventfd => p.eventfd.sample(rng),
                Waker::Channel => p.channel.sample(rng),
            };
            // The kernel pulls the woken thread onto the waker's CPU when
            // that CPU goes idle, so it runs once the waker has yielded it.
            return Some(now + yields_in_ns + latency);
        }
        let idle = self.start_waking(thread, now, resume)?;
        let t = &mut self.threads[thread as usize];
        t.woke_idle_ns = idle;
        if by.is_none() {
            // On the CPU it was woken on, where measured by CPU (it has
            // claimed one if any was idle).
            let on = match t.state {
                State::Waking { claimed: true } => {
                    t.cpu.and_then(|c| self.irq_by_cpu.get(c as usize))
                }
                _ => None,
            };
            if let Some(irq) = on.or(self.irq.as_ref()) {
                return Some(now + irq.sample(rng));
            }
        }
        let latency = match waker {
            Waker::Eventfd => self.eventfd.sample(idle, rng),
            Waker::Channel => self.channel.sample(idle, rng),
        };
        Some(now + latency)
    }

    /// The CPU a thread woken by `by` is packed onto, if it is, and in how
    /// long the waker yields it: the host packs, the waker's CPU is its
    /// alone and it blocks after a known run-on (or it is idle since the
    /// waker blocked: at once), and the draw falls within the share
    /// measured for how long the waker runs on. Draws only where the
    /// others hold and the share is not 0.
    fn packed_cpu(
        &self,
        wakee: u32,
        by: Option<WakeCause>,
        rng: &mut impl Rng,
    ) -> Option<(u32, u64)> {
        let p = self.packed.as_ref()?;
        let by = by?;
        let w = &self.threads[by.thread as usize];
        let cpu = w.cpu?;
        let yields_in_ns = match w.state {
            State::Running { .. }
                if self.guest[cpu as usize].is_none() && by.yields_in_ns != u64::MAX =>
            {
                by.yields_in_ns
            }
            State::Blocked if self.idle_since[cpu as usize].is_some() => 0,
            _ => return None,
        };
        if by.decided {
            return Some((cpu, yields_in_ns));
        }
        // With a CPU idle to wake it on, a thread that runs long each
        // time it is woken goes there instead; with none, the share
        // measured with the other CPU busy, where it was.
        let any_idle = self.idle_since.iter().any(Option::is_some);
        let share = if any_idle {
            curve_at(&p.share, by.runs_on_ns).min(curve_at(
                &p.wakee_share,
                self.threads[wakee as usize].run_avg_ns,
            ))
        } else if p.busy_share.is_empty() {
            curve_at(&p.share, by.runs_on_ns)
        } else {
            curve_at(&p.busy_share, by.runs_on_ns)
        };
        (share > 0.0 && rng.random::<f64>() < share).then_some((cpu, yields_in_ns))
    }

    /// Whether the kernel packs `wakee`, woken now by `by`, onto the
    /// waker's CPU: the draw [`HostCpus::wake_by`] makes, made ahead (a
    /// send whose wake-up starts as it begins, while the waker still
    /// runs); the wake itself then passes the answer on in
    /// [`WakeCause::decided`].
    pub fn packs(&self, wakee: u32, by: WakeCause, rng: &mut impl Rng) -> bool {
        self.packed_cpu(wakee, Some(by), rng).is_some()
    }

    /// [`HostCpus::wake`] with the time it becomes runnable given (a
    /// thread starting).
    pub fn wake_at(&mut self, thread: u32, at: u64, resume: Resume) -> Option<u64> {
        self.start_waking(thread, at, resume).map(|_| at)
    }

    /// A blocked thread starts waking at `now`: if a CPU is idle it is
    /// woken there (the CPU is its from now on, busy waking it) and the
    /// result is how long that CPU had been idle; else 0 (it will queue
    /// for a CPU that is awake). `None` if the thread was not blocked.
    fn start_waking(&mut self, thread: u32, now: u64, resume: Resume) -> Option<u64> {
        if self.threads[thread as usize].state != State::Blocked {
            return None;
        }
        let since = self.claim_idle_cpu(thread);
        let t = &mut self.threads[thread as usize];
        t.resume = resume;
        t.state = State::Waking {
            claimed: since.is_some(),
        };
        Some(since.map_or(0, |since| now.saturating_sub(since)))
    }

    /// The CPU `thread` wakes on if it wakes now, and since when it has
    /// been idle: its last CPU if idle, else the idle CPU released most
    /// recently; `None` if every CPU is held.
    fn idle_cpu(&self, thread: u32) -> Option<(u32, u64)> {
        if let Some(c) = self.threads[thread as usize].cpu {
            if let Some(since) = self.idle_since[c as usize] {
                return Some((c, since));
            }
        }
        let mut best: Option<(u32, u64)> = None;
        for (c, since) in self.idle_since.iter().enumerate() {
            if let Some(since) = *since {
                if best.is_none_or(|(_, b)| since > b) {
                    best = Some((c as u32, since));
                }
            }
        }
        best
    }

    /// Gives `thread` the CPU [`HostCpus::idle_cpu`] picks; returns since
    /// when that CPU had been idle, `None` (nothing taken) if none is.
    fn claim_idle_cpu(&mut self, thread: u32) -> Option<u64> {
        let (c, since) = self.idle_cpu(thread)?;
        self.idle_since[c as usize] = None;
        self.threads[thread as usize].cpu = Some(c);
        Some(since)
    }

    /// How long the CPU `thread` would wake on at `now` has been idle (0
    /// if every CPU is held).
    pub fn idle_for(&self, thread: u32, now: u64) -> u64 {
        self.idle_cpu(thread)
            .map_or(0, |(_, since)| now.saturating_sub(since))
    }

    /// The woken thread is runnable at `now`: it runs on the CPU it was
    /// woken on, or takes a free CPU (and does its [`Resume`] now), or
    /// waits in the run queue (`None`).
    pub fn runnable(&mut self, thread: u32, now: u64) -> Option<Resume> {
        let State::Waking { claimed } = self.threads[thread as usize].state else {
            panic!("thread {thread} made runnable without being woken");
        };
        if !claimed && self.claim_idle_cpu(thread).is_none() {
            self.threads[thread as usize].state = State::Queued;
            self.queue.push_back(thread);
            return None;
        }
        let t = &mut self.threads[thread as usize];
        t.state = State::Running { since: now };
        Some(t.resume)
    }

    /// What a thread handed a CPU by a [`Dispatch`] does now.
    pub fn dispatched(&self, thread: u32) -> Resume {
        self.threads[thread as usize].resume
    }

    /// Counts the time `thread` held its CPU up to `now`.
    fn account(&mut self, thread: u32, now: u64) {
        let (from, to) = (self.from, self.to);
        let t = &mut self.threads[thread as usize];
        if let State::Running { since } = t.state {
            let (a, b) = (since.max(from), now.min(to));
            t.held_ns += b.saturating_sub(a);
        }
    }

    /// Hands the CPU `thread` gave up at `now` to the head of the queue.
    fn pass_on(&mut self, thread: u32, now: u64) -> Option<Dispatch> {
        let cpu = self.threads[thread as usize]
            .cpu
            .expect("a thread that held a CPU knows which");
        match self.queue.pop_front() {
            Some(next) => {
                let at = now + CONTEXT_SWITCH_NS;
                let n = &mut self.threads[next as usize];
                n.state = State::Running { since: at };
                n.cpu = Some(cpu);
                Some(Dispatch { thread: next, at })
            }
            None => {
                self.idle_since[cpu as usize] = Some(now);
                None
            }
        }
    }

    /// The running `thread` blocks at `now`: its CPU goes to the queue's
    /// head, if any.
    pub fn block(&mut self, thread: u32, now: u64) -> Option<Dispatch> {
        debug_assert!(self.running(thread));
        self.account(thread, now);
        let State::Running { since } = self.threads[thread as usize].state else {
            unreachable!("only a running thread blocks");
        };
        let t = &mut self.threads[thread as usize];
        t.state = State::Blocked;
        // Until the next wake-up says what ended this sleep.
        t.woken_by_irq = false;
        let run = now.saturating_sub(since);
        t.run_avg_ns = if run >= t.run_avg_ns {
            t.run_avg_ns + ((run - t.run_avg_ns) >> RUN_AVG_SHIFT)
        } else {
            t.run_avg_ns - ((t.run_avg_ns - run) >> RUN_AVG_SHIFT)
        };
        let cpu = t.cpu.expect("a thread that held a CPU knows which");
        match self.guest[cpu as usize] {
            // A packed thread leaves: the thread it preempted runs again,
            // having lent it the CPU meanwhile.
            Some(g) if g == thread => {
                self.guest[cpu as usize] = None;
                self.lend(cpu, thread, since, now);
                None
            }
            // The holder leaves while a packed thread is on its CPU: that
            // one holds it from now (or when its wake-up lands).
            Some(g) => {
                if let State::Running { since: s } = self.threads[g as usize].state {
                    let (a, b) = (s.max(self.from), now.min(self.to));
                    self.threads[thread as usize].lent_ns += b.saturating_sub(a);
                }
                self.guest[cpu as usize] = None;
                None
            }
            None => self.pass_on(thread, now),
        }
    }

    /// The packed thread `guest` ran on `cpu` from `since` to `now`: the
    /// thread that holds `cpu` lent it that time (inside the measured
    /// interval).
    fn lend(&mut self, cpu: u32, guest: u32, since: u64, now: u64) {
        let (a, b) = (since.max(self.from), now.min(self.to));
        let lent = b.saturating_sub(a);
        let holder = self.threads.iter_mut().enumerate().find(|(i, t)| {
            *i != guest as usize && t.cpu == Some(cpu) && matches!(t.state, State::Running { .. })
        });
        if let Some((_, h)) = holder {
            h.lent_ns += lent;
        }
    }

    /// At a step boundary at `now`: if `thread` has held its CPU for a
    /// slice and others wait, it queues behind them (to do `resume` when
    /// it runs again) and its CPU goes to the queue's head. `None`: it
    /// keeps running.
    pub fn preempt(&mut self, thread: u32, now: u64, resume: Resume) -> Option<Dispatch> {
        let State::Running { since } = self.threads[thread as usize].state else {
            return None;
        };
        if self.queue.is_empty() || now < since + self.slice_ns {
            return None;
        }
        // A CPU two threads share (one packed onto it) is not handed on.
        if let Some(cpu) = self.threads[thread as usize].cpu {
            if self.guest[cpu as usize].is_some() {
                return None;
            }
        }
        self.account(thread, now);
        let t = &mut self.threads[thread as usize];
        t.state = State::Queued;
        t.resume = resume;
        self.queue.push_back(thread);
        self.pass_on(thread, now)
    }

    /// What `thread`'s last sleep cost its CPU clock: the measured cost of
    /// a sleep ended by the device's interrupt if that woke it and it was
    /// measured, else `wakeup_cpu_ns` (a thread's write as the waker).
    pub fn sleep_cpu_ns(&self, thread: u32, wakeup_cpu_ns: u64) -> u64 {
        if self.threads[thread as usize].woken_by_irq {
            self.irq_sleep_cpu_ns(wakeup_cpu_ns)
        } else {
            wakeup_cpu_ns
        }
    }

    /// What `thread`'s first `io_submit` after its last sleep costs
    /// beyond one made without sleeping (`[host] submit_after_idle_ns`),
    /// by how long the CPU it woke on had been idle: linear between the
    /// measured idle times, the last beyond them; 0 where not measured.
    pub fn submit_after_sleep_ns(&self, thread: u32) -> u64 {
        let idle = self.threads[thread as usize].woke_idle_ns;
        crate::dist::round_ns(curve_at(&self.submit_after_idle, idle))
    }

    /// What a sleep the device's interrupt ends costs the sleeper's CPU
    /// clock: as measured, else `wakeup_cpu_ns`.
    pub fn irq_sleep_cpu_ns(&self, wakeup_cpu_ns: u64) -> u64 {
        self.irq_cpu_ns.unwrap_or(wakeup_cpu_ns)
    }

    /// Counts `cpu_ns` of CPU time for `thread` at `now` (inside the
    /// measured interval) that took no wall time of its own: the kernel's
    /// side of a sleep, which overlaps the measured wake-up.
    pub fn charge(&mut self, thread: u32, now: u64, cpu_ns: u64) {
        if (self.from..self.to).contains(&now) {
            self.threads[thread as usize].charged_ns += cpu_ns;
        }
    }

    /// CPU time the threads `threads` got inside the measured interval,
    /// counting the threads still running up to its end: the time they
    /// held a CPU less the share other load took ([`stretch`]), and what
    /// was [charged](HostCpus::charge).
    pub fn cpu_ns(&self, threads: std::ops::Range<u32>) -> u64 {
        let (mut held, mut charged) = (0u64, 0);
        for t in &self.threads[threads.start as usize..threads.end as usize] {
            let open = match t.state {
                State::Running { since } => self.to.saturating_sub(since.max(self.from)),
                _ => 0,
            };
            held += (t.held_ns + open).saturating_sub(t.lent_ns);
            charged += t.charged_ns;
        }
        (held as f64 / self.stretch).round() as u64 + charged
    }

    /// Scales a wall time spent holding a CPU to the CPU time it gave.
    pub fn cpu_of(&self, held_ns: u64) -> u64 {
        (held_ns as f64 / self.stretch).round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64;

    fn host(cpus: u32, load: f64, steal: f64) -> Host {
        Host {
            cpus,
            background_load_cpus: load,
            steal_frac: steal,
            shared: true,
            eventfd_wakeup_ns: [1_000, 2_000, 4_000, 10_000],
            channel_wakeup_ns: [1_000, 2_000, 4_000, 10_000],
            wakeup_idle_ns: vec![],
            eventfd_wakeup_by_idle_ns: vec![],
            channel_wakeup_by_idle_ns: vec![],
            io_submit_batch: vec![],
            io_submit_ns: vec![],
            io_submit_cpu_ns: vec![],
            packing: None,
            irq_wakeup_ns: None,
            irq_wakeup_by_cpu_ns: vec![],
            irq_wakeup_cpu_ns: None,
            submit_after_idle_ns: vec![],
            wake_across_send_ns: None,
            scheduler: Vec::new(),
        }
    }

    #[test]
    fn with_no_cpu_idle_a_woken_thread_packs_by_the_share_measured_busy() {
        // Two CPUs held by threads 0 and 1; thread 0 wakes thread 2 and
        // runs on 4 us. At rest the share is 1 (always on the waker's
        // CPU); with every CPU held the share measured busy decides: 0
        // never packs it, 1 always, no busy share falls back to the one
        // at rest.
        let packed = |busy: Vec<f64>| {
            let mut hst = host(2, 0.0, 0.0);
            hst.channel_wakeup_ns = [3_000; 4];
            hst.packing = Some(Packing {
                run_on_ns: vec![0],
                share: vec![1.0],
                busy_share: busy,
                wakee_share: vec![],
                eventfd_wakeup_ns: [2_000; 4],
                channel_wakeup_ns: [2_000; 4],
            });
            let mut rng = Pcg64::seed_from_u64(7);
            let mut h = HostCpus::new(&hst, 3, 0, u64::MAX);
            for t in [0, 1] {
                h.wake_at(t, 0, Resume::Work);
                h.runnable(t, 0);
            }
            let by = WakeCause {
                thread: 0,
                runs_on_ns: 4_000,
                yields_in_ns: 4_000,
                decided: false,
            };
            let at = h.wake_by(2, Some(by), 10_000, Waker::Channel, Resume::Work, &mut rng);
            (h.packed_waking(2), at)
        };
        // Packed: it runs once the waker yields, at the same-CPU wake-up.
        assert_eq!(packed(vec![]), (true, Some(16_000)));
        assert_eq!(packed(vec![1.0]), (true, Some(16_000)));
        // Not packed: it queues for a CPU after a plain wake-up (3 us).
        assert_eq!(packed(vec![0.0]), (false, Some(13_000)));
    }

    #[test]
    fn a_sleep_the_interrupt_ended_costs_the_cpu_measured_for_it() {
        // The loop (thread 0) sleeps three times: a completion's interrupt
        // ends the first and the third, a job's write (thread 1) the
        // second. With the
        // interrupt's sleep measured at 17 us it costs that, the other the
        // 7.6 us measured with a thread as the waker; unmeasured, both do.
        let sleeps = |irq_cpu: Option<u64>| {
            let mut hst = host(2, 0.0, 0.0);
            hst.irq_wakeup_cpu_ns = irq_cpu;
            let mut rng = Pcg64::seed_from_u64(3);
            let mut h = HostCpus::new(&hst, 2, 0, u64::MAX);
            h.wake_at(0, 0, Resume::Work);
            h.runnable(0, 0);
            let mut cost = Vec::new();
            for (at, by) in [(10_000, None), (50_000, Some(1)), (90_000, None)] {
                h.block(0, at);
                let by = by.map(|thread| WakeCause {
                    thread,
                    runs_on_ns: 0,
                    yields_in_ns: 0,
                    decided: false,
                });
                let woke = h.wake_by(0, by, at + 5_000, Waker::Eventfd, Resume::Work, &mut rng);
                h.runnable(0, woke.expect("it was asleep"));
                cost.push(h.sleep_cpu_ns(0, 7_600));
            }
            cost
        };
        assert_eq!(sleeps(Some(17_000)), [17_000, 7_600, 17_000]);
        assert_eq!(sleeps(None), [7_600, 7_600, 7_600]);
    }

    #[test]
    fn a_wakeup_curve_interpolates_between_idle_times_and_holds_beyond_them() {
        let c = WakeupCurve::by_idle(
            &[10_000, 100_000, 1_000_000],
            &[
                [4_000, 6_000, 8_000, 10_000],
                [4_000, 6_000, 8_000, 10_000],
                [20_000, 30_000, 40_000, 50_000],
            ],
        );
        // Before the first row and at it: the first row.
        assert_eq!(c.quantile(0, 0.5), 6_000);
        assert_eq!(c.quantile(10_000, 0.5), 6_000);
        assert_eq!(c.quantile(100_000, 0.9), 8_000);
        // Halfway between 100 us and 1 ms: halfway between the rows.
        assert_eq!(c.quantile(550_000, 0.5), 18_000);
        assert_eq!(c.quantile(550_000, 0.1), 12_000);
        // At and after the last row: the last row.
        assert_eq!(c.quantile(1_000_000, 0.5), 30_000);
        assert_eq!(c.quantile(60_000_000_000, 0.99), 50_000);
        // A flat curve is its one distribution at every idle time.
        let f = WakeupCurve::flat([1_000, 2_000, 4_000, 10_000]);
        assert_eq!(f.quantile(0, 0.5), 2_000);
        assert_eq!(f.quantile(5_000_000, 0.5), 2_000);
    }

    #[test]
    fn a_wakeup_is_drawn_for_how_long_its_cpu_has_been_idle() {
        let mut hst = host(2, 0.0, 0.0);
        hst.wakeup_idle_ns = vec![50_000, 200_000];
        hst.eventfd_wakeup_by_idle_ns = vec![[5_000; 4], [30_000; 4]];
        hst.channel_wakeup_by_idle_ns = vec![[3_000; 4], [3_000; 4]];
        let mut rng = Pcg64::seed_from_u64(7);
        let mut h = HostCpus::new(&hst, 3, 0, u64::MAX);
        // Both CPUs idle since the start.
        assert_eq!(h.idle_for(0, 1_000_000), 1_000_000);
        h.wake_at(0, 0, Resume::Begin);
        h.runnable(0, 0);
        h.wake_at(1, 0, Resume::Work);
        h.runnable(1, 0);
        // Every CPU held: a wakee queues on a CPU that is awake.
        assert_eq!(h.idle_for(2, 1_000_000), 0);
        // Thread 0 blocks at 1 ms; woken 20 us later: the short row.
        assert_eq!(h.block(0, 1_000_000), None);
        assert_eq!(h.idle_for(0, 1_020_000), 20_000);
        let at = h.wake(0, 1_020_000, Waker::Eventfd, Resume::Begin, &mut rng);
        assert_eq!(at, Some(1_025_000));
        assert_eq!(h.runnable(0, 1_025_000), Some(Resume::Begin));
        // Blocked again at 2 ms and woken 1 ms later: the long row.
        h.block(0, 2_000_000);
        let at = h.wake(0, 3_000_000, Waker::Eventfd, Resume::Begin, &mut rng);
        assert_eq!(at, Some(3_030_000));
        // The job's channel wake-up has its own table; the job wakes on
        // its own CPU, idle since 3.01 ms.
        h.block(1, 3_010_000);
        assert_eq!(h.idle_for(1, 3_015_000), 5_000);
        let at = h.wake(1, 3_015_000, Waker::Channel, Resume::Work, &mut rng);
        assert_eq!(at, Some(3_018_000));
        assert_eq!(h.runnable(1, 3_018_000), Some(Resume::Work));
        // Thread 0, woken at 3 ms, goes back to its own CPU.
        assert_eq!(h.runnable(0, 3_030_000), Some(Resume::Begin));
        h.block(0, 3_100_000);
        h.block(1, 3_200_000);
        assert_eq!(h.idle_for(2, 3_300_000), 100_000, "the CPU released last");
        // Woken, thread 2 holds that CPU from the wake on.
        let at = h.wake(2, 3_300_000, Waker::Channel, Resume::Work, &mut rng);
        assert_eq!(at, Some(3_303_000));
        assert_eq!(h.idle_for(0, 3_300_000), 200_000, "thread 0's own CPU");
        assert_eq!(h.idle_for(1, 3_300_000), 200_000, "the only idle CPU");
        // Thread 0 takes the other; a third wakee finds none and, when
        // runnable, queues.
        h.wake(0, 3_300_000, Waker::Eventfd, Resume::Begin, &mut rng);
        assert_eq!(h.idle_for(1, 3_300_000), 0);
        let at = h.wake(1, 3_300_000, Waker::Channel, Resume::Work, &mut rng);
        assert_eq!(at, Some(3_303_000), "the row for 0 idle");
        assert_eq!(h.runnable(2, 3_303_000), Some(Resume::Work));
        assert_eq!(h.runnable(1, 3_303_000), None);
        assert!(!h.running(1) && !h.blocked(1));
    }

    #[test]
    fn wakeup_quantiles_pass_through_the_measured_percentiles() {
        let d = WakeupDist::new([1_000, 2_000, 4_000, 10_000]);
        assert_eq!(d.quantile(0.0), 1_000);
        assert_eq!(d.quantile(0.10), 1_000);
        assert_eq!(d.quantile(0.30), 1_500);
        assert_eq!(d.quantile(0.50), 2_000);
        assert_eq!(d.quantile(0.90), 4_000);
        assert_eq!(d.quantile(0.99), 10_000);
        assert_eq!(d.quantile(0.995), 13_000);
        // Samples land on the percentiles' proportions.
        let mut rng = Pcg64::seed_from_u64(1);
        let s: Vec<u64> = (0..20_000).map(|_| d.sample(&mut rng)).collect();
        let below = |v: u64| s.iter().filter(|&&x| x <= v).count() as f64 / s.len() as f64;
        assert!((below(2_000) - 0.5).abs() < 0.02, "{}", below(2_000));
        assert!((below(4_000) - 0.9).abs() < 0.01, "{}", below(4_000));
    }

    #[test]
    fn stretch_is_fair_share_and_steal() {
        assert_eq!(stretch(&host(2, 0.0, 0.0)), 1.0);
        assert_eq!(stretch(&host(2, 1.0, 0.0)), 1.5);
        assert_eq!(stretch(&host(2, 2.0, 0.5)), 4.0);
        // A host that steals everything still runs, slowly.
        assert_eq!(stretch(&host(1, 0.0, 1.0)), 20.0);
        assert_eq!(slice_ns(1), 750_000);
        assert_eq!(slice_ns(2), 1_500_000);
        assert_eq!(slice_ns(64), 3_000_000);
    }

    #[test]
    fn a_thread_waits_for_a_cpu_and_gets_it_after_a_context_switch() {
        let mut h = HostCpus::new(&host(1, 0.0, 0.0), 2, 0, 1_000_000);
        assert_eq!(h.wake_at(0, 0, Resume::Begin), Some(0));
        assert_eq!(h.runnable(0, 0), Some(Resume::Begin));
        // A second wake of a thread that is not blocked does nothing.
        assert_eq!(h.wake_at(0, 5, Resume::Work), None);
        assert_eq!(h.wake_at(1, 100, Resume::Work), Some(100));
        assert_eq!(h.runnable(1, 100), None, "the only CPU is taken");
        assert!(!h.running(1));
        let d = h.block(0, 1_000).unwrap();
        assert_eq!(
            d,
            Dispatch {
                thread: 1,
                at: 1_000 + CONTEXT_SWITCH_NS
            }
        );
        assert_eq!(h.dispatched(1), Resume::Work);
        assert!(h.running(1) && h.blocked(0));
        assert!(!h.runs_at(1, 1_000) && h.runs_at(1, 1_000 + CONTEXT_SWITCH_NS));
        // Nobody waits: the CPU is free again.
        assert_eq!(h.block(1, 10_000), None);
        assert_eq!(h.wake_at(0, 20_000, Resume::Begin), Some(20_000));
        assert_eq!(h.runnable(0, 20_000), Some(Resume::Begin));
        // Held: thread 0 for 1000 + 20_000.., thread 1 from the switch on.
        assert_eq!(h.cpu_ns(1..2), 10_000 - 1_000 - CONTEXT_SWITCH_NS);
        assert_eq!(h.cpu_ns(0..1), 1_000 + (1_000_000 - 20_000));
    }

    #[test]
    fn a_thread_gives_up_its_cpu_only_after_a_slice_and_only_if_others_wait() {
        let mut h = HostCpus::new(&host(1, 0.0, 0.0), 2, 0, u64::MAX);
        h.wake_at(0, 0, Resume::Begin);
        h.runnable(0, 0);
        assert_eq!(
            h.preempt(0, 10_000_000, Resume::Begin),
            None,
            "no one waits"
        );
        h.wake_at(1, 10, Resume::Work);
        assert_eq!(h.runnable(1, 10), None);
        let slice = slice_ns(1);
        assert_eq!(
            h.preempt(0, slice - 1, Resume::Begin),
            None,
            "within its slice"
        );
        let d = h.preempt(0, slice, Resume::Begin).unwrap();
        assert_eq!(d.thread, 1);
        assert!(!h.running(0) && !h.blocked(0), "queued");
        // Thread 1 blocks: thread 0 runs again and begins.
        let d = h.block(1, slice + 50_000).unwrap();
        assert_eq!((d.thread, h.dispatched(0)), (0, Resume::Begin));
    }

    #[test]
    fn other_load_stretches_work_and_shrinks_the_cpu_clock() {
        let mut h = HostCpus::new(&host(2, 2.0, 0.0), 1, 0, 1_000_000);
        assert_eq!(h.cost(1_000), 2_000);
        h.wake_at(0, 0, Resume::Work);
        h.runnable(0, 0);
        assert_eq!(
            h.cpu_ns(0..1),
            500_000,
            "held the whole run, half of it ours"
        );
        assert_eq!(h.cpu_of(4_000), 2_000);
        // Charged CPU counts as it is, inside the interval only.
        h.charge(0, 10, 3_000);
        h.charge(0, 1_000_000, 7_000);
        assert_eq!(h.cpu_ns(0..1), 503_000);
    }
}
