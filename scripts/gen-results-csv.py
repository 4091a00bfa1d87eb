#!/usr/bin/env python3
"""Writes a synthetic results CSV in the run-row schema (the columns of
`sim`, `sweep` and `realdev`) for timing `pollwise plot pareto` and
`pollwise plot heatmap` on large inputs. The numbers are made up; only the
shape matters.

Usage: scripts/gen-results-csv.py ROWS CONFIGS [OUT.csv]

ROWS rows spread over CONFIGS distinct (policy, params) sets. Config i has
the parameters poll-max-ns=<i % X> and poll-shrink=<i // X> with X about
sqrt(CONFIGS) * 2, so `plot heatmap --x poll-max-ns --y poll-shrink` has
about CONFIGS cells. Every row's workload is one of 2 rw modes x 3 numjobs,
so `plot pareto --normalize baseline` finds a qemu baseline for each (the
first config is qemu, and rows 0..5 cover every workload with it).
Deterministic: the same arguments give the same bytes.
"""

import math
import random
import sys

COLUMNS = [
    "source", "preset", "policy", "params", "rw", "bs", "numjobs", "iodepth",
    "iothreads", "duration_ms", "seed", "iops", "mb_per_s", "lat_mean_us",
    "lat_p50_us", "lat_p99_us", "lat_p999_us", "iothread_cpu_pct",
    "poll_cpu_pct", "kicks_per_s", "wakeups_per_s", "window_mean_ns",
    "window_zero_frac", "abrupt_resets",
]
POLICIES = ["qemu", "weighted", "pollwise", "kvm-halt-poll"]
RWS = ["randread", "randwrite"]
NUMJOBS = [1, 4, 16]


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    rows, configs = int(sys.argv[1]), int(sys.argv[2])
    if rows < 1 or configs < 1:
        sys.exit("ROWS and CONFIGS must be at least 1")
    out = open(sys.argv[3], "w") if len(sys.argv) == 4 else sys.stdout
    xs = max(1, int(math.sqrt(configs) * 2))
    rng = random.Random(1)
    w = out.write
    w(",".join(COLUMNS) + "\n")
    for r in range(rows):
        # The first six rows are config 0 (the qemu baseline) on every workload.
        c = 0 if r < 6 else r % configs
        policy = POLICIES[c % len(POLICIES)]
        params = "poll-max-ns=%d poll-shrink=%d" % ((c % xs) * 512, c // xs)
        rw = RWS[r % 2]
        numjobs = NUMJOBS[(r // 2) % 3]
        iops = 50000 + rng.random() * 100000
        cpu = 20 + rng.random() * 80
        w(
            "sim,optane-p4800x,%s,%s,%s,8192,%d,1,1,1000,%d,%.1f,%.2f,"
            "12.5,11.0,30.0,60.0,%.2f,%.2f,1000.0,2000.0,16384.0,0.1,0\n"
            % (policy, params, rw, numjobs, r, iops, iops * 8192 / 1e6, cpu, cpu / 2)
        )
    out.close()


if __name__ == "__main__":
    main()
