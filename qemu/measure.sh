#!/usr/bin/env bash
# Stock QEMU against the 2026 proposal (RFC v1) in QEMU's own loop on this
# machine: 4k randread on one scratch file, qd1 and qd8, numjobs 1 and 4,
# each point run ABAB (stock, weighted, stock, ...) after one warm-up pair,
# both at their IOThread defaults (poll-max-ns 32768, grow/shrink/weight 0).
#
#   qemu/measure.sh [--cache DIR] [--dir SCRATCH_DIR] [--pairs N] [--duration-ms MS]
#
# Prints every row (CSV of raw counts, as the harness prints them) to OUT (default qemu-measure.csv in the current
# directory) and a table: median IOPS and CPU per variant, and the paired
# difference weighted - stock as the mean of the per-pair differences with
# its 95% confidence interval (Student t over the pairs).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/cache.sh"
cache=""
dir=/var/tmp
pairs=6
duration=3000
out=qemu-measure.csv
while [ $# -gt 0 ]; do
    case "$1" in
        --cache) cache="$2"; shift 2 ;;
        --dir) dir="$2"; shift 2 ;;
        --pairs) pairs="$2"; shift 2 ;;
        --duration-ms) duration="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$cache" ] || cache="$(default_cache)"
for v in stock weighted; do
    [ -x "$cache/bin/$v/pollwise-qemu-harness" ] || "$here/build.sh" --cache "$cache" --variant "$v"
    check_harness "$cache" "$cache/bin/$v/pollwise-qemu-harness"
done

# One 256 MiB scratch file for every run, filled with data, read with O_DIRECT.
file="$dir/pollwise-qemu-measure-$$.img"
trap 'rm -f "$file"' EXIT
dd if=/dev/urandom of="$file" bs=1M count=256 oflag=direct status=none

header=1
: > "$out"
run() { # variant numjobs iodepth
    local args=(--file "$file" --rw randread --bs 4096 --numjobs "$2" --iodepth "$3"
                --duration-ms "$duration" --warmup-ms 500)
    if [ "$header" = 1 ]; then header=0; else args+=(--no-header); fi
    "$cache/bin/$1/pollwise-qemu-harness" "${args[@]}" 2>/dev/null >> "$out"
}
for point in "1 1" "1 8" "4 1" "4 8"; do
    set -- $point
    echo "numjobs $1 iodepth $2: warm-up pair, then $pairs pairs" >&2
    for v in stock weighted; do
        "$cache/bin/$v/pollwise-qemu-harness" --file "$file" --numjobs "$1" --iodepth "$2" \
            --duration-ms 1000 --warmup-ms 200 >/dev/null 2>&1
    done
    for ((i = 0; i < pairs; i++)); do
        run stock "$1" "$2"
        run weighted "$1" "$2"
    done
done

python3 - "$out" <<'PY'
import csv, statistics, sys
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365,
        8: 2.306, 9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 14: 2.145, 19: 2.093}
rows = list(csv.DictReader(open(sys.argv[1])))
# The harness prints raw counts over its measured span; these are the two
# rates pollwise_core::run_row derives from them.
for r in rows:
    span = float(r["span_ns"])
    r["iops"] = float(r["completions"]) * 1e9 / span
    r["iothread_cpu_pct"] = 100 * float(r["cpu_ns"]) / span
points = {}
for r in rows:
    points.setdefault((int(r["numjobs"]), int(r["iodepth"])), []).append(r)
def ci(diffs):
    n = len(diffs)
    m = statistics.mean(diffs)
    if n < 2:
        return m, float("nan")
    t = T975.get(n - 1, 2.0)
    return m, t * statistics.stdev(diffs) / n ** 0.5
print("| numjobs | iodepth | stock IOPS | weighted IOPS | IOPS diff (95% CI) | stock CPU % | weighted CPU % | CPU diff, points (95% CI) | pairs |")
print("|---|---|---|---|---|---|---|---|---|")
for (nj, qd), rs in sorted(points.items()):
    st = [r for r in rs if r["policy"] == "qemu"]
    we = [r for r in rs if r["policy"] == "weighted"]
    n = min(len(st), len(we))
    iops = [100 * (float(w["iops"]) / float(s["iops"]) - 1) for s, w in zip(st, we)]
    cpu = [float(w["iothread_cpu_pct"]) - float(s["iothread_cpu_pct"]) for s, w in zip(st, we)]
    mi, hi = ci(iops)
    mc, hc = ci(cpu)
    med = lambda xs, k: statistics.median(float(x[k]) for x in xs)
    print(f"| {nj} | {qd} | {med(st,'iops'):,.0f} | {med(we,'iops'):,.0f} | {mi:+.1f}% ({mi-hi:+.1f}..{mi+hi:+.1f}) "
          f"| {med(st,'iothread_cpu_pct'):.1f} | {med(we,'iothread_cpu_pct'):.1f} | {mc:+.1f} ({mc-hc:+.1f}..{mc+hc:+.1f}) | {n} |")
PY
