#!/usr/bin/env bash
# Honesty check of the stock variant: every poll_grow/poll_shrink transition
# QEMU records in its own loop must be exactly what
# `pollwise policy replay --policy qemu` computes from the same window.
#
#   qemu/check-transitions.sh [--cache DIR] [--dir SCRATCH_DIR] [harness flags...]
#
# Runs the stock harness with QEMU's trace events on (default: 4k randread,
# qd1, 2 s, poll-max-ns 32768, on a scratch file in /var/tmp), attributes
# each transition to a handler (pollwise_qemu::transitions), writes
# per-handler replay inputs, replays each through the CLI and diffs the
# output with QEMU's recorded windows. Extra flags go to the harness, e.g.
# --poll-shrink 2 --iodepth 8. Exits non-zero on any difference.
set -euo pipefail
cd "$(dirname "$0")/.."
. qemu/cache.sh
cache=""
dir=/var/tmp
if [ "${1:-}" = --cache ]; then cache="$2"; shift 2; fi
if [ "${1:-}" = --dir ]; then dir="$2"; shift 2; fi
[ -n "$cache" ] || cache="$(default_cache)"
harness="$cache/bin/stock/pollwise-qemu-harness"
[ -x "$harness" ] || qemu/build.sh --cache "$cache" --variant stock
check_harness "$cache" "$harness"

# The policy parameters are the harness's defaults overridden by the flags.
declare -A p=([poll-max-ns]=32768 [poll-grow]=0 [poll-shrink]=0)
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --poll-max-ns|--poll-grow|--poll-shrink) p[${args[i]#--}]="${args[i+1]}" ;;
    esac
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$harness" --dir "$dir" --size $((64 << 20)) --duration-ms 2000 --warmup-ms 200 \
    --trace "$work/trace.log" "$@" > "$work/row.csv"
cargo build -q --release -p pollwise-qemu --bin pollwise-qemu-transitions
cargo build -q --release --bin pollwise
release="$(scripts/target-dir.sh)/release"
"$release/pollwise-qemu-transitions" "$work/trace.log" "$work/replay" \
    poll-max-ns="${p[poll-max-ns]}" poll-grow="${p[poll-grow]}" poll-shrink="${p[poll-shrink]}"
n=0
for ev in "$work"/replay/events-*.csv; do
    k="${ev##*/events-}"; k="${k%.csv}"
    "$release/pollwise" policy replay --policy qemu --poll-max-ns "${p[poll-max-ns]}" \
        --poll-grow "${p[poll-grow]}" --poll-shrink "${p[poll-shrink]}" --input "$ev" \
        > "$work/replay/got-$k.csv"
    if ! diff -q "$work/replay/expected-$k.csv" "$work/replay/got-$k.csv" >/dev/null; then
        echo "handler $k: pollwise policy replay differs from QEMU's recorded windows:" >&2
        diff "$work/replay/expected-$k.csv" "$work/replay/got-$k.csv" | head -20 >&2
        exit 1
    fi
    n=$((n + $(wc -l < "$ev") - 1))
done
echo "pollwise policy replay --policy qemu reproduces all $n recorded transitions"
