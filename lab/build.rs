//! The simulator's code version for the run cache (`src/runcache.rs`): a
//! hash of every source file a simulated row depends on, so a cached row
//! is never used by a build whose model could make a different one.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::{env, fs};

/// Every file under `dir`, sorted.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("..");
    let mut all = Vec::new();
    for dir in ["core/src", "sim/src", "sim/presets", "stats/src"] {
        println!("cargo:rerun-if-changed=../{dir}");
        files(&root.join(dir), &mut all);
    }
    all.sort();
    let mut h = DefaultHasher::new();
    for f in &all {
        f.strip_prefix(&root).unwrap_or(f).hash(&mut h);
        fs::read(f).unwrap_or_default().hash(&mut h);
    }
    println!("cargo:rustc-env=POLLWISE_MODEL_HASH={:016x}", h.finish());
}
