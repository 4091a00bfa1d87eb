//! The run cache: a second run with nothing changed reuses every row and
//! prints the same bytes; a corrupt entry is replaced, never a panic; only
//! directories of other code versions are removed; `--no-cache` writes
//! nothing.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

mod common;
use common::{assert_ok, scratch_dir, stdout};

const ARGS: &[&str] = &["compare", "--duration-ms", "30"];

fn compare_with_cache(dir: &Path, extra: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_pollwise"))
        .env_remove("POLLWISE_NO_CACHE")
        .env("POLLWISE_CACHE_DIR", dir)
        .args(ARGS)
        .args(extra)
        .output()
        .expect("run pollwise");
    assert_ok(&o);
    o
}

/// The row files of the one code-version directory under `dir`.
fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
    let versions: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
    let mine = versions
        .iter()
        .find(|e| e.file_name().to_string_lossy().starts_with("0."))
        .expect("a code-version directory");
    fs::read_dir(mine.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect()
}

#[test]
fn a_second_run_reuses_every_row_and_prints_the_same_bytes() {
    let dir = scratch_dir("cache-reuse");
    let first = compare_with_cache(&dir, &[]);
    assert!(
        !common::stderr(&first).contains("reused"),
        "a cold run reuses nothing"
    );
    let first = stdout(&first);
    let files = entries(&dir);
    let inode = |f: &Path| fs::metadata(f).unwrap().ino();
    let inodes: Vec<u64> = files.iter().map(|f| inode(f)).collect();
    assert!(files.len() >= 64, "{} rows kept", files.len());
    // Age every entry: a hit marks it used again.
    let old = SystemTime::now() - Duration::from_secs(86_400);
    for f in &files {
        fs::File::options()
            .append(true)
            .open(f)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let second = compare_with_cache(&dir, &[]);
    let said = common::stderr(&second);
    assert!(
        said.contains("64 of 64 simulated runs reused: 64 from")
            && said.contains(dir.to_str().unwrap()),
        "{said}"
    );
    let second = stdout(&second);
    assert_eq!(first, second);
    assert_eq!(entries(&dir).len(), files.len(), "nothing simulated again");
    for (f, ino) in files.iter().zip(inodes) {
        assert_eq!(inode(f), ino, "{f:?} was written again, not reused");
        let age = fs::metadata(f).unwrap().modified().unwrap();
        assert!(age > old + Duration::from_secs(3600), "{f:?} was not read");
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_entries_are_replaced_and_only_old_versions_are_removed() {
    let dir = scratch_dir("cache-corrupt");
    let first = stdout(&compare_with_cache(&dir, &[]));
    let rows = entries(&dir);
    for (i, f) in rows.iter().enumerate() {
        let junk: &[u8] = match i % 3 {
            0 => b"",
            1 => b"not a row\n{",
            _ => b"\xff\xfe",
        };
        fs::write(f, junk).unwrap();
    }
    let old = dir.join("0.0.1-0123456789abcdef");
    fs::create_dir_all(&old).unwrap();
    fs::write(old.join(format!("{}.json", "0".repeat(32))), "row").unwrap();
    fs::create_dir_all(dir.join("keep-me")).unwrap();
    // A directory named like a version that holds someone's file is theirs.
    let theirs = dir.join("9.9.9-ffffffffffffffff");
    fs::create_dir_all(&theirs).unwrap();
    fs::write(theirs.join("thesis.txt"), "precious").unwrap();
    let odd = dir.join("0.0.2-0123456789abcdef");
    fs::create_dir_all(&odd).unwrap();
    fs::write(odd.join(format!("{}é", "a".repeat(31))), "junk").unwrap();
    // Junk in our own version's directory: a name that is not ASCII where
    // a key's end would be, a FIFO and a huge file under a row's name.
    let mine = rows[0].parent().unwrap().to_path_buf();
    fs::write(mine.join(format!("{}é", "a".repeat(31))), "junk").unwrap();
    fs::remove_file(&rows[1]).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(&rows[1])
        .status()
        .unwrap()
        .success());
    fs::File::create(&rows[2])
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    assert_eq!(stdout(&compare_with_cache(&dir, &[])), first);
    assert_eq!(
        fs::read_to_string(theirs.join("thesis.txt")).unwrap(),
        "precious"
    );
    assert!(
        odd.exists(),
        "a directory holding a file not ours was removed"
    );
    // Every row is replaced by a good one: the FIFO and the huge file under
    // rows' names too, by the write's rename, once the run is made again.
    for f in &rows {
        let text = fs::read_to_string(f).unwrap();
        assert!(text.len() > 100 && text.contains('{'), "{f:?} not replaced");
    }
    assert!(!dir.join("0.0.1-0123456789abcdef").exists());
    assert!(
        dir.join("keep-me").exists(),
        "a foreign directory was removed"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_cache_writes_nothing() {
    let dir = scratch_dir("cache-off");
    compare_with_cache(&dir, &["--no-cache"]);
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
    fs::remove_dir_all(&dir).unwrap();
}
