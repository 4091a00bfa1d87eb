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
//!   idle CPU.
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

use crate::preset::Host;

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
    Waking,
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
    resume: Resume,
    /// Time holding a CPU inside the measured interval.
    held_ns: u64,
}

/// The host's CPUs and the run's threads on them (see the module doc).
#[derive(Clone, Debug)]
pub struct HostCpus {
    cpus: u32,
    /// CPUs held by the run's threads (or handed to one across a context
    /// switch).
    held: u32,
    queue: VecDeque<u32>,
    threads: Vec<Thread>,
    stretch: f64,
    slice_ns: u64,
    eventfd: WakeupDist,
    channel: WakeupDist,
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
        HostCpus {
            cpus: host.cpus.max(1),
            held: 0,
            queue: VecDeque::with_capacity(threads as usize),
            threads: (0..threads)
                .map(|_| Thread {
                    state: State::Blocked,
                    resume: Resume::Work,
                    held_ns: 0,
                })
                .collect(),
            stretch: stretch(host),
            slice_ns: slice_ns(host.cpus),
            eventfd: WakeupDist::new(host.eventfd_wakeup_ns),
            channel: WakeupDist::new(host.channel_wakeup_ns),
            from,
            to,
        }
    }

    /// Wall time of `cpu_ns` of CPU work on a shared CPU.
    pub fn cost(&self, cpu_ns: u64) -> u64 {
        (cpu_ns as f64 * self.stretch).round() as u64
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
        let latency = match waker {
            Waker::Eventfd => self.eventfd.sample(rng),
            Waker::Channel => self.channel.sample(rng),
        };
        self.wake_at(thread, now + latency, resume)
    }

    /// [`HostCpus::wake`] with the time it becomes runnable given (a
    /// thread starting).
    pub fn wake_at(&mut self, thread: u32, at: u64, resume: Resume) -> Option<u64> {
        let t = &mut self.threads[thread as usize];
        if t.state != State::Blocked {
            return None;
        }
        t.state = State::Waking;
        t.resume = resume;
        Some(at)
    }

    /// The woken thread is runnable at `now`: it takes a free CPU (and
    /// does its [`Resume`] now) or waits in the run queue (`None`).
    pub fn runnable(&mut self, thread: u32, now: u64) -> Option<Resume> {
        let t = &mut self.threads[thread as usize];
        debug_assert_eq!(t.state, State::Waking);
        if self.held < self.cpus {
            self.held += 1;
            t.state = State::Running { since: now };
            Some(t.resume)
        } else {
            t.state = State::Queued;
            self.queue.push_back(thread);
            None
        }
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
    fn pass_on(&mut self, now: u64) -> Option<Dispatch> {
        match self.queue.pop_front() {
            Some(next) => {
                let at = now + CONTEXT_SWITCH_NS;
                self.threads[next as usize].state = State::Running { since: at };
                Some(Dispatch { thread: next, at })
            }
            None => {
                self.held -= 1;
                None
            }
        }
    }

    /// The running `thread` blocks at `now`: its CPU goes to the queue's
    /// head, if any.
    pub fn block(&mut self, thread: u32, now: u64) -> Option<Dispatch> {
        debug_assert!(self.running(thread));
        self.account(thread, now);
        self.threads[thread as usize].state = State::Blocked;
        self.pass_on(now)
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
        self.account(thread, now);
        let t = &mut self.threads[thread as usize];
        t.state = State::Queued;
        t.resume = resume;
        self.queue.push_back(thread);
        self.pass_on(now)
    }

    /// CPU time the threads `threads` got inside the measured interval,
    /// counting the threads still running up to its end: the time they
    /// held a CPU less the share other load took ([`stretch`]).
    pub fn cpu_ns(&self, threads: std::ops::Range<u32>) -> u64 {
        let held: u64 = threads
            .map(|i| {
                let t = &self.threads[i as usize];
                let open = match t.state {
                    State::Running { since } => self.to.saturating_sub(since.max(self.from)),
                    _ => 0,
                };
                t.held_ns + open
            })
            .sum();
        (held as f64 / self.stretch).round() as u64
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
            io_submit_batch: vec![],
            io_submit_ns: vec![],
            io_submit_cpu_ns: vec![],
        }
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
    }
}
