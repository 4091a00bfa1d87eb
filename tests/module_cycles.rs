//! Architecture invariant: no import cycles between the files of one crate.
//!
//! Every `.rs` file under a crate's `src/` is a module. A file depends on
//! another when it names a path into it (`use crate::a::b`, `super::x`,
//! `self::y`, or an inline `crate::a::f()`), with the items a parent
//! re-exports (`pub use child::Item`) resolved to the child that defines
//! them. A parent's `mod` declarations and a module's references to its own
//! ancestors or descendants are not dependencies between peers, so they are
//! left out. The test fails, naming the files, if any set of files depends
//! on itself.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The crates whose `src/` is checked, relative to the workspace root.
const CRATES: &[&str] = &[
    "core", "sim", "realdev", "plots", "lab", "qemu", "stats", ".",
];

type ModPath = Vec<String>;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every module of a crate: module path -> source text.
fn modules(src: &Path) -> BTreeMap<ModPath, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                // src/bin/* are separate crates.
                if path.file_name().is_some_and(|n| n != "bin") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            let mut parts: ModPath = rel
                .with_extension("")
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            let last = parts.last().cloned().unwrap_or_default();
            if last == "mod" || (parts.len() == 1 && (last == "lib" || last == "main")) {
                parts.pop();
            }
            let text = fs::read_to_string(&path).unwrap();
            out.insert(parts, text);
        }
    }
    out
}

/// The code of a file without comments and string literals (good enough for
/// paths: doc comments often name modules).
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Expands `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap().trim().to_string()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(|p| expand(p).into_iter().map(move |s| format!("{prefix}{s}")))
        .collect()
}

fn segments(path: &str) -> Vec<String> {
    path.split("::")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Paths named by a module, as written (`crate::…`, `super::…`, `self::…`).
fn named_paths(code: &str) -> Vec<(Vec<String>, bool)> {
    let mut out = Vec::new();
    // `use` trees (possibly `pub use`), to their `;`.
    let mut rest = code;
    while let Some(pos) = rest.find("use ") {
        let before = rest[..pos].chars().last();
        let after = &rest[pos + 4..];
        let Some(end) = after.find(';') else { break };
        if before.is_none_or(|c| !c.is_alphanumeric() && c != '_') {
            let is_pub =
                rest[..pos].trim_end().ends_with("pub") || rest[..pos].trim_end().ends_with(')');
            for p in expand(&after[..end]) {
                out.push((segments(&p), is_pub));
            }
        }
        rest = &after[end..];
    }
    // Inline paths.
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(pos) = code[from..].find(start) {
            let at = from + pos;
            let end = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| at + e);
            out.push((segments(&code[at..end]), false));
            from = end.max(at + start.len());
        }
    }
    out
}

/// Resolves a path named in module `from` to an absolute module path
/// (segments after the crate root), or `None` for another crate.
fn absolute(from: &ModPath, path: &[String]) -> Option<ModPath> {
    let mut base: ModPath;
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            base = Vec::new();
            rest = &path[1..];
        }
        Some("self") => {
            base = from.clone();
            rest = &path[1..];
        }
        Some("super") => {
            base = from.clone();
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The module a path lands in: its longest prefix that is a module, with
/// a parent's re-exports followed to the child that defines the item.
fn landing(
    path: &ModPath,
    mods: &BTreeMap<ModPath, String>,
    reexports: &BTreeMap<(ModPath, String), ModPath>,
) -> ModPath {
    let mut cur: ModPath = Vec::new();
    for (i, seg) in path.iter().enumerate() {
        let mut next = cur.clone();
        next.push(seg.clone());
        if mods.contains_key(&next) {
            cur = next;
            continue;
        }
        if let Some(target) = reexports.get(&(cur.clone(), seg.clone())) {
            let _ = i;
            return target.clone();
        }
        break;
    }
    cur
}

fn is_ancestor(a: &ModPath, b: &ModPath) -> bool {
    a.len() <= b.len() && b[..a.len()] == a[..]
}

/// Cycles between files, and between a crate's top-level modules (a
/// directory module counted as one, as `output -> text -> rows -> output`
/// is a cycle even when different files of `text/` take part in it).
fn cycles_in(src: &Path) -> Vec<Vec<String>> {
    let (mods, edges) = dependencies(src);
    let mut out = cycles_of(&mods.keys().cloned().collect::<Vec<_>>(), &edges);
    let top = |m: &ModPath| -> ModPath { m.iter().take(1).cloned().collect() };
    let mut top_edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (from, tos) in &edges {
        for to in tos {
            if top(from) != top(to) && !from.is_empty() && !to.is_empty() {
                top_edges.entry(top(from)).or_default().insert(top(to));
            }
        }
    }
    let tops: BTreeSet<ModPath> = mods.keys().map(top).collect();
    for c in cycles_of(&tops.into_iter().collect::<Vec<_>>(), &top_edges) {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

fn cycles_of(nodes: &[ModPath], edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<String>> {
    strongly_connected(nodes, edges)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| c.into_iter().map(|m| display(&m)).collect())
        .collect()
}

type Graph = (
    BTreeMap<ModPath, String>,
    BTreeMap<ModPath, BTreeSet<ModPath>>,
);

fn dependencies(src: &Path) -> Graph {
    let mods = modules(src);
    let code: BTreeMap<ModPath, String> = mods
        .iter()
        .map(|(k, v)| (k.clone(), code_only(v)))
        .collect();
    // Re-exports: (parent module, item name) -> module the item comes from.
    // Chains of re-exports (a root re-exporting what a child re-exports)
    // resolve in as many rounds as the chain is long.
    let mut reexports = BTreeMap::new();
    for _round in 0..4 {
        for (m, text) in &code {
            for (path, is_pub) in named_paths(text) {
                if !is_pub || path.is_empty() {
                    continue;
                }
                let rel: Vec<String> = if matches!(path[0].as_str(), "crate" | "self" | "super") {
                    path.clone()
                } else {
                    std::iter::once("self".to_string())
                        .chain(path.iter().cloned())
                        .collect()
                };
                if let (Some(abs), Some(name)) = (absolute(m, &rel), path.last()) {
                    let target = landing(&abs, &mods, &reexports);
                    if target != *m && is_ancestor(m, &target) {
                        reexports.insert((m.clone(), name.clone()), target);
                    }
                }
            }
        }
    }
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (m, text) in &code {
        for (path, _) in named_paths(text) {
            let Some(abs) = absolute(m, &path) else {
                continue;
            };
            let target = landing(&abs, &mods, &reexports);
            if is_ancestor(&target, m) || is_ancestor(m, &target) {
                continue;
            }
            edges.entry(m.clone()).or_default().insert(target);
        }
    }
    (mods, edges)
}

fn display(m: &ModPath) -> String {
    if m.is_empty() {
        "(root)".into()
    } else {
        m.join("::")
    }
}

/// Tarjan's strongly connected components.
fn strongly_connected(
    nodes: &[ModPath],
    edges: &BTreeMap<ModPath, BTreeSet<ModPath>>,
) -> Vec<Vec<ModPath>> {
    struct State<'a> {
        edges: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<ModPath, usize>,
        low: BTreeMap<ModPath, usize>,
        on_stack: BTreeSet<ModPath>,
        stack: Vec<ModPath>,
        out: Vec<Vec<ModPath>>,
    }
    fn visit(s: &mut State, v: &ModPath) {
        let i = s.index.len();
        s.index.insert(v.clone(), i);
        s.low.insert(v.clone(), i);
        s.stack.push(v.clone());
        s.on_stack.insert(v.clone());
        let next: Vec<ModPath> = s.edges.get(v).into_iter().flatten().cloned().collect();
        for w in next {
            if !s.index.contains_key(&w) {
                visit(s, &w);
                let lw = s.low[&w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(&w) {
                let iw = s.index[&w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(&w);
                let done = w == *v;
                comp.push(w);
                if done {
                    break;
                }
            }
            s.out.push(comp);
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        on_stack: BTreeSet::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for n in nodes {
        if !s.index.contains_key(n) {
            visit(&mut s, n);
        }
    }
    s.out
}

#[test]
fn no_import_cycles_between_files_of_a_crate() {
    let root = workspace_root();
    let mut found = Vec::new();
    for krate in CRATES {
        let src = root.join(krate).join("src");
        assert!(
            src.is_dir() || *krate == "stats",
            "crate directory {} is missing: update CRATES in this test",
            src.display()
        );
        for cycle in cycles_in(&src) {
            found.push(format!("{krate}: {}", cycle.join(" <-> ")));
        }
    }
    assert!(
        found.is_empty(),
        "files that depend on each other (move the shared item into one of them, or into a \
         module both depend on):\n{}",
        found.join("\n")
    );
}

/// The checker itself finds a planted cycle, through a re-export.
#[test]
fn the_checker_finds_a_planted_cycle() {
    let dir = std::env::temp_dir().join(format!("pollwise-cycles-{}", std::process::id()));
    let src = dir.join("src");
    fs::create_dir_all(src.join("text")).unwrap();
    fs::write(
        src.join("lib.rs"),
        "mod a;\nmod text;\npub use text::Table;\n",
    )
    .unwrap();
    fs::write(src.join("a.rs"), "use crate::Table;\npub fn f() {}\n").unwrap();
    fs::write(
        src.join("text/mod.rs"),
        "mod table;\npub use table::Table;\n",
    )
    .unwrap();
    fs::write(
        src.join("text/table.rs"),
        "pub struct Table;\nfn g() { crate::a::f() }\n",
    )
    .unwrap();
    let cycles = cycles_in(&src);
    fs::write(src.join("text/table.rs"), "pub struct Table;\n").unwrap();
    let none = cycles_in(&src);
    fs::remove_dir_all(&dir).unwrap();
    let names = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // Found between the two files, and between the top-level modules.
    assert_eq!(
        cycles,
        vec![names(&["text::table", "a"]), names(&["text", "a"])]
    );
    assert!(none.is_empty(), "{none:?}");
}
