//! The binary against hostile or careless inputs, round three: fio's files
//! as fio reads them, work that stays bounded, and text people read or
//! paste that says what was given. None of these needs a device.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{assert_clean_error, assert_ok, pollwise, scratch_dir, stdout};

/// Runs pollwise with `input` on its standard input.
fn with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pollwise"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pollwise");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

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
