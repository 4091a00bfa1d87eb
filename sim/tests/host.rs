//! The shared-CPU host model (sim/src/host.rs): each mechanism on a tiny
//! preset with constant costs, hand-computed where the arithmetic is short.

use pollwise_core::{Params, PolicyKind, RunRow};
use pollwise_sim::host::CONTEXT_SWITCH_NS;
use pollwise_sim::{simulate, simulate_iterations, Preset, Rw, Workload};

mod tiny;
use tiny::TINY;

/// TINY on a host of `cpus` CPUs with constant wake-ups of `wake_ns`
/// (every percentile the same), `load` CPUs of other work, shared or not.
fn preset(cpus: u32, wake_ns: u64, load: f64, shared: bool) -> Preset {
    let text = format!(
        "{TINY}\n[host]\ncpus = {cpus}\nshared = {shared}\nbackground_load_cpus = {load:?}\n\
         steal_frac = 0.0\neventfd_wakeup_ns = [{w}, {w}, {w}, {w}]\n\
         channel_wakeup_ns = [{w}, {w}, {w}, {w}]\nio_submit_batch = [1]\n\
         io_submit_ns = [1000]\nio_submit_cpu_ns = [1000]\n",
        w = wake_ns
    );
    Preset::from_toml(&text, "tiny-host").unwrap()
}

fn workload(numjobs: u32, iodepth: u32) -> Workload {
    Workload {
        rw: Rw::RandRead,
        rwmixread: 50,
        bs: 4096,
        numjobs,
        iodepth,
        iothreads: 1,
        duration_ms: 100,
    }
}

fn params(kind: PolicyKind, pairs: &[(&str, &str)]) -> Params {
    Params::from_pairs(kind, pairs.iter().copied()).unwrap()
}

fn fixed(window_ns: u64) -> Params {
    params(
        PolicyKind::Fixed,
        &[("poll-max-ns", &window_ns.to_string())],
    )
}

fn run(p: &Preset, w: &Workload, params: &Params) -> RunRow {
    simulate(p, w, params, 1).unwrap()
}

/// Completions counted in a 100 ms window can be off by one cycle.
fn assert_iops(got: f64, cycle_ns: u64) {
    let want = 1e9 / cycle_ns as f64;
    assert!(
        (got - want).abs() <= 10.0 + 1e-9,
        "iops {got} but the hand-computed cycle of {cycle_ns} ns gives {want}"
    );
}

fn csv_bytes(row: &RunRow) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(row).unwrap();
    w.into_inner().unwrap()
}

#[test]
fn one_cpu_never_polling_runs_job_and_loop_in_turn() {
    // `off` on 1 CPU, wake-ups of 4 us. The job takes the completion (IR)
    // and issues (G); that wakes the loop, which becomes runnable 4 us
    // later, while the job kicks (K = 3 us) and blocks, so the CPU is free
    // by then. The loop submits (I + SB + S) and blocks; the device takes
    // L + T; the loop is woken (4 us), completes (I + CP + N) and wakes the
    // job (4 us, the channel's). The loop's wake-up CPU (C) is counted but
    // lies inside the measured wake-up, off the path.
    //   IR + G + max(K, 4000) + 700 + 11000 + 4000 + 600 + 4000
    let cycle = 700 + 1000 + 4000 + 700 + 11_000 + 4000 + 600 + 4000;
    let off = Params::defaults(PolicyKind::Off);
    let row = run(&preset(1, 4000, 0.0, true), &workload(1, 1), &off);
    assert_iops(row.iops, cycle);
    // The loop's CPU clock counts its two iterations per cycle and their
    // two wake-ups' CPU: 700 + C + 600 + C.
    let cpu = 100.0 * 1900.0 / cycle as f64;
    assert!((row.iothread_cpu_pct - cpu).abs() < 0.05, "{row:?}");

    // Wake-ups of 2 us: the loop is runnable during the kick and waits in
    // the run queue until the job blocks, then pays a context switch.
    let cycle = 700 + 1000 + 3000 + CONTEXT_SWITCH_NS + 700 + 11_000 + 2000 + 600 + 2000;
    let row = run(&preset(1, 2000, 0.0, true), &workload(1, 1), &off);
    assert_iops(row.iops, cycle);

    // Two CPUs: the loop runs beside the kicking job. That is the model
    // of dedicated CPUs (sim/tests/model.rs: 19100 ns) with the channel
    // wake-up of 2 us in place of the preset's 500 ns interrupt latency,
    // and the two wake-ups' CPU (2 x C) off the path.
    let cycle = 19_100 - 500 + 2000 - 600;
    let row = run(&preset(2, 2000, 0.0, true), &workload(1, 1), &off);
    assert_iops(row.iops, cycle);
}

#[test]
fn on_one_shared_cpu_a_longer_poll_window_costs_iops() {
    // A polling loop holds the only CPU for its whole window while the job
    // it would serve waits for it.
    let shared = preset(1, 4000, 0.0, true);
    let w = workload(1, 1);
    let iops: Vec<f64> = [2_000, 16_000, 64_000]
        .into_iter()
        .map(|win| run(&shared, &w, &fixed(win)).iops)
        .collect();
    assert!(
        iops[0] > iops[1] && iops[1] > 1.5 * iops[2],
        "IOPS with windows of 2, 16, 64 us: {iops:?}"
    );
    // The same windows on CPUs of their own cost nothing.
    let dedicated = preset(1, 4000, 0.0, false);
    let base = run(&dedicated, &w, &fixed(2_000)).iops;
    let long = run(&dedicated, &w, &fixed(64_000)).iops;
    assert!(long >= base, "dedicated: {base} -> {long}");
    // And with a CPU each (2 CPUs, 1 loop, 1 job) the long window is not
    // dearer either.
    let two = preset(2, 4000, 0.0, true);
    let base = run(&two, &w, &fixed(2_000)).iops;
    let long = run(&two, &w, &fixed(64_000)).iops;
    assert!(long >= base, "2 shared CPUs: {base} -> {long}");
}

#[test]
fn more_jobs_than_cpus_queue_for_them() {
    // Four jobs at qd8 on one CPU against four jobs on four CPUs: the
    // loop and the jobs wait for each other.
    let w = workload(4, 8);
    let qemu = Params::defaults(PolicyKind::Qemu);
    let one = run(&preset(1, 4000, 0.0, true), &w, &qemu);
    let five = run(&preset(5, 4000, 0.0, true), &w, &qemu);
    assert!(
        one.iops < 0.8 * five.iops,
        "1 CPU {} vs 5 CPUs {} IOPS",
        one.iops,
        five.iops
    );
    // A loop on one CPU shared with four jobs cannot get all of it.
    assert!(one.iothread_cpu_pct < 90.0, "{}", one.iothread_cpu_pct);
}

#[test]
fn other_load_stretches_cpu_work_and_the_cpu_clock_counts_less() {
    let off = Params::defaults(PolicyKind::Off);
    let w = workload(1, 1);
    let idle = run(&preset(2, 2000, 0.0, true), &w, &off);
    let busy = run(&preset(2, 2000, 2.0, true), &w, &off);
    // 2 CPUs of other load on 2 CPUs: each ns of CPU work takes 2 ns.
    // The cycle of 20000 ns has 700 + 1000 + 700 + 600 = 3000 ns of CPU
    // work on its path (the kick runs beside the loop's submission).
    assert_iops(busy.iops, 20_000 + 3000);
    assert_iops(idle.iops, 20_000);
    // The loop holds its CPU twice as long, and its clock counts half.
    let per_io = |r: &RunRow| r.iothread_cpu_pct / r.iops;
    assert!(
        (per_io(&busy) / per_io(&idle) - 1.0).abs() < 0.01,
        "CPU per I/O: idle {} busy {}",
        per_io(&idle),
        per_io(&busy)
    );
}

#[test]
fn slower_wakeups_cost_a_blocking_loop_more_than_a_polling_one() {
    let w = workload(1, 1);
    let (off, fixed) = (Params::defaults(PolicyKind::Off), fixed(32_000));
    let fast = preset(2, 2000, 0.0, true);
    let slow = preset(2, 20_000, 0.0, true);
    let off_loss = run(&fast, &w, &off).iops / run(&slow, &w, &off).iops;
    let fixed_loss = run(&fast, &w, &fixed).iops / run(&slow, &w, &fixed).iops;
    assert!(
        off_loss > 1.5 && fixed_loss < off_loss,
        "IOPS lost to slow wake-ups: off x{off_loss}, fixed x{fixed_loss}"
    );
}

#[test]
fn wakeups_are_drawn_from_the_run_seed() {
    let text = |shared: bool| {
        let mut p = preset(2, 0, 0.5, shared);
        let h = p.host.as_mut().unwrap();
        h.eventfd_wakeup_ns = [2_000, 4_000, 9_000, 40_000];
        h.channel_wakeup_ns = [3_000, 5_000, 8_000, 30_000];
        p
    };
    let p = text(true);
    let w = workload(4, 8);
    for kind in PolicyKind::ALL {
        let params = Params::defaults(kind);
        let a = simulate(&p, &w, &params, 7).unwrap();
        let b = simulate(&p, &w, &params, 7).unwrap();
        assert_eq!(csv_bytes(&a), csv_bytes(&b), "{kind}");
    }
    let qemu = Params::defaults(PolicyKind::Qemu);
    let a = simulate(&p, &w, &qemu, 1).unwrap();
    let b = simulate(&p, &w, &qemu, 2).unwrap();
    assert_ne!(a.iops, b.iops, "the seed changes the wake-ups");
}

#[test]
fn a_host_section_without_shared_changes_nothing() {
    for name in Preset::names() {
        let plain = Preset::load(name).unwrap();
        let mut with = plain.clone();
        with.host = preset(2, 4000, 1.0, false).host;
        assert!(!with.host.as_ref().unwrap().shared);
        for w in plain.matrix.workloads().iter().take(4) {
            let w = Workload {
                duration_ms: 20,
                ..w.clone()
            };
            for kind in PolicyKind::ALL {
                let p = Params::defaults(kind);
                assert_eq!(
                    csv_bytes(&simulate(&plain, &w, &p, 3).unwrap()),
                    csv_bytes(&simulate(&with, &w, &p, 3).unwrap()),
                    "{name} {kind}"
                );
            }
        }
        // The same section with shared = true does change the run.
        with.host.as_mut().unwrap().shared = true;
        let w = Workload {
            duration_ms: 20,
            ..plain.matrix.workloads()[0].clone()
        };
        let q = Params::defaults(PolicyKind::Qemu);
        assert_ne!(
            simulate(&plain, &w, &q, 3).unwrap(),
            simulate(&with, &w, &q, 3).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn shared_defaults_to_off_and_round_trips() {
    let p = preset(2, 4000, 0.0, false);
    let text = p.to_toml();
    assert!(!text.contains("shared"), "false is not written: {text}");
    let p = preset(2, 4000, 0.0, true);
    let text = p.to_toml();
    assert!(text.contains("shared = true"), "{text}");
    assert_eq!(Preset::from_toml(&text, "again").unwrap(), p);
}

#[test]
fn a_wakeup_after_a_short_idle_is_drawn_from_the_short_row() {
    // Two CPUs, `off`, one job at qd1: each thread keeps its own CPU, and
    // each CPU sleeps less than the 19 us cycle between wake-ups.
    let w = workload(1, 1);
    let off = Params::defaults(PolicyKind::Off);
    let table = |long_after_ns: u64| {
        let mut p = preset(2, 40_000, 0.0, true);
        let h = p.host.as_mut().unwrap();
        h.wakeup_idle_ns = vec![long_after_ns, long_after_ns + 1];
        h.eventfd_wakeup_by_idle_ns = vec![[2_000; 4], [40_000; 4]];
        h.channel_wakeup_by_idle_ns = vec![[2_000; 4], [40_000; 4]];
        p
    };
    // Slow wake-ups only after 100 us idle: every wake-up is the 2 us
    // one, the cycle of constant 2 us wake-ups (see above).
    let short = run(&table(100_000), &w, &off);
    assert_iops(short.iops, 19_100 - 500 + 2000 - 600);
    // Slow after 1 us: every wake-up is the 40 us one.
    let long = run(&table(1_000), &w, &off);
    assert_iops(long.iops, 19_100 - 500 + 40_000 - 600 + 2 * 38_000);
}

/// `preset(2, cross_ns, ...)` on a host that packs wake-ups by a thread
/// onto its waker's CPU with `share` whatever the waker does next, at
/// `same_ns`, and wakes the loop by the device's interrupt in `irq_ns`.
fn packing(cross_ns: u64, share: f64, same_ns: u64, irq_ns: u64) -> Preset {
    packing_by_run_on(cross_ns, &[(0, share)], same_ns, irq_ns)
}

/// [`packing`] with a share per run-on time of the waker: (ns, share).
fn packing_by_run_on(cross_ns: u64, curve: &[(u64, f64)], same_ns: u64, irq_ns: u64) -> Preset {
    let mut p = preset(2, cross_ns, 0.0, true);
    let run_on: Vec<u64> = curve.iter().map(|c| c.0).collect();
    let share: Vec<f64> = curve.iter().map(|c| c.1).collect();
    let extra = format!(
        "irq_wakeup_ns = [{irq_ns}, {irq_ns}, {irq_ns}, {irq_ns}]\n\n[host.packing]\n\
         run_on_ns = {run_on:?}\nshare = {share:?}\n\
         eventfd_wakeup_ns = [{same_ns}, {same_ns}, {same_ns}, {same_ns}]\n\
         channel_wakeup_ns = [{same_ns}, {same_ns}, {same_ns}, {same_ns}]\n"
    );
    let text = format!("{}{extra}", p.to_toml());
    p = Preset::from_toml(&text, "tiny-packing").unwrap();
    p
}

#[test]
fn a_packed_wakeup_lands_on_the_wakers_cpu_at_the_same_cpu_cost() {
    // `off`, one job at qd1 on two CPUs. Every wake-up by a thread is
    // packed (share 1): the job woken by the loop takes the loop's CPU,
    // idle since it blocked, 2 us later; the loop woken by the job runs
    // on the job's CPU once the job has yielded it, after its kick's
    // write (K = 3 us: TINY has no cheaper ring that wakes nobody), 2 us
    // later. The loop woken by the completion takes the
    // interrupt's 3 us. None pays the 40 us of a wake-up across CPUs:
    //   IR + G + K + 2000 + 700 + 11000 + 3000 + 600 + 2000
    let w = workload(1, 1);
    let off = Params::defaults(PolicyKind::Off);
    let packed = run(&packing(40_000, 1.0, 2_000, 3_000), &w, &off);
    assert_iops(
        packed.iops,
        700 + 1000 + 3000 + 2000 + 700 + 11_000 + 3000 + 600 + 2000,
    );
    // Never packed: both wake-ups by a thread cross CPUs at 40 us.
    let apart = run(&packing(40_000, 0.0, 2_000, 3_000), &w, &off);
    assert_iops(
        apart.iops,
        700 + 1000 + 40_000 + 700 + 11_000 + 3000 + 600 + 40_000,
    );
}

#[test]
fn a_thread_packed_onto_a_polling_loops_cpu_runs_when_the_loop_yields_it() {
    // The kernel pulls a woken thread onto its waker's CPU when that CPU
    // goes idle: a job packed onto a polling loop's CPU (share 1) runs
    // only once the loop's window is over and it sleeps, so each request
    // waits the whole window the loop polls after its send (it cannot
    // find the job's next request, which the job has not made yet). Both
    // windows catch the completion (11 us after the submission), so the
    // cycles differ by the windows' difference, 30 us.
    let w = workload(1, 1);
    let packed = packing(40_000, 1.0, 2_000, 3_000);
    let short = run(&packed, &w, &fixed(15_000));
    let long = run(&packed, &w, &fixed(45_000));
    let cycle = |iops: f64| 1e9 / iops;
    let grew = cycle(long.iops) - cycle(short.iops);
    assert!((grew - 30_000.0).abs() < 1_500.0, "cycle grew by {grew} ns");
    // Never packed, the job crosses CPUs at 40 us whatever the window,
    // and the 45 us window finds its request: the cycle does not grow
    // by the window.
    let apart = packing(40_000, 0.0, 2_000, 3_000);
    let (short, long) = (
        run(&apart, &w, &fixed(15_000)),
        run(&apart, &w, &fixed(45_000)),
    );
    let grew = cycle(long.iops) - cycle(short.iops);
    assert!(grew < 15_000.0, "cycle grew by {grew} ns without packing");
}

#[test]
fn a_packing_share_outside_0_to_1_is_refused_with_the_range() {
    let p = packing(40_000, 1.0, 2_000, 3_000);
    let text = p.to_toml().replace("share = [1.0]", "share = [1.5]");
    let err = Preset::from_toml(&text, "bad").unwrap_err().to_string();
    assert!(
        err.contains("packing.share has 1.5") && err.contains("0 ..= 1"),
        "{err}"
    );
    let text = p.to_toml().replace("share = [1.0]", "share = [1.0, 0.5]");
    let err = Preset::from_toml(&text, "bad").unwrap_err().to_string();
    assert!(err.contains("as many shares as"), "{err}");
}

#[test]
fn an_interrupts_sleep_costing_more_than_a_second_is_refused() {
    let p = packing(40_000, 1.0, 2_000, 3_000);
    let text = p.to_toml().replace(
        "irq_wakeup_ns =",
        "irq_wakeup_cpu_ns = 2000000000\nirq_wakeup_ns =",
    );
    let err = Preset::from_toml(&text, "bad").unwrap_err().to_string();
    assert!(
        err.contains("irq_wakeup_cpu_ns: 2000000000") && err.contains("at most 1 s"),
        "{err}"
    );
    // The same at 17 us is taken, and costs the loop CPU: every sleep of
    // a loop that never polls ends with a completion or a job's request.
    let ok = text.replace(
        "irq_wakeup_cpu_ns = 2000000000",
        "irq_wakeup_cpu_ns = 17000",
    );
    let with = Preset::from_toml(&ok, "ok").unwrap();
    let w = workload(1, 1);
    let off = Params::defaults(PolicyKind::Off);
    let (a, b) = (run(&p, &w, &off), run(&with, &w, &off));
    assert!(
        b.iothread_cpu_pct > a.iothread_cpu_pct + 1.0 && b.iops == a.iops,
        "{} -> {} CPU, {} -> {} IOPS",
        a.iothread_cpu_pct,
        b.iothread_cpu_pct,
        a.iops,
        b.iops
    );
}

#[test]
fn the_first_submission_after_a_sleep_costs_what_was_measured_for_its_idle_cpu() {
    // The cycle of `a_wakeup_after_a_short_idle_is_drawn_from_the_short_row`
    // with slow wake-ups after 1 us idle: every CPU idles longer than that
    // between wake-ups, so each request's submission, made right after
    // the loop woke, costs the curve's last point on top, in wall time (it
    // is on the request's path) and CPU; the completion's iteration
    // submits nothing and pays nothing.
    let w = workload(1, 1);
    let off = Params::defaults(PolicyKind::Off);
    let table = |extra: [u64; 2]| {
        let mut p = preset(2, 40_000, 0.0, true);
        let h = p.host.as_mut().unwrap();
        h.wakeup_idle_ns = vec![1_000, 1_001];
        h.eventfd_wakeup_by_idle_ns = vec![[2_000; 4], [40_000; 4]];
        h.channel_wakeup_by_idle_ns = vec![[2_000; 4], [40_000; 4]];
        if extra != [0, 0] {
            h.submit_after_idle_ns = extra.to_vec();
        }
        Preset::from_toml(&p.to_toml(), "after-idle").unwrap()
    };
    let cycle = 19_100 - 500 + 40_000 - 600 + 2 * 38_000;
    let (a, b) = (
        run(&table([0, 0]), &w, &off),
        run(&table([3_000, 7_000]), &w, &off),
    );
    assert_iops(a.iops, cycle);
    assert_iops(b.iops, cycle + 7_000);
    let cpu_pts = b.iothread_cpu_pct - a.iothread_cpu_pct;
    let expected = b.iops * 7_000.0 / 1e9 * 100.0;
    assert!(
        (cpu_pts - expected).abs() < 0.1 * expected,
        "CPU rose {cpu_pts} points, expected {expected}"
    );
    // A loop that never sleeps never pays it: the same run to the byte
    // (a host that never packs, so the job is not held behind the window).
    let poll = fixed(1_000_000);
    let (c, d) = (
        run(&table([0, 0]), &w, &poll),
        run(&table([3_000, 7_000]), &w, &poll),
    );
    assert!(c.iops > 10_000.0, "{}", c.iops);
    assert_eq!(csv_bytes(&c), csv_bytes(&d));
    // One value per idle time, each at most a second.
    assert_refused(
        &table([3_000, 7_000]),
        "submit_after_idle_ns = [3000, 7000]",
        &["[5000]", "[5000, 2000000000]"],
        &["submit_after_idle_ns has", "one per wakeup_idle_ns (2)"],
    );
}

/// `p` with `key = value` (as `p` writes it) replaced by `key = bad` for
/// each of `bads` is refused, the error naming each of `expect`.
fn assert_refused(p: &Preset, key_value: &str, bads: &[&str], expect: &[&str]) {
    let key = key_value.split(" = ").next().unwrap();
    for bad in bads {
        let text = p.to_toml().replace(key_value, &format!("{key} = {bad}"));
        assert_ne!(text, p.to_toml(), "{key_value} is not in the preset");
        let err = Preset::from_toml(&text, "bad").unwrap_err().to_string();
        assert!(expect.iter().all(|e| err.contains(e)), "{bad}: {err}");
    }
}

#[test]
fn the_interrupts_wake_up_is_drawn_for_the_cpu_the_loop_sleeps_on() {
    // `off`, one job at qd1 on two CPUs, the completion waking the loop:
    // the same row on both CPUs is the flat draw to the byte.
    let w = workload(1, 1);
    let off = Params::defaults(PolicyKind::Off);
    let with = |flat: u64, rows: Option<[u64; 2]>| {
        let p = packing(40_000, 0.0, 2_000, flat);
        let text = match rows {
            Some([a, b]) => p.to_toml().replace(
                "irq_wakeup_ns =",
                &format!("irq_wakeup_by_cpu_ns = [[{a}, {a}, {a}, {a}], [{b}, {b}, {b}, {b}]]\nirq_wakeup_ns ="),
            ),
            None => p.to_toml(),
        };
        Preset::from_toml(&text, "irq-by-cpu").unwrap()
    };
    let flat = run(&with(20_000, None), &w, &off);
    let same = run(&with(3_000, Some([20_000, 20_000])), &w, &off);
    assert_eq!(csv_bytes(&flat), csv_bytes(&same));
    // Nothing packs here, so each thread keeps the CPU it started on: the
    // loop (thread 0) sleeps on CPU 0 throughout, and its row is the draw,
    // whatever the other CPU's and the flat one
    let (fast, slow) = (
        run(&with(2_000, None), &w, &off),
        run(&with(60_000, None), &w, &off),
    );
    assert!(
        slow.iops < 0.8 * fast.iops,
        "{} against {}",
        slow.iops,
        fast.iops
    );
    let on_fast = run(&with(60_000, Some([2_000, 60_000])), &w, &off);
    let on_slow = run(&with(2_000, Some([60_000, 2_000])), &w, &off);
    // (within 1%: a wake-up before the loop first held a CPU is drawn flat)
    for (got, want) in [(&on_fast, &fast), (&on_slow, &slow)] {
        assert!(
            (got.iops / want.iops - 1.0).abs() < 0.01,
            "{} against {}",
            got.iops,
            want.iops
        );
    }
    // One row per CPU, ordered percentiles.
    assert_refused(
        &with(20_000, Some([1, 1])),
        "irq_wakeup_by_cpu_ns = [[1, 1, 1, 1], [1, 1, 1, 1]]",
        &["[[1, 2, 3, 4]]", "[[1, 2, 3, 4], [4, 3, 2, 1]]"],
        &["irq_wakeup_by_cpu_ns has", "one per CPU (2)"],
    );
}

#[test]
fn a_waker_that_runs_on_keeps_its_cpu_to_itself() {
    // Packed only when the waker blocks at once: a loop that sleeps after
    // its send packs its job (2 us), one that polls a long window does not
    // (the job crosses CPUs at 40 us), so the polling loop's job is slower
    // to answer than with a constant share of 1.
    let w = workload(1, 1);
    let poll = fixed(1_000_000);
    let by_run_on = packing_by_run_on(40_000, &[(0, 1.0), (10_000, 0.0)], 2_000, 3_000);
    let always = packing(40_000, 1.0, 2_000, 3_000);
    let (ours, packed) = (run(&by_run_on, &w, &poll), run(&always, &w, &poll));
    // Packed anyway, the job would wait for the 1 ms window to end.
    assert!(packed.iops < 1_000.0, "{}", packed.iops);
    assert!(
        ours.iops > 10.0 * packed.iops,
        "{} against {}",
        ours.iops,
        packed.iops
    );
}

#[test]
fn a_thread_that_runs_long_when_woken_goes_to_an_idle_cpu_instead() {
    // `off`, one job at qd1 on two CPUs. Packed at every wake-up (share 1
    // whatever the run-on), the cycle is the packed one. With the share
    // falling from 1 at 0 to 0 at 10 us, the job's kick (3 us) would pack
    // the loop it wakes 70% of the time by the waker's run-on alone; but
    // the loop runs 13 us and more each time it is woken (its submission
    // alone is 11 us), so with the other CPU idle it goes there, and its
    // wake-up crosses CPUs at 40 us instead of 5 us (the job's kick, then
    // 2 us): most cycles pay the 35 us difference, not 30% of them.
    let w = workload(1, 1);
    let off = Params::defaults(PolicyKind::Off);
    let packed_cycle = 700 + 1000 + 3000 + 2000 + 700 + 11_000 + 3000 + 600 + 2000;
    let always = run(&packing(40_000, 1.0, 2_000, 3_000), &w, &off).iops;
    let want = 1e9 / f64::from(packed_cycle);
    assert!(
        (always / want - 1.0).abs() < 0.01,
        "iops {always}, want {want}"
    );
    let curve = packing_by_run_on(40_000, &[(0, 1.0), (10_000, 0.0)], 2_000, 3_000);
    let got = run(&curve, &w, &off).iops;
    let crossed = (1e9 / got - f64::from(packed_cycle)) / 35_000.0;
    assert!(
        (0.6..=1.05).contains(&crossed),
        "{crossed} of the cycles crossed CPUs"
    );
}

#[test]
fn the_scheduler_record_round_trips_changes_nothing_and_refuses_what_is_not_a_setting() {
    let p = preset(2, 20_000, 0.0, true);
    let mut with = p.clone();
    with.host.as_mut().unwrap().scheduler = vec![
        "kernel=6.1.0".to_string(),
        "kernel.sched_vcpu_pack=15".to_string(),
    ];
    let text = with.to_toml();
    assert!(text.contains("kernel.sched_vcpu_pack=15"), "{text}");
    let back = Preset::from_toml(&text, "tiny-host").unwrap();
    assert_eq!(back.host, with.host);
    // A record only: the run's bytes are the same without it.
    let (w, params) = (workload(1, 1), fixed(2_000));
    assert_eq!(
        csv_bytes(&run(&back, &w, &params)),
        csv_bytes(&run(&p, &w, &params))
    );
    for (bad, why) in [
        ("\"no equals sign\"", "expected name=value"),
        ("\"=value without a name\"", "expected name=value"),
        ("\"kernel=a\\u0007bell\"", "without control characters"),
    ] {
        let text = text.replace("\"kernel=6.1.0\"", bad);
        let err = Preset::from_toml(&text, "bad").unwrap_err().to_string();
        assert!(
            err.contains("host.scheduler has") && err.contains(why),
            "{bad}: {err}"
        );
    }
    let many: Vec<String> = (0..=pollwise_sim::MAX_SCHEDULER_FACTS)
        .map(|i| format!("\"kernel.sched_x{i}=1\""))
        .collect();
    let text = text.replace("\"kernel=6.1.0\"", &many.join(", "));
    let err = Preset::from_toml(&text, "bad").unwrap_err().to_string();
    assert!(err.contains("at most 64"), "{err}");
}

#[test]
fn a_doorbell_wake_up_records_whether_it_ran_on_the_ringing_jobs_cpu() {
    // `off`, one job at qd1 on two CPUs: every iteration after a job's
    // kick is woken by the doorbell. Packed (share 1), the loop runs on
    // the job's CPU; never packed, on the other one; with CPUs of their
    // own (no shared host) nobody knows.
    let w = workload(1, 1);
    let off = Params::defaults(PolicyKind::Off);
    let shares = |p: &Preset| -> (usize, usize) {
        let (_, log) = pollwise_sim::simulate_iterations(p, &w, &off, 1).unwrap();
        let same = log.iter().filter(|r| r.on_ringer_cpu == Some(true)).count();
        let other = log
            .iter()
            .filter(|r| r.on_ringer_cpu == Some(false))
            .count();
        // Only an iteration woken by the doorbell says.
        assert!(log
            .iter()
            .all(|r| r.on_ringer_cpu.is_none() || r.wake_ns.is_some()));
        (same, other)
    };
    let (same, other) = shares(&packing(40_000, 1.0, 2_000, 3_000));
    assert!(same > 100 && other == 0, "packed: {same} on, {other} off");
    let (same, other) = shares(&packing(40_000, 0.0, 2_000, 3_000));
    assert!(same == 0 && other > 100, "apart: {same} on, {other} off");
    let (same, other) = shares(&preset(2, 40_000, 0.0, false));
    assert_eq!((same, other), (0, 0), "dedicated CPUs");
}

#[test]
fn a_job_woken_by_completions_is_counted_with_where_it_ran() {
    // The other direction: every completion wakes the job at qd1. Packed,
    // it runs on the loop's CPU each time; never packed, never; with CPUs
    // of their own nothing is counted.
    let w = workload(1, 1);
    let off = Params::defaults(PolicyKind::Off);
    let wakes = |p: &Preset| {
        let (row, _, wakes) = pollwise_sim::simulate_explained(p, &w, &off, 1).unwrap();
        // About one wake-up per completion in the 100 ms.
        let ios = row.iops / 10.0;
        assert!(
            wakes.woken == 0 || (wakes.woken as f64 - ios).abs() <= 2.0,
            "{} wake-ups for {ios} completions",
            wakes.woken
        );
        (wakes.woken, wakes.on_loop_cpu)
    };
    let (woken, on) = wakes(&packing(40_000, 1.0, 2_000, 3_000));
    assert!(woken > 100 && on == woken, "packed: {on} of {woken}");
    let (woken, on) = wakes(&packing(40_000, 0.0, 2_000, 3_000));
    assert!(woken > 100 && on == 0, "apart: {on} of {woken}");
    assert_eq!(wakes(&preset(2, 40_000, 0.0, false)), (0, 0));
    // Without the log nothing changes: the same row either way.
    let p = packing(40_000, 0.5, 2_000, 3_000);
    let (row, _, _) = pollwise_sim::simulate_explained(&p, &w, &off, 1).unwrap();
    assert_eq!(csv_bytes(&row), csv_bytes(&run(&p, &w, &off)));
}

#[test]
fn only_a_job_woken_on_the_loops_cpu_stalls_the_send() {
    // The send's stall is the woken job running on the sender's CPU. With
    // every wake-up across CPUs (share 0) it costs the loop nothing; with
    // every one packed (share 1) each completion's send waits for it.
    let w = workload(1, 1);
    let off = Params::defaults(PolicyKind::Off);
    let with_stall = |share: f64, stall: u64| {
        let mut p = packing(40_000, share, 2_000, 3_000);
        p.iothread.notify_guest_stall_ns = stall;
        run(&p, &w, &off)
    };
    assert_eq!(
        csv_bytes(&with_stall(0.0, 0)),
        csv_bytes(&with_stall(0.0, 20_000)),
        "a job woken on the other CPU stalled the send"
    );
    let (free, stalled) = (with_stall(1.0, 0), with_stall(1.0, 20_000));
    assert!(
        stalled.iops < free.iops * 0.8,
        "packed: {} IOPS with a 20 us stall per send, {} without",
        stalled.iops,
        free.iops
    );
}

#[test]
fn a_loop_packed_onto_its_jobs_cpu_takes_the_jobs_whole_burst() {
    // `off`, one job at qd4 on two CPUs, every wake-up packed (share 1), a
    // ring that wakes nobody costing 100 ns. The job woken by the
    // completions issues its four requests one by one (G = 1 us each); the
    // first push rings the sleeping loop, which is packed onto the job's
    // CPU and runs only once the job yields it: after the other three
    // pushes, each ringing again (the loop has not run to turn
    // notifications off). So every submission takes the whole burst, as
    // the device's loop does when its job shares its CPU.
    let text = packing(40_000, 1.0, 2_000, 3_000).to_toml().replace(
        "kick_cpu_ns = 3000\n",
        "kick_cpu_ns = 3000\nkick_again_cpu_ns = 100\n",
    );
    assert!(text.contains("kick_again_cpu_ns = 100"), "{text}");
    let p = Preset::from_toml(&text, "tiny-packing-burst").unwrap();
    let off = Params::defaults(PolicyKind::Off);
    let (_, log) = simulate_iterations(&p, &workload(1, 4), &off, 1).unwrap();
    let submits: Vec<u32> = log
        .iter()
        .filter(|r| r.submitted > 0)
        .map(|r| r.submitted)
        .collect();
    assert!(submits.len() > 100, "{} submissions", submits.len());
    let whole = submits.iter().filter(|&&n| n == 4).count();
    assert_eq!(whole, submits.len(), "requests per submission: {submits:?}");
}

#[test]
fn a_wake_up_across_cpus_costs_the_waker_the_measured_send_and_starts_with_it() {
    // `off`, one job at qd1, never packed (share 0): the loop's send wakes
    // the job on the other CPU. With the send across CPUs measured at
    // 20 us, the loop pays it instead of N = 200 ns, and the job's wake-up
    // starts with the send (its latency is measured from the send's
    // start), so the cycle loses the N that lay on the request's path:
    //   IR + G + 40000 + 700 + 11000 + 3000 + (I + CP) + 40000
    let w = workload(1, 1);
    let off = Params::defaults(PolicyKind::Off);
    let plain = packing(40_000, 0.0, 2_000, 3_000);
    let mut across = plain.clone();
    across.host.as_mut().unwrap().wake_across_send_ns = Some([25_000, 20_000]);
    let (before, after) = (run(&plain, &w, &off), run(&across, &w, &off));
    assert_iops(
        before.iops,
        700 + 1000 + 40_000 + 700 + 11_000 + 3000 + 600 + 40_000,
    );
    assert_iops(
        after.iops,
        700 + 1000 + 40_000 + 700 + 11_000 + 3000 + 400 + 40_000,
    );
    // Per request the loop's CPU grows by the send's 20 us less N.
    let per_io_ns = |r: &RunRow| r.iothread_cpu_pct / 100.0 * 1e9 / r.iops;
    let grew = per_io_ns(&after) - per_io_ns(&before);
    assert!(
        (grew - 19_800.0).abs() < 300.0,
        "loop CPU per request grew by {grew} ns"
    );
}

#[test]
fn scaling_the_wake_ups_moves_every_measured_wake_up_and_nothing_else() {
    let p = packing_by_run_on(40_000, &[(0, 0.5), (8_000, 0.25)], 2_000, 3_000);
    let s = p.wakeups_scaled(1.5);
    assert_eq!(
        s.iothread.wakeup_latency_ns,
        p.iothread.wakeup_latency_ns * 3 / 2
    );
    let (h, k) = (p.host.as_ref().unwrap(), s.host.as_ref().unwrap());
    let times = |q: [u64; 4]| q.map(|v| v * 3 / 2);
    assert_eq!(k.eventfd_wakeup_ns, times(h.eventfd_wakeup_ns));
    assert_eq!(k.channel_wakeup_ns, times(h.channel_wakeup_ns));
    assert_eq!(k.irq_wakeup_ns, h.irq_wakeup_ns.map(times));
    let (pk, sk) = (h.packing.as_ref().unwrap(), k.packing.as_ref().unwrap());
    assert_eq!(sk.eventfd_wakeup_ns, times(pk.eventfd_wakeup_ns));
    assert_eq!(sk.channel_wakeup_ns, times(pk.channel_wakeup_ns));
    // The share, the waker's costs and the device are left alone.
    assert_eq!(sk.share, pk.share);
    assert_eq!(s.iothread.wakeup_cpu_ns, p.iothread.wakeup_cpu_ns);
    assert_eq!(s.guest.kick_cpu_ns, p.guest.kick_cpu_ns);
    assert_eq!(s.device, p.device);
    // Factor 1 is the preset itself, to the byte of its runs.
    let (w, off) = (workload(1, 1), Params::defaults(PolicyKind::Off));
    assert_eq!(
        csv_bytes(&run(&p.wakeups_scaled(1.0), &w, &off)),
        csv_bytes(&run(&p, &w, &off))
    );
    // Slower wake-ups lie on `off`'s path: fewer IOPS.
    assert!(run(&s, &w, &off).iops < run(&p, &w, &off).iops);
}

#[test]
fn a_busy_or_wakee_share_that_does_not_match_the_run_on_times_is_refused() {
    let p = packing(40_000, 1.0, 2_000, 3_000).to_toml();
    for (line, says) in [
        (
            "busy_share = [0.5, 0.5]",
            "busy_share has 2 shares and run_on_ns 1",
        ),
        ("busy_share = [-0.5]", "packing.busy_share has -0.5"),
        (
            "wakee_share = [0.5, 0.5]",
            "wakee_share has 2 shares and run_on_ns 1",
        ),
        ("wakee_share = [1.5]", "packing.wakee_share has 1.5"),
    ] {
        let text = p.replace("share = [1.0]", &format!("share = [1.0]\n{line}"));
        let err = Preset::from_toml(&text, "bad").unwrap_err().to_string();
        assert!(err.contains(says), "{line}: {err}");
    }
    // Measured, it round-trips.
    let text = p.replace("share = [1.0]", "share = [1.0]\nbusy_share = [0.25]");
    let q = Preset::from_toml(&text, "busy").unwrap();
    assert_eq!(
        q.host
            .as_ref()
            .unwrap()
            .packing
            .as_ref()
            .unwrap()
            .busy_share,
        vec![0.25]
    );
    assert_eq!(Preset::from_toml(&q.to_toml(), "again").unwrap(), q);
}

#[test]
fn a_send_across_cpus_is_packed_by_the_share_drawn_as_it_begins() {
    // `off`, one job at qd1, the send across CPUs measured, a constant
    // share of 0.2. A job asleep on the loop's own CPU runs there again
    // (packed, or on its idle last CPU once the loop blocks). One asleep
    // on the other CPU is woken as the loop's send begins, while the loop
    // still runs; the kernel may still put it on the loop's CPU, which
    // the loop yields as it blocks right after, and does so in the share
    // for a window of 0: drawn as the send begins. Without that draw a
    // pair once apart stays apart (every send to a job apart crossed
    // CPUs): 20% of the jobs on the loop's CPU (2026-12-07, this seed);
    // with it, at least the share plus those asleep beside the loop.
    let w = workload(1, 1);
    let off = Params::defaults(PolicyKind::Off);
    let with_across = |share: f64| {
        let mut p = packing(40_000, share, 2_000, 3_000);
        p.host.as_mut().unwrap().wake_across_send_ns = Some([25_000, 20_000]);
        let (_, _, wakes) = pollwise_sim::simulate_explained(&p, &w, &off, 1).unwrap();
        (wakes.woken, wakes.on_loop_cpu)
    };
    let (woken, on) = with_across(0.2);
    let on_share = on as f64 / woken as f64;
    assert!(woken > 100 && on_share > 0.3, "packed: {on} of {woken}");
    let (woken, on) = with_across(0.0);
    assert!(woken > 100 && on == 0, "never packed: {on} of {woken}");
}

#[test]
fn the_woken_threads_own_run_is_priced_by_the_share_measured_for_it() {
    // The case of `a_thread_that_runs_long_when_woken_goes_to_an_idle_cpu_instead`
    // (the share 1 at 0 and 0 from 10 us; the loop runs 13 us and more per
    // wake-up), with the share by the woken thread's own run measured
    // apart: at 1 throughout, the loop is packed by its waker's run-on
    // alone (70% by the job's 3 us kick), so far fewer cycles cross CPUs
    // than with `share` standing in for it; at 0 throughout, none is
    // packed while a CPU is idle.
    let w = workload(1, 1);
    let off = Params::defaults(PolicyKind::Off);
    let packed_cycle = 700 + 1000 + 3000 + 2000 + 700 + 11_000 + 3000 + 600 + 2000;
    let curve = packing_by_run_on(40_000, &[(0, 1.0), (10_000, 0.0)], 2_000, 3_000);
    let crossed = |wakee: Option<&str>| {
        let text = curve.to_toml();
        let text = match wakee {
            Some(w) => text.replace(
                "share = [1.0, 0.0]",
                &format!("share = [1.0, 0.0]\nwakee_share = {w}"),
            ),
            None => text,
        };
        let p = Preset::from_toml(&text, "tiny-wakee").unwrap();
        assert_eq!(
            p.host
                .as_ref()
                .unwrap()
                .packing
                .as_ref()
                .unwrap()
                .wakee_share
                .is_empty(),
            wakee.is_none()
        );
        (1e9 / run(&p, &w, &off).iops - f64::from(packed_cycle)) / 35_000.0
    };
    let (standing_in, measured_1, measured_0) = (
        crossed(None),
        crossed(Some("[1.0, 1.0]")),
        crossed(Some("[0.0, 0.0]")),
    );
    assert!(
        standing_in > 0.6,
        "{standing_in} of the cycles crossed with share standing in"
    );
    assert!(
        measured_1 < 0.45,
        "{measured_1} of the cycles crossed with the woken thread's share 1"
    );
    assert!(
        measured_0 > standing_in,
        "{measured_0} crossed with 0, {standing_in} with share standing in"
    );
}
