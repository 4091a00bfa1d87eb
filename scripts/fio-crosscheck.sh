#!/usr/bin/env bash
# Cross-checks the real-device loop against fio: the same workload on the same
# scratch file, fio with libaio and direct=1, then `pollwise realdev run
# --policy off` (the loop never polls, as fio's libaio engine does not).
# Prints both IOPS and their ratio. A benchmark, not a test: it takes about
# 2 x RUNTIME_S x REPEAT seconds.
#
# Usage: scripts/fio-crosscheck.sh [--dir DIR]
# Workload from the environment (defaults shown):
#   RW=randread BS=4k IODEPTH=8 NUMJOBS=1 RUNTIME_S=10 SIZE_MB=256 REPEAT=1
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="${TMPDIR:-/tmp}"
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) DIR="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument '$1'; usage: $0 [--dir DIR]" >&2; exit 2 ;;
    esac
done
RW="${RW:-randread}"
BS="${BS:-4k}"
IODEPTH="${IODEPTH:-8}"
NUMJOBS="${NUMJOBS:-1}"
RUNTIME_S="${RUNTIME_S:-10}"
SIZE_MB="${SIZE_MB:-256}"
REPEAT="${REPEAT:-1}"

if ! command -v fio >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing fio with apt-get" >&2
        apt-get update -qq && apt-get install -y -qq fio >/dev/null
    else
        echo "fio is not installed; install it (e.g. 'sudo apt-get install fio') and rerun" >&2
        exit 1
    fi
fi

cargo build --release --quiet
POLLWISE="$(scripts/target-dir.sh)/release/pollwise"

FILE="$(mktemp "$DIR/pollwise-fio-XXXXXX.dat")"
trap 'rm -f "$FILE"' EXIT
# Real data, so reads reach the device (a sparse file would not).
dd if=/dev/urandom of="$FILE" bs=1M count="$SIZE_MB" oflag=direct status=none

WRITE_FLAG=()
case "$RW" in
    randwrite|write|randrw) WRITE_FLAG=(--allow-write-to "$FILE") ;;
esac

fio_iops() {
    # Terse output v3: field 8 is read IOPS, field 49 write IOPS.
    fio --name=crosscheck --filename="$FILE" --rw="$RW" --bs="$BS" \
        --iodepth="$IODEPTH" --numjobs="$NUMJOBS" --ioengine=libaio --direct=1 \
        --runtime="$RUNTIME_S" --time_based --group_reporting --thread \
        --size="${SIZE_MB}M" --minimal \
        | awk -F';' '{ printf "%.0f\n", $8 + $49 }'
}

pollwise_iops() {
    "$POLLWISE" realdev run --file "$FILE" "${WRITE_FLAG[@]}" --policy off \
        --rw "$RW" --bs "$BS" --iodepth "$IODEPTH" --numjobs "$NUMJOBS" \
        --duration-ms "$((RUNTIME_S * 1000))" --format csv \
        | awk -F',' 'NR == 2 { printf "%.0f\n", $12 }'
}

echo "workload: rw=$RW bs=$BS iodepth=$IODEPTH numjobs=$NUMJOBS runtime=${RUNTIME_S}s file=${SIZE_MB}MiB"
printf '%-4s %12s %14s %8s\n' run fio_iops pollwise_iops ratio
for i in $(seq 1 "$REPEAT"); do
    f=$(fio_iops)
    p=$(pollwise_iops)
    printf '%-4s %12s %14s %8.3f\n' "$i" "$f" "$p" "$(awk -v a="$p" -v b="$f" 'BEGIN { print (b > 0 ? a / b : 0) }')"
done
echo "ratio = pollwise / fio; within 0.8..1.2 means the loop is not the bottleneck"
