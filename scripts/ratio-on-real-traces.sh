#!/usr/bin/env bash
# The competitive ratio of every online policy on real traces of waits:
# records the device loop's waits (`realdev run --waits`) and QEMU's loop's
# (`qemu run --waits`, stock QEMU) at numjobs 1 and 4 x iodepth 1 and 8,
# 4k randread, and runs `policy ratio` over each. Prints one markdown table
# (a row per trace, a column per policy: its ratio against the offline
# optimum on the same waits); the traces and each full `policy ratio` table
# stay in --out.
#
#   scripts/ratio-on-real-traces.sh [--dir DIR] [--out DIR] [--duration-ms MS]
#                                   [--wake-ns NS | --price-ns NS] [--no-qemu]
#
# --dir DIR       a directory on a filesystem with O_DIRECT for the scratch
#                 files (default /var/tmp)
# --out DIR       where the traces and tables go (default: a new temp dir)
# --duration-ms   each run's measured time (default 2000)
# --wake-ns NS    price each block as pollwise does: NS plus 8 x NS divided
#                 by the requests in flight (default: --price-ns 24000, the
#                 same price for every block)
# --no-qemu       the device only (QEMU's loop needs `pollwise qemu build`)
#
# Uses $POLLWISE if set, else builds and runs the release binary. Numbers
# measured while the machine does other work are noise: run it quiet.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=/var/tmp out="" duration=2000 price=(--price-ns 24000) qemu=1
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) dir="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --duration-ms) duration="$2"; shift 2 ;;
        --wake-ns) price=(--wake-ns "$2"); shift 2 ;;
        --price-ns) price=(--price-ns "$2"); shift 2 ;;
        --no-qemu) qemu=0; shift ;;
        -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[ -n "$out" ] || out="$(mktemp -d)"
mkdir -p "$out"
if [ -z "${POLLWISE:-}" ]; then
    cargo build --release -q
    POLLWISE="$(scripts/target-dir.sh)/release/pollwise"
fi

backends=(realdev)
[ "$qemu" = 1 ] && backends+=(qemu)
policies=(qemu weighted-merged pollwise weighted fixed off)
printf '| trace | waits |'
printf ' %s |' "${policies[@]}"
printf '\n|---|---:|'
printf -- '---:|%.0s' "${policies[@]}"
printf '\n'
for b in "${backends[@]}"; do
    for nj in 1 4; do
        for qd in 1 8; do
            name="$b-nj$nj-qd$qd"
            "$POLLWISE" "$b" run --dir "$dir" --size-mb 256 --numjobs "$nj" --iodepth "$qd" \
                --duration-ms "$duration" --waits "$out/$name.csv" > "$out/$name.run.txt"
            args=()
            for p in "${policies[@]}"; do args+=(--policy "$p"); done
            "$POLLWISE" policy ratio --input "$out/$name.csv" "${price[@]}" "${args[@]}" \
                > "$out/$name.ratio.txt"
            # The table's rows in the order asked: the policy's name first,
            # the ratio last; the count of waits from the summary line.
            waits="$(sed -n 's/^\([0-9]*\) waits,.*/\1/p' "$out/$name.ratio.txt")"
            ratios="$(awk 'f && NF { printf " %s |", $NF } /^policy / { f = 1 }' "$out/$name.ratio.txt")"
            printf '| %s | %s |%s\n' "$name" "$waits" "$ratios"
        done
    done
done
echo
echo "price: $(sed -n 's/^price of a block: \([^;]*\);.*/\1/p' "$out/$name.ratio.txt"); traces and tables in $out"
