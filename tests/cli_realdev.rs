//! `pollwise realdev run` through the binary: output formats parse with the
//! common schema, Ctrl-C cleans up, bad input gives clear errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pollwise_core::{RunRow, TraceRow, COMPARE_COLUMNS};

// The device-directory helper is shared with realdev's device tests.
#[path = "../realdev/tests/device_dir/mod.rs"]
mod device_dir;
use device_dir::device_dir;

/// Runs of the binary share the disk; one at a time keeps them comparable.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn pollwise(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pollwise"))
        .env("POLLWISE_NO_CACHE", "1")
        .args(args)
        .output()
        .expect("run pollwise")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn assert_clean_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert!(!o.status.success(), "should fail: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    for n in needles {
        assert!(err.contains(n), "missing '{n}' in: {err}");
    }
}

fn short_run<'a>(dir: &'a Path, extra: &[&'a str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "realdev",
        "run",
        "--duration-ms",
        "200",
        "--size-mb",
        "8",
        "--dir",
        dir.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn run_args(args: &[String]) -> Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    pollwise(&refs)
}

/// A fresh directory of this test's own under `dir`, so that runs of the
/// same tests elsewhere on the machine cannot touch what it checks.
fn own_dir(dir: &Path, name: &str) -> PathBuf {
    let d = dir.join(format!("pollwise-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Asserts that `d` was left empty (no scratch file), then removes it.
fn assert_left_empty(d: &Path) {
    let left: Vec<_> = std::fs::read_dir(d).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    std::fs::remove_dir(d).unwrap();
}

#[test]
fn csv_output_is_one_row_of_the_common_schema() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let args = short_run(
        &dir,
        &[
            "--format",
            "csv",
            "--policy",
            "weighted:poll-weight=3",
            "--iodepth",
            "2",
            "--rw",
            "randrw",
            "--rwmixread",
            "60",
            "--seed",
            "9",
        ],
    );
    let o = run_args(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, RunRow::COLUMNS);
    let rows: Vec<RunRow> = reader.deserialize().collect::<Result<_, _>>().unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.source, "realdev");
    assert_eq!(r.preset, "scratch");
    assert_eq!(r.policy, "weighted");
    assert_eq!(
        r.params,
        "poll-max-ns=32768 poll-grow=0 poll-shrink=0 poll-weight=3"
    );
    assert_eq!(
        (r.rw.as_str(), r.bs, r.numjobs, r.iodepth),
        ("randrw", 4096, 1, 2)
    );
    assert_eq!((r.iothreads, r.duration_ms, r.seed), (1, 200, 9));
    assert!(r.iops > 0.0 && r.lat_mean_us > 0.0);
}

#[test]
fn json_output_parses_and_table_names_its_fields() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let o = run_args(&short_run(&dir, &["--format", "json", "--policy", "off"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let row: RunRow = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(row.policy, "off");
    assert_eq!(row.poll_cpu_pct.unwrap(), 0.0);
    // The table prices each sleep: `off` sleeps for every request. The
    // figure is never negative and well under a millisecond; it can be 0
    // on a loaded machine, where preemption inside the busy phases (wall
    // time, capped at the CPU clock) takes up the sleeps' CPU.
    let o = run_args(&short_run(&dir, &["--policy", "off"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let per_wake: f64 = text
        .lines()
        .find(|l| l.starts_with("iothread cpu "))
        .and_then(|l| l.split(" (").nth(1))
        .and_then(|t| t.strip_suffix(" us a wake-up)"))
        .unwrap_or_else(|| panic!("no cost a wake-up in:\n{text}"))
        .parse()
        .unwrap();
    assert!((0.0..1000.0).contains(&per_wake), "{per_wake}\n{text}");

    let o = run_args(&short_run(&dir, &["--bs", "8k", "--rw", "read"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for key in [
        "iops",
        "latency (us)",
        "iothread cpu",
        "kicks",
        "wake-ups",
        "bs=8192",
    ] {
        assert!(text.contains(key), "missing {key} in:\n{text}");
    }
}

#[test]
fn trace_and_live_change_reach_the_trace_file() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let trace = dir.join(format!("pollwise-cli-trace-{}.csv", std::process::id()));
    let o = run_args(&short_run(
        &dir,
        &[
            "--policy",
            "qemu",
            "--trace",
            trace.to_str().unwrap(),
            "--set-at",
            "100:poll-max-ns=0",
            "--format",
            "csv",
        ],
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let mut reader = csv::Reader::from_path(&trace).unwrap();
    let rows: Vec<TraceRow> = reader.deserialize().collect::<Result<_, _>>().unwrap();
    std::fs::remove_file(&trace).unwrap();
    assert!(!rows.is_empty());
    let late: Vec<&TraceRow> = rows.iter().filter(|r| r.poll_max_ns == 0).collect();
    assert!(!late.is_empty(), "the change never took effect");
    assert!(late
        .iter()
        .all(|r| r.window_ns == 0 && r.params.starts_with("poll-max-ns=0 ")));
    assert!(late.iter().all(|r| r.time_ns >= 100_000_000));
    assert!(rows
        .iter()
        .all(|r| r.window_ns <= r.poll_max_ns && r.policy == "qemu"));
}

#[test]
fn ctrl_c_stops_cleanly_and_removes_the_scratch_file() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let sub = own_dir(&dir, "sigint-run");
    let mut args = short_run(&sub, &["--policy", "qemu"]);
    args[3] = "30000".into();
    interrupt_after_start(
        &args,
        &sub,
        &["interrupted by Ctrl-C", "scratch file removed"],
    );

    // compare holds one scratch file across many runs.
    let sub = own_dir(&dir, "sigint-compare");
    let args: Vec<String> = [
        "realdev",
        "compare",
        "--duration-ms",
        "2000",
        "--repeat",
        "10",
        "--size-mb",
        "8",
        "--dir",
        sub.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    interrupt_after_start(&args, &sub, &["interrupted by Ctrl-C", "scratch file"]);
}

/// Starts pollwise, sends SIGINT once its scratch file exists in `sub` and
/// it has run a little, and checks it ends with `needles` and leaves `sub`
/// empty.
fn interrupt_after_start(args: &[String], sub: &Path, needles: &[&str]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pollwise"))
        .env("POLLWISE_NO_CACHE", "1")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::fs::read_dir(sub).unwrap().next().is_none() {
        assert!(child.try_wait().unwrap().is_none(), "run ended early");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "run never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "Ctrl-C did not stop it"
    );
    assert_clean_error(&o, needles);
    assert_left_empty(sub);
}

#[test]
fn bad_input_gives_clear_errors() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let o = run_args(&short_run(&dir, &["--bs", "1000"]));
    assert_clean_error(&o, &["bs 1000 is not a multiple of the logical block size"]);
    let o = run_args(&short_run(&dir, &["--bs", "4x"]));
    assert_clean_error(&o, &["'4x' is not a positive size"]);
    let o = pollwise(&["realdev", "run", "--file", "/nonexistent/pollwise.img"]);
    assert_clean_error(&o, &["/nonexistent/pollwise.img: no such file or device"]);
    let o = run_args(&short_run(&dir, &["--policy", "oracle"]));
    assert_clean_error(&o, &["only runs in simulation"]);
    let o = run_args(&short_run(&dir, &["--rw", "randomread"]));
    assert_clean_error(&o, &["unknown rw mode 'randomread'", "randread"]);
    let o = run_args(&short_run(&dir, &["--set-at", "soon:poll-max-ns=1"]));
    assert_clean_error(&o, &["'soon' is not a time in ms"]);
    let o = run_args(&short_run(
        &dir,
        &["--set-at", "10:poll-weight=1", "--policy", "qemu"],
    ));
    assert_clean_error(&o, &["poll-weight"]);
    let o = run_args(&short_run(&dir, &["--allow-write-to", "/dev/null"]));
    assert_clean_error(&o, &["needs --file naming the same path"]);
}

#[test]
fn compare_repeats_each_point_and_reports_its_spread() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let rows_path = dir.join(format!("pollwise-cli-compare-{}.csv", std::process::id()));
    let work = own_dir(&dir, "compare");
    let o = pollwise(&[
        "realdev",
        "compare",
        "--baseline",
        "off",
        "--candidate",
        "fixed:poll-max-ns=50000",
        "--iodepth",
        "1,2",
        "--repeat",
        "2",
        "--duration-ms",
        "150",
        "--size-mb",
        "8",
        "--dir",
        work.to_str().unwrap(),
        "--format",
        "csv",
        "--rows",
        rows_path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(&header[..COMPARE_COLUMNS.len()], COMPARE_COLUMNS);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), 2, "one line per iodepth");
    for (rec, qd) in records.iter().zip(["1", "2"]) {
        assert_eq!(&rec[col("iodepth")], qd);
        assert_eq!(&rec[col("repeat")], "2");
        assert_eq!(&rec[col("baseline")], "off");
        assert_eq!(&rec[col("candidate")], "fixed");
        let f = |name: &str| rec[col(name)].parse::<f64>().unwrap();
        assert!(
            f("baseline_iops_min") <= f("baseline_iops")
                && f("baseline_iops") <= f("baseline_iops_max")
        );
        assert!(f("candidate_cpu_min") <= f("candidate_cpu_pct"));
        assert!(f("candidate_cpu_pct") <= f("candidate_cpu_max"));
        // The paired difference: a median inside its interval, the
        // verdict every compare gives, and the method named.
        assert!(f("iops_diff_ci_low_pct") <= f("iops_diff_median_pct"));
        assert!(f("iops_diff_median_pct") <= f("iops_diff_ci_high_pct"));
        let verdict = rec[col("verdict")].trim_end_matches(" +cpu");
        assert!(["ok", "LOSS", "unclear"].contains(&verdict), "{rec:?}");
        assert!(rec[col("ci_method")].contains("bootstrap"));
    }
    // Every single run is kept, in the common schema: 2 points x 2 policies x 2.
    let mut reader = csv::Reader::from_path(&rows_path).unwrap();
    let rows: Vec<RunRow> = reader.deserialize().collect::<Result<_, _>>().unwrap();
    std::fs::remove_file(&rows_path).unwrap();
    assert_eq!(rows.len(), 8);
    assert_eq!(rows.iter().filter(|r| r.policy == "off").count(), 4);
    assert!(rows
        .iter()
        .all(|r| r.preset == "scratch" && r.duration_ms == 150));
    // The off baseline never polls; the fixed candidate always has a window.
    assert!(rows
        .iter()
        .filter(|r| r.policy == "off")
        .all(|r| r.poll_cpu_pct.unwrap() == 0.0));
    assert!(rows
        .iter()
        .filter(|r| r.policy == "fixed")
        .all(|r| r.window_mean_ns.unwrap() == 50000.0));
    assert_left_empty(&work);
}

#[test]
fn compare_ends_with_the_verdict_every_compare_gives() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let work = own_dir(&dir, "compare-verdict");
    let o = pollwise(&[
        "realdev",
        "compare",
        "--baseline",
        "off",
        "--candidate",
        "fixed:poll-max-ns=50000",
        "--iodepth",
        "1",
        "--repeat",
        "2",
        "--duration-ms",
        "100",
        "--size-mb",
        "8",
        "--dir",
        work.to_str().unwrap(),
        "--accept-iops-loss",
        "7",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("fixed (poll-max-ns=50000)"),
        "parameters as they act: {text}"
    );
    // The words of the simulator's compare: the bar, the row legend and
    // the closing sentence from the one verdict function.
    assert!(text.contains("ok = IOPS loss within 7%"), "{text}");
    assert!(text.contains("+cpu = IOThread CPU rose"), "{text}");
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("verdict: ") && last.contains(" at --accept-iops-loss 7: "),
        "{text}"
    );
    assert_left_empty(&work);
}

#[test]
fn calibrate_writes_a_preset_that_validate_and_sim_load() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let preset_path = dir.join(format!("pollwise-cli-local-{}.toml", std::process::id()));
    let preset = preset_path.to_str().unwrap();
    let work = own_dir(&dir, "calibrate");
    calibrate_a_local_preset(&work, preset);
    validate_writes_its_csv_and_report(preset, &work);
    validate_prints_its_table(preset, &work);
    validate_notes_another_hosts_scheduler(preset, &work);
    std::fs::remove_file(&preset_path).unwrap();
    assert_left_empty(&work);
}

/// The depth curve between 1 and the saturation depth (16) in a
/// calibration's comments, each point beside the host model's IOPS for it.
fn assert_depth_curve(text: &str) {
    assert!(text.contains("# Depth curve"), "{text}");
    for d in [2, 4, 8] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("#   qd={d:<3}")))
            .unwrap_or_else(|| panic!("no depth {d} in {text}"));
        assert!(line.contains("IOPS (model "), "{line}");
        assert!(line.ends_with("per reap"), "{line}");
    }
}

/// `realdev calibrate` in `work`, short, writing `preset`; checks what the
/// preset holds as the simulator loads it.
fn calibrate_a_local_preset(work: &Path, preset: &str) {
    let o = pollwise(&[
        "realdev",
        "calibrate",
        "--dir",
        work.to_str().unwrap(),
        "--size-mb",
        "8",
        "--out",
        preset,
        "--point-ms",
        "100",
        "--rounds",
        "50",
        "--bs",
        "4k,64k",
        "--repeat",
        "2",
        // Probes this short on a shared machine may well disagree; the
        // checks themselves are unit-tested on synthetic measurements.
        "--force",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("wrote"), "{}", stdout(&o));
    let text = std::fs::read_to_string(preset).unwrap();
    assert!(text.contains("(repeats: IOPS"), "{text}");
    assert!(
        text.contains("# Device spread: repeats differ by up to"),
        "{text}"
    );
    assert!(text.contains("us idle: eventfd"), "{text}");
    assert_depth_curve(&text);
    let preset = pollwise_sim::Preset::load(preset).unwrap();
    // The kernel that placed the threads, as the host reports it.
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let kernel = format!("kernel={}", release.trim());
    let scheduler = &preset.host.as_ref().unwrap().scheduler;
    assert_eq!(scheduler.first(), Some(&kernel), "{scheduler:?}");
    assert_eq!(preset.name, "local");
    let spread = preset
        .calibration
        .as_ref()
        .expect("[calibration] with --repeat 2");
    assert!(spread.device_spread_pct >= 0.0, "{spread:?}");
    assert!(matches!(
        preset.device.read_latency,
        pollwise_sim::LatencyDist::Empirical { .. }
    ));
    assert!(preset.iothread.wakeup_latency_ns > 0);
    assert!(preset.device.parallelism >= 1);
    let host = preset
        .host
        .as_ref()
        .expect("a calibrated preset has [host]");
    assert!(host.cpus >= 1 && host.eventfd_wakeup_ns[1] > 0, "{host:?}");
    assert_eq!(host.io_submit_batch.first(), Some(&1));
    let idle: Vec<u64> = pollwise_realdev::calibrate::WAKE_IDLE_US
        .iter()
        .map(|us| us * 1000)
        .collect();
    assert_eq!(host.wakeup_idle_ns, idle, "the wake-up table by idle time");
    assert_eq!(host.eventfd_wakeup_by_idle_ns.len(), idle.len());
    assert!(
        host.channel_wakeup_by_idle_ns.iter().all(|q| q[1] > 0),
        "{host:?}"
    );
    assert!(
        host.shared,
        "the calibrated CPUs are shared by the loop and the jobs"
    );
    assert_placement(host, &text);
}

/// Where the kernel puts a woken thread: measured whenever there are two
/// CPUs to choose between, and the interrupt's wake-up always.
fn assert_placement(host: &pollwise_sim::Host, text: &str) {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let packing = host.packing.as_ref();
    assert_eq!(packing.is_some(), cpus >= 2, "{host:?}");
    if let Some(p) = packing {
        let run_on: Vec<u64> = pollwise_realdev::calibrate::RUN_ON_US
            .iter()
            .map(|us| us * 1000)
            .collect();
        assert_eq!(p.run_on_ns, run_on, "{p:?}");
        assert!(p.share.iter().all(|s| (0.0..=1.0).contains(s)), "{p:?}");
        // The share with the other CPU busy, at the same run-on times,
        // and its comment line.
        assert_eq!(p.busy_share.len(), run_on.len(), "{p:?}");
        assert!(
            p.busy_share.iter().all(|s| (0.0..=1.0).contains(s)),
            "{p:?}"
        );
        assert!(text.contains("the same with the other CPU busy"), "{text}");
        // And by the woken thread's own run.
        assert_eq!(p.wakee_share.len(), run_on.len(), "{p:?}");
        assert!(
            p.wakee_share.iter().all(|s| (0.0..=1.0).contains(s)),
            "{p:?}"
        );
        assert!(
            text.contains("by how long the woken thread runs each time"),
            "{text}"
        );
        assert!(
            p.eventfd_wakeup_ns[1] > 0 && p.channel_wakeup_ns[1] > 0,
            "{p:?}"
        );
    }
    // A wake-up across CPUs costs the waker something, and less than a
    // second; the comment line quotes it.
    assert_eq!(host.wake_across_send_ns.is_some(), cpus >= 2, "{host:?}");
    if let Some(s) = host.wake_across_send_ns {
        assert!(s.iter().all(|&ns| ns > 0 && ns < 1_000_000_000), "{s:?}");
        assert!(
            text.contains("waking a thread on the other CPU costs the waker"),
            "{text}"
        );
    }
    assert_interrupt(host, text, cpus);
}

/// The interrupt's wake-up (unpinned and on each CPU), what its sleep
/// costs, its work on each CPU and the submission after a sleep.
fn assert_interrupt(host: &pollwise_sim::Host, text: &str, cpus: usize) {
    let irq = host
        .irq_wakeup_ns
        .expect("the interrupt's wake-up is measured");
    assert!(irq.windows(2).all(|w| w[0] <= w[1]), "{irq:?}");
    // With 2 to 8 CPUs, the same wake-up on each CPU, ordered, each
    // quoted in the comments.
    let by_cpu = &host.irq_wakeup_by_cpu_ns;
    let pinned = (2..=8).contains(&cpus);
    assert_eq!(by_cpu.len(), if pinned { cpus } else { 0 }, "{host:?}");
    assert_eq!(
        text.contains("the interrupts' work on each CPU, per completion"),
        pinned,
        "{text}"
    );
    for (i, q) in by_cpu.iter().enumerate() {
        assert!(q.windows(2).all(|w| w[0] <= w[1]), "{q:?}");
        assert!(
            text.contains(&format!(
                "the same reaper pinned to the host's CPU #{i} it may use: "
            )),
            "{text}"
        );
    }
    // So is what that sleep costs the sleeper: the kernel's side of a
    // sleep and a wake-up is never free, and well under a second.
    let irq_cpu = host
        .irq_wakeup_cpu_ns
        .expect("the interrupt's sleep is measured on the sleeper's clock");
    assert!(irq_cpu > 0 && irq_cpu < 1_000_000_000, "{irq_cpu}");
    assert!(text.contains(" us of its CPU a sleep"), "{text}");
    // The io_submit after each idle time, against one after a spin: one
    // per idle time of the wake-up table, each well under a second, and
    // the comment line quotes them.
    assert_eq!(
        host.submit_after_idle_ns.len(),
        host.wakeup_idle_ns.len(),
        "{host:?}"
    );
    assert!(
        host.submit_after_idle_ns
            .iter()
            .all(|&ns| ns < 1_000_000_000),
        "{host:?}"
    );
    assert!(
        text.contains("io_submit after its thread slept (its CPU idle) that long"),
        "{text}"
    );
    assert!(
        text.contains("on the waker's CPU (both pinned to it"),
        "{text}"
    );
}

/// `validate` of `policy` against qemu on `preset` at randread 4k qd=1
/// numjobs=1, two rounds of 150 ms in `work`, with `extra` flags.
fn validate_on(preset: &str, work: &Path, policy: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "validate",
        "--preset",
        preset,
        "--iodepth",
        "1",
        "--duration-ms",
        "150",
        "--size-mb",
        "8",
        "--dir",
        work.to_str().unwrap(),
        "--policy",
        policy,
        "--numjobs",
        "1",
        "--repeat",
        "2",
    ];
    args.extend_from_slice(extra);
    pollwise(&args)
}

/// The CSV's contract columns and one row, and the same run as a markdown
/// report for the docs, through --out.
fn validate_writes_its_csv_and_report(preset: &str, work: &Path) {
    let o = validate_on(preset, work, "off", &["--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_validation_csv(&stdout(&o));
    let report = work.join("validation.md");
    let out = ["--format", "markdown", "--out", report.to_str().unwrap()];
    let o = validate_on(preset, work, "off", &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.starts_with("# pollwise validate: "), "{md}");
    for part in [
        "pollwise validate --preset",
        "| predicted IOPS change agrees | ",
        "## The table",
        "off        randread 4k j=1 qd=1 iot=1",
        "## The preset's measurements",
        "us idle: eventfd",
        "policy,rw,bs,numjobs,iodepth,predicted_iops_diff_pct",
    ] {
        assert!(md.contains(part), "{part} missing from:\n{md}");
    }
    std::fs::remove_file(&report).unwrap();
}

/// `validate --format csv` of policy off at one point: the first eleven
/// columns are the contract, the measured median lies in its interval.
fn assert_validation_csv(text: &str) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        &header[..11],
        [
            "policy",
            "rw",
            "bs",
            "numjobs",
            "iodepth",
            "predicted_iops_diff_pct",
            "measured_iops_diff_pct",
            "measured_iops_diff_ci_low_pct",
            "measured_iops_diff_ci_high_pct",
            "predicted_cpu_diff_pts",
            "measured_cpu_diff_pts"
        ]
    );
    let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().unwrap();
    assert_eq!(records.len(), 1, "one policy at one point");
    let rec = &records[0];
    assert_eq!(
        (&rec[0], &rec[1], &rec[2], &rec[4]),
        ("off", "randread", "4096", "1")
    );
    let f = |i: usize| rec[i].parse::<f64>().unwrap();
    assert!(f(7) <= f(6) && f(6) <= f(8), "{rec:?}");
    assert!(f(5).is_finite() && f(9).is_finite() && f(10).is_finite());
}

/// `validate`'s table: the measured interval's method, the tallies and
/// the baseline's absolute agreement.
fn validate_prints_its_table(preset: &str, work: &Path) {
    let o = validate_on(preset, work, "fixed", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Calibrated on this host: no note that its scheduler differs.
    assert!(!stderr(&o).contains("scheduler differs"), "{}", stderr(&o));
    let text = stdout(&o);
    for needle in [
        "measured iops% [95% CI]",
        "percentile bootstrap",
        "IOPS change agrees on",
        "absolute agreement of qemu",
        "point(s) within both targets",
        "verdict: this host's model can",
        // The calibration repeated every point (--repeat 2): its spread.
        "calibration: the device's repeats differed by up to",
    ] {
        assert!(text.contains(needle), "missing {needle}:\n{text}");
    }
}

/// A preset calibrated under another kernel: validate says so before it
/// runs, naming the setting, there and here.
fn validate_notes_another_hosts_scheduler(preset: &str, work: &Path) {
    let text = std::fs::read_to_string(preset).unwrap();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let release = release.trim();
    let other = text.replace(&format!("\"kernel={release}\""), "\"kernel=0.0-elsewhere\"");
    assert_ne!(other, text, "the preset records the kernel");
    let moved = work.join("other-host.toml");
    std::fs::write(&moved, other).unwrap();
    let o = pollwise(&[
        "validate",
        "--explain",
        "--preset",
        moved.to_str().unwrap(),
        "--dir",
        work.to_str().unwrap(),
        "--size-mb",
        "8",
        "--duration-ms",
        "100",
        "--iodepth",
        "1",
        "--numjobs",
        "1",
    ]);
    std::fs::remove_file(&moved).unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let want = format!("kernel: 0.0-elsewhere -> {release}");
    assert!(
        stderr(&o).contains("this host's scheduler differs") && stderr(&o).contains(&want),
        "{want} not in {}",
        stderr(&o)
    );
}

#[test]
fn validate_explain_compares_one_point_phase_by_phase() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let work = own_dir(&dir, "explain");
    let o = pollwise(&[
        "validate",
        "--explain",
        "--preset",
        "optane-p4800x",
        "--dir",
        work.to_str().unwrap(),
        "--size-mb",
        "8",
        "--duration-ms",
        "200",
        "--iodepth",
        "1",
        "--numjobs",
        "1",
        "--baseline",
        "off",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.starts_with(
            "where the loops part: randread 4k numjobs=1 iodepth=1 iothreads=1 with off"
        ),
        "{text}"
    );
    // Every phase once, sorted by the distance (the fourth column from
    // the right).
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("phase "))
        .skip(1)
        .take_while(|l| !l.starts_with("outside the phases "))
        .collect();
    assert_eq!(rows.len(), 13, "one row per phase:\n{text}");
    for phase in [
        "poll   ",
        "sleep ",
        "wake-up latency ",
        "busy ",
        "io_submit ",
    ] {
        let n = rows.iter().filter(|r| r.starts_with(phase)).count();
        assert_eq!(n, 1, "{phase} in:\n{text}");
    }
    let ks: Vec<f64> = rows
        .iter()
        .map(|r| r.split_whitespace().rev().nth(2).unwrap().parse().unwrap())
        .collect();
    assert!(ks.windows(2).all(|w| w[0] >= w[1]), "{ks:?}\n{text}");
    // off sleeps on the device: its sleeps and wake-ups are measured.
    let sleep = rows.iter().find(|r| r.starts_with("sleep ")).unwrap();
    let per_s: f64 = sleep.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(per_s > 0.0, "{text}");
    assert_outside_completes_the_cpu_error(&text, &rows);
    assert_left_empty(&work);
}

/// The CPU no phase holds, after the phases: entering and leaving the
/// sleeps costs the device's loop some CPU per sleep, and the cpu pts of
/// the phase rows and this one add up to the CPU error.
fn assert_outside_completes_the_cpu_error(text: &str, rows: &[&str]) {
    let outside = text
        .lines()
        .find(|l| l.starts_with("outside the phases "))
        .unwrap_or_else(|| panic!("no outside row in:\n{text}"));
    let fields: Vec<&str> = outside.split_whitespace().collect();
    let dev_per_sleep: f64 = fields[5].parse().unwrap();
    assert!(dev_per_sleep > 0.0 && fields[6] == "us", "{outside}");
    let pts = |l: &str| {
        l.split_whitespace()
            .rev()
            .nth(1)
            .unwrap()
            .parse::<f64>()
            .ok()
    };
    let sum: f64 = rows.iter().filter_map(|r| pts(r)).sum::<f64>() + pts(outside).unwrap();
    let error: f64 = text
        .lines()
        .find(|l| l.starts_with("error "))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap()
        .parse()
        .unwrap();
    assert!((sum - error).abs() < 0.5, "{sum} against {error}:\n{text}");
}

#[test]
fn validate_explain_is_device_only_and_prints_a_table() {
    for extra in [
        &["--backend", "qemu"][..],
        &["--format", "csv"][..],
        // It explains the baseline; a policy would be ignored.
        &["--policy", "weighted"][..],
        // One loop against one loop.
        &["--iothreads", "2"][..],
    ] {
        let mut args = vec!["validate", "--explain", "--preset", "optane-p4800x"];
        args.extend_from_slice(extra);
        let o = pollwise(&args);
        let why = match extra[0] {
            "--backend" => "drop --backend qemu",
            "--format" => "drop --format and --out",
            "--iothreads" => "give --iothreads 1",
            _ => "drop --policy",
        };
        assert_clean_error(&o, &["validate --explain", why]);
    }
}

#[test]
fn validate_refuses_an_unknown_preset_and_a_clairvoyant_policy() {
    let o = pollwise(&["validate", "--preset", "no-such-preset"]);
    assert_clean_error(&o, &["unknown preset 'no-such-preset'"]);
    let o = pollwise(&[
        "validate",
        "--preset",
        "optane-p4800x",
        "--policy",
        "oracle",
    ]);
    assert_clean_error(&o, &["only runs in simulation"]);
}

/// The study's ratio on the device loop's waits under qemu at each point,
/// its traces kept; QEMU's loop was not run, so it has none.
fn assert_device_ratios(md: &str, out: &Path) {
    for needle in [
        "on the waits each loop recorded under `qemu` at each point, one 100 ms run each",
        "| pollwise's loop 4k j=1 qd=1 | ",
        "| pollwise's loop 4k j=4 qd=1 | ",
        "| pollwise's loop 4k j=4 qd=8 | ",
    ] {
        assert!(md.contains(needle), "missing {needle} in:\n{md}");
    }
    for (nj, qd) in [(1, 1), (1, 8), (4, 1), (4, 8)] {
        let waits =
            std::fs::read_to_string(out.join(format!("waits-device-j{nj}-qd{qd}.csv"))).unwrap();
        assert!(
            waits.starts_with("block_ns,handler,in_flight,how\n"),
            "{waits}"
        );
        assert!(waits.lines().count() > 10, "{waits}");
        assert!(!out.join(format!("waits-qemu-j{nj}-qd{qd}.csv")).exists());
    }
}

#[test]
fn study_measures_the_online_policies_on_a_disk() {
    let _g = serial();
    let Some(dir) = device_dir() else { return };
    let work = own_dir(&dir, "study");
    let out = own_dir(&dir, "study-out");
    // An empty QEMU cache: QEMU's loop is skipped, and the summary says so.
    let cache = own_dir(&dir, "study-cache");
    let o = pollwise(&[
        "study",
        "--out",
        out.to_str().unwrap(),
        "--repeat",
        "1",
        "--duration-ms",
        "2",
        "--rollout-duration-ms",
        "0",
        "--skip-robustness",
        "--dir",
        work.to_str().unwrap(),
        "--size-mb",
        "8",
        "--cache",
        cache.to_str().unwrap(),
        "--measure-repeat",
        "2",
        "--measure-duration-ms",
        "100",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(out.join("README.md")).unwrap();
    let header = format!(
        "--robust-duration-ms 300 --skip-robustness --dir {} --measure-repeat 2 \
         --measure-duration-ms 100 --accept-iops-loss 5`",
        work.display()
    );
    assert!(md.contains(&header), "missing {header} in:\n{md}");
    for needle in [
        "## Measured on a disk",
        "2 interleaved pairs per point after a warm-up run, 100 ms per run",
        "| pollwise's loop | pollwise ",
        "| pollwise's loop | weighted ",
        "| pollwise's loop | weighted-merged ",
        "k j=4 qd=8 |",
        "Not measured: QEMU's loop: stock QEMU's harness is not built",
        // The verdict is compare's, at the default bar.
        "judged by the verdict rule of `compare` at --accept-iops-loss 5",
        "- pollwise's loop, weighted-merged: verdict: ",
    ] {
        assert!(md.contains(needle), "missing {needle} in:\n{md}");
    }
    // Each point's verdict is one of compare's labels.
    let table: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| pollwise's loop |"))
        .collect();
    assert_eq!(table.len(), 12, "{md}");
    for line in table {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        let label = cells[cells.len() - 1].trim().trim_end_matches(" +cpu");
        assert!(["ok", "LOSS", "unclear"].contains(&label), "{line}");
        // QEMU's rule's polling is a part of its CPU.
        let (cpu, polling): (f64, f64) = (cells[6].parse().unwrap(), cells[7].parse().unwrap());
        assert!((0.0..=cpu).contains(&polling), "{line}");
    }
    // Every measured run: 3 candidates x 4 points x 2 pairs x 2 policies.
    let text = std::fs::read_to_string(out.join("measured.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let runs: Vec<RunRow> = reader.deserialize().collect::<Result<_, _>>().unwrap();
    assert_eq!(runs.len(), 48);
    assert!(runs.iter().all(|r| r.source == "realdev" && r.iops > 0.0));
    assert_eq!(runs.iter().filter(|r| r.policy == "qemu").count(), 24);
    assert_device_ratios(&md, &out);
    // The scratch file is gone.
    assert_left_empty(&work);
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir(&cache).unwrap();
}
