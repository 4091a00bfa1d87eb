#!/usr/bin/env bash
# Regenerates docs/validation.md (and docs/validation-local.toml, the
# calibration it used) on the machine at hand: calibrates the disk, checks
# the calibrated simulator against the device and against QEMU's own loop,
# and explains one point phase by phase. Every number in the document comes
# from this one run, dated. Run it on a quiet machine (nothing else
# compiling or measuring): 9 minutes on 2026-12-06 with QEMU's variants built
# (`pollwise qemu build`), about 5 without them (the QEMU section then says so).
#
# Usage: scripts/validation-doc.sh [--dir DIR] [--repeat N] [--force]
#   --dir DIR     where the scratch file goes; must support O_DIRECT
#                 (default /var/tmp)
#   --repeat N    interleaved rounds per point (default 10)
#   --force       write the calibration even where its numbers contradict
#                 each other (other load while it sat idle); the document
#                 then quotes its warning
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=/var/tmp
REPEAT=10
FORCE=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) DIR="$2"; shift 2 ;;
        --repeat) REPEAT="$2"; shift 2 ;;
        --force) FORCE=(--force); shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "unknown argument '$1'; usage: $0 [--dir DIR] [--repeat N] [--force]" >&2; exit 2 ;;
    esac
done

cargo build --release --quiet
BIN="$(scripts/target-dir.sh)/release/pollwise"
SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/pollwise-validation-doc.XXXXXX")"
OUT="docs/validation.md"
TMP_OUT="$OUT.partial.$$"
PRESET="docs/validation-local.toml"
DONE=0
# On any failure the previous calibration is put back.
cleanup() {
    if [ "$DONE" -eq 0 ] && [ -f "$SCRATCH/previous.toml" ]; then
        mv "$SCRATCH/previous.toml" "$PRESET"
    fi
    rm -rf "$SCRATCH"
    rm -f "$TMP_OUT"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

DATE="$(date -u +%Y-%m-%d)"
if [ -f "$PRESET" ]; then cp "$PRESET" "$SCRATCH/previous.toml"; fi

echo "1/4 calibrating the disk under $DIR" >&2
if ! "$BIN" realdev calibrate --dir "$DIR" --out "$PRESET" "${FORCE[@]}" >"$SCRATCH/calibrate.txt" 2>&1; then
    cat "$SCRATCH/calibrate.txt" >&2
    echo "calibration refused or failed (above); nothing was written" >&2
    exit 1
fi

echo "2/4 validating against the device" >&2
"$BIN" validate --preset "$PRESET" --dir "$DIR" --repeat "$REPEAT" \
    --format markdown --out "$SCRATCH/device.md"

echo "3/4 validating against QEMU's loop" >&2
QEMU_NOTE=""
if "$BIN" validate --backend qemu --preset "$PRESET" --dir "$DIR" --repeat "$REPEAT" \
    --format markdown --out "$SCRATCH/qemu.md" 2>"$SCRATCH/qemu.err"; then
    :
else
    QEMU_NOTE="$(cat "$SCRATCH/qemu.err")"
fi

echo "4/4 explaining one point phase by phase" >&2
"$BIN" validate --explain --preset "$PRESET" --dir "$DIR" >"$SCRATCH/explain.txt"

# A report's headings one level under this document's, outside code
# blocks only; the scratch directory's path left out.
demote() {
    awk -v scratch="$SCRATCH/" '
        /^```/ { fence = !fence }
        !fence && /^##? / { sub(/^##? /, "#### ") }
        { gsub(scratch, ""); print }'
}

MARKER="<!-- Everything below this line is written by scripts/validation-doc.sh. -->"
if ! grep -qxF "$MARKER" "$OUT"; then
    echo "$OUT has no line '$MARKER'; put it where the generated part starts" >&2
    exit 1
fi
{
    awk -v m="$MARKER" '{ print } $0 == m { exit }' "$OUT"
    echo
    echo "## The latest run: $DATE"
    echo
    echo "Generated on $DATE by \`scripts/validation-doc.sh --dir $DIR --repeat $REPEAT${FORCE:+ --force}\`"
    echo "on a machine with $(nproc) CPUs (Linux $(uname -r)), after the calibration"
    echo "in [validation-local.toml](validation-local.toml) made at its start (quoted"
    echo "in full at the end). What each mechanism of the calibrated model is and"
    echo "where its parameters come from is in"
    echo "[model-fidelity.md](model-fidelity.md#the-calibrated-local-model)."
    echo
    echo "### One point, phase by phase (\`validate --explain\`)"
    echo
    echo '```'
    cat "$SCRATCH/explain.txt"
    echo '```'
    echo
    echo "### Against the device (pollwise's own loop)"
    echo
    demote <"$SCRATCH/device.md"
    echo
    echo "### Against QEMU's loop (\`validate --backend qemu\`)"
    echo
    if [ -z "$QEMU_NOTE" ]; then
        demote <"$SCRATCH/qemu.md"
    else
        echo "Not run on $DATE:"
        echo
        echo '```'
        echo "$QEMU_NOTE"
        echo '```'
    fi
    echo
    echo "### The calibration"
    echo
    echo '```'
    cat "$SCRATCH/calibrate.txt"
    echo '```'
} >"$TMP_OUT"

mv "$TMP_OUT" "$OUT"
DONE=1
echo "wrote $OUT and docs/validation-local.toml" >&2
