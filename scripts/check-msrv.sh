#!/usr/bin/env bash
# Checks the declared minimum Rust version against the locked dependencies.
#
# Fails if any package of the normal build (every workspace crate with its
# dev-dependencies, on this host, as locked in Cargo.lock) declares a
# `rust-version` newer than the workspace's `rust-version` in Cargo.toml.
# The model-checking build (RUSTFLAGS="--cfg loom") pulls in loom and its
# dependencies, which need a newer Rust; its floor is printed, not enforced.
#
# Only one toolchain is needed: this reads `cargo metadata`, it builds
# nothing. Clippy's `incompatible_msrv` lint (on in CI with -D warnings)
# covers the other half, std APIs newer than the declared version.
set -euo pipefail
cd "$(dirname "$0")/.."

host=$(rustc -vV | sed -n 's/^host: //p')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --filter-platform evaluates cfg(...) dependency tables for this host with
# the given RUSTFLAGS, so loom appears only in the second listing.
metadata() {
    env -u CARGO_ENCODED_RUSTFLAGS RUSTFLAGS="$1" \
        cargo metadata --format-version 1 --locked --filter-platform "$host"
}
metadata "" >"$tmp/normal.json"
metadata "--cfg loom" >"$tmp/loom.json"

python3 - "$tmp/normal.json" "$tmp/loom.json" <<'PY'
import json
import sys


def version(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def show(v):
    return ".".join(str(p) for p in (v[:2] if v[2] == 0 else v))


def load(path):
    meta = json.load(open(path))
    members = set(meta["workspace_members"])
    declared = {
        version(p["rust_version"])
        for p in meta["packages"]
        if p["id"] in members and p.get("rust_version")
    }
    deps = [
        (version(p["rust_version"]), p["name"], p["version"])
        for p in meta["packages"]
        if p["id"] not in members and p.get("rust_version")
    ]
    return declared, sorted(deps, reverse=True)


declared, normal = load(sys.argv[1])
_, loom = load(sys.argv[2])

if len(declared) != 1:
    sys.exit(f"check-msrv: workspace crates declare {len(declared)} rust-versions, expected one")
(declared,) = declared


def floor(deps):
    top = deps[0][0] if deps else (0, 0, 0)
    return top, [f"{name} {ver}" for v, name, ver in deps if v == top]


normal_floor, normal_by = floor(normal)
loom_floor, loom_by = floor(loom)
print(f"check-msrv: declared rust-version {show(declared)}")
print(f"check-msrv: normal build needs {show(normal_floor)} ({', '.join(normal_by)})")
print(f"check-msrv: loom build (--cfg loom) needs {show(loom_floor)} ({', '.join(loom_by)})")

too_new = [(v, name, ver) for v, name, ver in normal if v > declared]
if too_new:
    print(
        f"check-msrv: these locked dependencies need a newer Rust than {show(declared)}:",
        file=sys.stderr,
    )
    for v, name, ver in too_new:
        print(f"  {name} {ver}: rust-version {show(v)}", file=sys.stderr)
    print(
        "Raise rust-version in Cargo.toml or lock older versions (cargo update -p NAME --precise VERSION).",
        file=sys.stderr,
    )
    sys.exit(1)
PY
