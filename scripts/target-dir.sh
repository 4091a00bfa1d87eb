#!/usr/bin/env bash
# Prints the directory cargo builds this workspace into: target/ in the
# workspace unless CARGO_TARGET_DIR or cargo's configuration
# (build.target-dir) puts it elsewhere. Scripts look for cargo's binaries
# under it, never under a hard-coded target/. A relative CARGO_TARGET_DIR is
# taken from the current directory, as cargo takes it.
set -euo pipefail
cargo metadata --format-version 1 --no-deps --manifest-path "$(dirname "$0")/../Cargo.toml" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
