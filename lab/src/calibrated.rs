//! Turns the device's [`Calibration`] (plain measurements) into a simulator
//! preset (`local`), and writes it as TOML with every measurement it came
//! from in comments. It lives here, not in realdev, so that the device
//! crate does not depend on the simulator.

use hdrhistogram::Histogram;
use pollwise_core::Rw;
use pollwise_sim::{
    CalibrationSpread, Device, Guest, Host, HostPasses, IoThreadCosts, LatencyDist, Matrix,
    Packing, Preset, Topology, VqMapping, MAX_LATENCY_NS, MAX_SPREAD_PCT,
};

use pollwise_realdev::calibrate::{Calibration, DevicePoint, LoopCosts};

pub use crate::formats::calibration_toml::to_toml;

/// The deepest queue a calibration measures.
pub const MAX_DEPTH: u32 = 1024;

/// Neighbouring bucket bounds of the empirical distribution differ by this
/// factor: fine enough that uniform sampling inside a bucket changes a
/// sample by at most 5%.
const BUCKET_RATIO: f64 = 1.05;

/// An empirical distribution from a latency histogram, with `shift_ns`
/// subtracted from every value (the part of the latency the simulator
/// models separately, e.g. the transfer time; negative adds). Buckets grow geometrically
/// by [`BUCKET_RATIO`]; empty buckets at either end are dropped.
pub fn empirical(hist: &Histogram<u64>, shift_ns: i64) -> Option<LatencyDist> {
    if hist.is_empty() {
        return None;
    }
    // Geometric edges over the measured range.
    let lo = hist.min().max(1);
    let hi = hist.max();
    let mut edges = vec![lo];
    while let Some(&last) = edges.last().filter(|&&e| e <= hi) {
        edges.push(((last as f64 * BUCKET_RATIO).ceil() as u64).max(last + 1));
    }
    // Each recorded value (its hdr bucket's middle) counts once, in the
    // edge bucket holding it.
    let buckets = edges.len() - 1;
    let mut counts = vec![0f64; buckets];
    for v in hist.iter_recorded() {
        let mid = hist.median_equivalent(v.value_iterated_to());
        let i = edges.partition_point(|&e| e <= mid).saturating_sub(1);
        counts[i.min(buckets - 1)] += v.count_at_value() as f64;
    }
    // Shift, merging buckets the shift squashes onto the 1 ns floor.
    let shifted = |e: u64| {
        (e as i64)
            .saturating_sub(shift_ns)
            .clamp(1, MAX_LATENCY_NS as i64) as u64
    };
    let mut bounds = vec![shifted(edges[0])];
    let mut weights: Vec<f64> = Vec::new();
    let mut carried = 0.0;
    for (i, count) in counts.iter().enumerate() {
        let to = shifted(edges[i + 1]);
        if to <= *bounds.last()? {
            match weights.last_mut() {
                Some(w) => *w += count,
                None => carried += count,
            }
            continue;
        }
        bounds.push(to);
        weights.push(count + carried);
        carried = 0.0;
    }
    while weights.first() == Some(&0.0) {
        weights.remove(0);
        bounds.remove(0);
    }
    while weights.last() == Some(&0.0) {
        weights.pop();
        bounds.pop();
    }
    if weights.is_empty() {
        return None;
    }
    Some(LatencyDist::Empirical {
        bounds_ns: bounds,
        weights,
    })
}

/// How much latency each request in the device adds to the others, ns,
/// from the mean latency alone (queue depth 1) and at the small-block
/// saturation point. By Little's law the device held `n = iops x
/// latency` requests there; if its latency grew linearly with them (a
/// device sharing its capacity), each beyond the first added
/// `(saturated - alone) / (n - 1)`. 0 when it held fewer than 1.5 or its
/// latency did not grow.
pub fn sharing(alone_mean_ns: f64, saturated_mean_ns: f64, saturated_iops: f64) -> u64 {
    let held = saturated_iops * saturated_mean_ns / 1e9;
    if !(held >= 1.5 && saturated_mean_ns > alone_mean_ns) {
        return 0;
    }
    ((saturated_mean_ns - alone_mean_ns) / (held - 1.0))
        .round()
        .min(MAX_LATENCY_NS as f64) as u64
}

/// The shares of `curve` where it was measured at `points`' run-on
/// times, else none.
fn same_points(curve: &[(u64, f64)], points: &[(u64, f64)]) -> Vec<f64> {
    if curve.len() == points.len() && curve.iter().zip(points).all(|(a, b)| a.0 == b.0) {
        curve.iter().map(|p| p.1).collect()
    } else {
        Vec::new()
    }
}

/// A measured time in whole ns (negative noise as 0).
fn ns(v: f64) -> u64 {
    v.round().max(0.0) as u64
}

fn point(points: &[DevicePoint], rw: Rw, bs: u64) -> Option<&DevicePoint> {
    points.iter().find(|p| p.rw == rw && p.bs == bs)
}

/// Where the calibration cannot produce a preset.
pub fn build(cal: &Calibration) -> Result<Preset, String> {
    let smallest = cal
        .latency_points
        .iter()
        .map(|p| p.bs)
        .min()
        .ok_or("calibration measured no latency point")?;
    let read = point(&cal.latency_points, Rw::RandRead, smallest)
        .ok_or("calibration measured no read latency")?;
    let write = point(&cal.latency_points, Rw::RandWrite, smallest).unwrap_or(read);
    let (device, submit_batch) = device(cal, smallest, read, write)?;
    let preset = Preset {
        name: "local".into(),
        description: format!(
            "realdev calibration of {} (logical block {} B): pollwise's own loop and jobs",
            cal.target_path, cal.block_size
        ),
        guest: guest(cal),
        iothread: iothread(&cal.costs, submit_batch),
        topology: Topology {
            disks: 1,
            queues_per_disk: 1,
            vq_mapping: VqMapping::Spread,
        },
        device,
        matrix: Matrix {
            rw: vec![Rw::RandRead],
            bs: vec![smallest],
            numjobs: vec![1],
            iothreads: vec![1],
            iodepth: 8,
            duration_ms: 1000,
            warmup_ms: 50,
            fitted_rw: None,
        },
        host: Some(host(cal)),
        calibration: calibration_table(cal),
    };
    preset
        .validate()
        .map_err(|e| format!("the calibrated preset is not valid: {e}"))?;
    Ok(preset)
}

/// The device: transfer rates, latency distributions (less the transfer
/// time and the exit io_submit does not see), how latency grows with the
/// requests held, and the notification an idle device needs; also the
/// CPU of an io_submit batch into a busy device.
fn device(
    cal: &Calibration,
    smallest: u64,
    read: &DevicePoint,
    write: &DevicePoint,
) -> Result<(Device, (f64, f64)), String> {
    let sat = |rw: Rw| {
        cal.saturation_points
            .iter()
            .filter(|p| p.rw == rw)
            .max_by_key(|p| p.bs)
            .map(|p| p.bytes_per_s())
    };
    let read_rate = sat(Rw::RandRead).ok_or("no read throughput point")?;
    let write_rate = sat(Rw::RandWrite).unwrap_or(read_rate);
    let clamp_rate = |r: f64| (r.round() as u64).clamp(1_000_000, 1 << 40);
    let (read_rate, write_rate) = (clamp_rate(read_rate), clamp_rate(write_rate));
    // The simulator adds the transfer time itself. And it counts all of
    // io_submit as the loop's CPU, so the part the thread's CPU clock does
    // not see (in a VM: the exit to the host that starts the device) is
    // moved into the device's latency.
    let shift = |p: &DevicePoint, rate: u64| {
        let transfer = (smallest * 1_000_000_000 / rate) as i64;
        let exit = (p.submit_call_ns - p.submit_call_cpu_ns).max(0.0).round() as i64;
        transfer - exit
    };
    // Little's law on the small-block saturation point: requests the
    // device must serve at once to reach that rate at the qd1 latency.
    let small_sat = DevicePoint::smallest_reads(&cal.saturation_points)
        .ok_or("no small-block saturation point")?;
    // A host that serves in passes: the qd1 latency is its delivery plus
    // one request's service, the service fitted over every depth measured
    // (`pass_service_ns`); the service times are the qd1 latencies less
    // the delivery.
    let passes = host_passes(read, small_sat, pass_service_ns(cal, read, small_sat));
    let delivery = passes.as_ref().map_or(0, |p| p.delivery_ns as i64);
    let read_latency = empirical(&read.latency, shift(read, read_rate) + delivery)
        .ok_or("the read latency histogram is empty")?;
    let write_latency = empirical(&write.latency, shift(write, write_rate) + delivery)
        .ok_or("the write latency histogram is empty")?;
    let per_inflight = sharing(
        read.latency.mean(),
        small_sat.latency.mean(),
        small_sat.iops(),
    );
    let (parallelism, per_inflight) = if passes.is_some() {
        (1, 0)
    } else if per_inflight > 0 {
        // The sharing sets the rate; every request in the device shares
        // it (a virtio queue holds hundreds), so the channels must not cap
        // them: as many as the deepest queue a calibration measures.
        (MAX_DEPTH, per_inflight)
    } else {
        let n = (small_sat.iops() * read.latency.mean() / 1e9)
            .round()
            .clamp(1.0, 65536.0) as u32;
        (n, 0)
    };
    // io_submit into a device busy with other requests needs no
    // notification; into an idle one it does (on virtio, an exit to the
    // host). The saturation point's submissions all found it busy, the
    // qd1 point's all found it idle.
    let idle_notify = (read.submit_call_cpu_ns - small_sat.submit_call_cpu_ns).max(0.0);
    let single = if idle_notify > 0.0 {
        small_sat.submit_call_cpu_ns
    } else {
        read.submit_call_cpu_ns
    };
    // Each request in an io_submit call costs what one more costs in the
    // batch probe (the slope over batch sizes); the call itself the rest
    // of a single request's call.
    let per_request = submit_slope(cal).min(single);
    let submit_batch = (single - per_request, per_request);
    let device = Device {
        parallelism,
        read_bytes_per_s: read_rate,
        write_bytes_per_s: write_rate,
        transfer_overhead_ns: 0,
        latency_per_inflight_ns: per_inflight,
        idle_notify_ns: ns(idle_notify),
        read_latency,
        write_latency,
        passes,
    };
    Ok((device, submit_batch))
}

/// Completions per reap at the saturation point, with a spinning reaper,
/// above which the host is taken to complete in passes: a device that
/// completes requests independently at that depth hands a reaper that
/// never sleeps one or two at a time.
pub const PASS_BURST: f64 = 2.0;

/// One request's service at a host that serves in passes. A spinning
/// reaper at depth `D` sees `1 / IOPS = s + t / D` (a pass of `D`
/// services, then what the delivery and the reaper add once per pass), so
/// `s` is the intercept of the least-squares line of `1 / IOPS` against
/// `1 / D` over the small reads at every depth measured: depth 1, the
/// depth curve and the saturation point. With fewer than three depths, or
/// a line that does not fall with depth, one over the saturation rate.
fn pass_service_ns(cal: &Calibration, alone: &DevicePoint, sat: &DevicePoint) -> f64 {
    let at_saturation = 1e9 / sat.iops();
    let points: Vec<(f64, f64)> = std::iter::once(alone)
        .chain(&cal.depth_points)
        .chain(std::iter::once(sat))
        .filter(|p| p.iops().is_finite() && p.iops() > 0.0)
        .map(|p| (1.0 / f64::from(p.depth.max(1)), 1e9 / p.iops()))
        .collect();
    if points.len() < 3 {
        return at_saturation;
    }
    match pollwise_stats::line_fit(&points) {
        Some((s, t)) if s.is_finite() && s > 0.0 && t >= 0.0 => s,
        _ => at_saturation,
    }
}

/// `[device.passes]` when the saturation point's spinning reaper found
/// completions in bursts (at least [`PASS_BURST`] per reap) and the qd1
/// latency is longer than one request's service (`service_ns`); the
/// delivery is that difference.
fn host_passes(alone: &DevicePoint, sat: &DevicePoint, service_ns: f64) -> Option<HostPasses> {
    let burst = sat.ios as f64 / sat.reaps.max(1) as f64;
    let delivery = alone.latency.mean() - service_ns;
    (burst >= PASS_BURST && service_ns.is_finite() && delivery > 0.0).then(|| HostPasses {
        delivery_ns: ns(delivery),
    })
}

/// The `[calibration]` table: the widest spread of any device point's
/// repeats; none when no point was repeated (a spread of one run says
/// nothing).
fn calibration_table(cal: &Calibration) -> Option<CalibrationSpread> {
    if cal.device_points().all(|p| p.repeat_iops.len() < 2) {
        return None;
    }
    let (pct, _) = cal.device_spread()?;
    Some(CalibrationSpread {
        // To 0.1 for the reader; a repeat that measured nothing (an
        // unbounded spread, written with --force) is capped at the
        // schema's limit.
        device_spread_pct: (pct.min(MAX_SPREAD_PCT) * 10.0).round() / 10.0,
    })
}

/// The guest: one CPU is the loop's, the jobs share the rest.
fn guest(cal: &Calibration) -> Guest {
    let c = &cal.costs;
    Guest {
        // One CPU is the loop's; the jobs share the rest.
        vcpus: (cal.cpus.saturating_sub(1)).max(1) as u32,
        io_cpu_ns: ns(c.job_io_ns),
        io_cpu_ns_per_kib: 0,
        io_cpu_jitter_sigma: 0.2,
        irq_cpu_ns: ns(c.completion_take_ns),
        kick_cpu_ns: ns(c.kick_ns),
        kick_again_cpu_ns: Some(ns(c.kick_again_ns)),
        irq_latency_ns: ns(c.completion_wake_latency_ns),
    }
}

/// The CPU one more request adds to an `io_submit` call: the slope of the
/// batch probe's CPU over batch sizes (least squares); 0 without two
/// sizes or for a slope below 0.
fn submit_slope(cal: &Calibration) -> f64 {
    let points: Vec<(f64, f64)> = cal
        .host
        .submit_batches
        .iter()
        .map(|b| (f64::from(b.batch), b.cpu_ns))
        .collect();
    pollwise_stats::line_fit(&points).map_or(0.0, |(_, slope)| slope.max(0.0))
}

/// The loop's measured costs; `submit` is io_submit's CPU per call and per
/// request in it.
fn iothread(c: &LoopCosts, submit: (f64, f64)) -> IoThreadCosts {
    IoThreadCosts {
        iteration_ns: ns(c.iteration_ns).max(1),
        poll_check_ns: ns(c.poll_check_ns),
        wakeup_latency_ns: ns(c.wakeup_latency_ns),
        wakeup_cpu_ns: ns(c.wakeup_cpu_ns),
        // The shared host draws wake-ups by idle time instead.
        cstate_residency_ns: Vec::new(),
        cstate_exit_ns: Vec::new(),
        submit_batch_ns: ns(submit.0),
        submit_ns: ns(c.submit_ns + submit.1),
        complete_ns: ns(c.complete_ns),
        notify_guest_ns: ns(c.completion_notify_cpu_ns),
        notify_guest_stall_ns: ns(c.completion_notify_ns - c.completion_notify_cpu_ns),
        // pollwise's own device loop schedules no bottom halves.
        self_notify: false,
        notifier_polled: false,
        stale_eventfd: false,
    }
}

/// The host section: CPUs, other load, wake-up distributions, io_submit
/// against batch size.
fn host(cal: &Calibration) -> Host {
    let h = &cal.host;
    let q = |v: [f64; 4]| {
        let mut out = v.map(ns);
        // Percentiles of one sample set are ordered; keep them so after
        // rounding too.
        for i in 1..4 {
            out[i] = out[i].max(out[i - 1]);
        }
        out
    };
    let table = &cal.costs.wake_by_idle;
    Host {
        cpus: h.cpus.clamp(1, 4096) as u32,
        // The loop and the jobs were measured on these CPUs, beside the
        // other load: the simulator shares them the same way.
        shared: true,
        background_load_cpus: h.background_load_cpus.clamp(0.0, h.cpus.max(1) as f64),
        steal_frac: h.steal_frac.clamp(0.0, 1.0),
        eventfd_wakeup_ns: q(cal.costs.wakeup_latency_q),
        channel_wakeup_ns: q(cal.costs.completion_wake_latency_q),
        wakeup_idle_ns: table.iter().map(|r| r.idle_ns).collect(),
        eventfd_wakeup_by_idle_ns: table.iter().map(|r| q(r.eventfd_q)).collect(),
        channel_wakeup_by_idle_ns: table.iter().map(|r| q(r.channel_q)).collect(),
        io_submit_batch: h.submit_batches.iter().map(|b| b.batch).collect(),
        io_submit_ns: h.submit_batches.iter().map(|b| ns(b.wall_ns)).collect(),
        io_submit_cpu_ns: h.submit_batches.iter().map(|b| ns(b.cpu_ns)).collect(),
        // Measured apart: a wake-up across CPUs (the table above), one on
        // the waker's CPU, and how often the kernel chose the latter.
        packing: (!cal.costs.placement.pack_share.is_empty()).then(|| Packing {
            run_on_ns: cal.costs.placement.pack_share.iter().map(|p| p.0).collect(),
            share: cal.costs.placement.pack_share.iter().map(|p| p.1).collect(),
            // Where measured at the same run-on times.
            busy_share: same_points(
                &cal.costs.placement.busy_pack_share,
                &cal.costs.placement.pack_share,
            ),
            wakee_share: same_points(
                &cal.costs.placement.wakee_pack_share,
                &cal.costs.placement.pack_share,
            ),
            eventfd_wakeup_ns: q(cal.costs.placement.same_cpu_eventfd_q),
            channel_wakeup_ns: q(cal.costs.placement.same_cpu_channel_q),
        }),
        irq_wakeup_ns: Some(q(cal.irq_wake_q)),
        irq_wakeup_by_cpu_ns: if cal.irq_wake_by_cpu_q.len() == h.cpus {
            cal.irq_wake_by_cpu_q.iter().map(|&r| q(r)).collect()
        } else {
            Vec::new()
        },
        // Measured by the same sleeping reaper; 0 where it never slept.
        irq_wakeup_cpu_ns: (cal.irq_wake_cpu_ns > 0.0).then(|| ns(cal.irq_wake_cpu_ns)),
        // Measured at the idle times of the table above (a reaper that
        // spins for its completion, then sleeps that long).
        submit_after_idle_ns: if cal.submit_after_idle_ns.len() == table.len() {
            cal.submit_after_idle_ns.iter().map(|&v| ns(v)).collect()
        } else {
            Vec::new()
        },
        wake_across_send_ns: cal.costs.placement.across_send_ns.map(|s| s.map(ns)),
        scheduler: cal
            .host
            .scheduler
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .take(pollwise_sim::MAX_SCHEDULER_FACTS)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: &[(u64, u64)]) -> Histogram<u64> {
        let mut h = pollwise_realdev::loadgen::new_histogram();
        for &(v, n) in values {
            h.record_n(v, n).unwrap();
        }
        h
    }

    fn parts(d: &LatencyDist) -> (&[u64], &[f64]) {
        match d {
            LatencyDist::Empirical { bounds_ns, weights } => (bounds_ns, weights),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empirical_keeps_every_sample_in_a_bucket_around_it() {
        let h = hist(&[(20_000, 30), (50_000, 10), (1_000_000, 1)]);
        let d = empirical(&h, 0).unwrap();
        d.validate("test").unwrap();
        let (b, w) = parts(&d);
        assert_eq!(w.len() + 1, b.len());
        assert_eq!(w.iter().sum::<f64>(), 41.0);
        // Each recorded value lies in a bucket holding exactly its count.
        for (v, n) in [(20_000u64, 30.0), (50_000, 10.0), (1_000_000, 1.0)] {
            let i = b.windows(2).position(|p| p[0] <= v && v < p[1]).unwrap();
            assert_eq!(w[i], n, "bucket of {v}: {:?}", &b[i..i + 2]);
            // Buckets are at most 5% wide (plus the histogram's resolution).
            assert!(b[i + 1] as f64 <= b[i] as f64 * 1.06);
        }
        assert_eq!(*w.first().unwrap(), 30.0, "no empty leading bucket");
        assert_eq!(*w.last().unwrap(), 1.0, "no empty trailing bucket");
    }

    #[test]
    fn shift_moves_the_distribution_down() {
        let h = hist(&[(20_000, 10)]);
        let d = empirical(&h, 5_000).unwrap();
        let (b, w) = parts(&d);
        assert_eq!(w, &[10.0]);
        assert!(b[0] <= 15_000 && b[1] > 15_000, "{b:?}");
        // Shifting past zero keeps bounds positive and increasing.
        let d = empirical(&hist(&[(1_000, 5), (3_000, 5)]), 2_000).unwrap();
        d.validate("test").unwrap();
        assert_eq!(parts(&d).1.iter().sum::<f64>(), 10.0);
    }

    #[test]
    fn negative_shift_moves_it_up() {
        let d = empirical(&hist(&[(20_000, 10)]), -5_000).unwrap();
        let (b, w) = parts(&d);
        assert_eq!(w, &[10.0]);
        assert!(b[0] <= 25_000 && b[1] > 25_000, "{b:?}");
    }

    fn point(latency: &[(u64, u64)], ios: u64, elapsed_ns: u64, reaps: u64) -> DevicePoint {
        DevicePoint::reads(1, hist(latency), ios, elapsed_ns, reaps)
    }

    #[test]
    fn bursts_at_saturation_make_a_host_that_serves_in_passes() {
        // 30 us alone; 74,000 IOPS at saturation is 13,514 ns a request,
        // so the delivery is 16,486 ns.
        let alone = point(&[(30_000, 100)], 100, 3_000_000, 100);
        let sat = point(&[(170_000, 100)], 74_000, 1_000_000_000, 74_000 / 6);
        let p = host_passes(&alone, &sat, 1e9 / sat.iops()).expect("bursts of 6 per reap");
        assert!(p.delivery_ns.abs_diff(16_486) <= 30, "{p:?}");
        // Completions one or two at a time: a device of channels.
        let single = point(&[(170_000, 100)], 74_000, 1_000_000_000, 74_000);
        assert_eq!(host_passes(&alone, &single, 1e9 / single.iops()), None);
        // Faster alone than one request's share of the rate: no passes.
        let fast = point(&[(10_000, 100)], 100, 1_000_000, 100);
        assert_eq!(host_passes(&fast, &sat, 1e9 / sat.iops()), None);
    }

    #[test]
    fn a_pass_s_service_is_fitted_over_every_depth_measured() {
        // This session's disk (docs/validation-local.toml of 2026-12-07
        // 02:23 UTC): 66,157 / 93,815 / 124,514 / 160,876 / 165,876 IOPS at
        // depths 1 / 2 / 4 / 8 / 16. The line of 1e9 / IOPS against 1 / D
        // has intercept 5,368.7 ns (slope 9,913.4), where one over the
        // depth-16 rate alone reads 6,028.6.
        let at = |depth: u32, iops: u64| {
            DevicePoint::reads(depth, hist(&[(10_000, 100)]), iops, 1_000_000_000, iops)
        };
        let (alone, sat) = (at(1, 66_157), at(16, 165_876));
        let mut cal = Calibration::of_device_points(
            vec![at(1, 66_157)],
            vec![at(16, 165_876)],
            vec![at(2, 93_815), at(4, 124_514), at(8, 160_876)],
        );
        let s = pass_service_ns(&cal, &alone, &sat);
        assert!((s - 5_368.7).abs() < 0.1, "{s}");
        // Without the depth curve: one over the saturation rate.
        cal.depth_points.clear();
        let s = pass_service_ns(&cal, &alone, &sat);
        assert!((s - 6_028.6).abs() < 0.1, "{s}");
        // A disk slower the deeper it is read (the line rises with depth):
        // no pass structure to fit, one over the saturation rate.
        let (alone, sat) = (at(1, 100_000), at(16, 80_000));
        let cal = Calibration::of_device_points(
            vec![at(1, 100_000)],
            vec![at(16, 80_000)],
            vec![at(2, 95_000), at(8, 85_000)],
        );
        assert_eq!(pass_service_ns(&cal, &alone, &sat), 12_500.0);
    }

    #[test]
    fn sharing_is_the_latency_growth_per_request_held() {
        // The machine of docs/validation.md: 23.6 us alone, 168.9 us at
        // 83,604 IOPS: 14.121 requests held, 145.3 us more over 13.121 of
        // them, 11.074 us each.
        assert_eq!(sharing(23_600.0, 168_900.0, 83_604.0), 11_074);
        // Latency that did not grow, or a device that held too few.
        assert_eq!(sharing(23_600.0, 23_000.0, 500_000.0), 0);
        assert_eq!(sharing(23_600.0, 30_000.0, 40_000.0), 0);
    }

    #[test]
    fn empty_histogram_gives_none() {
        assert!(empirical(&pollwise_realdev::loadgen::new_histogram(), 0).is_none());
    }
}
