//! Every way a run can stop leaves no scratch file behind, and sizes are
//! checked before anything is written.
//!
//! The signal tests run this test binary again as a child (one test, chosen
//! by `--exact`, acting on `POLLWISE_RELIABILITY_CHILD`), which creates a
//! scratch target and prints its path; the parent then signals it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pollwise_realdev::scratch::{self, clean_stale_scratch, name_for, Owner};
use pollwise_realdev::sys::{self, SigintGuard};
use pollwise_realdev::target::{self, Target, TargetError, TargetSpec};

mod device_dir;
use device_dir::device_dir;

const CHILD_ENV: &str = "POLLWISE_RELIABILITY_CHILD";
const DIR_ENV: &str = "POLLWISE_RELIABILITY_DIR";

fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "pollwise-reliability-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh directory for a test whose child needs O_DIRECT: under
/// [`device_dir`], which fails the test when no directory supports it
/// (`None` only when device tests are skipped by request).
fn device_test_dir(name: &str) -> Option<PathBuf> {
    let dir = device_dir()?.join(format!(
        "pollwise-reliability-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Some(dir)
}

fn scratch_spec(dir: &Path) -> TargetSpec {
    TargetSpec::Scratch {
        dir: Some(dir.to_path_buf()),
        size_bytes: 4 << 20,
    }
}

/// Files in `dir` with a scratch file's name.
fn scratch_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| scratch::parse_name(n).is_some())
        })
        .collect();
    v.sort();
    v
}

/// The child's side: with the stop-signal guard installed (as every realdev
/// command does), create a scratch target, say where it is, and wait for a
/// stop signal; then drop the target as the run's exit path does. Ignored:
/// the tests below run it, by name, in a child of their own.
#[test]
#[ignore = "the child of the signal tests, which run it themselves"]
fn child_holds_a_scratch_target() {
    let mode = std::env::var(CHILD_ENV).expect("run as the child of a signal test");
    let dir = PathBuf::from(std::env::var(DIR_ENV).unwrap());
    let guard = (mode == "guarded").then(|| SigintGuard::install().unwrap());
    let target = match Target::open(&scratch_spec(&dir), 4096, true) {
        Ok(t) => t,
        Err(TargetError::NoDirectIo(_)) => {
            println!("NODIRECT");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    println!("SCRATCH {}", target.path().display());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sys::sigint_received() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    let sig = sys::stop_signal();
    drop(target);
    drop(guard);
    println!("STOPPED {}", sig.unwrap_or(0));
}

/// Held while a child is spawned. A child between fork and exec holds a
/// copy of every descriptor of this process, so a test that releases a
/// lock by closing its file and then checks that the lock is free takes
/// this first: no other test's child can be holding the file then
/// (`Command::spawn` returns only after the exec).
static SPAWNING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn no_child_mid_spawn() -> std::sync::MutexGuard<'static, ()> {
    SPAWNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the child; returns it and its scratch path. The caller waits for
/// the child; a failed test may leave it to the 30 s deadline.
#[allow(clippy::zombie_processes)]
fn spawn_child(dir: &Path, mode: &str) -> (Child, PathBuf, BufReader<std::process::ChildStdout>) {
    let spawning = no_child_mid_spawn();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "--ignored",
            "child_holds_a_scratch_target",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, mode)
        .env(DIR_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    drop(spawning);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            let status = child.wait();
            panic!("the child ended before creating its scratch file: {status:?}");
        }
        // libtest may print "test NAME ... " on the same line first.
        if line.contains("NODIRECT") {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the child found no O_DIRECT in {}, a directory device_dir() accepted",
                dir.display()
            );
        }
        if let Some((_, p)) = line.trim_end().split_once("SCRATCH ") {
            return (child, PathBuf::from(p), out);
        }
    }
}

#[test]
fn every_catchable_stop_signal_removes_the_scratch_file() {
    for sig in sys::STOP_SIGNALS {
        let Some(dir) = device_test_dir(&format!("sig{sig}")) else {
            return;
        };
        let (mut child, path, mut out) = spawn_child(&dir, "guarded");
        assert!(
            path.exists(),
            "the child's scratch file exists while it runs"
        );
        // SAFETY: signals our own child.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
        let status = child.wait().unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        let name = sys::signal_name(sig);
        assert!(status.success(), "{name}: the child died: {status:?}");
        assert!(
            rest.contains(&format!("STOPPED {sig}")),
            "{name}: the child did not see it: {rest}"
        );
        assert!(!path.exists(), "{name}: {} left behind", path.display());
        assert!(scratch_files(&dir).is_empty(), "{name}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn stale_files_of_killed_owners_are_removed_and_nothing_else() {
    let Some(dir) = device_test_dir("sigkill") else {
        return;
    };
    let (mut child, killed, _out) = spawn_child(&dir, "unguarded");
    child.kill().unwrap(); // SIGKILL: nothing runs in the child.
    child.wait().unwrap();
    assert!(killed.exists(), "SIGKILL cannot clean up");
    let me = std::process::id();
    let n = Neighbours::plant(&dir, me, child.id());

    let cleanup = clean_stale_scratch(&dir).unwrap();
    let removed = cleanup.removed;
    let mut want = vec![(killed.clone(), child.id()), (n.reused.clone(), me)];
    want.sort();
    let got: Vec<(PathBuf, u32)> = removed.iter().map(|r| (r.path.clone(), r.pid)).collect();
    assert_eq!(got, want);
    assert!(removed[0]
        .to_string()
        .starts_with("removed stale scratch file "));
    assert!(!killed.exists() && !n.reused.exists());
    for p in n.kept() {
        assert!(p.symlink_metadata().is_ok(), "{} was removed", p.display());
    }
    // Named: what has a dead owner's name but is not known to be ours.
    let left: Vec<(&Path, bool)> = cleanup
        .left
        .iter()
        .map(|l| (l.path.as_path(), l.why.contains("regular file")))
        .collect();
    let mut want_left = vec![
        (n.dead_dir.as_path(), true),
        (n.dead_link.as_path(), true),
        (n.unmarked.as_path(), false),
        (n.renamed.as_path(), false),
    ];
    want_left.sort();
    assert_eq!(left, want_left);
    assert!(cleanup.left[0].to_string().starts_with("left "));
    assert!(
        clean_stale_scratch(&dir).unwrap().removed.is_empty(),
        "idempotent"
    );
    let no_spawn = no_child_mid_spawn();
    drop(n.lock);
    let removed = clean_stale_scratch(&dir).unwrap().removed;
    drop(no_spawn);
    assert_eq!(removed.len(), 1, "unlocked, its owner is gone");
    assert_eq!(removed[0].path, n.locked);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What lies beside a killed run's scratch file, every kind of entry the
/// cleanup must tell apart; only `reused` is stale.
struct Neighbours {
    /// A live owner's file (this process's), in both name forms.
    live: PathBuf,
    live_old_form: PathBuf,
    /// This PID, but another start time: the owner died and the PID was
    /// given to another process (here, us).
    reused: PathBuf,
    /// Not scratch files, whatever their names suggest.
    others: [PathBuf; 3],
    /// A dead owner's name on a file pollwise did not mark: the user's own.
    unmarked: PathBuf,
    /// Marked, but with another file's name: renamed, not pollwise's doing.
    renamed: PathBuf,
    /// A directory and a symlink with a dead owner's scratch name.
    dead_dir: PathBuf,
    dead_link: PathBuf,
    /// A dead owner's name, but the file is locked as in use (by `lock`):
    /// a run in another PID namespace, whose PID means nothing here.
    locked: PathBuf,
    lock: std::fs::File,
}

impl Neighbours {
    /// Creates every neighbour in `dir`; `me` is this process, `dead` the
    /// killed child.
    fn plant(dir: &Path, me: u32, dead: u32) -> Neighbours {
        let my_start = scratch::process_start(me).unwrap();
        let at = |pid, start, seq| dir.join(name_for(Owner { pid, start }, seq));
        let n_live = at(me, Some(my_start), 900);
        let others = [
            dir.join("pollwise-scratch-notes.txt"),
            dir.join(format!("pollwise-scratch-{dead}-1.dat.keep")),
            dir.join("data.dat"),
        ];
        let (live_old_form, reused) = (at(me, None, 901), at(me, Some(my_start + 1), 902));
        for p in [&n_live, &live_old_form, &reused]
            .into_iter()
            .chain(&others)
        {
            std::fs::write(p, b"x").unwrap();
        }
        mark_as_scratch(&reused);
        let unmarked = at(dead, Some(1), 906);
        std::fs::write(&unmarked, b"x").unwrap();
        let renamed = at(dead, Some(1), 907);
        std::fs::write(&renamed, b"x").unwrap();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&renamed)
            .unwrap();
        scratch::mark(&f, "pollwise-scratch-1-1-1.dat").unwrap();
        let dead_dir = at(dead, None, 903);
        std::fs::create_dir(&dead_dir).unwrap();
        let dead_link = at(dead, None, 904);
        std::os::unix::fs::symlink(&n_live, &dead_link).unwrap();
        let locked = at(dead, None, 905);
        std::fs::write(&locked, b"x").unwrap();
        mark_as_scratch(&locked);
        let lock = std::fs::File::open(&locked).unwrap();
        scratch::lock_in_use(&lock).unwrap();
        Neighbours {
            live: n_live,
            live_old_form,
            reused,
            others,
            unmarked,
            renamed,
            dead_dir,
            dead_link,
            locked,
            lock,
        }
    }

    /// Every neighbour the first cleanup must leave in place.
    fn kept(&self) -> Vec<&PathBuf> {
        [
            &self.live,
            &self.live_old_form,
            &self.dead_dir,
            &self.dead_link,
            &self.locked,
            &self.unmarked,
            &self.renamed,
        ]
        .into_iter()
        .chain(&self.others)
        .collect()
    }
}

/// Marks `path` as pollwise's scratch file under its own name.
fn mark_as_scratch(path: &Path) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    scratch::mark(&f, name).unwrap();
}

#[test]
fn opening_a_scratch_target_cleans_up_after_killed_runs() {
    let Some(dir) = device_test_dir("open-cleans") else {
        return;
    };
    let (mut child, killed, _out) = spawn_child(&dir, "unguarded");
    child.kill().unwrap();
    child.wait().unwrap();
    let t = Target::open(&scratch_spec(&dir), 4096, true).unwrap();
    assert_eq!(t.stale_removed().len(), 1);
    assert_eq!(t.stale_removed()[0].path, killed);
    assert_eq!(t.stale_removed()[0].pid, child.id());
    assert_eq!(scratch_files(&dir), vec![t.path().to_path_buf()]);
    drop(t);
    assert!(scratch_files(&dir).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_size_that_overflows_is_an_error_not_zero_bytes() {
    // --size-mb 17592186044416 is 2^44 MiB = 2^64 bytes: `<< 20` gives 0.
    let e = target::mib_to_bytes(17_592_186_044_416)
        .unwrap_err()
        .to_string();
    assert!(e.contains("17592186044416 MiB"), "{e}");
    assert!(e.contains("too large"), "{e}");
    assert_eq!(target::mib_to_bytes(256).unwrap(), 256 << 20);

    let dir = test_dir("overflow");
    let spec = TargetSpec::Scratch {
        dir: Some(dir.clone()),
        size_bytes: u64::MAX - 5,
    };
    let e = Target::open(&spec, 4096, true).unwrap_err().to_string();
    assert!(e.contains("too large"), "{e}");
    assert!(scratch_files(&dir).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_scratch_file_larger_than_the_free_space_is_refused_before_it_exists() {
    let dir = test_dir("nospace");
    let (free, total) = target::free_space(&dir).unwrap();
    let margin = target::space_margin(total);
    // Checked directly: more than the free space, and within the margin.
    for size in [
        free.saturating_add(1 << 30),
        free.saturating_sub(margin / 2),
    ] {
        let e = target::check_scratch_space(&dir, size)
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("{size} bytes")), "{e}");
        assert!(e.contains("free"), "{e}");
        assert!(e.contains("--size-mb"), "{e}");
    }
    // Through Target::open, a size beyond the whole filesystem: refused
    // with nothing created (before, it was written until ENOSPC).
    let spec = TargetSpec::Scratch {
        dir: Some(dir.clone()),
        size_bytes: total.saturating_mul(2).max(1 << 40),
    };
    let e = Target::open(&spec, 4096, true).unwrap_err();
    assert!(matches!(e, TargetError::NoSpace { .. }), "{e}");
    let e = e.to_string();
    assert!(e.contains(&dir.display().to_string()), "{e}");
    assert!(scratch_files(&dir).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
