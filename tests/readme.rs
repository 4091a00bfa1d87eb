//! The README's commands, run in the order shown, in a scratch directory
//! that holds a copy of the files they read (examples/).
//!
//! By default the test runs them quickly: `cargo run --release --` and
//! `pollwise` become this build's binary (so `cargo install --path .` is not
//! run), and the long commands get shorter durations and fewer repeats (the
//! rewrites are in [`quick`]). `POLLWISE_README_FULL=1` runs every command
//! exactly as written, `cargo install` into the scratch directory included
//! (minutes of building and about 40 minutes of study). Commands that run
//! the test suite itself or the loom builds are not run here: CI runs them.
//! Device commands need an O_DIRECT directory (see realdev's device tests);
//! `POLLWISE_SKIP_DEVICE_TESTS=1` skips them and says so.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../realdev/tests/device_dir/mod.rs"]
mod device_dir;

/// The shell commands of the README's `sh` blocks, continuation lines
/// joined, comments and blank lines dropped.
fn readme_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            in_block = t == "```sh";
            continue;
        }
        if !in_block || (current.is_empty() && (t.is_empty() || t.starts_with('#'))) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part.trim_end());
                current.push(' ');
            }
            None => {
                current.push_str(t);
                commands.push(std::mem::take(&mut current));
            }
        }
    }
    assert!(current.is_empty(), "unterminated command: {current}");
    commands
}

/// What the test does with a command.
#[derive(Debug, PartialEq)]
enum Plan {
    Run(String),
    /// Not run, and why.
    Skip(&'static str),
}

fn is_device(cmd: &str) -> bool {
    cmd.contains(" realdev ") || cmd.contains(" validate ") || cmd.contains(" tune ")
}

/// Adds `flag value` (or a bare `flag` for an empty value) unless the
/// command already has the flag.
fn with(cmd: String, flag: &str, value: &str) -> String {
    if cmd.split_whitespace().any(|w| w == flag) {
        cmd
    } else if value.is_empty() {
        format!("{cmd} {flag}")
    } else {
        format!("{cmd} {flag} {value}")
    }
}

/// Replaces the value of `flag` when the command has it.
fn replace_value(cmd: &str, flag: &str, value: &str) -> String {
    let mut words: Vec<String> = cmd.split(' ').map(str::to_string).collect();
    for i in 0..words.len().saturating_sub(1) {
        if words[i] == flag {
            words[i + 1] = value.to_string();
        }
    }
    words.join(" ")
}

/// The quick form of a command: shorter runs and fewer repeats, nothing
/// else changed.
fn quick(cmd: &str) -> String {
    let mut c = cmd.to_string();
    let sub =
        |name: &str| c.contains(&format!("-- {name}")) || c.contains(&format!("pollwise {name}"));
    if sub("study") {
        c = with(c, "--repeat", "1");
        c = with(c, "--duration-ms", "20");
        c = with(c, "--skip-robustness", "");
    } else if sub("report") {
        c = with(c, "--repeat", "1");
        c = with(c, "--duration-ms", "20");
        c = with(c, "--compare-duration-ms", "20");
    } else if sub("sweep") {
        c = with(c, "--duration-ms", "50");
    } else if sub("realdev run") {
        c = replace_value(&c, "--duration-ms", "300");
        c = with(c, "--duration-ms", "300");
        // 2500 ms is past a 300 ms run's end.
        c = c.replace("--set-at 2500:", "--set-at 150:");
    } else if sub("realdev compare") || sub("validate") {
        c = replace_value(&c, "--repeat", "2");
        c = with(c, "--repeat", "2");
        c = replace_value(&c, "--duration-ms", "200");
        c = with(c, "--duration-ms", "200");
    } else if sub("tune") {
        // A shared test machine is loaded and its calibration would refuse
        // (the calibrate command below runs it): an embedded preset, one
        // short point, a small budget.
        c = with(c, "--preset", "optane-p4800x");
        c = with(c, "--iodepth", "1");
        c = with(c, "--numjobs", "1");
        c = with(c, "--duration-ms", "200");
        c = with(c, "--budget-minutes", "1");
    } else if sub("realdev calibrate") {
        c = with(c, "--point-ms", "200");
        c = with(c, "--rounds", "200");
        c = with(c, "--repeat", "1");
        // A shared test machine is loaded: the calibration's warnings are
        // about the machine, not about the command.
        c = with(c, "--force", "");
    }
    c.replace("cargo run --release --", "pollwise")
}

fn plan(cmd: &str, full: bool, skip_device: bool) -> Plan {
    if cmd.starts_with("cargo test") || cmd.contains("CARGO_TARGET_DIR=") {
        return Plan::Skip("the test suite and the loom builds: CI runs them itself");
    }
    if is_device(cmd) && skip_device {
        return Plan::Skip("POLLWISE_SKIP_DEVICE_TESTS=1");
    }
    if full {
        return Plan::Run(cmd.to_string());
    }
    if cmd.starts_with("cargo install") {
        return Plan::Skip("quick mode: this build's binary is on PATH as `pollwise`");
    }
    Plan::Run(quick(cmd))
}

/// Copies a directory tree (the README's inputs).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Removes the scratch directory however the test ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_readme_commands_run_as_written_in_order() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("README.md")).unwrap();
    let commands = readme_commands(&text);
    assert!(
        commands.len() >= 30,
        "found only {} commands",
        commands.len()
    );

    let full = std::env::var_os("POLLWISE_README_FULL").is_some_and(|v| v == "1");
    let skip_device = device_dir::skip_requested();
    let scratch =
        Scratch(std::env::temp_dir().join(format!("pollwise-readme-{}", std::process::id())));
    let work = scratch.0.join("work");
    copy_tree(&root.join("examples"), &work.join("examples"));
    let shell = Shell {
        work: work.clone(),
        path: path_with_pollwise(&scratch.0, full),
        // Device commands use the system temp dir: point it at a directory
        // that supports O_DIRECT.
        tmpdir: if commands.iter().any(|c| is_device(c)) && !skip_device {
            device_dir::device_dir().expect("a directory that supports O_DIRECT")
        } else {
            std::env::temp_dir()
        },
    };

    let mut ran = 0;
    for cmd in &commands {
        let line = match plan(cmd, full, skip_device) {
            Plan::Skip(why) => {
                eprintln!("skipped: {cmd}\n  ({why})");
                continue;
            }
            Plan::Run(line) => line,
        };
        shell.run(&in_scratch(&line, root, &scratch.0));
        ran += 1;
    }
    assert_outputs_written(&work);
    eprintln!("{ran} of {} README commands run", commands.len());
}

/// `PATH` with `pollwise` first: this build's binary, or (full) what
/// `cargo install --root` puts in the scratch directory's bin/.
fn path_with_pollwise(scratch: &Path, full: bool) -> String {
    let bin = scratch.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    if !full {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_pollwise"), bin.join("pollwise")).unwrap();
    }
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A command as it runs in the scratch dir: `cargo` needs the manifest;
/// install goes to the scratch bin.
fn in_scratch(line: &str, root: &Path, scratch: &Path) -> String {
    line.replace(
        "cargo run --release",
        &format!(
            "cargo run --release --manifest-path {}",
            root.join("Cargo.toml").display()
        ),
    )
    .replace(
        "cargo install --path .",
        &format!(
            "cargo install --path {} --root {}",
            root.display(),
            scratch.display()
        ),
    )
}

/// Where and with what `PATH` and temp dir the commands run.
struct Shell {
    work: PathBuf,
    path: String,
    tmpdir: PathBuf,
}

impl Shell {
    /// Runs `line` in bash; it must succeed without a panic.
    fn run(&self, line: &str) {
        eprintln!("running: {line}");
        let o = Command::new("bash")
            .args(["-euo", "pipefail", "-c", line])
            .current_dir(&self.work)
            .env("PATH", &self.path)
            .env("TMPDIR", &self.tmpdir)
            .env("POLLWISE_CACHE_DIR", self.tmpdir.join("runs"))
            .output()
            .expect("run bash");
        assert!(
            o.status.success(),
            "README command failed: {line}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{line} panicked: {err}");
    }
}

/// What the commands say they write is there.
fn assert_outputs_written(work: &Path) {
    for file in [
        "window.csv",
        "results.csv",
        "compare.csv",
        "pareto.png",
        "pareto.svg",
        "window.png",
        "heat.png",
        "compare.png",
        "events.csv",
        "sim-waits.csv",
        "qemu-window.csv",
        "testbed.csv",
    ] {
        let meta = std::fs::metadata(work.join(file))
            .unwrap_or_else(|e| panic!("README commands did not write {file}: {e}"));
        assert!(meta.len() > 0, "{file} is empty");
    }
    assert!(
        work.join("docs/study/README.md").is_file(),
        "study wrote no summary"
    );
    assert!(
        work.join("report/index.md").is_file(),
        "report wrote no index"
    );
}
