#!/bin/bash
# The Slurm round trip on a real single-node Slurm: installs Debian's
# slurm-wlm and munge (as root, with apt-get), starts munged, slurmctld and
# slurmd on localhost with a throw-away configuration, runs a small sweep as
# a 3-task array job plus the merge job, checks the merged CSV equals the
# unsharded sweep byte for byte, and stops the daemons it started.
#
#   cargo build --release && scripts/slurm/test-local-slurm.sh
#
# Uses cargo's release build (under target/ or CARGO_TARGET_DIR; POLLWISE
# overrides). Takes about 12 s on a 2-core VM with the packages installed
# (the install itself adds about a minute); it installs packages and starts
# daemons as root, so it is run by hand rather than in CI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
POLLWISE=${POLLWISE:-$("$repo/scripts/target-dir.sh")/release/pollwise}
[ -x "$POLLWISE" ] || { echo "build pollwise first: cargo build --release" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root (it installs and starts daemons)" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

work=$(mktemp -d /tmp/pollwise-slurm.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
    rm -rf "$work"
}
trap cleanup EXIT

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
munged --socket="$sock" --pid-file="$work/munged.pid" --force -f
pids+=("$(cat "$work/munged.pid")")

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
for _ in $(seq 100); do [ -s "$work/slurmctld.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmctld.pid")")
slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do [ -s "$work/slurmd.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmd.pid")")
for _ in $(seq 60); do
    sinfo -h -o %T 2>/dev/null | grep -q idle && break
    sleep 1
done
sinfo -h -o %T | grep -q idle || { echo "the node never became idle:"; cat "$work/log/"*; exit 1; }

args="--policy qemu --param poll-max-ns=0,16000,32768 --param poll-shrink=0,2 --numjobs 1,4 --duration-ms 3 --seeds 2"
start=$(date +%s)
export OUT_DIR="$work/out" SWEEP_ARGS="$args" POLLWISE SHARDS=3
jid=$(sbatch --parsable --chdir="$work" --array=1-3 --export=ALL "$here/sweep-array.sbatch")
mid=$(sbatch --parsable --chdir="$work" --dependency=afterok:"$jid" --export=ALL "$here/merge.sbatch")
for _ in $(seq 300); do
    [ -z "$(squeue -h -j "$jid,$mid" 2>/dev/null)" ] && break
    if squeue -h -j "$mid" -o %r 2>/dev/null | grep -q DependencyNeverSatisfied; then
        echo "a shard job failed:"; cat "$work"/pollwise-*.log; exit 1
    fi
    sleep 1
done
# shellcheck disable=SC2086
"$POLLWISE" sweep $args --out "$work/whole.csv"
if cmp "$work/whole.csv" "$OUT_DIR/sweep.csv"; then
    echo "slurm round trip: merged shards equal the unsharded sweep ($(( $(date +%s) - start )) s)"
else
    echo "slurm round trip FAILED"; cat "$work"/*.log 2>/dev/null; exit 1
fi
