#!/usr/bin/env bash
# Where the guest kernel puts the device loop and its jobs when they wake
# each other: runs `pollwise realdev run` with the given options under
# `perf sched record` and counts every wake-up of the loop or a job by who
# woke it and where it ran:
#   cross             on another CPU than its waker's
#   same-preempt      on its waker's CPU, before the waker blocked (the
#                     waker was switched out still runnable)
#   same-after-block  on its waker's CPU, once the waker had blocked
#   same-idle         on its waker's CPU, which was idle by then
# and the delay from the wake-up to running, p10/p50/p90 in us. A second
# table splits the same wake-ups by where the woken thread last ran: on
# its waker's CPU (then "stay" is the share that ran there again) or on
# another (then "join" is the share pulled onto the waker's CPU): how
# often the pair moves between running together and running apart.
# With --qemu first, it runs `pollwise qemu run` (QEMU's own loop, whose
# harness names its threads the same way) instead.
#
# Needs perf (Debian: linux-perf) with access to the sched tracepoints
# (root, or kernel.perf_event_paranoid <= 1 and a readable tracefs) and
# python3.
#
#   scripts/sched-placement.sh --dir /var/tmp --policy qemu --rw randread \
#       --bs 4k --numjobs 1 --iodepth 8 --duration-ms 300
#   scripts/sched-placement.sh --qemu --dir /var/tmp --policy qemu \
#       --numjobs 1 --iodepth 1 --duration-ms 300
#
# The counts follow one wake-up per thread at a time, so with several jobs
# they are approximate where wake-ups of one thread overlap.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
run=(realdev run)
if [ "${1:-}" = --qemu ]; then
    run=(qemu run)
    shift
fi
pollwise="${POLLWISE:-$(cd "$here" && scripts/target-dir.sh)/release/pollwise}"
for tool in perf python3; do
    command -v "$tool" >/dev/null || {
        echo "sched-placement: $tool not found; install it (perf: Debian's linux-perf)" >&2
        exit 2
    }
done
[ -x "$pollwise" ] || {
    echo "sched-placement: $pollwise not built; run: cargo build --release (or set POLLWISE)" >&2
    exit 2
}

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sched-placement.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM

perf sched record -q -o "$scratch/sched.data" -- "$pollwise" "${run[@]}" "$@" \
    >"$scratch/run.txt" 2>"$scratch/perf.err" || {
    cat "$scratch/perf.err" "$scratch/run.txt" >&2
    echo "sched-placement: \`pollwise ${run[*]} $*\` under perf sched record failed (its error above; \`pollwise ${run[*]} --help\` lists its options)" >&2
    exit 1
}
grep -E '^(iops|iothread cpu)' "$scratch/run.txt" || true
perf script -i "$scratch/sched.data" -F time,cpu,event,trace 2>/dev/null | python3 -c '
import collections, re, sys

def role(comm):
    if comm.startswith("pollwise-iot"):
        return "loop"
    if comm.startswith("pollwise-job"):
        return "job"
    return None

running, pending, last_cpu = {}, {}, {}
delays = collections.defaultdict(list)
moves = collections.defaultdict(lambda: [0, 0, 0, 0])
for line in sys.stdin:
    m = re.match(r"\[(\d+)\]\s+([\d.]+):\s+sched:(\w+):\s+(.*)", line)
    if not m:
        continue
    cpu, t, name = int(m[1]), float(m[2]), m[3]
    f = dict(re.findall(r"(\w+)=(\S+)", m[4]))
    if name == "sched_waking" and role(f["comm"]):
        # (The target_cpu of sched_waking is the CPU it last ran on: the
        # CPU it runs on is the one it is switched in on.)
        waker = role(running.get(cpu, "")) or "irq/other"
        pending[f["pid"]] = (t, waker, role(f["comm"]), cpu, last_cpu.get(f["pid"]))
    elif name == "sched_switch":
        running[cpu] = f["next_comm"]
        last_cpu[f["prev_pid"]] = cpu
        p = pending.pop(f["next_pid"], None)
        if p is None:
            continue
        t0, waker, wakee, waker_cpu, was = p
        same = cpu == waker_cpu
        if was is not None:
            # [last ran on the CPU of its waker, ran there again, last ran elsewhere, joined]
            m4 = moves[(waker, wakee)]
            k = 0 if was == waker_cpu else 2
            m4[k] += 1
            m4[k + 1] += same
        if not same:
            kind = "cross"
        elif role(f["prev_comm"]) is None:
            kind = "same-idle"
        elif f["prev_state"].startswith("R"):
            kind = "same-preempt"
        else:
            kind = "same-after-block"
        delays[(waker, wakee, kind)].append((t - t0) * 1e6)

print("%10s %5s  %-17s %6s  delay us p10/p50/p90" % ("waker", "woken", "where", "count"))
for (waker, wakee, kind), d in sorted(delays.items()):
    d.sort()
    n = len(d)
    q = "/".join(f"{d[min(n - 1, int(n * x))]:.0f}" for x in (0.1, 0.5, 0.9))
    print("%10s %5s  %-17s %6d  %s" % (waker, wakee, kind, n, q))

print()
print("%10s %5s  %22s  %22s" % ("waker", "woken", "last ran on its CPU", "last ran elsewhere"))
for (waker, wakee), (n_on, stay, n_off, join) in sorted(moves.items()):
    share = lambda k, n: f"{k / n:.3f}" if n else "-"
    print("%10s %5s  %6d  stay %-10s  %6d  join %-10s" % (waker, wakee, n_on, share(stay, n_on), n_off, share(join, n_off)))
'
