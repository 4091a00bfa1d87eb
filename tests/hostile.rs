//! The binary against a hostile or careless user: outputs that would
//! destroy inputs, runs too large to allocate, numbers that would wrap,
//! files that never end, and the messages that must tell the truth. None
//! of these needs a device: each must be refused before any I/O.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{assert_clean_error, assert_ok, pollwise, scratch_dir, stderr, stdout};

/// Runs pollwise, killing it (and failing) if it takes longer than `limit`:
/// a refusal must come before the work, not after it.
fn within(limit: Duration, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pollwise"))
        .env("POLLWISE_NO_CACHE", "1")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pollwise");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("pollwise {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

const QUICK: Duration = Duration::from_secs(20);

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn results_header() -> String {
    pollwise_core::RunRow::COLUMNS.join(",")
}

/// A preset file in `d`, with the text of optane-p4800x.
fn preset_file(d: &Path) -> std::path::PathBuf {
    let preset = d.join("p.toml");
    fs::write(
        &preset,
        pollwise_sim::Preset::load("optane-p4800x")
            .unwrap()
            .to_toml(),
    )
    .unwrap();
    preset
}

#[test]
fn an_output_that_is_the_preset_is_refused() {
    let d = scratch_dir("hostile-same");
    let preset = preset_file(&d);
    let before = fs::read(&preset).unwrap();
    let o = within(
        QUICK,
        &["sim", "--preset", s(&preset), "--trace", s(&preset)],
    );
    assert_clean_error(&o, &["--trace", "--preset", "same file"]);
    // Through a symlink, and with --force: still the same file.
    let link = d.join("link.csv");
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(&preset, &link).unwrap();
    let o = within(
        QUICK,
        &[
            "sweep",
            "--preset",
            s(&preset),
            "--out",
            s(&link),
            "--force",
        ],
    );
    assert_clean_error(&o, &["same file"]);
    assert_eq!(fs::read(&preset).unwrap(), before);
    let o = within(
        QUICK,
        &[
            "validate",
            "--preset",
            s(&preset),
            "--format",
            "markdown",
            "--out",
            s(&preset),
        ],
    );
    assert_clean_error(&o, &["same file", "--preset"]);
    assert_eq!(fs::read(&preset).unwrap(), before);
}

#[test]
fn an_output_that_is_the_device_target_is_refused() {
    // The device commands: refused before the target is opened.
    let d = scratch_dir("hostile-same-target");
    let data = d.join("data.bin");
    fs::write(&data, vec![7u8; 1 << 20]).unwrap();
    for args in [
        vec!["realdev", "run", "--file", s(&data), "--trace", s(&data)],
        vec!["realdev", "run", "--file", s(&data), "--waits", s(&data)],
        vec![
            "qemu",
            "run",
            "--cache",
            s(&d),
            "--file",
            s(&data),
            "--waits",
            s(&data),
        ],
        vec![
            "realdev",
            "calibrate",
            "--file",
            s(&data),
            "--out",
            s(&data),
        ],
        vec!["realdev", "compare", "--file", s(&data), "--rows", s(&data)],
        vec![
            "validate",
            "--preset",
            "optane-p4800x",
            "--file",
            s(&data),
            "--out",
            s(&data),
        ],
    ] {
        let o = within(QUICK, &args);
        assert_clean_error(&o, &["same file", "--file"]);
    }
    assert_eq!(fs::read(&data).unwrap(), vec![7u8; 1 << 20]);
}

#[test]
fn a_plot_whose_output_links_to_its_input_is_refused() {
    let d = scratch_dir("hostile-same-plot");
    let csv = d.join("rows.csv");
    let out = pollwise(&["sim", "--format", "csv", "--duration-ms", "5"]);
    assert_ok(&out);
    fs::write(&csv, &out.stdout).unwrap();
    let png = d.join("pic.png");
    let _ = fs::remove_file(&png);
    std::os::unix::fs::symlink(&csv, &png).unwrap();
    let o = within(
        QUICK,
        &[
            "plot",
            "pareto",
            "--input",
            s(&csv),
            "--out",
            s(&png),
            "--force",
        ],
    );
    assert_clean_error(&o, &["same file", "--input"]);
    assert_eq!(fs::read(&csv).unwrap(), out.stdout);
}

#[test]
fn a_file_pollwise_did_not_write_is_replaced_only_with_force() {
    let d = scratch_dir("hostile-force");
    let notes = d.join("notes.csv");
    fs::write(&notes, "name,phone\nann,1\n").unwrap();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "sweep",
            "--param",
            "poll-max-ns=0,4000",
            "--duration-ms",
            "5",
        ];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        within(QUICK, &refs)
    };
    let o = run(args(&["--out", s(&notes)]));
    assert_clean_error(&o, &["--force", "notes.csv"]);
    assert_eq!(fs::read_to_string(&notes).unwrap(), "name,phone\nann,1\n");
    // Its own earlier output is replaced without --force.
    let o = run(args(&["--out", s(&notes), "--force"]));
    assert_ok(&o);
    assert!(fs::read_to_string(&notes)
        .unwrap()
        .starts_with(&results_header()));
    let o = run(args(&["--out", s(&notes)]));
    assert_ok(&o);

    // study --out DIR does not replace a README.md it did not write.
    let study = d.join("study");
    fs::create_dir_all(&study).unwrap();
    fs::write(study.join("README.md"), "# My project\n").unwrap();
    let o = within(
        QUICK,
        &[
            "study",
            "--out",
            s(&study),
            "--seeds",
            "1",
            "--skip-robustness",
            "--duration-ms",
            "1",
        ],
    );
    assert_clean_error(&o, &["README.md", "--force"]);
    assert_eq!(
        fs::read_to_string(study.join("README.md")).unwrap(),
        "# My project\n"
    );

    // validate's report does not replace notes it did not write (refused
    // before any device is opened).
    let report = d.join("validation.md");
    fs::write(&report, "# My notes\n").unwrap();
    let o = within(
        QUICK,
        &[
            "validate",
            "--preset",
            "optane-p4800x",
            "--format",
            "markdown",
            "--out",
            s(&report),
        ],
    );
    assert_clean_error(&o, &["validation.md", "--force"]);
    assert_eq!(fs::read_to_string(&report).unwrap(), "# My notes\n");
}

#[test]
fn a_killed_sweep_leaves_the_previous_output_intact() {
    let d = scratch_dir("hostile-kill");
    let prev = d.join("prev.csv");
    let old = format!("{}\nkeep,me\n", results_header());
    fs::write(&prev, &old).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pollwise"))
        .env("POLLWISE_NO_CACHE", "1")
        .args([
            "sweep",
            "--param",
            "poll-max-ns=0,1000,2000,3000,4000,5000,6000,7000,8000,9000",
            "--seeds",
            "50",
            "--duration-ms",
            "200",
            "--out",
            s(&prev),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "sweep ended too soon");
    child.kill().unwrap(); // SIGKILL: nothing runs after it.
    child.wait().unwrap();
    assert_eq!(fs::read_to_string(&prev).unwrap(), old);
}

#[test]
fn an_unwritable_output_is_found_before_the_work() {
    // /proc takes no new files: each command must say so at once.
    for args in [
        vec!["sweep", "--out", "/proc/pollwise.csv", "--seeds", "1000"],
        vec![
            "sim",
            "--trace",
            "/proc/pollwise.csv",
            "--duration-ms",
            "3000000",
        ],
        vec![
            "realdev",
            "run",
            "--trace",
            "/proc/pollwise.csv",
            "--duration-ms",
            "60000",
        ],
        vec!["realdev", "compare", "--rows", "/proc/pollwise.csv"],
        vec!["realdev", "calibrate", "--out", "/proc/pollwise.toml"],
        vec!["study", "--out", "/proc/pollwise-study"],
    ] {
        let o = within(QUICK, &args);
        assert_clean_error(&o, &["/proc/pollwise"]);
    }
}

#[test]
fn stdout_works_as_an_output() {
    let o = within(
        QUICK,
        &[
            "sweep",
            "--param",
            "poll-max-ns=0,4000",
            "--duration-ms",
            "5",
            "--out",
            "-",
        ],
    );
    assert_ok(&o);
    assert!(stdout(&o).starts_with(&results_header()));
    // A single run's result goes there: its trace would be mixed in.
    let o = within(
        QUICK,
        &[
            "sim",
            "--duration-ms",
            "5",
            "--format",
            "csv",
            "--trace",
            "/dev/stdout",
        ],
    );
    assert_clean_error(&o, &["standard output carries the run's result"]);
}

#[test]
fn run_sets_are_bounded_before_they_are_allocated() {
    let never = scratch_dir("hostile-bounds").join("never");
    let o = within(
        QUICK,
        &["study", "--seeds", "4294967295", "--out", s(&never)],
    );
    assert_clean_error(&o, &["4294967295", "10000000"]);
    assert!(!never.exists(), "created its output before refusing");
    // report and validate: refused before the first run or allocation.
    let rep = scratch_dir("hostile-bounds").join("report");
    for args in [
        vec!["report", "--out", s(&rep), "--seeds", "4294967295"],
        vec![
            "report",
            "--out",
            s(&rep),
            "--duration-ms",
            "18446744073710",
        ],
        vec![
            "validate",
            "--preset",
            "optane-p4800x",
            "--repeat",
            "4294967295",
        ],
        vec!["realdev", "compare", "--repeat", "4294967295"],
    ] {
        let o = within(QUICK, &args);
        assert_clean_error(&o, &["at most"]);
    }
    assert!(!rep.exists(), "created its output before refusing");
    // Every value in range and none twice: 1024 x 1024 x 64 points.
    let upto = |n: u32| (1..=n).map(|v| v.to_string()).collect::<Vec<_>>().join(",");
    let (many, threads) = (upto(1024), upto(64));
    let o = within(
        QUICK,
        &[
            "sweep",
            "--numjobs",
            &many,
            "--iodepth",
            &many,
            "--iothreads",
            &threads,
        ],
    );
    assert_clean_error(&o, &["at most"]);
    let values: Vec<String> = (0..3000).map(|v| v.to_string()).collect();
    let axis = format!("poll-max-ns={}", values.join(","));
    let axis2 = format!("poll-grow={}", values.join(","));
    let o = within(
        QUICK,
        &[
            "sweep", "--param", &axis, "--param", &axis2, "--seeds", "10",
        ],
    );
    assert_clean_error(&o, &["runs", "at most"]);
}

#[test]
fn numbers_that_would_wrap_are_errors() {
    for args in [
        vec!["sim", "--duration-ms", "18446744073710"],
        vec!["realdev", "run", "--duration-ms", "18446744073710"],
        vec![
            "realdev",
            "calibrate",
            "--out",
            "-",
            "--point-ms",
            "18446744073710",
        ],
        vec![
            "study",
            "--robust-duration-ms",
            "18446744073710",
            "--out",
            "-",
        ],
        vec!["realdev", "run", "--size-mb", "17592186044416"],
        vec!["realdev", "run", "--size-mb", "18446744073709551615"],
    ] {
        let o = within(QUICK, &args);
        assert_clean_error(&o, &[]);
        let e = stderr(&o);
        assert!(e.contains("error:"), "{args:?}: {e}");
    }
    // A live change after the end of the run is not silently ignored.
    let o = within(
        QUICK,
        &[
            "realdev",
            "run",
            "--duration-ms",
            "100",
            "--set-at",
            "5000:poll-max-ns=8000",
        ],
    );
    assert_clean_error(&o, &["--set-at", "5000", "0..100"]);
}

#[test]
fn presets_are_bounded() {
    let d = scratch_dir("hostile-preset");
    let mut p = pollwise_sim::Preset::load("optane-p4800x").unwrap();
    p.name = "x".repeat(10_000);
    let path = d.join("long-name.toml");
    fs::write(&path, p.to_toml()).unwrap();
    let o = within(QUICK, &["sim", "--preset", s(&path)]);
    assert_clean_error(&o, &["name", "256"]);
    // A preset that never ends is read only so far.
    let o = within(QUICK, &["sim", "--preset", "/dev/zero"]);
    assert_clean_error(&o, &["/dev/zero"]);
}

#[test]
fn errors_tell_the_truth() {
    let o = within(QUICK, &["realdev", "run", "--file", "/proc/self/mem"]);
    let e = stderr(&o);
    assert!(!o.status.success() && !e.contains("--dir"), "{e}");
    let o = within(
        QUICK,
        &[
            "plot",
            "window",
            "--trace",
            "t.csv",
            "--out",
            "w.png",
            "--start-us",
            "1e300",
        ],
    );
    let e = stderr(&o);
    assert!(!o.status.success(), "{e}");
    assert!(
        !e.contains("non-negative") && e.contains("too large"),
        "{e}"
    );
    let o = within(
        QUICK,
        &[
            "plot",
            "window",
            "--trace",
            "t.csv",
            "--out",
            "w.png",
            "--start-us=-1",
        ],
    );
    assert_clean_error(&o, &["non-negative"]);
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        !readme.contains("names the\n  same path"),
        "README still says 'same path'"
    );
}

#[test]
fn clean_removes_scratch_files_of_dead_processes() {
    let d = scratch_dir("hostile-clean");
    // A PID that has just exited.
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let name = format!("pollwise-scratch-{pid}-1.dat");
    let stale = d.join(&name);
    fs::write(&stale, b"left by a kill -9").unwrap();
    // As every scratch file pollwise creates is marked.
    let f = fs::OpenOptions::new().write(true).open(&stale).unwrap();
    pollwise_realdev::scratch::mark(&f, &name).unwrap();
    let keep = d.join("pollwise-scratch-notes.txt");
    fs::write(&keep, b"not ours").unwrap();
    let o = within(QUICK, &["realdev", "clean", "--dir", s(&d)]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains(&format!("dead process {pid}")),
        "{}",
        stdout(&o)
    );
    assert!(!stale.exists());
    assert!(keep.exists());
}

// The device-directory helper is shared with realdev's device tests.
#[path = "../realdev/tests/device_dir/mod.rs"]
mod device_dir;

/// Runs of the device share the disk; one at a time.
static DEVICE: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn sigterm_stops_a_device_run_cleanly_with_its_own_exit_code() {
    let _g = DEVICE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(dir) = device_dir::device_dir() else {
        return;
    };
    let sub = dir.join(format!("pollwise-hostile-term-{}", std::process::id()));
    let _ = fs::remove_dir_all(&sub);
    fs::create_dir_all(&sub).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_pollwise"))
        .env("POLLWISE_NO_CACHE", "1")
        .args([
            "realdev",
            "run",
            "--duration-ms",
            "30000",
            "--size-mb",
            "8",
            "--dir",
            s(&sub),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while fs::read_dir(&sub).unwrap().next().is_none() {
        assert!(start.elapsed() < Duration::from_secs(20), "never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(128 + 15), "{}", stderr(&o));
    assert_clean_error(&o, &["SIGTERM", "scratch file removed"]);
    assert!(!stderr(&o).contains("Ctrl-C"), "{}", stderr(&o));
    assert_eq!(fs::read_dir(&sub).unwrap().count(), 0, "scratch file left");
    fs::remove_dir(&sub).unwrap();
}

#[test]
fn calibrate_writes_to_stdout_without_reading_it_back() {
    let _g = DEVICE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(dir) = device_dir::device_dir() else {
        return;
    };
    // Standard output is a pipe nobody reads until the end: reading the
    // output back would hang.
    let o = within(
        Duration::from_secs(120),
        &[
            "realdev",
            "calibrate",
            "--size-mb",
            "8",
            "--dir",
            s(&dir),
            "--point-ms",
            "100",
            "--rounds",
            "100",
            "--out",
            "/dev/stdout",
            // Probes this short on a shared machine may disagree; what is
            // tested here is the output path, not the checks.
            "--force",
        ],
    );
    assert_ok(&o);
    let text = stdout(&o);
    assert!(
        text.starts_with("# Written by `pollwise realdev calibrate`"),
        "{text}"
    );
    assert!(pollwise_sim::Preset::from_toml(&text, "stdout").is_ok());
}

// ---- QEMU ids, QEMU traces, QEMU caches and scratch files: what is not
// pollwise's own is neither run nor deleted, and QEMU's rules are QEMU's.

#[test]
fn qemu_ids_are_checked_as_qemu_checks_them_and_libvirt_gets_the_one_asked_for() {
    // QEMU's id_wellformed (util/id.c): a leading ASCII letter, then
    // letters, digits, '-', '.', '_'.
    for bad in ["0io", "-io", "_io", ".io", "io thread", "iö", ""] {
        let flag = format!("--iothread-id={bad}");
        let o = within(
            QUICK,
            &["policy", "show", "--policy", "qemu", "--qemu", &flag],
        );
        assert_clean_error(&o, &["--iothread-id", "letter"]);
    }
    let o = within(
        QUICK,
        &[
            "policy",
            "show",
            "--policy",
            "qemu",
            "--qemu",
            "--iothread-id",
            "iothread3",
        ],
    );
    assert_ok(&o);
    let text = stdout(&o);
    assert!(text.contains("id=iothread3,"), "{text}");
    assert!(text.contains("<iothread id='3'>"), "{text}");
    assert!(!text.contains("<iothread id='1'>"), "{text}");
}

#[test]
fn a_qemu_trace_whose_threads_interleave_is_sorted_and_starts_at_its_minimum() {
    let d = scratch_dir("hostile-trace-order");
    let log = d.join("qemu.log");
    // Thread 5102 logged its line a microsecond before 5101's, but wrote it
    // after: both are in the trace, in time order, from the earliest.
    fs::write(
        &log,
        "5101@100.000010:run_poll_handlers_begin ctx 0xa max_ns 0 timeout 0\n\
         5102@100.000009:run_poll_handlers_begin ctx 0xb max_ns 0 timeout 0\n\
         5101@100.000020:poll_grow ctx 0xa old 0 new 4000\n",
    )
    .unwrap();
    let out = d.join("window.csv");
    let o = within(
        QUICK,
        &["import", "qemu-trace", "--input", s(&log), "--out", s(&out)],
    );
    assert_ok(&o);
    let rows: Vec<pollwise_core::TraceRow> = csv::Reader::from_path(&out)
        .unwrap()
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap();
    let got: Vec<(u32, u64, u64)> = rows
        .iter()
        .map(|r| (r.iothread, r.time_ns, r.window_ns))
        .collect();
    assert_eq!(got, [(0, 0, 0), (1, 1_000, 0), (1, 11_000, 4000)]);
    // Two traces run together (time jumps back by seconds) stay an error.
    fs::write(
        &log,
        "5101@100.000010:poll_grow ctx 0xa old 0 new 4000\n\
         5101@98.000010:poll_grow ctx 0xa old 4000 new 8000\n",
    )
    .unwrap();
    let o = within(
        QUICK,
        &["import", "qemu-trace", "--input", s(&log), "--out", s(&out)],
    );
    assert_clean_error(&o, &["line 2", "backwards"]);
}

/// A cache with a fake harness for the stock variant that, if run, leaves
/// `ran` beside the cache; and a 1 MiB file for it to read.
fn fake_qemu_cache(d: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let cache = d.join("cache");
    let bin_dir = cache.join("bin").join("stock");
    fs::create_dir_all(&bin_dir).unwrap();
    let ran = d.join("ran");
    let harness = bin_dir.join("pollwise-qemu-harness");
    fs::write(&harness, format!("#!/bin/sh\ntouch '{}'\n", ran.display())).unwrap();
    for (p, mode) in [
        (&cache, 0o755),
        (&cache.join("bin"), 0o755),
        (&bin_dir, 0o755),
        (&harness, 0o755),
    ] {
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    }
    let data = d.join("data.img");
    fs::write(&data, vec![7u8; 1 << 20]).unwrap();
    (cache, harness, data)
}

fn qemu_run(cache: &Path, data: &Path) -> Output {
    within(
        QUICK,
        &[
            "qemu",
            "run",
            "--policy",
            "qemu",
            "--cache",
            s(cache),
            "--file",
            s(data),
            "--duration-ms",
            "1",
            "--warmup-ms",
            "0",
        ],
    )
}

#[test]
fn a_harness_others_could_have_written_is_not_run() {
    use std::os::unix::fs::PermissionsExt;
    let d = scratch_dir("hostile-qemu-cache");
    let (cache, harness, data) = fake_qemu_cache(&d);
    let ran = d.join("ran");
    let bin_dir = harness.parent().unwrap().to_path_buf();
    // A directory anyone may write to: anyone could have swapped the binary.
    fs::set_permissions(&bin_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let o = qemu_run(&cache, &data);
    assert_clean_error(&o, &[s(&bin_dir), "writable by others", "refusing to run"]);
    assert!(!ran.exists(), "the planted harness ran");
    fs::set_permissions(&bin_dir, fs::Permissions::from_mode(0o755)).unwrap();
    // The binary itself writable by its group.
    fs::set_permissions(&harness, fs::Permissions::from_mode(0o775)).unwrap();
    let o = qemu_run(&cache, &data);
    assert_clean_error(&o, &[s(&harness), "writable by its group"]);
    assert!(!ran.exists(), "the planted harness ran");
    // Another user's binary (only root can make one to test with).
    let me = fs::metadata(&harness).unwrap();
    use std::os::unix::fs::MetadataExt;
    if me.uid() == 0 {
        fs::set_permissions(&harness, fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&harness, Some(12345), None).unwrap();
        let o = qemu_run(&cache, &data);
        assert_clean_error(&o, &[s(&harness), "owned by uid 12345"]);
        assert!(!ran.exists(), "the planted harness ran");
        std::os::unix::fs::chown(&harness, Some(0), None).unwrap();
    }
    // Ours alone: it runs (and fails, being no harness).
    fs::set_permissions(&harness, fs::Permissions::from_mode(0o755)).unwrap();
    let o = qemu_run(&cache, &data);
    assert!(!o.status.success());
    assert!(!stderr(&o).contains("refusing"), "{}", stderr(&o));
    assert!(ran.exists(), "a harness of our own did not run");
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn without_home_the_qemu_cache_is_an_error_not_a_directory_in_tmp() {
    let d = scratch_dir("hostile-no-home");
    let data = d.join("data.img");
    fs::write(&data, vec![7u8; 1 << 20]).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pollwise"))
        .env("POLLWISE_NO_CACHE", "1")
        .args(["qemu", "run", "--policy", "qemu", "--file", s(&data)])
        .env_remove("HOME")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("POLLWISE_QEMU_CACHE")
        .output()
        .unwrap();
    assert_clean_error(
        &o,
        &["HOME", "XDG_CACHE_HOME", "POLLWISE_QEMU_CACHE", "--cache"],
    );
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn clean_leaves_lookalikes_it_did_not_write_and_names_them() {
    let d = scratch_dir("hostile-clean-lookalike");
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    // A dead process's scratch name, but pollwise never wrote it: the
    // user's own file (no marker) is not pollwise's to delete.
    let lookalike = d.join(format!("pollwise-scratch-{pid}-1-1.dat"));
    fs::write(&lookalike, b"a user's data").unwrap();
    // Marked, but another user's: theirs to remove (only root can make one).
    let theirs_name = format!("pollwise-scratch-{pid}-1-2.dat");
    let theirs = d.join(&theirs_name);
    fs::write(&theirs, b"x").unwrap();
    let f = fs::OpenOptions::new().write(true).open(&theirs).unwrap();
    pollwise_realdev::scratch::mark(&f, &theirs_name).unwrap();
    let root = std::os::unix::fs::MetadataExt::uid(&fs::metadata(&theirs).unwrap()) == 0;
    if root {
        std::os::unix::fs::chown(&theirs, Some(12345), None).unwrap();
    }
    let o = within(QUICK, &["realdev", "clean", "--dir", s(&d)]);
    assert_ok(&o);
    assert!(
        lookalike.exists(),
        "a file pollwise did not write was removed"
    );
    let e = stderr(&o);
    assert!(
        e.contains(&format!("warning: left {} alone", s(&lookalike))),
        "{e}"
    );
    if root {
        assert!(theirs.exists(), "another user's file was removed");
        assert!(e.contains("owned by uid 12345"), "{e}");
    }
    // Unless root gave it away, the marked file is this user's own, of a
    // dead process: the one file removed.
    let out = stdout(&o);
    let removed = if root { "0" } else { "1" };
    assert!(
        out.contains(&format!("{removed} stale scratch file(s)")),
        "{out}"
    );
    fs::remove_dir_all(&d).unwrap();
}

/// The scripts a user or CI runs, with every line that is not a comment.
fn script_lines() -> Vec<(String, usize, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join(".ci/run")];
    let mut dirs = vec![root.join("scripts"), root.join("qemu")];
    while let Some(dir) = dirs.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let top_qemu = dir == root.join("qemu");
            if p.is_dir() && !top_qemu {
                dirs.push(p);
            } else if p.is_file() && p.extension().is_some_and(|x| x == "sh" || x == "sbatch") {
                files.push(p);
            }
        }
    }
    let mut lines = Vec::new();
    for f in files {
        let name = f.strip_prefix(root).unwrap().display().to_string();
        for (i, l) in fs::read_to_string(&f).unwrap().lines().enumerate() {
            if !l.trim_start().starts_with('#') {
                lines.push((name.clone(), i + 1, l.to_string()));
            }
        }
    }
    assert!(lines.len() > 200, "found only {} script lines", lines.len());
    lines
}

#[test]
fn scripts_find_what_cargo_built_wherever_cargo_target_dir_points() {
    // No script assumes cargo builds into target/: it asks cargo.
    let assumed: Vec<String> = script_lines()
        .into_iter()
        .filter(|(_, _, l)| {
            l.match_indices("target/").any(|(i, _)| {
                i == 0
                    || matches!(
                        l.as_bytes()[i - 1],
                        b' ' | b'=' | b'/' | b'"' | b'\'' | b'('
                    )
            })
        })
        .map(|(f, n, l)| format!("{f}:{n}: {}", l.trim()))
        .collect();
    assert!(
        assumed.is_empty(),
        "scripts assume target/:\n{}",
        assumed.join("\n")
    );
    // What they ask: cargo's own answer, a relative CARGO_TARGET_DIR taken
    // from the current directory as cargo takes it.
    let d = scratch_dir("hostile-target-dir");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/target-dir.sh");
    for (set, want) in [
        (s(&d).to_string(), d.clone()),
        ("rel".into(), d.join("rel")),
    ] {
        let o = Command::new(script)
            .current_dir(&d)
            .env("CARGO_TARGET_DIR", &set)
            .output()
            .unwrap();
        assert_ok(&o);
        assert_eq!(stdout(&o).trim_end(), s(&want));
    }
    fs::remove_dir_all(&d).unwrap();
}
