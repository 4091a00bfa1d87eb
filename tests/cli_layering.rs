//! The binary's layering: `src/` maps flags onto lab's specs and prints
//! what lab returns, so it names no crate below lab, and no command module
//! reaches into another (which is how import cycles in `src/` began).

use std::fs;
use std::path::{Path, PathBuf};

/// The crates only lab may call; `src/` goes through `pollwise_lab`.
const BELOW_LAB: [&str; 5] = [
    "pollwise_core",
    "pollwise_sim",
    "pollwise_realdev",
    "pollwise_qemu",
    "pollwise_plots",
];

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

fn src() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = rust_files(&root);
    assert!(
        files.len() > 10,
        "expected the CLI's sources under {}",
        root.display()
    );
    files
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

#[test]
fn src_names_no_crate_below_lab() {
    let mut found = Vec::new();
    for (path, text) in src() {
        for (n, line) in text.lines().enumerate() {
            for name in BELOW_LAB.iter().filter(|c| line.contains(*c)) {
                found.push(format!("{}:{}: {name}", path.display(), n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "src/ calls only pollwise_lab (put the work in lab/src/cmd/):\n{}",
        found.join("\n")
    );
}

#[test]
fn no_command_module_uses_another() {
    let mut found = Vec::new();
    for (path, text) in src() {
        if path.parent().and_then(Path::file_name) != Some("cmd".as_ref()) {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if line.contains("crate::cmd::") || line.contains("super::") {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "a command module uses another; move what both need to a shared module:\n{}",
        found.join("\n")
    );
}
