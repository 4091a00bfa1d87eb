#!/bin/bash
# The Slurm round trip on a real single-node Slurm: installs Debian's
# slurm-wlm and munge (as root, with apt-get) if they are missing, without
# letting the packages start their daemons; starts munged, slurmctld and
# slurmd on localhost with a throw-away configuration; runs a small sweep
# as a 3-task array job plus the merge job; checks the merged CSV equals
# the unsharded sweep byte for byte. On every exit (success, failure,
# Ctrl-C) it cancels its jobs, stops the daemons it started and removes
# its scratch directory; on a failure it prints the daemons' and jobs'
# logs and exits non-zero. Running it again starts from the same state.
#
#   cargo build --release && scripts/slurm/test-local-slurm.sh
#
# Uses cargo's release build (under target/ or CARGO_TARGET_DIR; POLLWISE
# overrides). `.ci/run` runs it (CI runs as root on a fresh machine).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
POLLWISE=${POLLWISE:-$("$repo/scripts/target-dir.sh")/release/pollwise}
[ -x "$POLLWISE" ] || { echo "build pollwise first: cargo build --release" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root (it installs and starts daemons)" >&2; exit 1; }

work=$(mktemp -d /tmp/pollwise-slurm.XXXXXX)
pids=()
jobs_=()
policy=/usr/sbin/policy-rc.d
own_policy=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ ${#jobs_[@]} -gt 0 ]; then scancel "${jobs_[@]}" 2>/dev/null || true; fi
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$p" 2>/dev/null; then kill -9 "$p" 2>/dev/null || true; fi
    done
    if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi
    if [ "$rc" != 0 ]; then
        echo "slurm round trip FAILED (exit $rc); logs:" >&2
        for f in "$work"/log/* "$work"/*.log; do
            [ -f "$f" ] && { echo "== $f" >&2; tail -40 "$f" >&2; }
        done
    fi
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'echo "failed at line $LINENO: $BASH_COMMAND" >&2' ERR

# Waits for a daemon's pid file and records the pid, or fails.
started() {
    local name=$1 file=$2
    for _ in $(seq 100); do [ -s "$file" ] && break; sleep 0.1; done
    [ -s "$file" ] || { echo "$name did not start (no $file)" >&2; exit 1; }
    pids+=("$(cat "$file")")
}

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v munged >/dev/null; then
    # The packages' own daemons stay stopped (this script starts its own):
    # a policy-rc.d that refuses every start, for the install only.
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 0755 "$policy" && own_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
    if [ "$own_policy" = 1 ]; then rm -f "$policy"; own_policy=0; fi
fi

host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2 / 1024 / 2)}' /proc/meminfo)
mkdir -p "$work"/{state,spool,log,out} /run/munge /var/log/munge /var/lib/munge /etc/munge
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key
sock="$work/munge.socket"
munged --socket="$sock" --pid-file="$work/munged.pid" --log-file="$work/log/munged.log" \
    --seed-file="$work/munged.seed" --force
started munged "$work/munged.pid"

cat > "$work/slurm.conf" <<CONF
ClusterName=pollwise-test
SlurmctldHost=$host
AuthType=auth/munge
AuthInfo=socket=$sock
CryptoType=crypto/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
slurmctld -f "$SLURM_CONF"
started slurmctld "$work/slurmctld.pid"
slurmd -f "$SLURM_CONF"
started slurmd "$work/slurmd.pid"
for _ in $(seq 60); do
    sinfo -h -o %T 2>/dev/null | grep -q idle && break
    sleep 1
done
sinfo -h -o %T | grep -q idle || { echo "the node never became idle" >&2; exit 1; }

args="--policy qemu --param poll-max-ns=0,16000,32768 --param poll-shrink=0,2 --numjobs 1,4 --duration-ms 3 --repeat 2"
start=$(date +%s)
export OUT_DIR="$work/out" SWEEP_ARGS="$args" POLLWISE SHARDS=3
jid=$(sbatch --parsable --chdir="$work" --array=1-3 --export=ALL "$here/sweep-array.sbatch")
jobs_+=("$jid")
mid=$(sbatch --parsable --chdir="$work" --dependency=afterok:"$jid" --export=ALL "$here/merge.sbatch")
jobs_+=("$mid")
done_=0
for _ in $(seq 300); do
    if [ -z "$(squeue -h -j "$jid,$mid" 2>/dev/null)" ]; then done_=1; break; fi
    if squeue -h -j "$mid" -o %r 2>/dev/null | grep -q DependencyNeverSatisfied; then
        echo "a shard job failed" >&2; exit 1
    fi
    sleep 1
done
[ "$done_" = 1 ] || { echo "the jobs did not finish within 300 s" >&2; exit 1; }
[ -s "$OUT_DIR/sweep.csv" ] || { echo "the merge job wrote no $OUT_DIR/sweep.csv" >&2; exit 1; }
# shellcheck disable=SC2086
"$POLLWISE" sweep $args --out "$work/whole.csv"
if cmp "$work/whole.csv" "$OUT_DIR/sweep.csv"; then
    echo "slurm round trip: merged shards equal the unsharded sweep ($(( $(date +%s) - start )) s)"
else
    echo "the merged shards differ from the unsharded sweep" >&2; exit 1
fi
