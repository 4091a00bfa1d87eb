//! Short real runs on small scratch files: every rw mode, the write guard,
//! the error messages, live parameter changes and AIO context cleanup.
//!
//! The tests count this process's AIO contexts, so they run one at a time
//! under a lock.
//!
//! Without a directory that supports O_DIRECT these tests fail; set
//! `POLLWISE_SKIP_DEVICE_TESTS=1` to skip them (see `device_dir`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use pollwise_core::{Params, PolicyKind};
use pollwise_realdev::loadgen::{RwMode, Workload};
use pollwise_realdev::run::{run, ParamChange, RunConfig, RunError, RunOutput};
use pollwise_realdev::target::{Target, TargetError, TargetSpec};

mod device_dir;
use device_dir::device_dir;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn workload(rw: RwMode, iodepth: u32) -> Workload {
    Workload {
        rw,
        rwmixread: 70,
        bs: 4096,
        numjobs: 1,
        iodepth,
        iothreads: 1,
        seed: 42,
    }
}

fn config(dir: &Path, rw: RwMode, policy: PolicyKind) -> RunConfig {
    RunConfig {
        workload: workload(rw, 4),
        duration_ms: 200,
        params: Params::defaults(policy),
        target: TargetSpec::Scratch {
            dir: Some(dir.to_path_buf()),
            size_bytes: 8 << 20,
        },
        changes: Vec::new(),
        trace: false,
        log_iterations: false,
        catch_sigint: false,
    }
}

/// AIO contexts alive in this process: each maps its completion ring as
/// `/[aio] (deleted)`. (The machine-wide /proc/sys/fs/aio-nr would also
/// count other processes, e.g. a parallel test run elsewhere.)
fn aio_contexts() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("/proc/self/maps is readable on Linux")
        .lines()
        .filter(|l| l.ends_with("/[aio] (deleted)"))
        .count()
}

fn scratch_files(dir: &Path) -> Vec<String> {
    let prefix = format!("pollwise-scratch-{}-", std::process::id());
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

fn check_sane(out: &RunOutput, rw: RwMode) {
    let row = &out.row;
    assert_eq!(row.source, "realdev");
    assert_eq!(row.rw, rw.name());
    assert!(row.iops > 0.0, "no I/O completed: {row:?}");
    // Every counted I/O moved one 4 KiB block.
    assert!((row.mb_per_s - row.iops * 4096.0 / 1e6).abs() < 1e-6 * row.iops.max(1.0));
    assert!(row.lat_mean_us > 0.0 && row.lat_p50_us.unwrap() <= row.lat_p99_us.unwrap());
    assert!(row.lat_p99_us.unwrap() <= row.lat_p999_us.unwrap());
    assert!(
        row.iothread_cpu_pct > 0.0 && row.iothread_cpu_pct <= 100.5,
        "{row:?}"
    );
    assert!(row.poll_cpu_pct.unwrap() <= row.iothread_cpu_pct);
    assert!(out.loop_report.iterations > 0);
    let ios: u64 = out.jobs.iter().map(|j| j.ios).sum();
    // Rates are per second of the measured span: the loops' wall-clock run.
    let span_s = out.loop_report.elapsed_ns as f64 / 1e9;
    assert_eq!(row.iops, ios as f64 / span_s);
    assert_eq!(out.jobs.iter().map(|j| j.lost).sum::<u64>(), 0);
    // Time in the device is one part of each request's latency.
    let lp = &out.loop_report;
    assert!(
        lp.device_reaped >= ios,
        "{} reaped, {ios} counted",
        lp.device_reaped
    );
    let device_mean_us = lp.device_ns_total as f64 / lp.device_reaped as f64 / 1000.0;
    assert!(device_mean_us > 0.0);
    assert!(
        device_mean_us < row.lat_mean_us * 1.2,
        "device {device_mean_us} us vs latency {} us",
        row.lat_mean_us
    );
}

#[test]
fn every_rw_mode_runs_and_cleans_up() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let policies = [
        PolicyKind::Qemu,
        PolicyKind::Weighted,
        PolicyKind::Off,
        PolicyKind::Fixed,
        PolicyKind::KvmHaltPoll,
    ];
    for (rw, policy) in RwMode::ALL.into_iter().zip(policies) {
        let before = aio_contexts();
        let out = run(&config(&dir, rw, policy)).unwrap_or_else(|e| panic!("{rw}: {e}"));
        check_sane(&out, rw);
        assert_eq!(out.row.policy, policy.name());
        assert_eq!(aio_contexts(), before, "{rw}: AIO context leaked");
        assert!(
            scratch_files(&dir).is_empty(),
            "{rw}: scratch file left behind"
        );
    }
}

#[test]
fn two_iothreads_each_serve_their_jobs() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let before = aio_contexts();
    let mut cfg = config(&dir, RwMode::RandRead, PolicyKind::Off);
    cfg.workload.numjobs = 3;
    cfg.workload.iothreads = 2;
    let out = run(&cfg).unwrap();
    check_sane(&out, RwMode::RandRead);
    assert_eq!((out.row.iothreads, out.row.numjobs), (2, 3));
    assert_eq!(out.loop_report.loops, 2);
    // Every job got answers, whichever loop it was on.
    for (i, j) in out.jobs.iter().enumerate() {
        assert!(j.ios > 0, "job {i} completed nothing");
    }
    // CPU is the mean per loop: each loop's share is at most one CPU.
    let lp = &out.loop_report;
    let total_pct = lp.cpu_ns as f64 * 100.0 / lp.elapsed_ns as f64;
    assert!((out.row.iothread_cpu_pct - total_pct / 2.0).abs() < 1e-9);
    assert_eq!(aio_contexts(), before, "AIO contexts leaked");
    assert!(scratch_files(&dir).is_empty());
}

#[test]
fn off_never_polls_and_fixed_does() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let off = run(&config(&dir, RwMode::RandRead, PolicyKind::Off)).unwrap();
    assert_eq!(off.loop_report.poll_ns, 0);
    assert_eq!(off.loop_report.polled_hits, 0);
    assert_eq!(off.row.window_zero_frac.unwrap(), 1.0);
    assert_eq!(off.row.poll_cpu_pct.unwrap(), 0.0);
    // Every iteration that did not poll either blocked or found work on the
    // pre-block re-check; blocking ones are wake-ups.
    assert!(off.loop_report.wakeups > 0);

    let mut cfg = config(&dir, RwMode::RandRead, PolicyKind::Fixed);
    cfg.params = Params::from_pairs(PolicyKind::Fixed, [("poll-max-ns", "200000")]).unwrap();
    let fixed = run(&cfg).unwrap();
    assert!(fixed.loop_report.poll_ns > 0);
    assert!(fixed.loop_report.polled_hits > 0);
    assert_eq!(fixed.row.window_zero_frac.unwrap(), 0.0);
    assert_eq!(fixed.row.window_mean_ns.unwrap(), 200000.0);
}

#[test]
fn live_parameter_change_bounds_the_window() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let mut cfg = config(&dir, RwMode::RandRead, PolicyKind::Fixed);
    cfg.duration_ms = 300;
    cfg.trace = true;
    let lowered = Params::from_pairs(PolicyKind::Fixed, [("poll-max-ns", "1000")]).unwrap();
    cfg.changes = vec![ParamChange {
        at_ms: 100,
        params: lowered.clone(),
    }];
    let out = run(&cfg).unwrap();
    let lp = &out.loop_report;
    assert_eq!(
        lp.params_history,
        vec!["poll-max-ns=32768".to_string(), lowered.to_string()]
    );
    let (early, late): (Vec<_>, Vec<_>) = out
        .trace
        .iter()
        .partition(|t| t.params == "poll-max-ns=32768");
    assert!(
        !early.is_empty() && !late.is_empty(),
        "change not seen in the trace"
    );
    assert!(early
        .iter()
        .all(|t| t.window_ns == 32768 && t.poll_max_ns == 32768));
    assert!(late
        .iter()
        .all(|t| t.window_ns == 1000 && t.poll_max_ns == 1000));
    // The change took effect close to when it was published.
    let first_late = late.iter().map(|t| t.time_ns).min().unwrap();
    assert!(first_late >= 100_000_000, "applied too early: {first_late}");
    assert!(first_late < 250_000_000, "applied late: {first_late}");
}

#[test]
fn refuses_to_write_to_a_file_it_did_not_create() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let path = dir.join(format!("pollwise-test-precious-{}.dat", std::process::id()));
    std::fs::write(&path, vec![0u8; 1 << 20]).unwrap();
    let existing = |allow: Option<PathBuf>| TargetSpec::Existing {
        path: path.clone(),
        allow_write_to: allow,
    };
    let mut cfg = config(&dir, RwMode::RandWrite, PolicyKind::Off);

    for allow in [None, Some(dir.join("some-other-file"))] {
        cfg.target = existing(allow);
        let err = run(&cfg).expect_err("must refuse");
        assert!(
            matches!(err, RunError::Target(TargetError::WriteRefused { .. })),
            "{err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("refusing to write to"), "{msg}");
        assert!(
            msg.contains(&format!("--allow-write-to {}", path.display())),
            "{msg}"
        );
        assert!(
            std::fs::read(&path).unwrap().iter().all(|&b| b == 0),
            "file was changed"
        );
    }

    // Reading needs no permission.
    cfg.workload.rw = RwMode::RandRead;
    cfg.target = existing(None);
    check_sane(&run(&cfg).unwrap(), RwMode::RandRead);

    // Naming the same path (through another spelling) allows writing.
    cfg.workload.rw = RwMode::RandWrite;
    cfg.target = existing(Some(dir.join(".").join(path.file_name().unwrap())));
    check_sane(&run(&cfg).unwrap(), RwMode::RandWrite);
    assert!(
        std::fs::read(&path).unwrap().iter().any(|&b| b != 0),
        "nothing written"
    );
    assert!(path.exists(), "a user's file must never be removed");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn missing_file_and_unaligned_bs_are_clear_errors() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let mut cfg = config(&dir, RwMode::RandRead, PolicyKind::Off);
    cfg.target = TargetSpec::Existing {
        path: dir.join("pollwise-no-such-file"),
        allow_write_to: None,
    };
    let msg = run(&cfg).expect_err("missing").to_string();
    assert!(
        msg.contains("pollwise-no-such-file: no such file or device"),
        "{msg}"
    );

    let before = aio_contexts();
    let mut cfg = config(&dir, RwMode::RandRead, PolicyKind::Off);
    cfg.workload.bs = 1000;
    let err = run(&cfg).expect_err("unaligned");
    let msg = err.to_string();
    assert!(
        msg.contains("bs 1000 is not a multiple of the logical block size"),
        "{msg}"
    );
    let TargetError::Unaligned { block, .. } = (match err {
        RunError::Target(t) => t,
        other => panic!("{other}"),
    }) else {
        panic!("{msg}")
    };
    assert!(block == 512 || block == 4096, "block size {block}");
    assert!(msg.contains(&format!("multiple of {block}")), "{msg}");
    assert!(
        scratch_files(&dir).is_empty(),
        "scratch file left after an error"
    );
    assert_eq!(aio_contexts(), before);
}

#[test]
fn bad_workload_numbers_are_refused() {
    let mut w = workload(RwMode::RandRead, 0);
    assert!(w.validate().unwrap_err().contains("iodepth 0"));
    w.iodepth = 1;
    w.rwmixread = 101;
    assert!(w.validate().unwrap_err().contains("rwmixread 101"));
    assert!(RwMode::from_name("randomread")
        .unwrap_err()
        .contains("randread, randwrite"));
}

#[test]
fn aio_context_is_counted_while_alive_and_its_ring_read_in_user_space() {
    use pollwise_realdev::aio::{AioContext, IoEvent, Iocb, Opcode};
    use pollwise_realdev::buffer::BufferPool;
    use pollwise_realdev::sys::EventFd;
    use std::os::fd::AsRawFd;

    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let target = Target::open(
        &TargetSpec::Scratch {
            dir: Some(dir),
            size_bytes: 1 << 20,
        },
        4096,
        true,
    )
    .unwrap();
    let before = aio_contexts();
    let mut ctx = AioContext::new(4).unwrap();
    assert_eq!(aio_contexts(), before + 1, "io_setup did not map a ring");
    assert!(ctx.user_space_ring(), "ring layout not recognised");

    let pool = BufferPool::new(2, 4096).unwrap();
    let efd = EventFd::new().unwrap();
    let mut iocbs: Vec<Iocb> = (0..2u64)
        .map(|i| {
            Iocb::new(
                Opcode::Read,
                target.fd(),
                pool.slot_ptr(i as usize),
                4096,
                i * 4096,
                100 + i,
                efd.as_raw_fd(),
            )
        })
        .collect();
    let mut ptrs: Vec<*mut Iocb> = iocbs.iter_mut().map(|c| c as *mut Iocb).collect();
    // SAFETY: the pool outlives the context's requests (reaped below).
    let submitted = unsafe { ctx.submit(&mut ptrs) }.unwrap();
    assert_eq!(submitted, 2);
    let mut events: Vec<IoEvent> = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while events.len() < 2 && std::time::Instant::now() < deadline {
        if ctx.ready() > 0 {
            ctx.reap(&mut events);
        }
    }
    assert_eq!(ctx.ready(), 0);
    let mut tags: Vec<u64> = events.iter().map(|e| e.data).collect();
    tags.sort_unstable();
    assert_eq!(tags, vec![100, 101]);
    assert!(events.iter().all(|e| e.res == 4096), "{events:?}");
    // The completion eventfd was signalled once per completion.
    assert_eq!(efd.drain(), 2);
    drop(ctx);
    assert_eq!(
        aio_contexts(),
        before,
        "io_destroy did not release the context"
    );
}

#[test]
fn the_iteration_log_accounts_for_every_completion_and_times_the_wakeups() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    // `off` never polls: every wait is a sleep, and at queue depth 1 every
    // new request rings the submission doorbell of a sleeping loop.
    let mut cfg = config(&dir, RwMode::RandRead, PolicyKind::Off);
    cfg.workload.iodepth = 1;
    cfg.log_iterations = true;
    let out = run(&cfg).unwrap();
    let log = &out.loop_report.iterations_log;
    assert_eq!(
        log.len() as u64,
        out.loop_report.iterations,
        "one record per iteration"
    );
    let reaped: u64 = log.iter().map(|r| u64::from(r.reaped)).sum();
    let ios: u64 = out.jobs.iter().map(|j| j.ios).sum();
    assert!(reaped >= ios, "{reaped} reaped, {ios} answered");
    let submitted: u64 = log.iter().map(|r| u64::from(r.submitted)).sum();
    assert!(submitted >= ios, "{submitted} submitted, {ios} answered");
    assert!(log.iter().all(|r| !r.polled && r.poll_ns == 0), "off polls");
    assert!(log.iter().any(|r| r.submit_calls > 0 && r.submit_ns > 0));
    let woken: Vec<u64> = log.iter().filter_map(|r| r.wake_ns).collect();
    assert!(!woken.is_empty(), "no wake-up was timed from its doorbell");
    // A wake-up is shorter than the sleep it ends plus the wait.
    assert!(log.iter().all(|r| r.wake_ns.is_none_or(|w| w <= r.wait_ns)));
    // Each timed wake-up says whether the loop ran on the ringing job's
    // CPU; no other record does.
    assert!(log
        .iter()
        .all(|r| r.wake_ns.is_some() == r.on_ringer_cpu.is_some()));
    // The job, woken by nearly every completion at qd1, counts where.
    let wakes = &out.jobs[0].wakes;
    assert!(
        wakes.woken * 2 > ios && wakes.on_loop_cpu <= wakes.woken,
        "{} wake-ups ({} on the loop's CPU) for {ios} completions",
        wakes.woken,
        wakes.on_loop_cpu
    );
    // Without the log, nothing is kept.
    cfg.log_iterations = false;
    let out = run(&cfg).unwrap();
    assert!(out.loop_report.iterations_log.is_empty());
    assert_eq!(out.jobs[0].wakes.woken, 0);
}
