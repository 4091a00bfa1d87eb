#!/usr/bin/env bash
# The same workloads in the three ways pollwise answers the question:
# the simulator (a preset calibrated on this machine), pollwise's own
# device loop (`realdev run`) and QEMU's own loop (`qemu run`), one policy.
#
# Device and QEMU runs are interleaved: in every repeat each point runs on
# both, the order alternating (device first in odd repeats, QEMU first in
# even ones), so drift in the machine's load hits both alike. Both read the
# same file (created once, O_DIRECT). The simulator runs the same points
# with seeds 1..R. Prints a markdown table: mean (min..max) over repeats.
#
#   scripts/three-backends.sh --preset local.toml [--dir /var/tmp] [--repeat 5]
#       [--duration-ms 3000] [--policy qemu] [--rows rows.csv]
#
# Needs a release build (cargo build --release) and `pollwise qemu build`.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
pw=${POLLWISE:-$("$here/scripts/target-dir.sh")/release/pollwise}
preset=""
dir=/var/tmp
repeat=5
duration=3000
policy=qemu
rows=""
points="1:1 1:8 4:1 4:8" # numjobs:iodepth

while [ $# -gt 0 ]; do
    case "$1" in
    --preset) preset=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --duration-ms) duration=$2; shift 2 ;;
    --policy) policy=$2; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    --points) points=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ -n "$preset" ] || { echo "--preset FILE is required (pollwise realdev calibrate --out FILE)" >&2; exit 2; }
[ -x "$pw" ] || { echo "no $pw: run cargo build --release first" >&2; exit 2; }

work=$(mktemp -d "$dir/pollwise-three.XXXXXX")
trap 'rm -rf "$work"' EXIT
file=$work/data.img
# 256 MiB of data, written once; every run reads it.
dd if=/dev/urandom of="$file" bs=1M count=256 status=none
out=$work/rows.csv

common=(--rw randread --bs 4k --duration-ms "$duration" --policy "$policy")
# Each run's CSV has its header; all but the first are dropped at the end.
for rep in $(seq 1 "$repeat"); do
    for p in $points; do
        nj=${p%%:*} qd=${p##*:}
        args=("${common[@]}" --numjobs "$nj" --iodepth "$qd" --seed "$rep" --file "$file" --format csv)
        if [ $((rep % 2)) = 1 ]; then order="realdev qemu"; else order="qemu realdev"; fi
        for b in $order; do
            echo "repeat $rep/$repeat: $b numjobs=$nj iodepth=$qd" >&2
            "$pw" "$b" run "${args[@]}" >>"$out"
        done
        "$pw" sim --preset "$preset" "${common[@]}" --numjobs "$nj" --iodepth "$qd" \
            --seed "$rep" --format csv >>"$out"
    done
done
awk 'NR == 1 || $0 != hdr { print } NR == 1 { hdr = $0 }' "$out" >"$out.tmp"
mv "$out.tmp" "$out"
[ -z "$rows" ] || cp "$out" "$rows"

python3 - "$out" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
order = ["sim", "realdev", "qemu"]
names = {"sim": "simulator", "realdev": "pollwise loop", "qemu": "QEMU loop"}
pts = []
for r in rows:
    k = (int(r["numjobs"]), int(r["iodepth"]))
    if k not in pts:
        pts.append(k)
def cell(vals, d):
    m = sum(vals) / len(vals)
    return f"{m:,.{d}f} ({min(vals):,.{d}f}..{max(vals):,.{d}f})"
print("| numjobs | iodepth | backend | runs | IOPS mean (min..max) | IOThread CPU % mean (min..max) |")
print("|---|---|---|---|---|---|")
for nj, qd in pts:
    for src in order:
        sel = [r for r in rows if r["source"] == src and int(r["numjobs"]) == nj and int(r["iodepth"]) == qd]
        if not sel:
            continue
        iops = [float(r["iops"]) for r in sel]
        cpu = [float(r["iothread_cpu_pct"]) for r in sel]
        print(f"| {nj} | {qd} | {names[src]} | {len(sel)} | {cell(iops, 0)} | {cell(cpu, 1)} |")
EOF
