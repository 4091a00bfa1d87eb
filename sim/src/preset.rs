//! Device and host presets: embedded TOML files, or a user's file of the
//! same shape. Unknown keys are errors that name the key.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dist::LatencyDist;
use crate::error::SimError;
use crate::workload::{Rw, Validate as _, Workload, LIMITS};

/// The presets compiled into the binary: (name, TOML text).
const EMBEDDED: &[(&str, &str)] = &[
    (
        "optane-p4800x",
        include_str!("../presets/optane-p4800x.toml"),
    ),
    ("fcp-16disk", include_str!("../presets/fcp-16disk.toml")),
];

/// Everything the simulator needs to know about a machine and its device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    pub description: String,
    pub guest: Guest,
    pub iothread: IoThreadCosts,
    pub topology: Topology,
    pub device: Device,
    pub matrix: Matrix,
    /// The host's CPUs as `pollwise realdev calibrate` measured them, for a
    /// model of CPUs shared by the loop, the jobs and other load. Optional;
    /// the engine uses it only when it says `shared = true` (see
    /// `sim/src/host.rs`); otherwise every thread has a CPU of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Host>,
    /// What the calibration that wrote this preset found about its own
    /// measurements. Optional; the model does not use it (`validate`
    /// reports it beside the predictions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationSpread>,
}

/// The `[calibration]` table: how far the calibrated device's repeats
/// varied, so how far an absolute prediction from the preset can be
/// trusted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationSpread {
    /// The widest spread of any device point's repeated IOPS: (max - min)
    /// over the median, %.
    pub device_spread_pct: f64,
}

/// The largest `calibration.device_spread_pct`: (max - min) / median of
/// positive IOPS stays far below it.
pub const MAX_SPREAD_PCT: f64 = 100_000.0;

impl CalibrationSpread {
    fn validate(&self) -> Result<(), SimError> {
        let v = self.device_spread_pct;
        if !(v.is_finite() && (0.0..=MAX_SPREAD_PCT).contains(&v)) {
            return Err(SimError::Preset(format!(
                "calibration.device_spread_pct = {v} is out of range: expected 0 ..= {MAX_SPREAD_PCT} (%)"
            )));
        }
        Ok(())
    }
}

/// Most rows of a wake-up-by-idle-time table.
pub const MAX_WAKEUP_ROWS: usize = 64;

/// The host's CPUs, measured (see [`Preset::host`]). All latencies are
/// from the waker's write or send to the sleeper running, in ns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    /// CPUs the loop, the jobs and everything else share.
    pub cpus: u32,
    /// Run the shared-CPU model (`sim/src/host.rs`): the IOThreads and one
    /// thread per fio job share `cpus` CPUs with each other and with the
    /// other load. Off when absent: the section is then a record of the
    /// machine only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub shared: bool,
    /// CPUs' worth of other work running while calibration was idle
    /// (from /proc/stat: busy time of all CPUs over wall time).
    pub background_load_cpus: f64,
    /// Fraction of CPU time the hypervisor gave to others (steal) while
    /// calibration was idle.
    pub steal_frac: f64,
    /// A thread in `epoll_wait` woken by an eventfd write: 10th, 50th,
    /// 90th and 99th percentiles.
    pub eventfd_wakeup_ns: [u64; 4],
    /// A thread blocked on a channel woken by a send: same percentiles.
    pub channel_wakeup_ns: [u64; 4],
    /// How long the CPU a thread wakes on had been idle, increasing, in ns:
    /// the rows of the two tables below. A vCPU that has been idle longer
    /// sleeps deeper (the guest's idle loop halts, the host's halt-polling
    /// gives up and deschedules it), so its wake-up takes longer. Empty
    /// (the default): every wake-up is drawn from `eventfd_wakeup_ns` or
    /// `channel_wakeup_ns` whatever the idle time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wakeup_idle_ns: Vec<u64>,
    /// The eventfd wake-up's p10, p50, p90, p99 after each idle time of
    /// `wakeup_idle_ns`, in ns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eventfd_wakeup_by_idle_ns: Vec<[u64; 4]>,
    /// The channel wake-up's percentiles after each idle time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channel_wakeup_by_idle_ns: Vec<[u64; 4]>,
    /// Requests per `io_submit` call measured, increasing.
    pub io_submit_batch: Vec<u32>,
    /// Mean wall time of one `io_submit` call of that many requests.
    pub io_submit_ns: Vec<u64>,
    /// The part of it the calling thread's CPU clock counts.
    pub io_submit_cpu_ns: Vec<u64>,
    /// Where the kernel puts a woken thread when its waker holds a CPU
    /// and another CPU is idle (`[host.packing]`; absent: always on the
    /// idle CPU, as `select_idle_sibling()` does on bare metal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packing: Option<Packing>,
    /// A thread asleep on the device's completions woken by its interrupt
    /// (the eventfd the kernel writes when a request completes): p10, p50,
    /// p90, p99 in ns, from the completion reaching the ring to the
    /// thread running. Absent: drawn as an eventfd wake-up
    /// (`eventfd_wakeup_by_idle_ns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub irq_wakeup_ns: Option<[u64; 4]>,
    /// The same wake-up with the sleeper on each CPU, CPU `i` of the
    /// model being the `i`-th CPU the host let calibration use: the device's
    /// interrupt reaches some CPUs only, and a sleeper on another is woken
    /// from there, across CPUs. One per CPU; empty (the default):
    /// `irq_wakeup_ns` wherever the loop sleeps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub irq_wakeup_by_cpu_ns: Vec<[u64; 4]>,
    /// What such a sleep costs the sleeping thread's CPU clock, from going
    /// to sleep to running again, in ns: it takes the place of
    /// `iothread.wakeup_cpu_ns` (measured with a thread's eventfd write
    /// as the waker) for a loop woken by a completion. Absent: every
    /// wake-up costs `wakeup_cpu_ns`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub irq_wakeup_cpu_ns: Option<u64>,
    /// What the loop's first `io_submit` after a sleep costs beyond one
    /// made without sleeping, in ns of its CPU (and as long in wall time),
    /// after each idle time of `wakeup_idle_ns` of the CPU it woke on
    /// (linear between them from 0 at no idle time, the last beyond): a
    /// vCPU back from halt runs its first call slower, the more the longer
    /// it was halted. Empty (the default): 0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub submit_after_idle_ns: Vec<u64>,
    /// What one wake-up of a thread blocked on another CPU costs the
    /// waker, on its CPU clock: `[eventfd write, channel send]` in ns (the
    /// two threads pinned apart, the sleeper's CPU idle as long as the
    /// device's latency). On a VM that send is an inter-processor
    /// interrupt to a halted vCPU, an exit the waker's CPU clock counts:
    /// 10 us where a wake-up on its own CPU costs 1-2. The job's kick that
    /// wakes its IOThread elsewhere and the IOThread's send that wakes a
    /// job that last ran on another CPU cost this instead of
    /// `guest.kick_cpu_ns` and `iothread.notify_guest_ns`. Absent: they
    /// cost those wherever the woken thread runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_across_send_ns: Option<[u64; 2]>,
    /// What decided where woken threads ran and how idle CPUs waited when
    /// the host was calibrated, as `name=value` (the kernel's release, the
    /// cpuidle driver, `kernel.sched_*` settings...): a record, which
    /// `validate` compares with the host it runs on. Not used by the
    /// simulation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scheduler: Vec<String>,
}

/// A row of measured percentiles (p10, p50, p90, p99, ns): ordered, and
/// none above a second.
fn percentiles_ok(q: &[u64; 4]) -> bool {
    q.windows(2).all(|w| w[0] <= w[1]) && q[3] <= 1_000_000_000
}

/// Most `host.scheduler` entries, and the longest one.
pub const MAX_SCHEDULER_FACTS: usize = 64;
pub const MAX_SCHEDULER_FACT_LEN: usize = 200;

/// Wake-ups that stay on the waker's CPU (`[host.packing]`). Some guest
/// kernels keep a woken thread on the vCPU that woke it rather than wake
/// a halted vCPU (a wake-up across vCPUs costs an inter-processor
/// interrupt and the host's scheduling of the halted vCPU: 20-30 us on a
/// shared host, against 3 us on the waker's own CPU). The woken thread
/// then preempts its waker: it runs at once, and the waker's CPU time
/// stops while it does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Packing {
    /// How long the waker runs on after the wake-up before it blocks, ns,
    /// increasing: the points `share` is measured at.
    pub run_on_ns: Vec<u64>,
    /// Share of wake-ups, each in `[0, 1]`, that land on the waker's CPU
    /// when it runs on that long (and, while a CPU is idle and
    /// `wakee_share` was not measured, when the woken thread itself runs
    /// that long each time it is woken): two threads that wake each other
    /// in turn, neither pinned, a sleep as long as the device's latency
    /// between (linear between the points, the nearest beyond them).
    pub share: Vec<f64>,
    /// The share of wake-ups that land on the waker's CPU when no CPU is
    /// idle, at each of `run_on_ns`: the woken thread last ran on the
    /// other CPU, which another thread keeps running on, and the waker
    /// runs on that long before it blocks. Empty (not measured): `share`
    /// holds then too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub busy_share: Vec<f64>,
    /// The share of wake-ups that land on the waker's CPU, the waker
    /// blocking right after, when the woken thread runs each of
    /// `run_on_ns` each time it is woken: while a CPU is idle a woken
    /// thread is packed in no more than this share at its own run per
    /// wake-up. Empty (not measured): `share` stands in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wakee_share: Vec<f64>,
    /// An eventfd wake-up on the waker's CPU: p10, p50, p90, p99 in ns
    /// (both threads pinned to one CPU, the waker blocking right after).
    pub eventfd_wakeup_ns: [u64; 4],
    /// A channel wake-up on the waker's CPU: the same percentiles.
    pub channel_wakeup_ns: [u64; 4],
}

impl Packing {
    fn validate(&self) -> Result<(), SimError> {
        if self.share.is_empty()
            || self.share.len() != self.run_on_ns.len()
            || self.run_on_ns.windows(2).any(|w| w[0] >= w[1])
        {
            return bad_host(format!(
                "packing: run_on_ns {:?} and share {:?}: expected as many shares as \
                 increasing run-on times, at least one",
                self.run_on_ns, self.share
            ));
        }
        for (k, shares) in [
            ("busy_share", &self.busy_share),
            ("wakee_share", &self.wakee_share),
        ] {
            if !shares.is_empty() && shares.len() != self.run_on_ns.len() {
                return bad_host(format!(
                    "packing: {k} has {} shares and run_on_ns {} times: expected one \
                     share for each run-on time, or none",
                    shares.len(),
                    self.run_on_ns.len()
                ));
            }
        }
        for (k, shares) in [
            ("share", &self.share),
            ("busy_share", &self.busy_share),
            ("wakee_share", &self.wakee_share),
        ] {
            if let Some(s) = shares
                .iter()
                .find(|s| !(s.is_finite() && (0.0..=1.0).contains(*s)))
            {
                return bad_host(format!(
                    "packing.{k} has {s}: expected shares of wake-ups in 0 ..= 1"
                ));
            }
        }
        for (k, q) in [
            ("eventfd_wakeup_ns", &self.eventfd_wakeup_ns),
            ("channel_wakeup_ns", &self.channel_wakeup_ns),
        ] {
            if !percentiles_ok(q) {
                return bad_host(format!(
                    "packing.{k}: {q:?}: expected percentiles p10 <= p50 <= p90 <= p99 <= 1 s"
                ));
            }
        }
        Ok(())
    }
}

/// An error in the preset's `[host]` table.
fn bad_host(m: String) -> Result<(), SimError> {
    Err(SimError::Preset(format!("host.{m}")))
}

impl Host {
    fn validate(&self) -> Result<(), SimError> {
        self.validate_load()?;
        self.validate_wakeups()?;
        if let Some(p) = &self.packing {
            p.validate()?;
        }
        if let Some(s) = &self.wake_across_send_ns {
            if s.iter().any(|&v| v > 1_000_000_000) {
                return bad_host(format!(
                    "wake_across_send_ns: {s:?}: expected [eventfd write, channel send] of at \
                     most 1 s each"
                ));
            }
        }
        if let Some(q) = &self.irq_wakeup_ns {
            if !percentiles_ok(q) {
                return bad_host(format!(
                    "irq_wakeup_ns: {q:?}: expected percentiles p10 <= p50 <= p90 <= p99 <= 1 s"
                ));
            }
        }
        if !self.irq_wakeup_by_cpu_ns.is_empty()
            && (self.irq_wakeup_by_cpu_ns.len() != self.cpus as usize
                || self.irq_wakeup_by_cpu_ns.iter().any(|q| !percentiles_ok(q)))
        {
            return bad_host(format!(
                "irq_wakeup_by_cpu_ns has {} rows: expected one per CPU ({}), each percentiles \
                 p10 <= p50 <= p90 <= p99 <= 1 s",
                self.irq_wakeup_by_cpu_ns.len(),
                self.cpus
            ));
        }
        if let Some(ns) = self.irq_wakeup_cpu_ns {
            if ns > 1_000_000_000 {
                return bad_host(format!(
                    "irq_wakeup_cpu_ns: {ns}: expected the CPU of one sleep, at most 1 s"
                ));
            }
        }
        if !self.submit_after_idle_ns.is_empty()
            && (self.submit_after_idle_ns.len() != self.wakeup_idle_ns.len()
                || self
                    .submit_after_idle_ns
                    .iter()
                    .any(|&ns| ns > 1_000_000_000))
        {
            return bad_host(format!(
                "submit_after_idle_ns has {} values: expected one per wakeup_idle_ns ({}), \
                 each the extra CPU of one io_submit, at most 1 s",
                self.submit_after_idle_ns.len(),
                self.wakeup_idle_ns.len()
            ));
        }
        self.validate_scheduler()?;
        self.validate_submits()
    }

    /// The scheduler record: a bounded list of short `name=value` lines.
    fn validate_scheduler(&self) -> Result<(), SimError> {
        if self.scheduler.len() > MAX_SCHEDULER_FACTS {
            return bad_host(format!(
                "scheduler has {} entries: expected at most {MAX_SCHEDULER_FACTS}",
                self.scheduler.len()
            ));
        }
        let bad = |f: &String| {
            f.len() > MAX_SCHEDULER_FACT_LEN
                || f.chars().any(char::is_control)
                || f.split_once('=').is_none_or(|(n, _)| n.is_empty())
        };
        if let Some(f) = self.scheduler.iter().find(|f| bad(f)) {
            return bad_host(format!(
                "scheduler has {:?}: expected name=value entries of at most \
                 {MAX_SCHEDULER_FACT_LEN} characters without control characters",
                f.chars().take(60).collect::<String>()
            ));
        }
        Ok(())
    }

    /// The CPU count, other load and steal.
    fn validate_load(&self) -> Result<(), SimError> {
        let bad = bad_host;
        if !(1..=4096).contains(&self.cpus) {
            return bad(format!(
                "cpus = {} is out of range: expected 1 ..= 4096",
                self.cpus
            ));
        }
        let cpus = f64::from(self.cpus);
        if !(self.background_load_cpus.is_finite()
            && (0.0..=cpus).contains(&self.background_load_cpus))
        {
            return bad(format!(
                "background_load_cpus = {} is out of range: expected 0 ..= {cpus} (cpus)",
                self.background_load_cpus
            ));
        }
        if !(self.steal_frac.is_finite() && (0.0..=1.0).contains(&self.steal_frac)) {
            return bad(format!(
                "steal_frac = {} is out of range: expected 0 ..= 1",
                self.steal_frac
            ));
        }
        Ok(())
    }

    /// The wake-up percentiles, and the tables of them by idle time.
    fn validate_wakeups(&self) -> Result<(), SimError> {
        let bad = bad_host;
        let rows = self.wakeup_idle_ns.len();
        if rows > MAX_WAKEUP_ROWS {
            return bad(format!(
                "wakeup_idle_ns has {rows} idle times: expected at most {MAX_WAKEUP_ROWS}"
            ));
        }
        if self.wakeup_idle_ns.windows(2).any(|w| w[0] >= w[1])
            || self
                .wakeup_idle_ns
                .last()
                .is_some_and(|&t| t > 1_000_000_000)
        {
            return bad(format!(
                "wakeup_idle_ns = {:?}: expected increasing idle times of at most 1 s",
                self.wakeup_idle_ns
            ));
        }
        for (k, table) in [
            ("eventfd_wakeup_by_idle_ns", &self.eventfd_wakeup_by_idle_ns),
            ("channel_wakeup_by_idle_ns", &self.channel_wakeup_by_idle_ns),
        ] {
            if table.len() != rows {
                return bad(format!(
                    "{k} has {} rows and wakeup_idle_ns {rows} idle times: expected one row \
                     of percentiles per idle time (or neither)",
                    table.len()
                ));
            }
        }
        let one = [
            ("eventfd_wakeup_ns", &self.eventfd_wakeup_ns),
            ("channel_wakeup_ns", &self.channel_wakeup_ns),
        ];
        let by_idle = self
            .eventfd_wakeup_by_idle_ns
            .iter()
            .map(|q| ("eventfd_wakeup_by_idle_ns", q))
            .chain(
                self.channel_wakeup_by_idle_ns
                    .iter()
                    .map(|q| ("channel_wakeup_by_idle_ns", q)),
            );
        for (k, q) in one.into_iter().chain(by_idle) {
            if !percentiles_ok(q) {
                return bad(format!(
                    "{k}: {q:?}: expected percentiles p10 <= p50 <= p90 <= p99 <= 1 s"
                ));
            }
        }
        Ok(())
    }

    /// `io_submit`'s cost by batch size.
    fn validate_submits(&self) -> Result<(), SimError> {
        let bad = bad_host;
        let n = self.io_submit_batch.len();
        if self.io_submit_ns.len() != n || self.io_submit_cpu_ns.len() != n {
            return bad(format!(
                "io_submit_batch, io_submit_ns and io_submit_cpu_ns have {n}, {} and {} \
                 values: expected one each per batch size",
                self.io_submit_ns.len(),
                self.io_submit_cpu_ns.len()
            ));
        }
        if self.io_submit_batch.first().is_some_and(|&b| b == 0)
            || self.io_submit_batch.windows(2).any(|w| w[0] >= w[1])
        {
            return bad(format!(
                "io_submit_batch = {:?}: expected increasing sizes of at least 1",
                self.io_submit_batch
            ));
        }
        if let Some(v) = self
            .io_submit_ns
            .iter()
            .chain(&self.io_submit_cpu_ns)
            .find(|&&v| v > 1_000_000_000)
        {
            return bad(format!("io_submit_ns: {v} ns is more than 1 s"));
        }
        Ok(())
    }
}

/// The guest side: vCPUs running fio jobs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guest {
    pub vcpus: u32,
    /// vCPU time per I/O: fio, the block layer and the virtio driver.
    pub io_cpu_ns: u64,
    /// Additional vCPU time per KiB of I/O (pinning pages, building the
    /// descriptor chain), so large blocks cost the guest more.
    pub io_cpu_ns_per_kib: u64,
    /// Variability of the per-I/O vCPU time: each I/O's cost is multiplied
    /// by a lognormal factor with mean 1 and this sigma (0 = constant).
    /// Scheduling noise, cache misses and host interference make real
    /// inter-arrival times vary, which is what adaptive policies react to.
    pub io_cpu_jitter_sigma: f64,
    /// vCPU time per interrupt taken (one per batch of completions).
    pub irq_cpu_ns: u64,
    /// vCPU time of a virtqueue kick (VM exit and ioeventfd), paid only
    /// while the host has notifications enabled.
    pub kick_cpu_ns: u64,
    /// vCPU time of a kick while the IOThread is already on its way
    /// (woken by an earlier kick or a completion, notifications still
    /// on): the doorbell's write wakes nobody. Absent: `kick_cpu_ns` (a
    /// VM exit costs the same whether or not it wakes a thread).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kick_again_cpu_ns: Option<u64>,
    /// From the host's irqfd write until the guest's handler runs.
    pub irq_latency_ns: u64,
}

impl Guest {
    /// A kick's vCPU time: `kick_cpu_ns` for the one that `wakes` the
    /// IOThread, `kick_again_cpu_ns` (where given) for a later one.
    pub fn kick_ns(&self, wakes: bool) -> u64 {
        match self.kick_again_cpu_ns {
            Some(again) if !wakes => again,
            _ => self.kick_cpu_ns,
        }
    }
}

/// The IOThread's own costs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IoThreadCosts {
    /// Fixed work per loop iteration (aio_poll bookkeeping, timers).
    pub iteration_ns: u64,
    /// One poll pass over one handler; an event is noticed one full pass
    /// over the thread's handlers after it arrives.
    pub poll_check_ns: u64,
    /// From the fd becoming ready until the blocked thread runs again.
    pub wakeup_latency_ns: u64,
    /// CPU the thread spends going to sleep and waking (ppoll, scheduler).
    pub wakeup_cpu_ns: u64,
    /// Deeper idle states of the sleeping IOThread's CPU: a sleep of at
    /// least `cstate_residency_ns[i]` (the state's target residency) wakes
    /// `cstate_exit_ns[i]` later than `wakeup_latency_ns` says (the state's
    /// exit latency over the shallowest's). The deepest state whose
    /// residency the sleep reaches applies, as if the idle governor knew the
    /// sleep's length. Empty (the default): every wake-up takes
    /// `wakeup_latency_ns`. The dedicated model only: under a shared
    /// `[host]` (whose wake-ups are drawn by idle time from its own
    /// measurements) the table is not used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cstate_residency_ns: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cstate_exit_ns: Vec<u64>,
    /// The io_submit syscall, once per iteration that submits.
    pub submit_batch_ns: u64,
    /// Per request: virtqueue pop, request setup, iocb preparation.
    pub submit_ns: u64,
    /// Per completion: reaping the AIO ring, virtqueue push.
    pub complete_ns: u64,
    /// The irqfd write, once per guest vCPU notified per iteration (on a
    /// shared host, once per job thread it wakes: a send to a job that is
    /// running costs next to nothing).
    pub notify_guest_ns: u64,
    /// Per guest thread a notification wakes: the wall time the IOThread
    /// spends on the send beyond `notify_guest_ns`, which its CPU clock
    /// does not count (inside a VM, the exit that delivers the wake-up to
    /// an idle vCPU). The loop waits for it. 0 (the default): none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub notify_guest_stall_ns: u64,
    /// QEMU's self-notification: linux-aio schedules a bottom half after
    /// every submission and completion batch, and scheduling one sets the
    /// context's `notified` flag, so the next iteration does not sleep
    /// (util/async.c `aio_bh_enqueue()`, block/linux-aio.c
    /// `qemu_laio_process_completions()`). Off when absent.
    #[serde(default, skip_serializing_if = "is_false")]
    pub self_notify: bool,
    /// The context's own notifier is one of the poll handlers: it joins
    /// them once dispatched from its eventfd, and its poll callback then
    /// reports the flag on the next poll pass, as one more handler the
    /// policy adapts to. Off when absent.
    #[serde(default, skip_serializing_if = "is_false")]
    pub notifier_polled: bool,
    /// Doorbells stay readable: the kernel writes linux-aio's eventfd on
    /// every completion and a guest's kick writes its virtqueue's, but a
    /// poll pass that finds the work does not read them (block/linux-aio.c
    /// `qemu_laio_poll_ready()`), so the next `ppoll()` returns at once and
    /// its dispatch reads them. Off when absent.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stale_eventfd: bool,
}

/// The most idle states `cstate_residency_ns` may list.
pub const MAX_CSTATES: usize = 8;

impl IoThreadCosts {
    /// The idle-state table: as many exit latencies as residencies, at most
    /// [`MAX_CSTATES`], residencies increasing, exits not decreasing.
    fn validate_cstates(&self) -> Result<(), SimError> {
        let (res, exit) = (&self.cstate_residency_ns, &self.cstate_exit_ns);
        if res.is_empty() && exit.is_empty() {
            return Ok(());
        }
        let wrong = |what: String| {
            Err(SimError::Preset(format!(
                "iothread.cstate_residency_ns = {res:?} and cstate_exit_ns = {exit:?}: {what}"
            )))
        };
        if res.len() != exit.len() || res.len() > MAX_CSTATES {
            return wrong(format!(
                "expected the same number of values in both, at most {MAX_CSTATES}"
            ));
        }
        if res.windows(2).any(|w| w[0] >= w[1]) || exit.windows(2).any(|w| w[0] > w[1]) {
            return wrong(
                "expected increasing residencies and exit latencies that do not decrease".into(),
            );
        }
        if res.iter().chain(exit).any(|&v| v > 1_000_000_000) {
            return wrong("expected values of at most 1 s (1000000000 ns)".into());
        }
        Ok(())
    }

    /// The table as (residency, extra exit latency) pairs.
    pub fn cstates(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.cstate_residency_ns
            .iter()
            .copied()
            .zip(self.cstate_exit_ns.iter().copied())
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// How disks and their queues map onto IOThreads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    pub disks: u32,
    /// virtio-blk num-queues per disk; a job submits on the queue of its
    /// vCPU (vCPU index modulo this).
    pub queues_per_disk: u32,
    /// `spread`: every disk's queues round-robin over all IOThreads
    /// (QEMU's iothread-vq-mapping); `per-disk`: disk d belongs to IOThread
    /// d mod N (one `iothread=` per device).
    pub vq_mapping: VqMapping,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VqMapping {
    Spread,
    PerDisk,
}

/// The storage device behind every disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Requests the device services at once (per disk).
    pub parallelism: u32,
    /// Data transfer rate, shared by all requests of one disk.
    pub read_bytes_per_s: u64,
    pub write_bytes_per_s: u64,
    /// Per-request time on the shared transfer path besides the data.
    pub transfer_overhead_ns: u64,
    /// Latency each request already in the device adds to one submitted
    /// beside it, ns: a device that shares its capacity among the requests
    /// it holds (processor sharing), so that its latency grows with the
    /// queue depth, d + n x this. 0 (the default): no sharing beyond the
    /// `parallelism` channels.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub latency_per_inflight_ns: u64,
    /// CPU the submitting IOThread spends on a submission batch that finds
    /// the disk holding no request, ns: notifying a device that is not
    /// looking (on virtio, the virtqueue kick that exits to the host; a
    /// busy device polls its queue with notifications off). 0 (the
    /// default): every batch costs `iothread.submit_batch_ns` alone.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub idle_notify_ns: u64,
    pub read_latency: LatencyDist,
    pub write_latency: LatencyDist,
    /// The host serves the disk's requests one at a time, in passes over
    /// its queue, and signals a pass's completions together (a VMM whose
    /// device thread pops the virtqueue until it is empty, runs each
    /// request, then injects one interrupt). The latency distributions are
    /// then each request's service time. Absent (the default): the
    /// `parallelism` channels serve requests independently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passes: Option<HostPasses>,
}

/// `[device.passes]`: a disk served by the host in passes (see
/// [`Device::passes`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostPasses {
    /// From a pass's end until its completions are in the AIO ring, ns:
    /// the interrupt and the guest's completion path.
    pub delivery_ns: u64,
}

/// The benchmark matrix `compare` runs by default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    pub rw: Vec<Rw>,
    pub bs: Vec<u64>,
    pub numjobs: Vec<u32>,
    pub iothreads: Vec<u32>,
    pub iodepth: u32,
    pub duration_ms: u64,
    /// Virtual time simulated before measuring, so queues and windows
    /// reach their steady state.
    pub warmup_ms: u64,
    /// The kinds of rows the preset's fitted numbers were fitted on, when
    /// it was fitted to published rows: rows of any other kind are the
    /// model's predictions, and `compare` marks them so. Absent: the preset
    /// says nothing (a calibration's preset is measured, not fitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitted_rw: Option<Vec<Rw>>,
}

impl Matrix {
    /// Every workload of the matrix, in the order of the reference table in
    /// docs/design.md: rw, bs, numjobs, iothreads.
    pub fn workloads(&self) -> Vec<Workload> {
        let mut out = Vec::new();
        for &rw in &self.rw {
            for &bs in &self.bs {
                for &numjobs in &self.numjobs {
                    for &iothreads in &self.iothreads {
                        out.push(Workload {
                            rw,
                            rwmixread: 50,
                            bs,
                            numjobs,
                            iodepth: self.iodepth,
                            iothreads,
                            duration_ms: self.duration_ms,
                        });
                    }
                }
            }
        }
        out
    }
}

impl Preset {
    /// The same preset with every wake-up latency it holds multiplied by
    /// `factor` (rounded to the ns): the IOThread's
    /// (`iothread.wakeup_latency_ns`) and, on a shared host, every
    /// measured distribution (eventfd and channel, by idle time, packed,
    /// the interrupt's). What a model would predict had the calibration
    /// measured the host's wake-ups that much slower or faster; the costs
    /// on the waker's side are left alone.
    pub fn wakeups_scaled(&self, factor: f64) -> Preset {
        let scale = |ns: &mut u64| *ns = crate::dist::round_ns(*ns as f64 * factor);
        let scale4 = |q: &mut [u64; 4]| q.iter_mut().for_each(scale);
        let mut p = self.clone();
        scale(&mut p.iothread.wakeup_latency_ns);
        if let Some(h) = &mut p.host {
            scale4(&mut h.eventfd_wakeup_ns);
            scale4(&mut h.channel_wakeup_ns);
            h.eventfd_wakeup_by_idle_ns.iter_mut().for_each(scale4);
            h.channel_wakeup_by_idle_ns.iter_mut().for_each(scale4);
            if let Some(q) = &mut h.irq_wakeup_ns {
                scale4(q);
            }
            h.irq_wakeup_by_cpu_ns.iter_mut().for_each(scale4);
            if let Some(k) = &mut h.packing {
                scale4(&mut k.eventfd_wakeup_ns);
                scale4(&mut k.channel_wakeup_ns);
            }
        }
        p
    }

    /// The names of the embedded presets.
    pub fn names() -> impl Iterator<Item = &'static str> {
        EMBEDDED.iter().map(|(n, _)| *n)
    }

    /// The TOML text of an embedded preset, comments (the sources of its
    /// numbers) included.
    pub fn embedded_text(name: &str) -> Option<&'static str> {
        EMBEDDED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// An embedded preset by name, or a TOML file by path (at most
    /// [`MAX_PRESET_BYTES`]; a FIFO or a device that never ends is read
    /// only that far).
    pub fn load(name_or_path: &str) -> Result<Preset, SimError> {
        Preset::from_toml(&Preset::load_text(name_or_path)?, name_or_path)
    }

    /// The text [`Preset::load`] parses, read once: an embedded preset's,
    /// or the file's within [`MAX_PRESET_BYTES`] (what a caller prints
    /// after parsing it is the text it checked).
    pub fn load_text(name_or_path: &str) -> Result<String, SimError> {
        if let Some(text) = Preset::embedded_text(name_or_path) {
            return Ok(text.to_string());
        }
        let path = Path::new(name_or_path);
        let looks_like_path = name_or_path.contains(['/', '.']);
        match read_bounded(path) {
            Ok(Some(text)) => Ok(text),
            Ok(None) => Err(SimError::Preset(format!(
                "preset file '{name_or_path}' is larger than {MAX_PRESET_BYTES} bytes: a preset \
                 is a short TOML file (see sim/presets/)"
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !looks_like_path => {
                Err(SimError::Preset(format!(
                    "unknown preset '{name_or_path}': expected one of {} or the path of a TOML file",
                    Preset::names().collect::<Vec<_>>().join(", ")
                )))
            }
            Err(e) => Err(SimError::Preset(format!(
                "cannot read preset file '{name_or_path}': {e}"
            ))),
        }
    }

    /// Parses and validates a preset; `origin` names it in messages.
    pub fn from_toml(text: &str, origin: &str) -> Result<Preset, SimError> {
        let preset: Preset = toml::from_str(text)
            .map_err(|e| SimError::Preset(format!("{origin}: {}", e.to_string().trim_end())))?;
        preset.validate()?;
        Ok(preset)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a preset always serializes")
    }

    /// Checks every number: a preset from a file gets the same scrutiny as
    /// a command-line flag.
    pub fn validate(&self) -> Result<(), SimError> {
        self.validate_texts()?;
        self.validate_guest()?;
        self.validate_iothread()?;
        self.validate_topology()?;
        self.validate_device()?;
        self.validate_matrix()
    }

    /// The name and description, which every result row copies.
    fn validate_texts(&self) -> Result<(), SimError> {
        if let Some(c) = self.name.chars().find(|c| c.is_control()) {
            return Err(SimError::Preset(format!(
                "name {:?} holds the control character {:?}: a name is printed into tables, \
                 markdown and TOML comments; use letters, digits, '-' and '_'",
                self.name, c
            )));
        }
        for (key, text) in [("name", &self.name), ("description", &self.description)] {
            let max = if key == "name" {
                MAX_NAME_BYTES
            } else {
                MAX_DESCRIPTION_BYTES
            };
            if text.len() > max {
                return Err(SimError::Preset(format!(
                    "{key} is {} bytes long: at most {max} are allowed (the name is copied \
                     into every result row)",
                    text.len()
                )));
            }
        }
        Ok(())
    }

    /// The guest's CPU costs and jitter.
    fn validate_guest(&self) -> Result<(), SimError> {
        let g = &self.guest;
        range("guest.vcpus", g.vcpus.into(), 1, 1024)?;
        for (k, v) in [
            ("guest.io_cpu_ns", g.io_cpu_ns),
            ("guest.io_cpu_ns_per_kib", g.io_cpu_ns_per_kib),
            ("guest.irq_cpu_ns", g.irq_cpu_ns),
            ("guest.kick_cpu_ns", g.kick_cpu_ns),
            ("guest.kick_again_cpu_ns", g.kick_again_cpu_ns.unwrap_or(0)),
            ("guest.irq_latency_ns", g.irq_latency_ns),
        ] {
            range(k, v, 0, MAX_COST_NS)?;
        }
        if !(g.io_cpu_jitter_sigma.is_finite() && (0.0..=3.0).contains(&g.io_cpu_jitter_sigma)) {
            return Err(SimError::Preset(format!(
                "guest.io_cpu_jitter_sigma = {} is out of range: expected 0 ..= 3",
                g.io_cpu_jitter_sigma
            )));
        }
        Ok(())
    }

    /// The IOThread's costs and C-states; every iteration must take time.
    fn validate_iothread(&self) -> Result<(), SimError> {
        let t = &self.iothread;
        for (k, v) in [
            ("iothread.iteration_ns", t.iteration_ns),
            ("iothread.poll_check_ns", t.poll_check_ns),
            ("iothread.wakeup_latency_ns", t.wakeup_latency_ns),
            ("iothread.wakeup_cpu_ns", t.wakeup_cpu_ns),
            ("iothread.submit_batch_ns", t.submit_batch_ns),
            ("iothread.submit_ns", t.submit_ns),
            ("iothread.complete_ns", t.complete_ns),
            ("iothread.notify_guest_ns", t.notify_guest_ns),
            ("iothread.notify_guest_stall_ns", t.notify_guest_stall_ns),
        ] {
            range(k, v, 0, MAX_COST_NS)?;
        }
        // Every iteration must take time, or a loop could spin in place.
        range("iothread.iteration_ns", t.iteration_ns, 1, MAX_COST_NS)?;
        t.validate_cstates()?;
        Ok(())
    }

    /// Disks and queues.
    fn validate_topology(&self) -> Result<(), SimError> {
        let top = &self.topology;
        range("topology.disks", top.disks.into(), 1, 256)?;
        range(
            "topology.queues_per_disk",
            top.queues_per_disk.into(),
            1,
            256,
        )?;
        if u64::from(top.disks) * u64::from(top.queues_per_disk) > 4000 {
            return Err(SimError::Preset(format!(
                "topology: {} disks x {} queues is more than 4000 queues",
                top.disks, top.queues_per_disk
            )));
        }
        Ok(())
    }

    /// The device's parallelism, bandwidth, costs and latencies.
    fn validate_device(&self) -> Result<(), SimError> {
        let d = &self.device;
        range("device.parallelism", d.parallelism.into(), 1, 65536)?;
        range(
            "device.read_bytes_per_s",
            d.read_bytes_per_s,
            1_000_000,
            1 << 40,
        )?;
        range(
            "device.write_bytes_per_s",
            d.write_bytes_per_s,
            1_000_000,
            1 << 40,
        )?;
        range(
            "device.transfer_overhead_ns",
            d.transfer_overhead_ns,
            0,
            MAX_COST_NS,
        )?;
        range("device.idle_notify_ns", d.idle_notify_ns, 0, MAX_COST_NS)?;
        range(
            "device.latency_per_inflight_ns",
            d.latency_per_inflight_ns,
            0,
            MAX_COST_NS,
        )?;
        d.read_latency.validate("device.read_latency")?;
        d.write_latency.validate("device.write_latency")?;
        if let Some(p) = &d.passes {
            range("device.passes.delivery_ns", p.delivery_ns, 0, MAX_COST_NS)?;
            if d.parallelism != 1 || d.latency_per_inflight_ns != 0 {
                return Err(SimError::Preset(format!(
                    "device.passes: a host serving in passes runs one request at a time, so \
                     device.parallelism must be 1 (is {}) and device.latency_per_inflight_ns 0 \
                     (is {})",
                    d.parallelism, d.latency_per_inflight_ns
                )));
            }
        }
        Ok(())
    }

    /// The matrix and its warm-up, the `[host]` and `[calibration]`
    /// tables, then every workload of the matrix.
    fn validate_matrix(&self) -> Result<(), SimError> {
        let m = &self.matrix;
        if m.rw.is_empty() || m.bs.is_empty() || m.numjobs.is_empty() || m.iothreads.is_empty() {
            return Err(SimError::Preset(
                "matrix: rw, bs, numjobs and iothreads each need at least one value".into(),
            ));
        }
        range("matrix.warmup_ms", m.warmup_ms, 0, LIMITS.duration_ms.1)?;
        if let Some(h) = &self.host {
            h.validate()?;
        }
        if let Some(c) = &self.calibration {
            c.validate()?;
        }
        for w in m.workloads() {
            w.validate()
                .map_err(|e| SimError::Preset(format!("matrix: {e}")))?;
        }

        Ok(())
    }

    /// The same preset with the device's latencies multiplied by `factor`
    /// (robustness sweeps: one policy default across devices).
    pub fn with_latency_scale(&self, factor: f64) -> Preset {
        let mut p = self.clone();
        p.device.read_latency = p.device.read_latency.scaled(factor);
        p.device.write_latency = p.device.write_latency.scaled(factor);
        p
    }
}

/// The longest preset file read: far above any real preset.
/// The largest cost a preset may give any one step, ns.
const MAX_COST_NS: u64 = 1_000_000_000;

/// `key = v` must lie in `lo ..= hi`.
fn range(key: &str, v: u64, lo: u64, hi: u64) -> Result<(), SimError> {
    if v < lo || v > hi {
        Err(SimError::Preset(format!(
            "{key} = {v} is out of range: expected {lo} ..= {hi}"
        )))
    } else {
        Ok(())
    }
}

pub const MAX_PRESET_BYTES: u64 = 1 << 20;
/// The longest preset `name` (copied into every result row).
pub const MAX_NAME_BYTES: usize = 256;
/// The longest preset `description`.
pub const MAX_DESCRIPTION_BYTES: usize = 4096;

/// The file's text, or `None` when it is longer than [`MAX_PRESET_BYTES`].
fn read_bounded(path: &Path) -> std::io::Result<Option<String>> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_PRESET_BYTES + 1)
        .read_to_string(&mut text)?;
    Ok((text.len() as u64 <= MAX_PRESET_BYTES).then_some(text))
}
