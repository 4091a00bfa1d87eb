//! Calibration: the device's latency and throughput, measured without the
//! loop in the way, and the loop's own costs (wake-ups, kicks, syscalls,
//! handler checks), each measured by a small dedicated probe. A simulator
//! preset is built from these numbers.
//!
//! The device probe submits from one thread and spins on the completion
//! ring, so a latency sample is the time from `io_submit` returning to the
//! completion being visible: the device and the kernel's block path, not
//! a wake-up (which the loop-cost probes measure separately, and the
//! simulator adds on its own).
//!
//! This module runs the probes in order and holds what they found; the
//! probes are in [`device`], [`probes`] and [`iteration`], reading the host
//! (/proc/stat, the CPU clock) in [`host`], and the consistency checks in
//! [`checks`].

mod checks;
mod device;
mod host;
mod iteration;
mod placement;
mod probes;

use std::fmt;

use pollwise_core::Rw;
use pollwise_stats::{median, spread_pct};
use rand::SeedableRng;
use rand_pcg::Pcg64;

use crate::target::{Target, TargetError, TargetSpec};

pub use checks::{
    checks, CheckInput, PointRepeats, Severity, Warning, DEPTH_FALL_MARGIN, MAX_BACKGROUND_CPUS,
    MAX_STEAL_FRAC, RAM_LATENCY_NS, WIDE_SPREAD_PCT,
};
pub use device::DevicePoint;
pub use host::{cpu_clock_cost, load_between, proc_stat_cpu, scheduler_facts};
pub use placement::{Placement, RUN_ON_US};
pub use probes::{loop_costs, LoopCosts, WakeRow, WAKE_IDLE_US};

/// What to measure.
#[derive(Clone, Debug)]
pub struct CalibrateConfig {
    pub target: TargetSpec,
    /// Block sizes for the latency points; the largest also gives the
    /// transfer rate.
    pub sizes: Vec<u64>,
    /// How long each device point runs.
    pub point_ms: u64,
    /// Queue depth of the throughput points.
    pub saturation_depth: u32,
    /// Wake-up and syscall probes: repetitions each.
    pub probe_rounds: u32,
    /// Times each probe (device point, loop-cost probe) is repeated; the
    /// value kept is the median, the spread is reported beside it.
    pub repeats: u32,
    pub seed: u64,
}

/// Everything calibration measured.
#[derive(Debug)]
pub struct Calibration {
    pub target_path: String,
    pub block_size: u64,
    /// Queue depth 1, per rw and bs.
    pub latency_points: Vec<DevicePoint>,
    /// Queue depth `saturation_depth`: smallest bs reads (IOPS bound) and
    /// largest bs reads and writes (bandwidth bound).
    pub saturation_points: Vec<DevicePoint>,
    /// Smallest bs reads at each power of two between 1 and
    /// `saturation_depth` (2, 4 and 8 for 16): the depth curve, which a
    /// host in passes takes its service time from, with depth 1 and the
    /// saturation point, and which the preset's comments set beside the
    /// host model.
    pub depth_points: Vec<DevicePoint>,
    /// The loop costs: per field, the median of [`Self::cost_runs`].
    pub costs: LoopCosts,
    /// Every repeat of the loop-cost probes.
    pub cost_runs: Vec<LoopCosts>,
    pub cpus: usize,
    /// The host's CPUs: load, steal, io_submit against batch size.
    pub host: HostMeasure,
    /// Whether writes were measured (false for a read-only --file).
    pub measured_writes: bool,
    /// The wake-up by the device's interrupt of a reaper asleep on the
    /// completion eventfd: p10, p50, p90, p99 of its latency at queue
    /// depth 1 (smallest reads) less the spinning reaper's, ns.
    pub irq_wake_q: [f64; 4],
    /// What that sleep cost the reaper's own CPU clock, from entering
    /// `epoll_wait` to running again, mean per sleep, ns.
    pub irq_wake_cpu_ns: f64,
    /// The same wake-up with the reaper pinned to each CPU it may use, in
    /// the order of [`crate::sys::allowed_cpus`] (empty with one CPU or
    /// more than [`MAX_PINNED_CPUS`]): the
    /// device's interrupt is delivered to some CPUs only, and a reaper on
    /// another is woken across CPUs as well.
    pub irq_wake_by_cpu_q: Vec<[f64; 4]>,
    /// What the device's interrupts take from each of those CPUs per
    /// completion, ns ([`device::irq_cpu_steal`]; empty as the row above): a
    /// record for now, which the model does not use.
    pub irq_cpu_steal_ns: Vec<f64>,
    /// What an `io_submit` costs the CPU clock of a thread that slept
    /// each of [`probes::WAKE_IDLE_US`] before it (its CPU idle that long)
    /// beyond one made right after a spin, ns, at least 0: a vCPU back
    /// from halt runs its first call slower ([`device::submit_after_idle`]).
    pub submit_after_idle_ns: Vec<f64>,
}

impl Calibration {
    /// A calibration of these device points and nothing else measured (no
    /// loop costs, an empty host): what the device's mapping reads.
    pub fn of_device_points(
        latency_points: Vec<DevicePoint>,
        saturation_points: Vec<DevicePoint>,
        depth_points: Vec<DevicePoint>,
    ) -> Calibration {
        Calibration {
            target_path: String::new(),
            block_size: 512,
            latency_points,
            saturation_points,
            depth_points,
            costs: LoopCosts::default(),
            cost_runs: vec![],
            cpus: 0,
            host: HostMeasure::default(),
            measured_writes: true,
            irq_wake_q: [0.0; 4],
            irq_wake_cpu_ns: 0.0,
            irq_wake_by_cpu_q: vec![],
            irq_cpu_steal_ns: vec![],
            submit_after_idle_ns: vec![],
        }
    }

    /// Every device point, qd1 first.
    pub fn device_points(&self) -> impl Iterator<Item = &DevicePoint> {
        self.latency_points.iter().chain(&self.saturation_points)
    }

    /// The widest spread of any device point's repeats (max - min over the
    /// median, %) and that point; `None` without a point.
    pub fn device_spread(&self) -> Option<(f64, &DevicePoint)> {
        self.device_points()
            .map(|p| (p.spread_pct(), p))
            .max_by(|a, b| a.0.total_cmp(&b.0))
    }
}

#[derive(Debug)]
pub enum CalibrateError {
    Config(String),
    Interrupted,
    Target(TargetError),
    Io(String, std::io::Error),
}

impl fmt::Display for CalibrateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CalibrateError::Config(m) => f.write_str(m),
            CalibrateError::Interrupted => f.write_str(
                "interrupted by Ctrl-C; AIO contexts destroyed and any scratch file removed",
            ),
            CalibrateError::Target(e) => write!(f, "{e}"),
            CalibrateError::Io(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl std::error::Error for CalibrateError {}

impl From<TargetError> for CalibrateError {
    fn from(e: TargetError) -> Self {
        CalibrateError::Target(e)
    }
}

/// Runs every probe. A Ctrl-C (seen through a [`crate::sys::SigintGuard`]
/// the caller holds) ends it between probes.
pub fn calibrate(cfg: &CalibrateConfig) -> Result<Calibration, CalibrateError> {
    let sizes = block_sizes(cfg)?;
    let (small, large) = (sizes[0], sizes[sizes.len() - 1]);
    let writable = may_write(&cfg.target);
    let target = Target::open(&cfg.target, large, writable)?;
    interrupted()?;
    check_aligned(&target, &sizes)?;
    let rws: &[Rw] = if writable {
        &[Rw::RandRead, Rw::RandWrite]
    } else {
        &[Rw::RandRead]
    };
    // Other load, measured first while this process is idle.
    let (background_load_cpus, steal_frac) = host::idle_load(300);
    let mut rng = Pcg64::seed_from_u64(cfg.seed);
    let points = Points {
        target: &target,
        ms: cfg.point_ms,
        repeats: cfg.repeats.max(1),
    };
    let latency_points = points.latency(rws, &sizes, &mut rng)?;
    let saturation_points = points.saturation(rws, small, large, cfg.saturation_depth, &mut rng)?;
    let depth_points = points.depths(small, cfg.saturation_depth, &mut rng)?;
    interrupted()?;
    let submit_batches =
        device::submit_batch_probe(&target, small, cfg.saturation_depth, &mut rng)?;
    // The device's own wait at queue depth 1, for the placement probe.
    let device_ns = latency_points
        .first()
        .map_or(0, |p| p.latency.mean().round() as u64);
    let irq = interrupt_probes(&target, small, cfg.point_ms, &latency_points[0], &mut rng)?;
    let submit_after_idle_ns = device::submit_after_idle(
        &target,
        small,
        &probes::WAKE_IDLE_US,
        SUBMIT_AFTER_IDLE_ROUNDS,
        &mut rng,
    )?;
    interrupted()?;
    let cost_runs = cost_runs(cfg.probe_rounds, points.repeats, device_ns)?;
    let cpus = host::cpus();
    Ok(Calibration {
        target_path: target.path().display().to_string(),
        block_size: target.block_size(),
        latency_points,
        saturation_points,
        depth_points,
        costs: median_costs(&cost_runs),
        cost_runs,
        cpus,
        host: HostMeasure {
            cpus,
            background_load_cpus,
            steal_frac,
            submit_batches,
            scheduler: host::scheduler_facts(std::path::Path::new("/")),
        },
        measured_writes: writable,
        irq_wake_q: irq.wake_q,
        irq_wake_cpu_ns: irq.sleep_cpu_ns,
        irq_wake_by_cpu_q: irq.wake_by_cpu_q,
        irq_cpu_steal_ns: irq.steal_ns,
        submit_after_idle_ns,
    })
}

/// The most CPUs the interrupt probes pin a reaper to one by one.
pub const MAX_PINNED_CPUS: usize = 8;

/// What the device's interrupt does to the loop (the fields of
/// [`Calibration`] of the same names).
struct InterruptProbes {
    wake_q: [f64; 4],
    sleep_cpu_ns: f64,
    wake_by_cpu_q: Vec<[f64; 4]>,
    steal_ns: Vec<f64>,
}

/// The interrupt's wake-up of a sleeping reaper, unpinned and then on
/// each CPU, and its work on each CPU, against the spinning reaper
/// `spun`, each probe `ms` long.
fn interrupt_probes(
    target: &Target,
    small: u64,
    ms: u64,
    spun: &DevicePoint,
    rng: &mut Pcg64,
) -> Result<InterruptProbes, CalibrateError> {
    let (wake_q, sleep_cpu_ns) = irq_wake(target, small, ms, spun, rng)?;
    let (mut wake_by_cpu_q, mut steal_ns) = (Vec::new(), Vec::new());
    // Each CPU costs two to three probes: a host of many CPUs is left to
    // the unpinned draw.
    let cpus = crate::sys::allowed_cpus().ok();
    if let Some(cpus) = cpus.filter(|c| (2..=MAX_PINNED_CPUS).contains(&c.len())) {
        for &cpu in &cpus {
            let _pinned = crate::sys::Pinned::to(cpu).map_err(io_err("sched_setaffinity"))?;
            wake_by_cpu_q.push(irq_wake(target, small, ms, spun, rng)?.0);
        }
        // Apart from the wake-ups above: its spinner keeps the other CPU
        // awake, which changes how fast the interrupt wakes a sleeper.
        steal_ns = device::irq_cpu_steal(target, small, &cpus, ms, rng)?;
        interrupted()?;
    }
    Ok(InterruptProbes {
        wake_q,
        sleep_cpu_ns,
        wake_by_cpu_q,
        steal_ns,
    })
}

/// Submissions timed after each idle time (and as many after a spin) in
/// [`device::submit_after_idle`]: about 1.6 s at the grid's 4.8 ms.
const SUBMIT_AFTER_IDLE_ROUNDS: u32 = 300;

/// The interrupt's wake-up: a sleeping reaper's latency quantiles at
/// queue depth 1 less the spinning reaper's (`spun`), each at least 0,
/// and what each sleep cost the reaper's CPU clock (ns).
fn irq_wake(
    target: &Target,
    bs: u64,
    ms: u64,
    spun: &DevicePoint,
    rng: &mut Pcg64,
) -> Result<([f64; 4], f64), CalibrateError> {
    let slept = device::device_point(
        target,
        (Rw::RandRead, bs, 1),
        ms,
        device::Reaper::Sleep,
        rng,
    )?;
    interrupted()?;
    let at = |p: &DevicePoint, q: f64| p.latency.value_at_quantile(q) as f64;
    let mut quantiles = [0.1, 0.5, 0.9, 0.99].map(|q| (at(&slept, q) - at(spun, q)).max(0.0));
    // Differences of two distributions' quantiles need not rise with the
    // quantile (a long tail on the spinning side): kept ordered, as the
    // preset keeps them.
    for i in 1..4 {
        quantiles[i] = quantiles[i].max(quantiles[i - 1]);
    }
    Ok((quantiles, slept.sleep_cpu_ns))
}

/// The configuration's block sizes, sorted and without repeats, after
/// checking that there is one and that every duration and count is
/// positive.
fn block_sizes(cfg: &CalibrateConfig) -> Result<Vec<u64>, CalibrateError> {
    let mut sizes = cfg.sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    if sizes.is_empty() {
        return Err(CalibrateError::Config(
            "calibration needs at least one bs".into(),
        ));
    }
    if cfg.point_ms == 0 || cfg.saturation_depth == 0 || cfg.probe_rounds == 0 {
        return Err(CalibrateError::Config(
            "point duration, saturation depth and probe rounds must be positive".into(),
        ));
    }
    Ok(sizes)
}

/// Whether calibration may write to the target: a scratch file it creates,
/// or a file the user allowed writing to.
fn may_write(target: &TargetSpec) -> bool {
    matches!(target, TargetSpec::Scratch { .. })
        || matches!(
            target,
            TargetSpec::Existing {
                allow_write_to: Some(_),
                ..
            }
        )
}

/// Every block size must be a multiple of the target's block.
fn check_aligned(target: &Target, sizes: &[u64]) -> Result<(), CalibrateError> {
    for &bs in sizes {
        if !bs.is_multiple_of(target.block_size()) {
            return Err(TargetError::Unaligned {
                bs,
                block: target.block_size(),
                path: target.path().to_path_buf(),
            }
            .into());
        }
    }
    Ok(())
}

/// Ends calibration between probes after a Ctrl-C.
fn interrupted() -> Result<(), CalibrateError> {
    if crate::sys::sigint_received() {
        Err(CalibrateError::Interrupted)
    } else {
        Ok(())
    }
}

/// The loop-cost probes, `repeats` times.
fn cost_runs(rounds: u32, repeats: u32, device_ns: u64) -> Result<Vec<LoopCosts>, CalibrateError> {
    let mut runs = Vec::new();
    for _ in 0..repeats {
        runs.push(loop_costs(rounds, device_ns)?);
        interrupted()?;
    }
    Ok(runs)
}

/// The host's CPUs as calibration saw them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostMeasure {
    pub cpus: usize,
    /// CPUs' worth of other work while calibration slept (from /proc/stat).
    pub background_load_cpus: f64,
    /// Fraction of CPU time stolen by the hypervisor meanwhile.
    pub steal_frac: f64,
    /// `io_submit` of a batch of requests, by batch size.
    pub submit_batches: Vec<SubmitBatch>,
    /// What decides where a woken thread runs and how an idle CPU waits,
    /// as (name, value): the kernel's release, the cpuidle driver and
    /// governor, the guest haltpoll driver's parameters and every
    /// `kernel.sched_*` setting ([`host::scheduler_facts`]). Machines of one
    /// kind differ here from one day to the next.
    pub scheduler: Vec<(String, String)>,
}

/// One `io_submit` call of `batch` requests: mean wall time and the part
/// the thread's CPU clock counts, ns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SubmitBatch {
    pub batch: u32,
    pub wall_ns: f64,
    pub cpu_ns: f64,
}

/// How the device points are run: on which target, for how long, how
/// many times each.
struct Points<'a> {
    target: &'a Target,
    ms: u64,
    repeats: u32,
}

impl Points<'_> {
    /// Queue depth 1, per rw mode and block size.
    fn latency(
        &self,
        rws: &[Rw],
        sizes: &[u64],
        rng: &mut Pcg64,
    ) -> Result<Vec<DevicePoint>, CalibrateError> {
        let mut points = Vec::new();
        for &rw in rws {
            for &bs in sizes {
                points.push(self.repeated(rw, bs, 1, rng)?);
            }
        }
        Ok(points)
    }

    /// Queue depth `depth`: reads of the smallest size (bound by IOPS),
    /// then each rw mode at the largest (bound by bandwidth).
    fn saturation(
        &self,
        rws: &[Rw],
        small: u64,
        large: u64,
        depth: u32,
        rng: &mut Pcg64,
    ) -> Result<Vec<DevicePoint>, CalibrateError> {
        let mut points = vec![self.repeated(Rw::RandRead, small, depth, rng)?];
        for &rw in rws {
            points.push(self.repeated(rw, large, depth, rng)?);
        }
        Ok(points)
    }

    /// Reads of the smallest size at each power of two from 2 up to (not
    /// including) `depth`.
    fn depths(
        &self,
        small: u64,
        depth: u32,
        rng: &mut Pcg64,
    ) -> Result<Vec<DevicePoint>, CalibrateError> {
        let mut points = Vec::new();
        let mut d = 2;
        while d < depth {
            points.push(self.repeated(Rw::RandRead, small, d, rng)?);
            d *= 2;
        }
        Ok(points)
    }

    /// Runs [`device::device_point`] `repeats` times, and up to
    /// [`EXTRA_REPEATS`] more while the runs' IOPS differ by more than
    /// [`WIDE_SPREAD_PCT`]; keeps the run with the median IOPS, with every
    /// run's IOPS and median latency beside it.
    fn repeated(
        &self,
        rw: Rw,
        bs: u64,
        depth: u32,
        rng: &mut Pcg64,
    ) -> Result<DevicePoint, CalibrateError> {
        let mut runs = Vec::new();
        let mut iops = Vec::new();
        while more_repeats(&iops, self.repeats) {
            let run = device::device_point(
                self.target,
                (rw, bs, depth),
                self.ms,
                device::Reaper::Spin,
                rng,
            )?;
            iops.push(run.iops());
            runs.push(run);
            interrupted()?;
        }
        let repeat_p50_ns: Vec<f64> = runs
            .iter()
            .map(|p| p.latency.value_at_quantile(0.5) as f64)
            .collect();
        runs.sort_by(|a, b| a.iops().total_cmp(&b.iops()));
        // The upper median of an even count, as before.
        let mut keep = runs.swap_remove(runs.len() / 2);
        keep.repeat_iops = iops;
        keep.repeat_p50_ns = repeat_p50_ns;
        Ok(keep)
    }
}

/// Repeats a device point gets beyond `--repeat` when its repeats differ
/// by more than [`WIDE_SPREAD_PCT`]: a disk that varies by itself then
/// gives a median of more runs, at a cost of at most this many point
/// durations per point.
pub const EXTRA_REPEATS: u32 = 3;

/// Whether a device point whose repeats so far measured `iops` needs
/// another: until `repeats` ran, then (with at least 2 to compare) while
/// their spread is wider than [`WIDE_SPREAD_PCT`], up to [`EXTRA_REPEATS`]
/// more.
pub fn more_repeats(iops: &[f64], repeats: u32) -> bool {
    let (n, repeats) = (iops.len(), repeats.max(1) as usize);
    if n < repeats {
        return true;
    }
    repeats >= 2 && n < repeats + EXTRA_REPEATS as usize && spread_pct(iops) > WIDE_SPREAD_PCT
}

/// Per field, the median over the runs (default for none).
pub fn median_costs(runs: &[LoopCosts]) -> LoopCosts {
    let mut c = LoopCosts::default();
    if runs.is_empty() {
        return c;
    }
    let med = |f: &dyn Fn(&LoopCosts) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    macro_rules! fields {
        ($($f:ident),*) => { $( c.$f = med(&|x: &LoopCosts| x.$f); )* };
    }
    fields!(
        wakeup_latency_ns,
        wakeup_cpu_ns,
        kick_ns,
        kick_again_ns,
        completion_wake_latency_ns,
        completion_wake_cpu_ns,
        completion_notify_ns,
        completion_notify_cpu_ns,
        complete_ns,
        completion_take_ns,
        poll_check_ns,
        submit_ns,
        iteration_ns,
        job_io_ns
    );
    for i in 0..4 {
        c.wakeup_latency_q[i] = med(&|x: &LoopCosts| x.wakeup_latency_q[i]);
        c.completion_wake_latency_q[i] = med(&|x: &LoopCosts| x.completion_wake_latency_q[i]);
    }
    c.placement = median_placement(runs);
    // The table row by row, where every run measured the same idle times.
    let rows = runs[0].wake_by_idle.len();
    let same = runs.iter().all(|r| {
        r.wake_by_idle.len() == rows
            && r.wake_by_idle
                .iter()
                .zip(&runs[0].wake_by_idle)
                .all(|(a, b)| a.idle_ns == b.idle_ns)
    });
    if same {
        c.wake_by_idle = (0..rows)
            .map(|r| {
                let mut row = WakeRow {
                    idle_ns: runs[0].wake_by_idle[r].idle_ns,
                    ..WakeRow::default()
                };
                for i in 0..4 {
                    row.eventfd_q[i] = med(&|x: &LoopCosts| x.wake_by_idle[r].eventfd_q[i]);
                    row.channel_q[i] = med(&|x: &LoopCosts| x.wake_by_idle[r].channel_q[i]);
                }
                row
            })
            .collect();
    }
    c
}

/// The placement probes' results, field by field the median over `runs`
/// (at least one); the share curve point by point where every run
/// measured the same run-on times.
fn median_placement(runs: &[LoopCosts]) -> Placement {
    let med = |f: &dyn Fn(&LoopCosts) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let mut p = Placement::default();
    for i in 0..4 {
        p.same_cpu_eventfd_q[i] = med(&|x: &LoopCosts| x.placement.same_cpu_eventfd_q[i]);
        p.same_cpu_channel_q[i] = med(&|x: &LoopCosts| x.placement.same_cpu_channel_q[i]);
    }
    // Where every run measured it.
    p.across_send_ns = runs
        .iter()
        .map(|r| r.placement.across_send_ns)
        .collect::<Option<Vec<[f64; 2]>>>()
        .map(|all| [0, 1].map(|i| median(&all.iter().map(|s| s[i]).collect::<Vec<_>>())));
    p.pack_share = median_curve(runs, |x| &x.placement.pack_share);
    p.wakee_pack_share = median_curve(runs, |x| &x.placement.wakee_pack_share);
    p.busy_pack_share = median_curve(runs, |x| &x.placement.busy_pack_share);
    p
}

/// A share curve's median over `runs`, point by point, where every run
/// measured the same run-on times (else empty).
fn median_curve(runs: &[LoopCosts], curve: fn(&LoopCosts) -> &Vec<(u64, f64)>) -> Vec<(u64, f64)> {
    let points = curve(&runs[0]);
    let same = runs.iter().all(|r| {
        curve(r).len() == points.len() && curve(r).iter().zip(points).all(|(a, b)| a.0 == b.0)
    });
    if !same {
        return Vec::new();
    }
    (0..points.len())
        .map(|i| {
            (
                points[i].0,
                median(&runs.iter().map(|r| curve(r)[i].1).collect::<Vec<_>>()),
            )
        })
        .collect()
}

/// Maps an I/O error to one that says which call failed.
pub(super) fn io_err(what: &str) -> impl Fn(std::io::Error) -> CalibrateError + '_ {
    move |e| CalibrateError::Io(what.to_string(), e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wide_spread_gets_more_repeats_up_to_the_cap() {
        // The --repeat runs come first, whatever they measured.
        assert!(more_repeats(&[], 3));
        assert!(more_repeats(&[100.0, 200.0], 3));
        // Steady repeats stop there.
        assert!(!more_repeats(&[100.0, 110.0, 105.0], 3));
        // A 55% spread gets more, up to 3 beyond --repeat.
        let noisy = [100.0, 155.0, 120.0];
        assert!(more_repeats(&noisy, 3));
        assert!(more_repeats(&[100.0, 155.0, 120.0, 130.0, 125.0], 3));
        assert!(!more_repeats(
            &[100.0, 155.0, 120.0, 130.0, 125.0, 128.0],
            3
        ));
        // One repeat has no spread to go by.
        assert!(!more_repeats(&[100.0], 1));
    }

    #[test]
    fn median_costs_are_per_field() {
        let run = |w: f64, k: f64| LoopCosts {
            wakeup_latency_ns: w,
            kick_ns: k,
            wakeup_latency_q: [w, w, w, w],
            ..LoopCosts::default()
        };
        let m = median_costs(&[run(10.0, 3.0), run(30.0, 1.0), run(20.0, 2.0)]);
        assert_eq!((m.wakeup_latency_ns, m.kick_ns), (20.0, 2.0));
        assert_eq!(m.wakeup_latency_q, [20.0; 4]);
    }

    #[test]
    fn the_wakeup_table_is_the_median_cell_by_cell() {
        let run = |a: f64, b: f64| LoopCosts {
            wake_by_idle: vec![
                WakeRow {
                    idle_ns: 10_000,
                    eventfd_q: [a; 4],
                    channel_q: [b; 4],
                },
                WakeRow {
                    idle_ns: 200_000,
                    eventfd_q: [a * 3.0; 4],
                    channel_q: [b * 3.0; 4],
                },
            ],
            ..LoopCosts::default()
        };
        let m = median_costs(&[run(5.0, 1.0), run(9.0, 2.0), run(6.0, 7.0)]);
        assert_eq!(m.wake_by_idle.len(), 2);
        assert_eq!(m.wake_by_idle[0].eventfd_q, [6.0; 4]);
        assert_eq!(m.wake_by_idle[1].channel_q, [6.0; 4]);
        assert_eq!(m.wake_by_idle[1].idle_ns, 200_000);
        // Runs that measured different idle times are not mixed.
        let mut odd = run(1.0, 1.0);
        odd.wake_by_idle[1].idle_ns = 300_000;
        assert!(median_costs(&[run(5.0, 1.0), odd]).wake_by_idle.is_empty());
    }
}
