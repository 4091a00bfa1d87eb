//! `pollwise tune` through the binary: on synthetic presets whose answer is
//! known by construction it picks that answer; it never keeps a setting the
//! simulator says loses more than the bar; bad input is refused before any
//! measurement; and end to end on the disk in a short mode it writes its
//! report and lines that QEMU's and libvirt's syntax take.

use std::fs;
use std::path::{Path, PathBuf};

mod common;
#[path = "../realdev/tests/device_dir/mod.rs"]
mod device_dir;
use common::{assert_clean_error, assert_ok, pollwise, scratch_dir, stdout};

/// The optane preset with its device latency's median set to `median_ns`.
fn preset_with_latency(dir: &Path, name: &str, median_ns: u64) -> PathBuf {
    let o = pollwise(&["preset", "show", "optane-p4800x"]);
    assert_ok(&o);
    let text = stdout(&o);
    assert!(
        text.contains("median_ns = 8500"),
        "the preset changed: {text}"
    );
    let text = text
        .replace("median_ns = 8500", &format!("median_ns = {median_ns}"))
        .replace("name = \"optane-p4800x\"", &format!("name = \"{name}\""));
    let path = dir.join(format!("{name}.toml"));
    fs::write(&path, text).unwrap();
    path
}

/// `tune --preset` at one job, queue depth 1: the answer line and the
/// report directory.
fn tune_qd1(preset: &Path, out: &Path, extra: &[&str]) -> (String, PathBuf) {
    let mut args = vec![
        "tune",
        "--preset",
        preset.to_str().unwrap(),
        "--qemu-version",
        "10.2",
        "--iodepth",
        "1",
        "--numjobs",
        "1",
        "--duration-ms",
        "1000",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let o = pollwise(&args);
    assert_ok(&o);
    (stdout(&o), out.to_path_buf())
}

/// The `poll-max-ns` of the answer's first line: Some for "set ...", None
/// for "keep the defaults".
fn answered_max_ns(text: &str) -> Option<u64> {
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("answer: "), "{text}");
    if first.starts_with("answer: keep the defaults") {
        return None;
    }
    let v = first
        .split("poll-max-ns=")
        .nth(1)
        .expect("a setting")
        .split(' ')
        .next();
    Some(v.unwrap().parse().unwrap())
}

/// Every kept row of search.csv loses at most `bar`% IOPS at its point.
fn assert_kept_within_bar(dir: &Path, bar: f64) {
    let mut r = csv::Reader::from_path(dir.join("search.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (change, kept) = (col("iops_change_pct"), col("kept"));
    let mut n = 0;
    for row in r.records() {
        let row = row.unwrap();
        if &row[kept] == "true" {
            n += 1;
            let c: f64 = row[change].parse().unwrap();
            assert!(c >= -bar, "kept a setting losing {c}% > {bar}%: {row:?}");
        }
    }
    assert!(n > 0, "stock at least is kept");
}

#[test]
fn a_slow_device_gets_no_window_and_a_fast_one_keeps_the_default_or_longer() {
    let dir = scratch_dir("tune-known");
    // 2 ms a request: no window catches a completion, polling only costs.
    let slow = preset_with_latency(&dir, "slow", 2_000_000);
    let (text, out) = tune_qd1(&slow, &dir.join("slow-out"), &[]);
    let max = answered_max_ns(&text).expect("a setting for the slow device");
    assert!(max <= 4096, "slow device: poll-max-ns={max}\n{text}");
    assert_kept_within_bar(&out, 1.0);
    // 4 us a request: polling catches every completion; a shorter window
    // loses the wake-up on each.
    let fast = preset_with_latency(&dir, "fast", 4000);
    let (text, out) = tune_qd1(&fast, &dir.join("fast-out"), &[]);
    if let Some(max) = answered_max_ns(&text) {
        assert!(max >= 32768, "fast device: poll-max-ns={max}\n{text}");
    }
    assert_kept_within_bar(&out, 1.0);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_is_refused_before_any_measurement() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--qemu-version", "10.0", "--accept-iops-loss", "0"],
            &["--accept-iops-loss 0", "above 0 and at most 50"],
        ),
        (
            &["--qemu-version", "10.0", "--accept-iops-loss", "50.5"],
            &["--accept-iops-loss 50.5"],
        ),
        (
            &["--qemu-version", "9.2"],
            &["\"9.2\"", "10.0, 10.1, 10.2, 11.0, 11.1"],
        ),
        (
            &["--qemu-version", "10.0", "--budget-minutes", "0.05"],
            &["too small for one confirmation pair"],
        ),
        (
            &["--qemu-version", "10.0", "--budget-minutes", "1e18"],
            &["--budget-minutes 1000000000000000000 is more than a week"],
        ),
        (
            &["--qemu-version", "10.0", "--file", "/proc/version"],
            &["does not support O_DIRECT"],
        ),
    ];
    for (args, needles) in cases {
        let mut all = vec!["tune"];
        all.extend(*args);
        let o = pollwise(&all);
        assert_clean_error(&o, needles);
        // Refused before the calibration (its stage line) or any search.
        let err = common::stderr(&o);
        assert!(
            !err.contains("tune [1/4]") && !err.contains("grid"),
            "{err}"
        );
    }
}

/// `-object iothread,id=...,k=v,...` as QEMU's option syntax has it.
fn assert_qemu_object(line: &str) {
    let opts = line.strip_prefix("-object ").expect(line);
    let mut parts = opts.split(',');
    assert_eq!(parts.next(), Some("iothread"), "{line}");
    for kv in parts {
        let (k, v) = kv.split_once('=').expect(kv);
        assert!(!k.is_empty() && !v.is_empty() && !v.contains('='), "{line}");
        if k != "id" {
            v.parse::<u64>()
                .unwrap_or_else(|_| panic!("{k}={v} in {line}"));
        }
    }
    assert!(opts.contains(",id=iothread1,"), "{line}");
}

/// The libvirt lines: well-formed, in the elements libvirt's schema names.
fn assert_libvirt(xml: &str) {
    let wrapped = format!("<domain>{xml}</domain>");
    let doc = roxmltree::Document::parse(&wrapped).expect(xml);
    let root = doc.root_element();
    let count = root
        .children()
        .find(|n| n.has_tag_name("iothreads"))
        .expect(xml);
    assert_eq!(count.text(), Some("1"));
    let ids = root
        .children()
        .find(|n| n.has_tag_name("iothreadids"))
        .expect(xml);
    let t = ids
        .children()
        .find(|n| n.has_tag_name("iothread"))
        .expect(xml);
    assert_eq!(t.attribute("id"), Some("1"));
    let poll = t.children().find(|n| n.has_tag_name("poll")).expect(xml);
    for a in ["max", "grow", "shrink"] {
        poll.attribute(a).expect(a).parse::<u64>().unwrap();
    }
}

#[test]
fn tune_on_the_disk_writes_its_report_and_lines_qemu_and_libvirt_take() {
    let Some(disk) = device_dir::device_dir() else {
        return;
    };
    let dir = scratch_dir("tune-disk");
    let slow = preset_with_latency(&dir, "slow", 2_000_000);
    let out = dir.join("report");
    let mut args = slow_tune_on(&slow, &disk, "100", "0.3");
    args.extend(["--accept-iops-loss", "5", "--out", out.to_str().unwrap()]);
    let o = pollwise(&args);
    assert_ok(&o);
    let text = stdout(&o);
    // The answer first, then the measured table, then the lines.
    assert!(text.starts_with("answer: "), "{text}");
    assert!(
        text.contains("measured on realdev") || text.contains("tried "),
        "{text}"
    );
    let object = text
        .lines()
        .find(|l| l.trim_start().starts_with("-object "))
        .expect(&text);
    assert_qemu_object(object.trim());
    let xml: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("libvirt"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert_libvirt(&xml.join("\n"));
    assert!(text.contains("\"execute\": \"qom-set\""), "{text}");
    for f in [
        "tune.md",
        "search.csv",
        "confirm.csv",
        "runs.csv",
        "tradeoff.png",
    ] {
        let len = fs::metadata(out.join(f)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{f} missing or empty");
    }
    let confirm = fs::read_to_string(out.join("confirm.csv")).unwrap();
    assert!(confirm.lines().count() >= 2, "nothing confirmed: {confirm}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_while_confirming_prints_the_answer_so_far_and_removes_the_scratch_file() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let Some(disk) = device_dir::device_dir() else {
        return;
    };
    let dir = scratch_dir("tune-stop");
    let slow = preset_with_latency(&dir, "slow", 2_000_000);
    // Its own directory on the O_DIRECT disk, to see the scratch file go.
    let sub = disk.join(format!("pollwise-tune-stop-disk-{}", std::process::id()));
    fs::create_dir_all(&sub).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pollwise"))
        .args(slow_tune_on(&slow, &sub, "200", "2"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while !seen.contains("tune [3/4]") {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "ended early: {seen}");
        seen.push_str(&line);
        assert!(started.elapsed() < Duration::from_secs(60), "{seen}");
    }
    std::thread::sleep(Duration::from_millis(500));
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let o = child.wait_with_output().unwrap();
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(130), "{seen}{rest}");
    assert!(rest.contains("interrupted by"), "{rest}");
    assert!(text.starts_with("answer: "), "{text}");
    assert!(text.contains("stopped early"), "{text}");
    assert!(text.contains("-object iothread,"), "{text}");
    let left: Vec<_> = fs::read_dir(&sub)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left {left:?}\n{seen}{rest}");
    fs::remove_dir(&sub).unwrap();
    let _ = fs::remove_dir_all(&dir);
}

/// The arguments of `tune` with the preset `slow` on the disk under
/// `disk`, QEMU 10.0's knobs, one point (numjobs 1, queue depth 1) of
/// `duration_ms` per run, within `budget_minutes`.
fn slow_tune_on<'a>(
    slow: &'a Path,
    disk: &'a Path,
    duration_ms: &'a str,
    budget_minutes: &'a str,
) -> Vec<&'a str> {
    vec![
        "tune",
        "--preset",
        slow.to_str().unwrap(),
        "--qemu-version",
        "10.0",
        "--dir",
        disk.to_str().unwrap(),
        "--iodepth",
        "1",
        "--numjobs",
        "1",
        "--duration-ms",
        duration_ms,
        "--budget-minutes",
        budget_minutes,
    ]
}

/// `tune` on the disk with the slow preset, one point at queue depth 1,
/// short runs, a small budget and a wide bar (so the disk's first batch
/// confirms the cheaper setting and QEMU's loop gets its turn).
fn tune_on_disk(disk: &Path, dir: &Path, extra: &[&str]) -> (String, PathBuf) {
    let slow = preset_with_latency(dir, "slow", 2_000_000);
    let out = dir.join(format!("report-{}", extra.len()));
    let mut args = slow_tune_on(&slow, disk, "100", "0.5");
    args.extend([
        "--size-mb",
        "64",
        "--accept-iops-loss",
        "50",
        "--out",
        out.to_str().unwrap(),
    ]);
    args.extend(extra);
    let o = pollwise(&args);
    assert_ok(&o);
    (stdout(&o), out)
}

/// The lines of `text` that say QEMU's loop was skipped.
fn skip_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("QEMU's loop: confirmation skipped"))
        .collect()
}

#[test]
fn without_qemus_variants_tune_says_in_one_line_it_skipped_qemus_loop() {
    let Some(disk) = device_dir::device_dir() else {
        return;
    };
    let dir = scratch_dir("tune-no-qemu");
    let empty = dir.join("empty-qemu-cache");
    fs::create_dir_all(&empty).unwrap();
    let (text, out) = tune_on_disk(&disk, &dir, &["--cache", empty.to_str().unwrap()]);
    let lines = skip_lines(&text);
    assert_eq!(lines.len(), 1, "{text}");
    for needle in [
        "variant 'stock'",
        "pollwise qemu build --cache",
        "--no-qemu",
    ] {
        assert!(lines[0].contains(needle), "{needle}: {}", lines[0]);
    }
    assert!(!text.contains("in QEMU's loop"), "{text}");
    let md = fs::read_to_string(out.join("tune.md")).unwrap();
    assert!(md.contains(lines[0]), "{md}");
    // --no-qemu: no line at all.
    let (text, _) = tune_on_disk(
        &disk,
        &dir,
        &["--cache", empty.to_str().unwrap(), "--no-qemu"],
    );
    assert!(skip_lines(&text).is_empty(), "{text}");
    assert!(text.starts_with("answer: "), "{text}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn with_qemus_variants_built_tune_confirms_in_qemus_loop_too() {
    if pollwise_qemu::skip_requested() {
        eprintln!(
            "\nSKIPPED with_qemus_variants_built_tune_confirms_in_qemus_loop_too: {}=1, \
             QEMU's loop was not run\n",
            pollwise_qemu::SKIP_ENV
        );
        return;
    }
    let Some(disk) = device_dir::device_dir() else {
        return;
    };
    // Seconds when the stock variant is in the cache (as `compare
    // --backend qemu` finds it); built otherwise.
    let cache = pollwise_qemu::default_cache_dir().expect("a QEMU cache directory");
    if !pollwise_qemu::harness_path(&cache, "stock").is_file() {
        assert_ok(&pollwise(&["qemu", "build", "--variant", "stock"]));
    }
    let dir = scratch_dir("tune-qemu");
    let (text, out) = tune_on_disk(&disk, &dir, &[]);
    assert!(skip_lines(&text).is_empty(), "{text}");
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with("answer: set ") && first.contains("in QEMU's loop"),
        "the disk confirms at a 50% bar, and QEMU's verdict is beside it: {text}"
    );
    assert!(text.contains("measured on QEMU's loop ("), "{text}");
    let md = fs::read_to_string(out.join("tune.md")).unwrap();
    assert!(md.contains(first), "{md}");
    assert!(md.contains("| QEMU's loop |"), "{md}");
    let mut r = csv::Reader::from_path(out.join("confirm.csv")).unwrap();
    let at = r.headers().unwrap().iter().position(|h| h == "measured_in");
    let at = at.expect("a measured_in column");
    let loops: Vec<String> = r
        .records()
        .map(|row| row.unwrap()[at].to_string())
        .collect();
    assert_eq!(loops, ["disk", "qemu"], "one point, each loop once");
    let _ = fs::remove_dir_all(&dir);
}
