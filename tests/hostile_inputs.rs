//! The binary against hostile or careless inputs, round three: fio's files
//! as fio reads them, work that stays bounded, and text people read or
//! paste that says what was given. None of these needs a device.

mod common;

use std::process::{Command, Output, Stdio};

use common::{assert_clean_error, assert_ok, pollwise, scratch_dir, stdout, with_stdin};

#[test]
fn a_fio_job_file_on_a_pipe_is_read_once() {
    let job = "[global]\nrw=randread\nbs=4k\niodepth=4\ndirect=1\nruntime=5ms\n[j]\n";
    let o = with_stdin(
        &[
            "sim",
            "--preset",
            "optane-p4800x",
            "--fio-job",
            "/dev/stdin",
            "--format",
            "csv",
        ],
        job,
    );
    assert_ok(&o);
    let out = stdout(&o);
    assert!(
        out.lines().count() == 2 && out.contains("randread"),
        "{out}"
    );
}

#[test]
fn fio_options_out_of_range_name_the_option_and_fios_range() {
    let job = scratch_dir("inputs-range").join("mix.fio");
    std::fs::write(&job, "[j]\nrw=randrw\nrwmixwrite=150\ndirect=1\n").unwrap();
    let o = pollwise(&[
        "sim",
        "--preset",
        "optane-p4800x",
        "--fio-job",
        job.to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["rwmixwrite=150", "0 ..= 100"]);
}

#[test]
fn import_fio_gives_one_row_per_job_and_refuses_a_failed_one() {
    let d = scratch_dir("inputs-fio-json");
    let job = |name: &str, rw: &str, iops: u32, error: u32| {
        format!(
            r#"{{"jobname": "{name}", "groupid": 0, "error": {error}, "job_runtime": 1000,
              "job options": {{"rw": "{rw}", "bs": "4k", "iodepth": "1"}},
              "read": {{"iops": {iops}, "bw_bytes": 4096, "lat_ns": {{"mean": 1000}},
                "clat_ns": {{"bins": {{"1000": 10}}}}}}}}"#
        )
    };
    let write = |file: &str, jobs: &[String]| {
        let path = d.join(file);
        let text = format!(
            r#"{{"fio version": "fio-3.33", "jobs": [{}]}}"#,
            jobs.join(",")
        );
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let two = write(
        "two.json",
        &[job("a", "randread", 990, 0), job("b", "randwrite", 10, 0)],
    );
    let o = pollwise(&["import", "fio", "--json", &two, "--iothread-cpu", "1"]);
    assert_ok(&o);
    let out = stdout(&o);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].contains("randread") && lines[2].contains("randwrite"),
        "{out}"
    );
    let failed = write("failed.json", &[job("a", "randread", 990, 5)]);
    let o = pollwise(&["import", "fio", "--json", &failed, "--iothread-cpu", "1"]);
    assert_clean_error(&o, &["[a]: fio reports error 5"]);
}

#[test]
fn a_near_zero_cost_preset_never_passes_its_own_bandwidth_cap() {
    // Every cost 1 ns (no transfer overhead) and a 4 KiB transfer of 9.9 ns: truncated to 9 ns,
    // the device would move 4 KiB in 9 ns, past its bandwidth.
    let shown = stdout(&pollwise(&["preset", "show", "optane-p4800x"]));
    let rate: u64 = 413_737_373_737;
    let near_zero: Vec<String> = shown
        .lines()
        .map(|l| match l.split_once(" = ") {
            Some(("transfer_overhead_ns", _)) => "transfer_overhead_ns = 0".into(),
            Some((k, _)) if k.ends_with("_ns") => format!("{k} = 1"),
            Some(("io_cpu_ns_per_kib", _)) => "io_cpu_ns_per_kib = 0".into(),
            Some(("read_bytes_per_s", _)) => format!("read_bytes_per_s = {rate}"),
            _ => l.to_string(),
        })
        .collect();
    let preset = scratch_dir("inputs-near-zero").join("near-zero.toml");
    std::fs::write(&preset, near_zero.join("\n")).unwrap();
    let o = pollwise(&[
        "sim",
        "--preset",
        preset.to_str().unwrap(),
        "--rw",
        "randread",
        "--bs",
        "4k",
        "--iodepth",
        "64",
        "--numjobs",
        "8",
        "--duration-ms",
        "1",
        "--format",
        "csv",
    ]);
    assert_ok(&o);
    let out = stdout(&o);
    let rows: Vec<pollwise_core::RunRow> = csv::Reader::from_reader(out.as_bytes())
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap();
    let cap = rate as f64 / 4096.0;
    assert!(
        rows[0].iops > 0.9 * cap && rows[0].iops <= cap,
        "{} > {cap}",
        rows[0].iops
    );
}

/// Runs pollwise and fails the test if it has not finished within `secs`
/// (it is then killed): work past the bound must be refused, not started.
fn within(args: &[&str], secs: u64) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pollwise"))
        .env("POLLWISE_NO_CACHE", "1")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pollwise");
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() >= secs {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("`pollwise {}` still ran after {secs} s", args.join(" "));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn repeats_times_duration_past_the_work_bound_are_refused_up_front() {
    let d = scratch_dir("inputs-work");
    let (study, report) = (d.join("study"), d.join("report"));
    let cases: [Vec<&str>; 4] = [
        vec!["compare", "--repeat", "1000", "--duration-ms", "3600000"],
        vec![
            "sweep",
            "--policy",
            "qemu",
            "--param",
            "poll-max-ns=1,2",
            "--matrix",
        ]
        .into_iter()
        .chain(["--repeat", "1000", "--duration-ms", "3600000"])
        .collect(),
        vec![
            "study",
            "--repeat",
            "1000",
            "--out",
            study.to_str().unwrap(),
        ],
        vec![
            "report",
            "--repeat",
            "1000",
            "--out",
            report.to_str().unwrap(),
        ],
    ];
    for args in &cases {
        let o = within(args, 60);
        assert_clean_error(
            &o,
            &[
                "simulated events",
                "at most 2e11",
                " h on ",
                "lower --repeat",
            ],
        );
    }
}

#[test]
fn threads_past_the_number_of_runs_are_capped_with_a_note() {
    let o = pollwise(&[
        "sweep",
        "--policy",
        "qemu",
        "--param",
        "poll-max-ns=1,2",
        "--duration-ms",
        "5",
        "--threads",
        "4",
    ]);
    assert_ok(&o);
    let err = common::stderr(&o);
    assert!(err.contains("--threads 4 capped at 2"), "{err}");
}

#[test]
fn progress_is_a_plain_line_when_stderr_is_not_a_terminal() {
    let o = pollwise(&[
        "sweep",
        "--policy",
        "qemu",
        "--param",
        "poll-max-ns=1,2,3",
        "--duration-ms",
        "5",
    ]);
    assert_ok(&o);
    let err = common::stderr(&o);
    assert!(err.contains("sweep qemu: 3/3 runs, "), "{err}");
}

#[test]
fn a_preset_name_with_control_characters_is_refused_at_load() {
    let shown = stdout(&pollwise(&["preset", "show", "optane-p4800x"]));
    let evil = shown.replacen(
        "name = \"optane-p4800x\"",
        "name = \"red\\u001b[31m\\nrow\"",
        1,
    );
    assert_ne!(evil, shown);
    let path = scratch_dir("inputs-evil-name").join("evil.toml");
    std::fs::write(&path, evil).unwrap();
    let o = pollwise(&[
        "sim",
        "--preset",
        path.to_str().unwrap(),
        "--duration-ms",
        "5",
    ]);
    assert_clean_error(&o, &["name", "control character"]);
}

/// The words of `line` as bash reads them.
fn bash_words(line: &str) -> Vec<String> {
    let o = Command::new("bash")
        .args(["-c", &format!("printf '%s\\0' {line}")])
        .output()
        .expect("run bash");
    assert!(o.status.success(), "bash: {line}");
    let words = String::from_utf8(o.stdout).unwrap();
    words
        .trim_end_matches('\0')
        .split('\0')
        .map(String::from)
        .collect()
}

#[test]
fn reports_written_by_line_pastes_back_and_stays_one_line() {
    let d = scratch_dir("inputs-quoted");
    let dir = d.join("it's a\nmachine");
    std::fs::create_dir_all(&dir).unwrap();
    let preset = dir.join("p.toml");
    let shown = stdout(&pollwise(&["preset", "show", "optane-p4800x"]));
    std::fs::write(&preset, shown).unwrap();
    let preset = preset.to_str().unwrap();
    let out = d.join("report");
    let o = pollwise(&[
        "report",
        "--preset",
        preset,
        "--out",
        out.to_str().unwrap(),
        "--duration-ms",
        "5",
        "--compare-duration-ms",
        "5",
        "--repeat",
        "1",
    ]);
    assert_ok(&o);
    let index = std::fs::read_to_string(out.join("index.md")).unwrap();
    let line = index
        .lines()
        .find(|l| l.starts_with("Written by `"))
        .unwrap_or_else(|| panic!("no one-line Written by in:\n{index}"));
    let command = &line["Written by `".len()..line.find("`.").unwrap()];
    let words = bash_words(command);
    let at = words.iter().position(|w| w == "--preset").unwrap();
    assert_eq!(words[at + 1], preset, "{command}");
    assert_eq!(words[..2], ["pollwise", "report"], "{command}");
}
