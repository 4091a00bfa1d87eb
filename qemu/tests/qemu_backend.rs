//! The QEMU backend end to end: build the variants (incrementally, in the
//! cache), run the harness, check its rows, its window transitions against
//! pollwise's `qemu` policy, and that `poll-max-ns=0` never busy-polls.
//!
//! These need a QEMU build (about 10 minutes the first time on two cores,
//! seconds afterwards) and a filesystem with O_DIRECT for the scratch file
//! (`POLLWISE_QEMU_SCRATCH`, default /var/tmp). The one way to skip them is
//! `POLLWISE_SKIP_QEMU=1`; each skipped test says so on stderr.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use pollwise_core::{Params, PolicyKind, RunRow};
use pollwise_qemu::transitions::{check_qemu, parse_log};
use pollwise_qemu::{build, skip_requested, BuildOptions, RunSpec, SKIP_ENV};

/// Builds every variant once per test process; harness runs are serialised
/// so they do not share the two CPUs with each other.
fn cache() -> &'static PathBuf {
    static CACHE: OnceLock<PathBuf> = OnceLock::new();
    CACHE.get_or_init(|| build(&BuildOptions::default()).expect("qemu/build.sh failed"))
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn skip(test: &str) -> bool {
    if skip_requested() {
        eprintln!("SKIPPED {test}: {SKIP_ENV}=1");
        return true;
    }
    false
}

fn scratch_dir() -> PathBuf {
    std::env::var_os("POLLWISE_QEMU_SCRATCH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"))
}

fn spec(kind: PolicyKind, pairs: &[(&str, &str)]) -> RunSpec {
    let params = Params::from_pairs(kind, pairs.iter().copied()).unwrap();
    let mut s = RunSpec::new(params, scratch_dir());
    s.target = pollwise_qemu::Target::Scratch {
        dir: scratch_dir(),
        size: 64 << 20,
    };
    s.duration_ms = 1000;
    s.warmup_ms = 200;
    s
}

fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("pollwise-qemu-test-{}-{name}", std::process::id()))
}

fn sane(row: &RunRow) {
    assert_eq!(row.source, "qemu");
    assert_eq!(row.iothreads, 1);
    assert!(row.iops > 0.0, "no I/O completed: {row:?}");
    assert!(
        row.lat_p50_us.unwrap() > 0.0 && row.lat_p50_us.unwrap() <= row.lat_p99_us.unwrap(),
        "{row:?}"
    );
    assert!(
        row.iothread_cpu_pct > 0.0 && row.iothread_cpu_pct <= 101.0,
        "{row:?}"
    );
    assert!(row.window_zero_frac.unwrap() >= 0.0 && row.window_zero_frac.unwrap() <= 1.0);
}

#[test]
fn stock_transitions_are_pollwise_qemu_policy() {
    if skip("stock_transitions_are_pollwise_qemu_policy") {
        return;
    }
    let cache = cache();
    let _g = serial();
    for pairs in [vec![], vec![("poll-shrink", "2"), ("poll-max-ns", "16000")]] {
        let mut s = spec(PolicyKind::Qemu, &pairs);
        let trace = temp_file("stock.log");
        s.trace = Some(trace.clone());
        let row = pollwise_qemu::run(cache, &s).unwrap();
        sane(&row);
        let text = std::fs::read_to_string(&trace).unwrap();
        let _ = std::fs::remove_file(&trace);
        let log = parse_log(&text).unwrap();
        assert!(
            log.transitions.len() > 10,
            "too few transitions traced ({}) to check anything",
            log.transitions.len()
        );
        // Positive control for the off test: tracing works and sees the
        // busy-poll loop when the window is not 0.
        assert!(log.poll_loops > 0, "no run_poll_handlers_begin traced");
        let check = check_qemu(&log.transitions, &s.params).unwrap();
        eprintln!(
            "{}: {} of {} transitions match over {} handlers",
            s.params, check.matched, check.transitions, check.handlers
        );
        assert!(check.all_match(), "{:?}", check.mismatches);
    }
}

#[test]
fn poll_max_ns_zero_never_busy_polls() {
    if skip("poll_max_ns_zero_never_busy_polls") {
        return;
    }
    let cache = cache();
    let _g = serial();
    for (kind, pairs) in [
        (PolicyKind::Off, vec![]),
        (PolicyKind::Qemu, vec![("poll-max-ns", "0")]),
        (PolicyKind::Weighted, vec![("poll-max-ns", "0")]),
    ] {
        let mut s = spec(kind, &pairs);
        s.iodepth = 4;
        let trace = temp_file("off.log");
        s.trace = Some(trace.clone());
        let row = pollwise_qemu::run(cache, &s).unwrap();
        sane(&row);
        let text = std::fs::read_to_string(&trace).unwrap();
        let _ = std::fs::remove_file(&trace);
        let log = parse_log(&text).unwrap();
        assert_eq!(log.poll_loops, 0, "{kind}: run_poll_handlers entered");
        assert!(log.transitions.is_empty(), "{kind}: the window moved");
        assert_eq!(row.poll_cpu_pct.unwrap(), 0.0, "{kind}: {row:?}");
        assert_eq!(row.window_mean_ns.unwrap(), 0.0, "{kind}: {row:?}");
        assert!(
            row.kicks_per_s.unwrap() > 0.0,
            "{kind}: every request must kick"
        );
    }
}

#[test]
fn every_variant_runs_a_point() {
    if skip("every_variant_runs_a_point") {
        return;
    }
    let cache = cache();
    let _g = serial();
    for (kind, pairs) in [
        (PolicyKind::Qemu, vec![]),
        (PolicyKind::Weighted, vec![("poll-weight", "3")]),
        (PolicyKind::Pollwise, vec![]),
    ] {
        let mut s = spec(kind, &pairs);
        s.iodepth = 8;
        s.numjobs = 2;
        let row = pollwise_qemu::run(cache, &s).unwrap();
        sane(&row);
        assert_eq!(row.policy, kind.name());
        assert_eq!(row.params, s.params.to_string());
        assert_eq!((row.numjobs, row.iodepth), (2, 8));
    }
}

/// `--waits`: at qd1 with one job, every completion is seen in exactly one
/// row (handler 1), and an iteration whose only work was a completion
/// began with the one request in flight (a row of handler 0 alone may be a
/// doorbell left readable, read with nothing queued); every wait is
/// positive, and the waits, disjoint parts of the first IOThread's
/// measured time, sum to less than it.
#[test]
fn stock_waits_are_one_row_per_iteration_with_work() {
    if skip("stock_waits_are_one_row_per_iteration_with_work") {
        return;
    }
    let cache = cache();
    let _g = serial();
    let mut s = spec(PolicyKind::Qemu, &[]);
    let waits = temp_file("waits.csv");
    s.waits = Some(waits.clone());
    let row = pollwise_qemu::run(cache, &s).unwrap();
    sane(&row);
    let text = std::fs::read_to_string(&waits).unwrap();
    let _ = std::fs::remove_file(&waits);
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, ["block_ns", "handler", "in_flight", "how"]);
    let rows: Vec<(u64, String, u32, String)> = rd.deserialize().map(Result::unwrap).collect();
    let (mut completions, mut sum, mut max) = (0.0, 0u64, 0u64);
    for (i, (wait, handler, in_flight, how)) in rows.iter().enumerate() {
        assert!(*wait > 0, "row {i}: wait 0");
        assert!(how == "seen" || how == "doorbell", "row {i}: how '{how}'");
        assert!(*in_flight <= 1, "row {i}: {in_flight} in flight at qd1");
        match handler.as_str() {
            "1" => assert_eq!(*in_flight, 1, "row {i}: a completion's iteration"),
            "0" | "0;1" => {}
            other => panic!("row {i}: handlers '{other}' at qd1 with one job"),
        }
        if handler.ends_with('1') {
            completions += 1.0;
        }
        sum += wait;
        max = max.max(*wait);
    }
    let done = row.iops * s.duration_ms as f64 / 1000.0;
    assert!(
        (completions - done).abs() <= 0.01 * done + 2.0,
        "{completions} completion rows for {done:.0} completions"
    );
    // One iteration may have begun before the measured span.
    assert!(
        sum <= s.duration_ms * 1_000_000 + max,
        "waits sum to {sum} ns"
    );
    assert!(
        rows.iter().any(|r| r.3 == "doorbell"),
        "no wait ended at a kick"
    );
}

/// QEMU's own AIO unit tests, built and run in every variant by `build.sh
/// --check`: `test-aio` (27 cases), `test-aio-multithread` (6) and
/// `test-nested-aio-poll` (1, which hangs if a handler that has just become
/// ready never polls; the script gives each program a timeout, so a hang
/// fails instead of blocking).
#[test]
fn qemu_aio_unit_tests_pass_in_every_variant() {
    if skip("qemu_aio_unit_tests_pass_in_every_variant") {
        return;
    }
    let cache = cache();
    let _g = serial();
    let tests = [
        ("test-aio", 27),
        ("test-aio-multithread", 6),
        ("test-nested-aio-poll", 1),
    ];
    let variants = ["stock", "weighted", "pollwise"];
    let log = |v: &str, t: &str| cache.join("variants").join(v).join(format!("{t}.log"));
    // The script leaves one log per program; remove the old ones so a
    // result cannot come from an earlier run.
    for v in variants {
        for (t, _) in tests {
            let _ = std::fs::remove_file(log(v, t));
        }
    }
    build(&BuildOptions {
        cache: Some(cache.clone()),
        variants: variants.iter().map(|v| v.to_string()).collect(),
        check: true,
        ..BuildOptions::default()
    })
    .expect("a QEMU AIO unit test failed or hung (see the output above)");
    for v in variants {
        for (t, cases) in tests {
            let text = std::fs::read_to_string(log(v, t))
                .unwrap_or_else(|e| panic!("{v}: no log of {t}: {e}"));
            let ok = text.lines().filter(|l| l.starts_with("ok ")).count();
            let failed = text.lines().filter(|l| l.starts_with("not ok")).count();
            eprintln!("{v}: {t}: {ok} passed, {failed} failed");
            assert_eq!((ok, failed), (cases, 0), "{v}: {t}:\n{text}");
        }
    }
}
