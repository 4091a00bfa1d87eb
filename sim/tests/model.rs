//! The model checked against cycle times worked out by hand from its
//! definition (docs/design.md, "The simulation model"), on a tiny preset
//! with constant costs, so every number below follows from the preset by
//! arithmetic.

use pollwise_core::{Params, PolicyKind};
use pollwise_sim::{simulate, Preset, Rw, Workload};

mod tiny;
use tiny::TINY;

fn tiny() -> Preset {
    Preset::from_toml(TINY, "tiny").unwrap()
}

fn qd1() -> Workload {
    Workload {
        rw: Rw::RandRead,
        rwmixread: 50,
        bs: 4096,
        numjobs: 1,
        iodepth: 1,
        iothreads: 1,
        duration_ms: 100,
    }
}

fn params(kind: PolicyKind, pairs: &[(&str, &str)]) -> Params {
    Params::from_pairs(kind, pairs.iter().copied()).unwrap()
}

/// Completions counted in a 100 ms window can be off by one cycle.
fn assert_iops(got: f64, cycle_ns: f64) {
    let want = 1e9 / cycle_ns;
    assert!(
        (got - want).abs() <= 10.0 + 1e-9,
        "iops {got} but the hand-computed cycle of {cycle_ns} ns gives {want}"
    );
}

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} +- {tol}"
    );
}

#[test]
fn never_polling_pays_two_wakeups_and_a_kick_per_io() {
    // Window 0: the IOThread blocks before the submission and before the
    // completion. One I/O cycle:
    //   G + W + (I + C + SB + S) + (L + T) + W + (I + C + CP + N) + IL + IR
    //   1000 + 2000 + 1000 + 11000 + 2000 + 900 + 500 + 700 = 19100 ns
    let row = simulate(&tiny(), &qd1(), &Params::defaults(PolicyKind::Off), 1).unwrap();
    assert_iops(row.iops, 19100.0);
    // Latency: from the request entering the queue to fio reaping it, the
    // cycle minus fio's own G.
    close(row.lat_mean_us, 18.1, 0.02, "lat_mean_us");
    close(row.lat_p99_us.unwrap(), 18.1, 0.02, "lat_p99_us");
    // Every submission finds notifications enabled.
    close(row.kicks_per_s.unwrap(), row.iops, 10.0, "kicks_per_s");
    close(
        row.wakeups_per_s.unwrap(),
        2.0 * row.iops,
        20.0,
        "wakeups_per_s",
    );
    // CPU: 2 x (I + C) + SB + S + CP + N = 1900 ns per cycle.
    close(row.iothread_cpu_pct, 100.0 * 1900.0 / 19100.0, 0.05, "cpu");
    close(row.poll_cpu_pct.unwrap(), 0.0, 0.0, "poll cpu");
    close(row.window_mean_ns.unwrap(), 0.0, 0.0, "window");
    close(row.window_zero_frac.unwrap(), 1.0, 0.0, "zero frac");
}

#[test]
fn polling_through_every_gap_removes_wakeups_and_kicks() {
    // A fixed 1 ms window covers every gap, so each event is found one
    // poll pass (P = 10 ns x 2 handlers) after it arrives:
    //   G + P + (I + SB + S) + (L + T) + P + (I + CP + N) + IL + IR
    //   1000 + 20 + 700 + 11000 + 20 + 600 + 500 + 700 = 14540 ns
    let p = params(PolicyKind::Fixed, &[("poll-max-ns", "1000000")]);
    let row = simulate(&tiny(), &qd1(), &p, 1).unwrap();
    assert_iops(row.iops, 14540.0);
    close(row.kicks_per_s.unwrap(), 0.0, 0.0, "kicks");
    close(row.wakeups_per_s.unwrap(), 0.0, 0.0, "wakeups");
    // The thread is always polling or processing.
    close(row.iothread_cpu_pct, 100.0, 0.01, "cpu");
    // Processing is 1300 ns of each cycle; the rest is polling.
    close(
        row.poll_cpu_pct.unwrap(),
        100.0 * 13240.0 / 14540.0,
        0.05,
        "poll cpu",
    );
}

#[test]
fn the_oracle_polls_only_for_gaps_under_its_threshold() {
    // With a 5 us threshold the oracle polls for the guest's submission
    // (IL + IR + G = 2200 ns after the completion's processing, under the
    // threshold) but blocks through the 11 us device wait: one wake-up per
    // I/O and no kicks:
    //   G + P + (I + SB + S) + (L + T) + W + (I + C + CP + N) + IL + IR
    //   1000 + 20 + 700 + 11000 + 2000 + 900 + 500 + 700 = 16820 ns
    let p = params(
        PolicyKind::ThresholdOracle,
        &[("poll-max-ns", "1000000"), ("oracle-threshold-ns", "5000")],
    );
    let row = simulate(&tiny(), &qd1(), &p, 1).unwrap();
    assert_iops(row.iops, 16820.0);
    close(row.kicks_per_s.unwrap(), 0.0, 0.0, "kicks");
    close(row.wakeups_per_s.unwrap(), row.iops, 10.0, "wakeups");
}

#[test]
fn the_oracle_with_no_threshold_is_never_polling() {
    let p = params(PolicyKind::ThresholdOracle, &[("oracle-threshold-ns", "0")]);
    let oracle = simulate(&tiny(), &qd1(), &p, 1).unwrap();
    let off = simulate(&tiny(), &qd1(), &Params::defaults(PolicyKind::Off), 1).unwrap();
    assert_eq!(oracle.iops, off.iops);
    assert_eq!(oracle.iothread_cpu_pct, off.iothread_cpu_pct);
}

#[test]
fn the_clairvoyant_prices_each_event_by_its_kind() {
    // A block for the guest's submission delays it by the wake-up and the
    // kick (W + 3000 = 5000 ns); for the device's completion by W = 2000 ns
    // (the guest is idle at queue depth 1, so nothing hides it). Each block
    // costs C = 300 ns of CPU. At a price of 1 CPU ns per ns of delay the
    // 2200 ns submission gap is polled (2200 < 300 + 5000) and the 11 us
    // device wait is not (11000 > 300 + 2000): the threshold oracle's cycle
    // above, found from the prices instead of a threshold.
    let p = params(
        PolicyKind::Clairvoyant,
        &[("poll-max-ns", "1000000"), ("delay-price-milli", "1000")],
    );
    let row = simulate(&tiny(), &qd1(), &p, 1).unwrap();
    assert_iops(row.iops, 16820.0);
    close(row.kicks_per_s.unwrap(), 0.0, 0.0, "kicks");
    close(row.wakeups_per_s.unwrap(), row.iops, 10.0, "wakeups");
    // At a price of 0.3 the submission is not worth its 2200 ns either
    // (300 + 0.3 x 5000 = 1800): every event is blocked for, as with `off`.
    let p = params(PolicyKind::Clairvoyant, &[("delay-price-milli", "300")]);
    let cheap = simulate(&tiny(), &qd1(), &p, 1).unwrap();
    let off = simulate(&tiny(), &qd1(), &Params::defaults(PolicyKind::Off), 1).unwrap();
    close(cheap.iops, off.iops, 0.001 * off.iops, "iops like off");
    close(
        cheap.kicks_per_s.unwrap(),
        off.kicks_per_s.unwrap(),
        0.001 * off.kicks_per_s.unwrap(),
        "kicks like off",
    );
    // At a price of 10 both gaps are polled: no wake-ups at all.
    let p = params(
        PolicyKind::Clairvoyant,
        &[("poll-max-ns", "1000000"), ("delay-price-milli", "10000")],
    );
    let dear = simulate(&tiny(), &qd1(), &p, 1).unwrap();
    close(dear.wakeups_per_s.unwrap(), 0.0, 0.0, "wakeups");
    assert!(dear.iops > row.iops && row.iops > cheap.iops);
}

#[test]
fn the_transfer_path_caps_bandwidth() {
    // 64 KiB at 4.096 GB/s is 16 us on the shared path; with 8 requests in
    // flight the path, not the 10 us media latency, is the bottleneck:
    // 1e9 / 16000 = 62500 IOPS.
    let mut w = qd1();
    w.bs = 64 * 1024;
    w.iodepth = 8;
    let p = params(PolicyKind::Fixed, &[("poll-max-ns", "1000000")]);
    let row = simulate(&tiny(), &w, &p, 1).unwrap();
    close(row.iops, 62500.0, 20.0, "iops");
    close(row.mb_per_s, 62500.0 * 65536.0 / 1e6, 2.0, "mb/s");
}

#[test]
fn qemu_on_a_steady_device_grows_to_the_gaps_it_sees() {
    // QEMU's rule on this cycle: the device gap (11.7 us from the end of
    // submission processing) fits under poll-max-ns 32768, so after
    // 4000 -> 8000 -> 16000 the window covers every gap and stays: no
    // wake-ups in the measured interval, the cycle of the polling case.
    let row = simulate(&tiny(), &qd1(), &Params::defaults(PolicyKind::Qemu), 1).unwrap();
    assert_iops(row.iops, 14540.0);
    close(row.wakeups_per_s.unwrap(), 0.0, 0.0, "wakeups");
    close(row.window_mean_ns.unwrap(), 16000.0, 0.0, "window");
    assert_eq!(row.abrupt_resets.unwrap(), 0);
}

#[test]
fn a_slow_request_does_not_hold_up_the_ones_behind_it() {
    // 1% of requests take 10 ms. If the transfer path served requests in
    // submission order, each slow one would stall every request behind it
    // for 10 ms: at most about 100 requests per 10 ms, 10000 IOPS. Served
    // in the order their media access ends, the 16 slots keep flowing:
    // each slot averages 0.99 x ~15 us + 0.01 x 10 ms = ~115 us per
    // request, about 16 / 115 us = 139000 IOPS.
    let text = TINY
        .replace(
            r#"read_latency = { kind = "fixed", ns = 10000 }"#,
            r#"read_latency = { kind = "bimodal", low_median_ns = 10000, high_median_ns = 10000000, high_frac = 0.01, sigma = 0.0 }"#,
        )
        .replace("parallelism = 4", "parallelism = 16");
    let preset = Preset::from_toml(&text, "tiny-bimodal").unwrap();
    let mut w = qd1();
    w.iodepth = 16;
    w.duration_ms = 200;
    let p = params(PolicyKind::Fixed, &[("poll-max-ns", "1000000")]);
    let row = simulate(&preset, &w, &p, 1).unwrap();
    assert!(row.iops > 100_000.0, "iops {}", row.iops);
}

#[test]
fn a_sharing_device_adds_latency_per_request_it_holds() {
    let sharing = |per_inflight_ns: u64| {
        let mut p = tiny();
        p.device.parallelism = 1024;
        p.device.latency_per_inflight_ns = per_inflight_ns;
        p
    };
    let off = Params::defaults(PolicyKind::Off);
    // At queue depth 1 the device never holds another request: the cycle
    // of `never_polling_pays_two_wakeups_and_a_kick_per_io`.
    let row = simulate(&sharing(5_000), &qd1(), &off, 1).unwrap();
    assert_iops(row.iops, 19100.0);
    // At depth 4 every request but the first of a burst finds others in
    // the device: slower than without sharing, and each I/O pays at most
    // 3 x 5 us more.
    let qd4 = Workload {
        iodepth: 4,
        ..qd1()
    };
    let alone = simulate(&sharing(0), &qd4, &off, 1).unwrap();
    let shared = simulate(&sharing(5_000), &qd4, &off, 1).unwrap();
    let extra_us = shared.lat_mean_us - alone.lat_mean_us;
    assert!(
        shared.iops < 0.95 * alone.iops && extra_us > 4.0 && extra_us <= 15.0,
        "iops {} -> {}, mean latency +{extra_us} us",
        alone.iops,
        shared.iops
    );
    // Not written unless set: embedded presets keep their bytes.
    assert!(!tiny().to_toml().contains("latency_per_inflight_ns"));
    let text = sharing(5_000).to_toml();
    assert!(text.contains("latency_per_inflight_ns = 5000"), "{text}");
    assert_eq!(Preset::from_toml(&text, "again").unwrap(), sharing(5_000));
}

#[test]
fn a_submission_to_an_idle_disk_pays_its_notification() {
    let notify = |ns: u64| {
        let mut p = tiny();
        p.device.idle_notify_ns = ns;
        p
    };
    let off = Params::defaults(PolicyKind::Off);
    // At queue depth 1 every submission finds the disk idle: the cycle of
    // `never_polling_pays_two_wakeups_and_a_kick_per_io` plus 500 ns.
    let row = simulate(&notify(500), &qd1(), &off, 1).unwrap();
    assert_iops(row.iops, 19100.0 + 500.0);
    // With four jobs at depth 8 the disk is nearly never idle: the
    // notification costs next to nothing, far less than 500 ns per I/O.
    let busy = Workload {
        numjobs: 4,
        iodepth: 8,
        ..qd1()
    };
    let with = simulate(&notify(500), &busy, &off, 1).unwrap();
    let without = simulate(&notify(0), &busy, &off, 1).unwrap();
    let per_io_ns = |r: &pollwise_core::RunRow| r.iothread_cpu_pct * 1e7 / r.iops;
    let extra = per_io_ns(&with) - per_io_ns(&without);
    assert!(extra < 50.0, "{extra} ns of CPU per I/O more");
    assert!(!tiny().to_toml().contains("idle_notify_ns"));
}

#[test]
fn a_long_sleep_wakes_from_a_deeper_idle_state() {
    let with = |res: [u64; 2], exit: [u64; 2]| {
        let mut p = tiny();
        p.iothread.cstate_residency_ns = res.to_vec();
        p.iothread.cstate_exit_ns = exit.to_vec();
        p.validate().unwrap();
        p
    };
    let off = Params::defaults(PolicyKind::Off);
    // The cycle of `never_polling_pays_two_wakeups_and_a_kick_per_io` has
    // two sleeps: IL + IR + G = 2200 ns before the submission and L + T =
    // 11000 ns before the completion. With states entered after 2100 ns
    // (+300 ns) and 10000 ns (+5000 ns), the first sleep wakes 300 ns later
    // and the second 5000 ns later (the deepest state it reached):
    // 19100 + 300 + 5000 = 24400 ns.
    let deep = with([2100, 10_000], [300, 5000]);
    let row = simulate(&deep, &qd1(), &off, 1).unwrap();
    assert_iops(row.iops, 24_400.0);
    close(row.lat_mean_us, 23.4, 0.02, "lat_mean_us");
    // A clairvoyant policy that never polls sleeps from the start of each
    // iteration, and its sleeps reach the same states: the same cycle.
    let oracle = params(PolicyKind::ThresholdOracle, &[("oracle-threshold-ns", "0")]);
    assert_iops(simulate(&deep, &qd1(), &oracle, 1).unwrap().iops, 24_400.0);
    // States both sleeps fall short of change nothing: the 11000 ns sleep
    // is one ns short of the first.
    let shallow = with([11_001, 20_000], [300, 5000]);
    assert_iops(simulate(&shallow, &qd1(), &off, 1).unwrap().iops, 19_100.0);
    // A loop that never sleeps never pays them: polling through every gap
    // (a fixed 20 us window) keeps its cycle.
    let fixed = params(PolicyKind::Fixed, &[("poll-max-ns", "20000")]);
    assert_eq!(
        simulate(&deep, &qd1(), &fixed, 1).unwrap(),
        simulate(&tiny(), &qd1(), &fixed, 1).unwrap()
    );
    // The table is written only when it is set.
    assert!(!tiny().to_toml().contains("cstate"));
    assert!(deep.to_toml().contains("cstate_exit_ns = [300, 5000]"));
}

#[test]
fn a_doorbell_left_readable_by_polling_keeps_the_loop_awake() {
    // The guest thinks for G = 20000 ns, longer than a fixed 15000 ns
    // window; the device's L + T = 11000 ns is shorter. Without stale
    // doorbells the window runs out before each submission and the loop
    // sleeps:
    //   IL + IR + G + W + (I + C + SB + S) + (L + T) + P + (I + CP + N)
    //   500 + 700 + 20000 + 2000 + 1000 + 11000 + 20 + 600 = 35820 ns,
    // with a kick and a wake-up per I/O.
    let slow_guest = |stale: bool| {
        let mut p = tiny();
        p.guest.io_cpu_ns = 20_000;
        p.iothread.stale_eventfd = stale;
        p
    };
    let fixed = params(PolicyKind::Fixed, &[("poll-max-ns", "15000")]);
    let row = simulate(&slow_guest(false), &qd1(), &fixed, 1).unwrap();
    assert_iops(row.iops, 35_820.0);
    close(
        row.wakeups_per_s.unwrap(),
        row.iops,
        10.0,
        "wakeups without",
    );
    // With them, the completion found by polling leaves the AIO eventfd
    // readable, so when the window runs out 15000 ns after the completion's
    // iteration ends, ppoll() returns at once (P later, I of work) and the
    // loop polls a second window, which catches the submission at
    // 21200 + P:
    //   IL + IR + G + P + (I + SB + S) + (L + T) + P + (I + CP + N)
    //   500 + 700 + 20000 + 20 + 700 + 11000 + 20 + 600 = 33540 ns,
    // no kick, no wake-up, and the thread always busy.
    let row = simulate(&slow_guest(true), &qd1(), &fixed, 1).unwrap();
    assert_iops(row.iops, 33_540.0);
    close(row.wakeups_per_s.unwrap(), 0.0, 0.0, "wakeups with");
    close(row.kicks_per_s.unwrap(), 0.0, 0.0, "kicks with");
    close(row.iothread_cpu_pct, 100.0, 0.01, "cpu with");
    // The switch is written only when it is on.
    assert!(!slow_guest(false).to_toml().contains("stale_eventfd"));
    assert!(slow_guest(true).to_toml().contains("stale_eventfd = true"));
}

#[test]
fn a_send_that_wakes_the_guest_stalls_the_loop_off_its_cpu_clock() {
    // notify_guest_stall_ns = 3000: at qd1 every completion finds the
    // guest idle, so the never-polling cycle (19100 ns) grows by 3000 ns
    // and the loop's CPU per cycle stays 1900 ns.
    let text = TINY.replace(
        "notify_guest_ns = 200",
        "notify_guest_ns = 200\nnotify_guest_stall_ns = 3000",
    );
    let p = Preset::from_toml(&text, "tiny-stall").unwrap();
    let row = simulate(&p, &qd1(), &Params::defaults(PolicyKind::Off), 1).unwrap();
    assert_iops(row.iops, 22100.0);
    close(row.iothread_cpu_pct, 100.0 * 1900.0 / 22100.0, 0.05, "cpu");
}

#[test]
fn only_the_kick_that_wakes_the_loop_costs_a_wake_up() {
    // `kick_again_cpu_ns` prices a kick that finds the IOThread already on
    // its way. At queue depth 1 every kick wakes it: the price of a later
    // one changes nothing. At depth 8 the job's requests after the first
    // find the loop woken and kick again: cheaper kicks, more IOPS.
    let with_again = |ns: Option<u64>| {
        let mut p = tiny();
        p.guest.kick_again_cpu_ns = ns;
        p
    };
    let off = Params::defaults(PolicyKind::Off);
    let csv = |p: &Preset, w: &Workload| {
        let mut out = csv::Writer::from_writer(Vec::new());
        out.serialize(simulate(p, w, &off, 1).unwrap()).unwrap();
        out.into_inner().unwrap()
    };
    let base = tiny();
    let kick = base.guest.kick_cpu_ns;
    assert!(kick > 0, "the tiny preset's kick costs something");
    assert_eq!(csv(&base, &qd1()), csv(&with_again(Some(0)), &qd1()));
    let qd8 = Workload {
        iodepth: 8,
        ..qd1()
    };
    // Absent is the same as the waking kick's price.
    assert_eq!(csv(&base, &qd8), csv(&with_again(Some(kick)), &qd8));
    let costly = simulate(&with_again(Some(10 * kick)), &qd8, &off, 1).unwrap();
    let cheap = simulate(&with_again(Some(0)), &qd8, &off, 1).unwrap();
    assert!(
        cheap.iops > costly.iops * 1.05,
        "depth 8: {} IOPS with free repeat kicks, {} with costly ones",
        cheap.iops,
        costly.iops
    );
    // It round-trips through TOML and is range-checked as the others.
    let p = with_again(Some(123));
    assert_eq!(Preset::from_toml(&p.to_toml(), "again").unwrap(), p);
    let bad = p.to_toml().replace(
        "kick_again_cpu_ns = 123",
        "kick_again_cpu_ns = 1000000000000000",
    );
    let err = Preset::from_toml(&bad, "bad").unwrap_err().to_string();
    assert!(err.contains("guest.kick_again_cpu_ns"), "{err}");
}
