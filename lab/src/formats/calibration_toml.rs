//! A calibration's preset as TOML: the preset, preceded by comments with
//! every measurement it came from (device points, loop costs, the host),
//! so that a reader sees the sources and `validate` can quote them.

use std::fmt::Write as _;

use pollwise_realdev::calibrate::{
    Calibration, DevicePoint, LoopCosts, Placement, EXTRA_REPEATS, WIDE_SPREAD_PCT,
};
use pollwise_sim::{Device, Preset};

use crate::stats::spread_pct;

/// Reads one loop cost.
type CostField = fn(&LoopCosts) -> f64;

/// `min..max` of a loop cost over the calibration's repeats.
fn cost_range(runs: &[LoopCosts], f: CostField) -> String {
    let v: Vec<f64> = runs.iter().map(f).collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if v.len() < 2 {
        String::new()
    } else {
        format!("  ({lo:.1}..{hi:.1} over {} repeats)", v.len())
    }
}

/// How the measurements above become the preset, written after them.
const MAPPING_NOTE: &str =
    "# Mapping: the latency distributions are the smallest-bs qd1 histograms less\n\
 # the transfer time at the measured rate. When the saturation point's\n\
 # spinning reaper found completions in bursts (2 or more per reap), the\n\
 # host serves in passes ([device.passes]): one request at a time, and a\n\
 # pass's completions delivered together; one service is the intercept\n\
 # of the least-squares line of 1 / IOPS against 1 / depth over the small\n\
 # reads at depth 1, the depth curve and saturation (a reaper at depth D\n\
 # sees D / (D s + t)); delivery_ns is the qd1 mean latency less one\n\
 # service, and the latency distributions are then service times (less the\n\
 # delivery too). Otherwise latency_per_inflight_ns is how\n\
 # much the mean latency grew per request the device held (Little's law)\n\
 # from qd1 to the small-block saturation point, parallelism then 1024\n\
 # (without growth: Little's law on that point at the qd1 latency);\n\
 # submit_batch_ns is the CPU-clock part of a one-request io_submit into\n\
 # the busy device (the saturation point) less one request's share, the\n\
 # slope of io_submit's CPU over the batch sizes below, which submit_ns\n\
 # adds to the loop's own per-request work; idle_notify_ns what io_submit at qd1 (an idle\n\
 # device) costs beyond it; notify_guest_ns is the waking send's CPU-clock\n\
 # part and notify_guest_stall_ns the rest of its wall time; the\n\
 # rest of io_submit (the exit to the host) is added to the latency;\n\
 # irq_cpu_ns is the job taking a waiting completion (its blocking wait's\n\
 # CPU is spent before the completion arrives, off the request's path);\n\
 # io_cpu_jitter_sigma is not measured (0.2). [host] shared = true: the\n\
 # loop and one thread per job share the measured CPUs with the other load\n\
 # (sim/src/host.rs); guest.vcpus and irq_latency_ns are then unused (each\n\
 # job is a thread, its wake-up is drawn from channel_wakeup_ns), and\n\
 # iothread.wakeup_latency_ns gives way to eventfd_wakeup_ns; with the\n\
 # tables by idle time, each wake-up across CPUs is drawn from the row\n\
 # for how long the CPU it lands on had been idle instead. [host.packing]:\n\
 # a thread woken by one that blocks right after lands on the waker's\n\
 # CPU in the measured share of wake-ups, at the same-CPU wake-up;\n\
 # wakee_share is the share by the woken thread's own run per wake-up\n\
 # (a thread packed while a CPU is idle in no more than it);\n\
 # busy_share is that share when no CPU is idle (the woken thread last\n\
 # ran on the other CPU, which another thread keeps busy);\n\
 # wake_across_send_ns is what waking a\n\
 # thread on the other CPU costs the waker (pinned apart), charged for\n\
 # a kick or send that wakes its thread elsewhere, that wake-up\n\
 # starting with the send;\n\
 # irq_wakeup_ns is the wake-up of the loop by a completion (the\n\
 # sleeping reaper's qd1 latency less the spinning one's), and\n\
 # irq_wakeup_cpu_ns what that sleep costs the reaper's own CPU clock\n\
 # (it replaces wakeup_cpu_ns, measured with a thread as the waker,\n\
 # for a loop a completion woke); irq_wakeup_by_cpu_ns is that wake-up\n\
 # with the reaper pinned to each CPU (the device's interrupt reaches\n\
 # some CPUs only), drawn for the CPU the loop wakes on;\n\
 # submit_after_idle_ns is what an\n\
 # io_submit costs a thread's CPU clock after it slept each idle time\n\
 # of wakeup_idle_ns beyond one right after a spin (the medians of\n\
 # submissions at queue depth 1 in a seeded shuffle of the idle\n\
 # times), charged to the loop's first submission after a sleep by\n\
 # how long the CPU it woke on had been idle.";

/// The preset as TOML, preceded by comments with every measurement.
pub fn to_toml(cal: &Calibration, preset: &Preset) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by `pollwise realdev calibrate` on {}.",
        crate::escape::escaped(&cal.target_path)
    );
    for w in cal.warnings() {
        let kind = if w.refuses() {
            "WARNING (written with --force)"
        } else {
            "NOTE"
        };
        let w = w.to_string();
        let _ = writeln!(out, "# {kind}: {}", crate::escape::escaped(&w));
    }
    device_lines(&mut out, cal);
    depth_lines(&mut out, cal, &preset.device);
    cost_lines(&mut out, cal);
    host_lines(&mut out, cal);
    out.push_str(MAPPING_NOTE);
    out.push('\n');
    out.push('\n');
    out.push_str(&preset.to_toml());
    out
}

/// Comments: every device point measured, with its repeats.
fn device_lines(out: &mut String, cal: &Calibration) {
    let _ = writeln!(
        out,
        "# Device latency (io_submit return to completion in the ring, spinning):"
    );
    for p in cal.latency_points.iter().chain(&cal.saturation_points) {
        let q = |x: f64| p.latency.value_at_quantile(x) as f64 / 1000.0;
        let _ = writeln!(
            out,
            "#   {:<9} bs={:<7} qd={:<3} {:>8.0} IOPS {:>8.1} MB/s  lat us: mean {:.1} p50 {:.1} p99 {:.1}  io_submit {:.1} us ({:.1} us CPU)  {:.2} per reap",
            p.rw.name(),
            p.bs,
            p.depth,
            p.iops(),
            p.bytes_per_s() / 1e6,
            p.latency.mean() / 1000.0,
            q(0.5),
            q(0.99),
            p.submit_call_ns / 1000.0,
            p.submit_call_cpu_ns / 1000.0,
            p.ios as f64 / p.reaps.max(1) as f64
        );
        if p.repeat_iops.len() > 1 {
            let _ = writeln!(
                out,
                "#   (repeats: IOPS {}; spread {:.1}%; p50 us {})",
                p.repeat_iops
                    .iter()
                    .map(|v| format!("{v:.0}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                spread_pct(&p.repeat_iops),
                p.repeat_p50_ns
                    .iter()
                    .map(|v| format!("{:.1}", v / 1000.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    if !cal.measured_writes {
        let _ = writeln!(
            out,
            "#   writes not measured (read-only target): write figures copy the reads"
        );
    }
    if let Some((pct, p)) = cal.device_spread().filter(|(_, p)| p.repeat_iops.len() > 1) {
        let _ = writeln!(
            out,
            "# Device spread: repeats differ by up to {pct:.1}% ({} bs={} qd={}); a point \
             whose repeats\n# differed by more than {WIDE_SPREAD_PCT}% got up to {EXTRA_REPEATS} more \
             (the median is kept); [calibration]\n# device_spread_pct records the widest",
            p.rw.name(),
            p.bs,
            p.depth
        );
    }
}

/// Comments: the depth curve, measured and as the preset's host model
/// gives it for the same reaper (a host in passes takes its service from
/// the line through every depth, so each point's difference is what that
/// line leaves; channels are built from depths 1 and 16 only).
fn depth_lines(out: &mut String, cal: &Calibration, device: &Device) {
    if cal.depth_points.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "# Depth curve (smallest reads, spinning), against the host model above for that reaper:"
    );
    for p in &cal.depth_points {
        let model = depth_model_iops(cal, device, p.depth);
        let against = model.map_or_else(
            || "no model".to_string(),
            |m| format!("model {m:.0}, {:+.1}%", 100.0 * (m / p.iops() - 1.0)),
        );
        let _ = writeln!(
            out,
            "#   qd={:<3} {:>8.0} IOPS ({against})  {:.2} per reap",
            p.depth,
            p.iops(),
            p.ios as f64 / p.reaps.max(1) as f64
        );
    }
    let _ = writeln!(
        out,
        "#   (a host in passes: D / (D s + t), s the service (qd=1 latency less delivery_ns), t = 1 / the qd=1 rate - s;"
    );
    let _ = writeln!(
        out,
        "#   channels: min(D, parallelism) / (1 / the qd=1 rate + latency_per_inflight_ns (D - 1)))"
    );
}

/// Comments: the loop costs, each with its range over the repeats.
fn cost_lines(out: &mut String, cal: &Calibration) {
    let c = &cal.costs;
    let _ = writeln!(
        out,
        "# Loop costs (ns; the median over repeats, their range beside it):"
    );
    let costs: [(&str, CostField); 14] = [
        ("eventfd wake-up latency (median)", |c| c.wakeup_latency_ns),
        ("block-and-wake CPU", |c| c.wakeup_cpu_ns),
        ("eventfd kick, writer side (median)", |c| c.kick_ns),
        ("eventfd kick that wakes nobody", |c| c.kick_again_ns),
        ("completion channel wake-up latency (median)", |c| {
            c.completion_wake_latency_ns
        }),
        ("completion channel wake-up CPU", |c| {
            c.completion_wake_cpu_ns
        }),
        ("completion send waking a job (median)", |c| {
            c.completion_notify_ns
        }),
        ("  the same on the thread CPU clock (median)", |c| {
            c.completion_notify_cpu_ns
        }),
        ("completion send, job awake", |c| c.complete_ns),
        ("job taking a waiting completion", |c| c.completion_take_ns),
        ("one poll-handler check", |c| c.poll_check_ns),
        ("per-request submit work", |c| c.submit_ns),
        ("per-iteration work", |c| c.iteration_ns),
        ("job work per request", |c| c.job_io_ns),
    ];
    for (name, f) in costs {
        let _ = writeln!(
            out,
            "#   {name:<44} {:>10.1}{}",
            f(c),
            cost_range(&cal.cost_runs, f)
        );
    }
}

/// Comments: the host's CPUs and load, wake-up percentiles (by idle time)
/// and io_submit by batch size.
fn host_lines(out: &mut String, cal: &Calibration) {
    let c = &cal.costs;
    let h = &cal.host;
    let _ = writeln!(
        out,
        "# Host: {} CPUs; other load {:.2} CPUs, steal {:.1}% while idle",
        h.cpus,
        h.background_load_cpus,
        h.steal_frac * 100.0
    );
    let _ = writeln!(
        out,
        "#   wake-up us p10/p50/p90/p99: eventfd {}; channel {}",
        us(c.wakeup_latency_q),
        us(c.completion_wake_latency_q)
    );
    let _ = writeln!(
        out,
        "#   across CPUs (sleeper and waker pinned apart), by the sleeper's idle time:"
    );
    for r in &c.wake_by_idle {
        let _ = writeln!(
            out,
            "#   after {:>6.0} us idle: eventfd {}; channel {}",
            r.idle_ns as f64 / 1000.0,
            us(r.eventfd_q),
            us(r.channel_q)
        );
    }
    placement_lines(out, &c.placement);
    interrupt_lines(out, cal);
    for b in &h.submit_batches {
        let _ = writeln!(
            out,
            "#   io_submit of {:>3}: {:>8.1} us ({:.1} us CPU)",
            b.batch,
            b.wall_ns / 1000.0,
            b.cpu_ns / 1000.0
        );
    }
}

/// Comments: the device's interrupt and the submission after a sleep.
fn interrupt_lines(out: &mut String, cal: &Calibration) {
    let _ = writeln!(
        out,
        "#   a reaper asleep on the completion eventfd, woken by the interrupt: {} us, {}",
        us(cal.irq_wake_q),
        if cal.irq_wake_cpu_ns > 0.0 {
            format!("{:.1} us of its CPU a sleep", cal.irq_wake_cpu_ns / 1000.0)
        } else {
            "its CPU not measured (it never slept)".to_string()
        }
    );
    for (i, row) in cal.irq_wake_by_cpu_q.iter().enumerate() {
        let _ = writeln!(
            out,
            "#   the same reaper pinned to the host's CPU #{i} it may use: {} us",
            us(*row)
        );
    }
    if !cal.irq_cpu_steal_ns.is_empty() {
        let by_cpu: Vec<String> = cal
            .irq_cpu_steal_ns
            .iter()
            .enumerate()
            .map(|(i, ns)| format!("#{i} {:.1} us", ns / 1000.0))
            .collect();
        let _ = writeln!(
            out,
            "#   the interrupts' work on each CPU, per completion (a thread spinning there while the \
             sleeping reaper reads from another; not in the model): {}",
            by_cpu.join(", ")
        );
    }
    if !cal.submit_after_idle_ns.is_empty() {
        let by_idle: Vec<String> = cal
            .costs
            .wake_by_idle
            .iter()
            .zip(&cal.submit_after_idle_ns)
            .map(|(r, ns)| format!("{} us +{:.1}", r.idle_ns / 1000, ns / 1000.0))
            .collect();
        let _ = writeln!(
            out,
            "#   io_submit after its thread slept (its CPU idle) that long, CPU beyond one after \
             a spin, us: {}",
            by_idle.join(", ")
        );
    }
}

/// Comments: where the kernel put woken threads and what a wake-up on
/// the waker's CPU and across CPUs cost.
fn placement_lines(out: &mut String, p: &Placement) {
    let _ = writeln!(
        out,
        "#   on the waker's CPU (both pinned to it, the waker blocking): eventfd {}; channel {}",
        us(p.same_cpu_eventfd_q),
        us(p.same_cpu_channel_q)
    );
    if let Some([eventfd, channel]) = p.across_send_ns {
        let _ = writeln!(
            out,
            "#   waking a thread on the other CPU costs the waker (pinned apart, CPU clock): \
             eventfd write {:.1} us, channel send {:.1} us",
            eventfd / 1000.0,
            channel / 1000.0
        );
    }
    if p.pack_share.is_empty() {
        let _ = writeln!(out, "#   one CPU: every wake-up is on the waker's CPU");
    } else {
        let _ = writeln!(
            out,
            "#   woken on the waker's CPU, neither pinned, by how long the waker runs on: {}",
            share_curve(&p.pack_share)
        );
    }
    if !p.wakee_pack_share.is_empty() {
        let _ = writeln!(
            out,
            "#   the same by how long the woken thread runs each time (the waker blocking): {}",
            share_curve(&p.wakee_pack_share)
        );
    }
    if !p.busy_pack_share.is_empty() {
        let _ = writeln!(
            out,
            "#   the same with the other CPU busy (the woken thread last ran there): {}",
            share_curve(&p.busy_pack_share)
        );
    }
}

/// A share curve as `0 us 100%, 4 us 98%, ...`.
fn share_curve(curve: &[(u64, f64)]) -> String {
    let points: Vec<String> = curve
        .iter()
        .map(|(ns, s)| format!("{:.0} us {:.0}%", *ns as f64 / 1000.0, s * 100.0))
        .collect();
    points.join(", ")
}

/// Four percentiles in ns as microseconds, `p10/p50/p90/p99`.
fn us(q: [f64; 4]) -> String {
    q.map(|v| format!("{:.1}", v / 1000.0)).join("/")
}

/// IOPS the preset's host model gives a spinning reaper at `depth`: the
/// reaper the calibration's device points use, which resubmits each
/// completion at once. A host in passes serves `depth` requests one after
/// another, then delivers them, and the reaper's own round trip adds what
/// depth 1 takes beyond one service: `D / (D s + t)`, `s` the service (the
/// depth-1 latency less the preset's `delivery_ns`), `t` = 1 / the depth-1
/// rate - `s`. Channels: `min(D, parallelism)` requests at once, each the
/// depth-1 round trip plus `latency_per_inflight_ns` per other request
/// held. `None` without the depth-1 small reads it starts from.
fn depth_model_iops(cal: &Calibration, device: &Device, depth: u32) -> Option<f64> {
    let alone = DevicePoint::smallest_reads(&cal.latency_points)
        .filter(|p| p.iops().is_finite() && p.iops() > 0.0)?;
    let alone_ns = 1e9 / alone.iops();
    let d = f64::from(depth.max(1));
    Some(match &device.passes {
        Some(p) => {
            let service_ns = (alone.latency.mean() - p.delivery_ns as f64).max(0.0);
            d * 1e9 / (d * service_ns + (alone_ns - service_ns).max(0.0))
        }
        None => {
            let held = d.min(f64::from(device.parallelism.max(1)));
            held * 1e9 / (alone_ns + device.latency_per_inflight_ns as f64 * (d - 1.0))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pollwise_sim::HostPasses;

    fn point(latency_ns: u64, ios: u64, reaps: u64) -> DevicePoint {
        let mut latency = pollwise_realdev::loadgen::new_histogram();
        latency.saturating_record(latency_ns);
        DevicePoint::reads(1, latency, ios, 1_000_000_000, reaps)
    }

    #[test]
    fn the_depth_curve_of_a_host_in_passes() {
        // Depth 1: 58,368 IOPS (17,132.7 ns a round trip), 13,000 ns of
        // latency, of which the preset's delivery leaves a service of
        // 5,200 ns: t = 11,932.7 ns. Depth 4: 4e9 / (20,800 + 11,932.7) =
        // 122,202; depth 8: 8e9 / 53,532.7 = 149,442 (fio measured 119,875
        // and 158,415 on the machine of docs/model-fidelity.md).
        let alone = point(13_000, 58_368, 58_368);
        let sat = point(80_000, 192_308, 192_308 / 5);
        let cal = Calibration::of_device_points(vec![alone], vec![sat], vec![]);
        let mean = cal.latency_points[0].latency.mean();
        let mut device = Preset::load("optane-p4800x").unwrap().device;
        device.passes = Some(HostPasses {
            delivery_ns: (mean - 5_200.0) as u64,
        });
        let service = mean - device.passes.as_ref().unwrap().delivery_ns as f64;
        assert!((5_200.0..5_201.0).contains(&service), "{service}");
        let at = |device: &Device, d| depth_model_iops(&cal, device, d).unwrap();
        // Within 3 IOPS: the delivery is whole nanoseconds.
        assert!(
            (at(&device, 4) - 122_202.0).abs() < 3.0,
            "{}",
            at(&device, 4)
        );
        assert!(
            (at(&device, 8) - 149_442.0).abs() < 3.0,
            "{}",
            at(&device, 8)
        );
        // Channels: four at once, 17,132.7 ns each plus 1,000 ns for each
        // of the other three: 4e9 / 20,132.7 = 198,682.
        device.passes = None;
        device.parallelism = 4;
        device.latency_per_inflight_ns = 1000;
        assert_eq!(at(&device, 4).round(), 198_682.0);
        // Eight, only four at once: 4e9 / (17,132.7 + 7,000) = 165,750.
        assert_eq!(at(&device, 8).round(), 165_750.0);
    }
}
