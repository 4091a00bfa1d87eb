//! `validate --explain`: one point run on the device and on the calibrated
//! simulator, each logging every loop iteration ([`IterRecord`]), and the
//! two loops compared phase by phase: each phase's distribution on both
//! sides, how far apart they are, and what each phase contributes to the
//! IOPS and CPU errors.

use pollwise_core::{IterRecord, JobWakes, RunRow};

use crate::stats::{ks_distance, pct_diff, quantiles};

/// A phase of the loop as the iteration records show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// From the iteration's start to the work noticed: the block time a
    /// rule learns its window from.
    Wait,
    /// Busy-polling, per iteration that polled.
    Poll,
    /// Whether an iteration with a poll phase found its work by polling
    /// (1) or not (0).
    PollHit,
    /// Asleep, per iteration that slept.
    Sleep,
    /// From the work's arrival to the woken loop noticing it.
    Wake,
    /// Whether a wake-up by the doorbell ran the loop on the CPU of the
    /// job that rang it (1) or on another (0).
    WakeCpu,
    /// Of those wake-ups where the loop had last run on another CPU than
    /// the job's (the two apart), whether it ran on the job's (1: the
    /// wake-up joined them) or not (0).
    JoinCpu,
    /// Of those where it had last run on the job's CPU (together),
    /// whether it ran there again (1) or moved away (0).
    StayCpu,
    /// Whether a job woken by the loop's completions ran on the CPU the
    /// loop sent from (1) or on another (0) (from [`JobWakes`], not the
    /// loop's records).
    JobWakeCpu,
    /// From noticing the work to the end of the iteration.
    Busy,
    /// One `io_submit` call.
    Submit,
    /// Requests per `io_submit` call.
    Batch,
    /// Completions per iteration that reaped any.
    Reap,
}

impl Phase {
    pub const ALL: [Phase; 13] = [
        Phase::Wait,
        Phase::Poll,
        Phase::PollHit,
        Phase::Sleep,
        Phase::Wake,
        Phase::WakeCpu,
        Phase::JoinCpu,
        Phase::StayCpu,
        Phase::JobWakeCpu,
        Phase::Busy,
        Phase::Submit,
        Phase::Batch,
        Phase::Reap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Wait => "wait for work",
            Phase::Poll => "poll",
            Phase::PollHit => "poll found work",
            Phase::Sleep => "sleep",
            Phase::Wake => "wake-up latency",
            Phase::WakeCpu => "loop on job's CPU",
            Phase::JoinCpu => "  joins (was apart)",
            Phase::StayCpu => "  stays (was with it)",
            Phase::JobWakeCpu => "job on loop's CPU",
            Phase::Busy => "busy",
            Phase::Submit => "io_submit",
            Phase::Batch => "requests/submit",
            Phase::Reap => "completions/reap",
        }
    }

    /// Whether the samples are times in ns (otherwise counts or shares).
    pub fn is_time(self) -> bool {
        !self.is_share() && !matches!(self, Phase::Batch | Phase::Reap)
    }

    /// Whether each sample is 1 or 0 (a yes or no per occurrence).
    pub fn is_share(self) -> bool {
        matches!(
            self,
            Phase::PollHit | Phase::WakeCpu | Phase::JoinCpu | Phase::StayCpu | Phase::JobWakeCpu
        )
    }

    /// The loop's CPU runs this phase: its time per second is CPU.
    fn on_cpu(self) -> bool {
        matches!(self, Phase::Poll | Phase::Busy)
    }

    /// A request waits for this phase: its time lies on the I/O's path.
    fn on_critical_path(self) -> bool {
        matches!(self, Phase::Wake | Phase::Submit)
    }

    /// The phase's samples in `log` (or for the jobs' wake-ups, in
    /// `wakes`), one per occurrence.
    pub fn samples(self, log: &[IterRecord], wakes: JobWakes) -> Vec<f64> {
        if self == Phase::JobWakeCpu {
            let on = wakes.on_loop_cpu.min(wakes.woken) as usize;
            let mut s = vec![1.0; on];
            s.resize(wakes.woken as usize, 0.0);
            return s;
        }
        let per_call = |r: &IterRecord, v: u64| v as f64 / f64::from(r.submit_calls);
        let f = |r: &IterRecord| -> Option<f64> {
            match self {
                Phase::Wait => Some(r.wait_ns as f64),
                Phase::Poll => (r.poll_ns > 0).then_some(r.poll_ns as f64),
                Phase::PollHit => (r.poll_ns > 0).then_some(f64::from(u8::from(r.polled))),
                Phase::Sleep => (r.slept_ns > 0).then_some(r.slept_ns as f64),
                Phase::Wake => r.wake_ns.map(|w| w as f64),
                Phase::WakeCpu => r.on_ringer_cpu.map(|same| f64::from(u8::from(same))),
                Phase::JoinCpu | Phase::StayCpu => r
                    .on_ringer_cpu
                    .zip(r.slept_on_ringer_cpu)
                    .filter(|&(_, before)| before == (self == Phase::StayCpu))
                    .map(|(same, _)| f64::from(u8::from(same))),
                Phase::JobWakeCpu => None,
                Phase::Busy => Some(r.busy_ns as f64),
                Phase::Submit => (r.submit_calls > 0).then(|| per_call(r, r.submit_ns)),
                Phase::Batch => (r.submit_calls > 0).then(|| per_call(r, r.submitted.into())),
                Phase::Reap => (r.reaped > 0).then_some(f64::from(r.reaped)),
            }
        };
        log.iter().filter_map(f).collect()
    }
}

/// One side's distribution of a phase over a run of `span_s` seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dist {
    /// Occurrences per second.
    pub per_s: f64,
    pub p10: f64,
    pub median: f64,
    pub p90: f64,
    /// The samples' sum per second (ns per second for a time).
    pub sum_per_s: f64,
}

impl Dist {
    pub fn of(samples: &[f64], span_s: f64) -> Dist {
        let [p10, median, p90] = quantiles(samples, [0.1, 0.5, 0.9]);
        Dist {
            per_s: samples.len() as f64 / span_s,
            p10,
            median,
            p90,
            sum_per_s: samples.iter().sum::<f64>() / span_s,
        }
    }
}

/// One phase on both sides.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PhaseRow {
    pub phase: Phase,
    pub device: Dist,
    pub model: Dist,
    /// The two-sample Kolmogorov-Smirnov distance of the samples (0: the
    /// same distribution, 1: disjoint).
    pub distance: f64,
    /// For a phase on the loop's CPU: the model's CPU minus the device's
    /// from this phase, in points of one core (the difference of its time
    /// per second).
    pub cpu_pts: Option<f64>,
    /// For a phase on a request's path: the IOPS error it explains, in
    /// percent: the difference of the medians times how often the device
    /// goes through it per second, as a share of each second, negated (a
    /// model whose phase is shorter predicts more IOPS). Exact for one
    /// request at a time through a serial loop; an upper bound when
    /// requests overlap.
    pub iops_pct: Option<f64>,
}

/// The loop's CPU outside its busy and polling phases on one side: what
/// entering and leaving its sleeps cost (the syscalls, the scheduler's
/// switch, the wake-up's own CPU), which no phase times.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outside {
    /// ns of CPU per second: the loop's CPU less its busy and poll time.
    pub ns_per_s: f64,
    /// Sleeps per second.
    pub sleeps_per_s: f64,
}

impl Outside {
    fn of(row: &RunRow, log: &[IterRecord], span_s: f64) -> Outside {
        let phased: u64 = log.iter().map(|r| r.poll_ns + r.busy_ns).sum();
        Outside {
            ns_per_s: row.iothread_cpu_pct * 1e7 - phased as f64 / span_s,
            sleeps_per_s: log.iter().filter(|r| r.slept_ns > 0).count() as f64 / span_s,
        }
    }

    /// ns of CPU outside the phases per sleep (NaN without sleeps).
    pub fn per_sleep_ns(&self) -> f64 {
        if self.sleeps_per_s > 0.0 {
            self.ns_per_s / self.sleeps_per_s
        } else {
            f64::NAN
        }
    }
}

/// The point on both sides, phase by phase.
#[derive(Clone, Debug)]
pub struct Explanation {
    pub device: RunRow,
    pub model: RunRow,
    /// Every phase, the most different first.
    pub phases: Vec<PhaseRow>,
    /// The CPU no phase accounts for, device then model: with it the
    /// phases' `cpu_pts` add up to the CPU error.
    pub outside: [Outside; 2],
}

impl Explanation {
    /// Compares the two logs of one point, each over `span_s` seconds.
    pub fn of(
        device: (RunRow, &[IterRecord], JobWakes),
        model: (RunRow, &[IterRecord], JobWakes),
        span_s: f64,
    ) -> Explanation {
        let mut phases: Vec<PhaseRow> = Phase::ALL
            .iter()
            .map(|&phase| phase_row(phase, (device.1, device.2), (model.1, model.2), span_s))
            .collect();
        phases.sort_by(|a, b| b.distance.total_cmp(&a.distance));
        let outside = [
            Outside::of(&device.0, device.1, span_s),
            Outside::of(&model.0, model.1, span_s),
        ];
        Explanation {
            device: device.0,
            model: model.0,
            phases,
            outside,
        }
    }

    /// The model's CPU minus the device's outside the phases, in points.
    pub fn outside_cpu_pts(&self) -> f64 {
        (self.outside[1].ns_per_s - self.outside[0].ns_per_s) / 1e7
    }

    /// The model's IOPS error, in percent of the device's.
    pub fn iops_err_pct(&self) -> f64 {
        pct_diff(self.device.iops, self.model.iops)
    }

    /// The model's CPU error, in points of one core.
    pub fn cpu_err_pts(&self) -> f64 {
        self.model.iothread_cpu_pct - self.device.iothread_cpu_pct
    }
}

fn phase_row(
    phase: Phase,
    device: (&[IterRecord], JobWakes),
    model: (&[IterRecord], JobWakes),
    span_s: f64,
) -> PhaseRow {
    let (d, m) = (
        phase.samples(device.0, device.1),
        phase.samples(model.0, model.1),
    );
    let (dd, md) = (Dist::of(&d, span_s), Dist::of(&m, span_s));
    let known = |v: f64| v.is_finite().then_some(v);
    PhaseRow {
        phase,
        device: dd,
        model: md,
        distance: ks_distance(&d, &m),
        cpu_pts: phase
            .on_cpu()
            .then(|| (md.sum_per_s - dd.sum_per_s) / 1e7)
            .and_then(known),
        iops_pct: phase
            .on_critical_path()
            .then(|| -(md.median - dd.median) * dd.per_s / 1e7)
            .and_then(known),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(poll_ns: u64, polled: bool, wake_ns: Option<u64>, busy_ns: u64) -> IterRecord {
        IterRecord {
            poll_ns,
            polled,
            slept_ns: wake_ns.map_or(0, |_| 1000),
            wake_ns,
            busy_ns,
            submit_ns: 2000,
            submit_calls: 1,
            submitted: 1,
            reaped: 1,
            ..IterRecord::default()
        }
    }

    /// `phase`'s row for these two logs over one second, no job wake-ups.
    fn row_of(phase: Phase, device: &[IterRecord], model: &[IterRecord]) -> PhaseRow {
        let none = JobWakes::default();
        let e = Explanation::of(
            (crate::test_row(), device, none),
            (crate::test_row(), model, none),
            1.0,
        );
        *e.phases.iter().find(|r| r.phase == phase).unwrap()
    }

    #[test]
    fn the_wake_placement_row_is_the_share_of_doorbell_wake_ups_on_the_jobs_cpu() {
        // The device's loop wakes on the job's CPU 9 times in 10, the
        // model's never; records that were not woken by the doorbell say
        // nothing and count for neither.
        let woke = |same: Option<bool>| IterRecord {
            on_ringer_cpu: same,
            ..rec(0, false, same.map(|_| 4000), 1000)
        };
        let device: Vec<IterRecord> = (0..20)
            .map(|i| woke((i % 2 == 0).then_some(i % 20 != 0)))
            .collect();
        let model: Vec<IterRecord> = (0..20).map(|i| woke(Some(i > 20))).collect();
        let row = row_of(Phase::WakeCpu, &device, &model);
        assert_eq!((row.device.per_s, row.model.per_s), (10.0, 20.0));
        assert_eq!(row.device.sum_per_s / row.device.per_s, 0.9);
        assert_eq!(row.model.sum_per_s, 0.0);
        assert!((row.distance - 0.9).abs() < 1e-12, "{}", row.distance);
        assert!(Phase::WakeCpu.is_share() && !Phase::WakeCpu.is_time());
    }

    #[test]
    fn the_join_and_stay_rows_split_the_wake_ups_by_where_the_loop_slept() {
        // Device: 10 wake-ups after sleeping apart, 2 of them joining the
        // job's CPU; 6 after sleeping on the job's CPU, 3 staying; and
        // 4 whose placement before is unknown, counted in neither.
        let woke = |before: Option<bool>, after: bool| IterRecord {
            on_ringer_cpu: Some(after),
            slept_on_ringer_cpu: before,
            ..rec(0, false, Some(4000), 1000)
        };
        let mut device: Vec<IterRecord> = (0..10).map(|i| woke(Some(false), i < 2)).collect();
        device.extend((0..6).map(|i| woke(Some(true), i < 3)));
        device.extend((0..4).map(|_| woke(None, true)));
        let model: Vec<IterRecord> = (0..8).map(|_| woke(Some(false), true)).collect();
        let join = row_of(Phase::JoinCpu, &device, &model);
        assert_eq!((join.device.per_s, join.model.per_s), (10.0, 8.0));
        assert!((join.device.sum_per_s / join.device.per_s - 0.2).abs() < 1e-12);
        assert_eq!(join.model.sum_per_s / join.model.per_s, 1.0);
        let stay = row_of(Phase::StayCpu, &device, &model);
        assert_eq!((stay.device.per_s, stay.model.per_s), (6.0, 0.0));
        assert!((stay.device.sum_per_s / stay.device.per_s - 0.5).abs() < 1e-12);
        assert!(Phase::JoinCpu.is_share() && Phase::StayCpu.is_share());
    }

    #[test]
    fn the_job_placement_row_comes_from_the_counted_wake_ups() {
        let wakes = |woken, on_loop_cpu| JobWakes { woken, on_loop_cpu };
        let e = Explanation::of(
            (crate::test_row(), &[], wakes(50, 47)),
            (crate::test_row(), &[], wakes(40, 0)),
            2.0,
        );
        let row = *e
            .phases
            .iter()
            .find(|r| r.phase == Phase::JobWakeCpu)
            .unwrap();
        assert_eq!((row.device.per_s, row.model.per_s), (25.0, 20.0));
        assert!((row.device.sum_per_s / row.device.per_s - 0.94).abs() < 1e-12);
        assert!((row.distance - 0.94).abs() < 1e-12, "{}", row.distance);
        // Nothing counted on a side: no samples, no distance to speak of.
        let none = Phase::JobWakeCpu.samples(&[], JobWakes::default());
        assert!(none.is_empty());
    }

    #[test]
    fn phases_sort_by_distance_and_carry_their_contributions() {
        // The device sleeps and wakes in 10 us; the model polls.
        let device: Vec<IterRecord> = (0..100)
            .map(|_| rec(0, false, Some(10_000), 3000))
            .collect();
        let model: Vec<IterRecord> = (0..100)
            .map(|i| rec(4000, true, (i % 10 == 0).then_some(2000), 3000))
            .collect();
        let none = JobWakes::default();
        let e = Explanation::of(
            (crate::test_row(), &device, none),
            (crate::test_row(), &model, none),
            0.01,
        );
        let names: Vec<&str> = e.phases.iter().map(|p| p.phase.name()).collect();
        // Poll: 0 device samples against 100: distance 1; wake: disjoint.
        assert_eq!(names[..3], ["poll", "poll found work", "wake-up latency"]);
        let row = |p: Phase| *e.phases.iter().find(|r| r.phase == p).unwrap();
        let poll = row(Phase::Poll);
        // 100 x 4 us in 10 ms: 4% of a core more on the model's side.
        assert_eq!(poll.cpu_pts, Some(4.0));
        assert_eq!(poll.iops_pct, None);
        let wake = row(Phase::Wake);
        assert_eq!((wake.device.per_s, wake.model.per_s), (10_000.0, 1000.0));
        // 8 us shorter, 10k times a second: 8% of each second.
        assert_eq!(wake.iops_pct, Some(8.0));
        let busy = row(Phase::Busy);
        assert_eq!((busy.distance, busy.cpu_pts), (0.0, Some(0.0)));
        assert_eq!(row(Phase::Submit).device.median, 2000.0);
    }

    #[test]
    fn the_cpu_outside_the_phases_completes_the_cpu_error() {
        // Over 10 ms the device's loop runs 13% of a core: 100 busy
        // phases of 3 us (3%) and 100 sleeps, so 10 us of CPU per sleep
        // outside them; the model's runs 10%: 3% busy, 100 polls of 1 us
        // (1%), and 10 sleeps holding the other 6%.
        let device: Vec<IterRecord> = (0..100)
            .map(|_| rec(0, false, Some(10_000), 3000))
            .collect();
        let model: Vec<IterRecord> = (0..100)
            .map(|i| rec(1000, true, (i % 10 == 0).then_some(2000), 3000))
            .collect();
        let none = JobWakes::default();
        let cpu = |pct| RunRow {
            iothread_cpu_pct: pct,
            ..crate::test_row()
        };
        let e = Explanation::of((cpu(13.0), &device, none), (cpu(10.0), &model, none), 0.01);
        let [dev, sim] = e.outside;
        assert!((dev.ns_per_s - 1e8).abs() < 1e-3, "{dev:?}");
        assert_eq!((dev.sleeps_per_s, sim.sleeps_per_s), (10_000.0, 1000.0));
        assert!((dev.per_sleep_ns() - 10_000.0).abs() < 1e-6, "{dev:?}");
        // 6% of a core over 1000 sleeps a second.
        assert!((sim.per_sleep_ns() - 60_000.0).abs() < 1e-6, "{sim:?}");
        // The phases' contributions and the rest add up to the error.
        let phased: f64 = e.phases.iter().filter_map(|p| p.cpu_pts).sum();
        let total = phased + e.outside_cpu_pts();
        assert!(
            (total - e.cpu_err_pts()).abs() < 1e-9,
            "{total} {}",
            e.cpu_err_pts()
        );
        assert!(
            (e.outside_cpu_pts() - -4.0).abs() < 1e-9,
            "{}",
            e.outside_cpu_pts()
        );
        // No sleeps: nothing to divide by.
        let never = Outside {
            ns_per_s: 1.0,
            sleeps_per_s: 0.0,
        };
        assert!(never.per_sleep_ns().is_nan());
    }

    #[test]
    fn the_wait_row_is_every_iterations_block_time() {
        // The device's rule sees waits of 30 us, the model's of 5 us and
        // 40 us in turn: what each learns its window from.
        let waited = |wait_ns| IterRecord {
            wait_ns,
            ..rec(0, false, None, 1000)
        };
        let device: Vec<IterRecord> = (0..10).map(|_| waited(30_000)).collect();
        let model: Vec<IterRecord> = (0..10)
            .map(|i| waited(if i % 2 == 0 { 5_000 } else { 40_000 }))
            .collect();
        let row = row_of(Phase::Wait, &device, &model);
        assert_eq!((row.device.per_s, row.model.per_s), (10.0, 10.0));
        assert_eq!(row.device.median, 30_000.0);
        assert_eq!((row.model.p10, row.model.p90), (5_000.0, 40_000.0));
        assert_eq!(row.distance, 0.5);
        assert!(Phase::Wait.is_time());
        assert_eq!((row.cpu_pts, row.iops_pct), (None, None));
    }
}
