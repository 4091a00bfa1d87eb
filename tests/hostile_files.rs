//! The binary against hostile files: outputs of every command go through
//! the one checked output (never an input, never a foreign file without
//! --force, never a file cut half-way, no temporary file left after a
//! stop signal or a kill), and inputs are read with a bound.

mod common;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{assert_clean_error, assert_ok, pollwise, scratch_dir, stdout};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn example(rel: &str) -> String {
    format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// Hidden temporary files pollwise left in `dir`.
fn temps(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.starts_with('.') && name.contains(".pollwise-")
        })
        .collect()
}

/// A small sweep's shard 1/1 at `path`.
fn shard(path: &Path) {
    assert_ok(&pollwise(&[
        "sweep",
        "--param",
        "poll-max-ns=0,16000,32768",
        "--duration-ms",
        "3",
        "--shard",
        "1/1",
        "--out",
        s(path),
    ]));
}

/// Runs `sh -c script` with `$P` set to the binary.
fn sh(script: &str) -> Output {
    Command::new("sh")
        .args(["-c", script])
        .env("P", env!("CARGO_BIN_EXE_pollwise"))
        .env("POLLWISE_NO_CACHE", "1")
        .output()
        .unwrap()
}

#[test]
fn import_and_merge_outputs_are_checked_like_every_other_output() {
    let d = scratch_dir("hf-out");
    let s1 = d.join("s1.csv");
    shard(&s1);
    let before = fs::read(&s1).unwrap();
    // The output is the input: refused, the input untouched.
    let o = pollwise(&["merge", s(&s1), "--out", s(&s1)]);
    assert_clean_error(&o, &["same file"]);
    assert_eq!(fs::read(&s1).unwrap(), before);
    // A foreign file needs --force.
    let notes = d.join("notes.csv");
    fs::write(&notes, "name,phone\nann,1\n").unwrap();
    assert_clean_error(
        &pollwise(&["merge", s(&s1), "--out", s(&notes)]),
        &["--force"],
    );
    assert_eq!(fs::read_to_string(&notes).unwrap(), "name,phone\nann,1\n");
    assert_ok(&pollwise(&["merge", s(&s1), "--out", s(&notes), "--force"]));

    let json = d.join("run.json");
    fs::copy(example("examples/fio/testbed-run.json"), &json).unwrap();
    let json_before = fs::read(&json).unwrap();
    let fio = |out: &Path, force: bool| {
        let mut a = vec!["import", "fio", "--json", s(&json), "--iothread-cpu", "5"];
        a.extend(["--out", s(out)]);
        if force {
            a.push("--force");
        }
        pollwise(&a)
    };
    assert_clean_error(&fio(&json, true), &["same file"]);
    assert_eq!(fs::read(&json).unwrap(), json_before);
    let foreign = d.join("mine.csv");
    fs::write(&foreign, "keep me\n").unwrap();
    assert_clean_error(&fio(&foreign, false), &["--force"]);
    assert_eq!(fs::read_to_string(&foreign).unwrap(), "keep me\n");
    assert_ok(&fio(&foreign, true));

    let log = d.join("q.log");
    fs::copy(example("examples/qemu/poll-trace.log"), &log).unwrap();
    let log_before = fs::read(&log).unwrap();
    let trace =
        |out: &Path| pollwise(&["import", "qemu-trace", "--input", s(&log), "--out", s(out)]);
    assert_clean_error(&trace(&log), &["same file"]);
    assert_eq!(fs::read(&log).unwrap(), log_before);
    assert_clean_error(&trace(&foreign), &["--force"]);
    assert!(temps(&d).is_empty(), "{:?}", temps(&d));
}

#[test]
fn a_write_that_fails_half_way_keeps_the_previous_file() {
    let d = scratch_dir("hf-efbig");
    let s1 = d.join("s1.csv");
    shard(&s1);
    let out = d.join("merged.csv");
    // A previous output of the same kind, small enough to fit the limit.
    let old = format!("{}\n", pollwise_core::RunRow::COLUMNS.join(","));
    fs::write(&out, &old).unwrap();
    // With a 1-block file size limit (SIGXFSZ ignored) the write fails
    // with EFBIG part of the way through.
    let o = sh(&format!(
        "ulimit -f 1; trap '' XFSZ; exec \"$P\" merge '{}' --out '{}'",
        s(&s1),
        s(&out)
    ));
    assert!(!o.status.success(), "the write should have failed");
    assert_eq!(fs::read_to_string(&out).unwrap(), old);
    assert!(temps(&d).is_empty(), "{:?}", temps(&d));
}

#[test]
fn a_full_device_is_named_and_its_error_said_once() {
    let full = "No space left on device";
    let waits = [
        "sim",
        "--iothreads",
        "1",
        "--duration-ms",
        "5",
        "--waits",
        "/dev/full",
    ];
    let sweep = [
        "sweep",
        "--policy",
        "qemu",
        "--param",
        "poll-max-ns=0,8000",
        "--duration-ms",
        "5",
        "--out",
        "/dev/full",
    ];
    for args in [&waits[..], &sweep[..]] {
        let o = pollwise(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.matches(full).count(), 1, "{args:?}: {err}");
        // The file that could not be written is named.
        if args == waits {
            assert!(err.contains(&format!("/dev/full: {full}")), "{err}");
        }
    }
}

/// Starts a long `sim --trace` into `dir`; returns it once its temporary
/// file exists. The stop signals start at their default action, as from a
/// terminal: a test run started in the background by a shell without job
/// control inherits SIGINT and SIGQUIT ignored, and pollwise keeps a
/// signal its caller ignores ignored.
fn long_sim(dir: &Path, out: &Path) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pollwise"));
    // SAFETY: signal(2) is async-signal-safe, as pre_exec requires.
    unsafe {
        cmd.pre_exec(|| {
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    let child = cmd
        .env("POLLWISE_NO_CACHE", "1")
        .args(["sim", "--duration-ms", "600000", "--trace", s(out)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while temps(dir).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no temporary file"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Let it write a little.
    std::thread::sleep(Duration::from_millis(200));
    child
}

fn wait(child: &mut std::process::Child) {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "still running after the signal"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn every_stop_signal_removes_the_temporary_file() {
    for sig in ["INT", "TERM", "HUP", "QUIT"] {
        let d = scratch_dir(&format!("hf-sig-{sig}"));
        let out = d.join("t.csv");
        let mut child = long_sim(&d, &out);
        let kill = Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        wait(&mut child);
        assert!(temps(&d).is_empty(), "SIG{sig} left {:?}", temps(&d));
        assert!(!out.exists(), "SIG{sig}: a partial output under its name");
    }
}

#[test]
fn a_later_run_removes_temporary_files_of_killed_runs_only() {
    let d = scratch_dir("hf-kill");
    let out = d.join("t.csv");
    let mut child = long_sim(&d, &out);
    child.kill().unwrap(); // SIGKILL: nothing runs in the child.
    child.wait().unwrap();
    let left = temps(&d);
    assert_eq!(left.len(), 1, "{left:?}");
    // A temporary file of a live process (this test), and files that only
    // look similar, are kept.
    let me = std::process::id();
    let start = pollwise_realdev::scratch::process_start(me).unwrap();
    let live = d.join(format!(".t.csv.pollwise-{me}-{start}-0.tmp.csv"));
    let other = d.join(".t.csv.pollwise-notes.tmp.csv");
    let plain = d.join("t.csv.pollwise-1-1-0.tmp");
    for f in [&live, &other, &plain] {
        fs::write(f, "x").unwrap();
    }
    let o = pollwise(&["sim", "--duration-ms", "2", "--trace", s(&out)]);
    assert_ok(&o);
    assert!(!left[0].exists(), "the killed run's file is still there");
    for f in [&live, &other, &plain] {
        assert!(f.exists(), "{} was removed", f.display());
    }
    assert!(fs::read_to_string(&out).unwrap().starts_with("policy,"));
    let _ = stdout(&o);
}

/// Runs `sh -c script` with `$P` set to the binary, under a 1 GB address
/// space limit, so a reader without a bound fails fast instead of taking
/// the machine's memory.
fn bounded(script: &str) -> Output {
    sh(&format!("ulimit -v 1000000; {script}"))
}

/// A clean refusal: no abort, no signal, the message names what it must.
fn assert_refused(o: &Output, needles: &[&str]) {
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_clean_error(o, needles);
}

#[test]
fn a_device_as_input_is_refused_by_every_reader() {
    let d = scratch_dir("hf-dev");
    let out = |name: &str| d.join(name).to_str().unwrap().to_string();
    for args in [
        format!(
            "import fio --json /dev/zero --iothread-cpu 5 --out '{}'",
            out("f.csv")
        ),
        format!(
            "import fio --json '{}' --sar /dev/zero --sar-cpu 1",
            example("examples/fio/testbed-run.json")
        ),
        format!(
            "import qemu-trace --input /dev/zero --out '{}'",
            out("t.csv")
        ),
        format!("merge /dev/zero --out '{}'", out("m.csv")),
        format!("plot pareto --input /dev/zero --out '{}'", out("p.svg")),
        format!("plot window --trace /dev/zero --out '{}'", out("w.svg")),
        "policy replay --input /dev/zero".to_string(),
        "sim --fio-job /dev/zero".to_string(),
    ] {
        let o = bounded(&format!("exec \"$P\" {args}"));
        assert_refused(&o, &["/dev/zero", "not a regular file"]);
    }
    assert!(temps(&d).is_empty());
}

#[test]
fn a_pipe_is_read_up_to_the_cap_and_the_cap_can_be_raised() {
    let d = scratch_dir("hf-pipe");
    let t = d.join("t.csv");
    // An endless pipe: refused at the cap, naming the file and the limit.
    for cmd in [
        format!("import qemu-trace --input /dev/stdin --out '{}'", s(&t)),
        "policy replay --input /dev/stdin > /dev/null".to_string(),
        format!("merge /dev/stdin --out '{}'", s(&t)),
    ] {
        let o = bounded(&format!(
            "(echo block_ns; yes 1000) | \"$P\" --max-input-mb 2 {cmd}"
        ));
        assert_refused(&o, &["/dev/stdin", "2 MiB", "--max-input-mb"]);
    }
    // A regular file over the cap is refused before it is read.
    let big = d.join("big.log");
    fs::File::create(&big).unwrap().set_len(3 << 20).unwrap();
    let o = pollwise(&[
        "import",
        "qemu-trace",
        "--max-input-mb",
        "2",
        "--input",
        s(&big),
        "--out",
        s(&t),
    ]);
    assert_refused(&o, &["big.log", "3 MiB", "2 MiB", "--max-input-mb"]);
    // Under a raised cap the same pipe is read to its end.
    let log = example("examples/qemu/poll-trace.log");
    let o = bounded(&format!(
        "cat '{log}' | \"$P\" import qemu-trace --max-input-mb 5 --input /dev/stdin --out '{}'",
        s(&t)
    ));
    assert_eq!(o.status.code(), Some(0), "{o:?}");
}

#[test]
fn a_sweep_with_more_shards_than_points_merges() {
    let d = scratch_dir("hf-empty-shard");
    let p = |i: u32| d.join(format!("s{i}.csv"));
    let sweep = |shard: &str, out: &Path| {
        assert_ok(&pollwise(&[
            "sweep",
            "--param",
            "poll-max-ns=0,32768",
            "--duration-ms",
            "3",
            "--shard",
            shard,
            "--out",
            s(out),
        ]))
    };
    for i in 1..=3 {
        sweep(&format!("{i}/3"), &p(i));
    }
    let whole = d.join("whole.csv");
    sweep("1/1", &whole);
    let merged = d.join("merged.csv");
    let o = pollwise(&["merge", s(&p(3)), s(&p(1)), s(&p(2)), "--out", s(&merged)]);
    assert_ok(&o);
    assert_eq!(fs::read(&merged).unwrap(), fs::read(&whole).unwrap());
    // The empty shard alone is still incomplete, and names what is missing.
    let rows = |i: u32| fs::read_to_string(p(i)).unwrap().lines().count();
    let empty = (1..=3).find(|&i| rows(i) <= 2).expect("an empty shard");
    assert_clean_error(&pollwise(&["merge", s(&p(empty))]), &["of 3 missing"]);
}
