#!/usr/bin/env python3
"""Fits the optane-p4800x preset's free costs to the published randread rows.

What is fitted on (docs/design.md, "Reference results"), and nothing else:
  - the 16 randread rows' baseline IOPS (QEMU's rule),
  - the proposal's (RFC v1, poll-weight 2) IOPS change on those 16 rows,
  - the mean IOThread CPU per IOThread count, baseline and proposal.
The randwrite rows are never run here: they are predicted afterwards.

The free parameters, all global (none is per row):
  guest.io_cpu_ns            vCPU time per I/O
  guest.io_cpu_jitter_sigma  spread of that time (lognormal sigma)
  iothread.submit_ns         IOThread time per request submitted
  iothread.complete_ns       IOThread time per request completed
  fixed                      one factor on the IOThread's per-iteration costs
                             (iteration_ns, submit_batch_ns, notify_guest_ns)
Mechanisms are switched, not fitted: [iothread] self_notify,
notifier_polled and stale_eventfd (QEMU's source: see the preset's
comments). --mechanisms names those switched on (default: the preset's
two, self_notify and notifier_polled).

Search: from the preset's current values (the previous calibration), a
seeded random local search (one parameter at a time, Gaussian steps of
an eighth of its range), keeping a step only when the score falls.
Optionally a global random phase first (--random N). Deterministic: same
binary, same seed, same result.

Usage: scripts/fit-optane.py [--evals N] [--seed S] [--pollwise BIN]
       [--mechanisms NAME,NAME|none] [--show k=v ...]
"""
import argparse
import csv
import io
import math
import os
import random
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PRESET = os.path.join(HERE, "..", "sim", "presets", "optane-p4800x.toml")

# (bs, numjobs, iothreads) -> (baseline IOPS, proposal diff %)
PUBLISHED = {
    (8192, 1, 1): (163417, -7.8), (8192, 1, 2): (165041, -2.4),
    (8192, 4, 1): (221508, -0.64), (8192, 4, 2): (251298, 0.008),
    (8192, 8, 1): (222128, -0.51), (8192, 8, 2): (249489, -2.6),
    (8192, 16, 1): (230535, -0.18), (8192, 16, 2): (246732, -0.22),
    (131072, 1, 1): (17616, -0.11), (131072, 1, 2): (17678, 0.027),
    (131072, 4, 1): (17536, -0.27), (131072, 4, 2): (17610, -0.031),
    (131072, 8, 1): (17369, -0.42), (131072, 8, 2): (17433, -0.071),
    (131072, 16, 1): (17215, -0.61), (131072, 16, 2): (17269, -0.22),
}
CPU = {1: (98.7, 95.81), 2: (78.43, 66.13)}

SPACE = {
    "io_cpu_ns": (2000, 4500, int),
    "io_cpu_jitter_sigma": (0.0, 1.0, float),
    "submit_ns": (1000, 2800, int),
    "complete_ns": (800, 2400, int),
    "fixed": (0.2, 1.3, float),
}
MECHANISMS = ("self_notify", "notifier_polled", "stale_eventfd")
FIXED_BASE = {"iteration_ns": 300, "submit_batch_ns": 800, "notify_guest_ns": 700}


def preset_text(base, x, mechanisms):
    s = base
    values = {k: v for k, v in x.items() if k != "fixed"}
    for k, v in FIXED_BASE.items():
        values[k] = int(round(v * x["fixed"]))
    for k, v in values.items():
        s, n = re.subn(r"^%s = .*$" % k, "%s = %s" % (k, v), s, count=1, flags=re.M)
        assert n == 1, k
    for k in MECHANISMS:
        s = re.sub(r"^%s = .*\n" % k, "", s, flags=re.M)
    if mechanisms:
        on = "".join("%s = true\n" % k for k in mechanisms)
        s = s.replace("[topology]", on + "\n[topology]", 1)
    return s


def evaluate(binary, text):
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(text)
        path = f.name
    try:
        out = subprocess.run(
            [binary, "compare", "--preset", path, "--rw", "randread",
             "--candidate", "weighted", "--candidate-params", "poll-weight=2",
             "--format", "csv"],
            check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    rows = list(csv.DictReader(io.StringIO(out)))
    return rows


def score(rows):
    """Sum of squared misses: IOPS (in % of the published), the proposal's
    diff (in points), the CPU means (in points, scaled down by 5)."""
    iops = diff = 0.0
    cpu = {1: [[], []], 2: [[], []]}
    for r in rows:
        key = (int(r["bs"]), int(r["numjobs"]), int(r["iothreads"]))
        pub, pub_diff = PUBLISHED[key]
        e = 100.0 * (float(r["baseline_iops"]) - pub) / pub
        iops += e * e + (10 * max(0.0, abs(e) - 10.0)) ** 2
        d = float(r["iops_diff_pct"]) - pub_diff
        diff += 4 * d * d
        cpu[key[2]][0].append(float(r["baseline_cpu_pct"]))
        cpu[key[2]][1].append(float(r["candidate_cpu_pct"]))
    c = 0.0
    means = {}
    for it, (b, p) in cpu.items():
        mb, mp = sum(b) / len(b), sum(p) / len(p)
        means[it] = (mb, mp)
        c += ((mb - CPU[it][0]) ** 2 + (mp - CPU[it][1]) ** 2) / 5.0
    return iops + diff + c, {"iops": iops, "diff": diff, "cpu": c, "means": means}


def current(base):
    """The preset's own values, as the search's start."""
    def get(k):
        return float(re.search(r"^%s = (.*)$" % k, base, flags=re.M).group(1))
    x = {k: SPACE[k][2](get(k)) for k in SPACE if k != "fixed"}
    x["fixed"] = get("iteration_ns") / FIXED_BASE["iteration_ns"]
    return x


def sample(rng):
    return {k: (t(rng.uniform(lo, hi))) for k, (lo, hi, t) in SPACE.items()}


def clamp(k, v):
    lo, hi, t = SPACE[k]
    return t(min(hi, max(lo, v)))


def report(binary, base, x, mechanisms, out=sys.stdout):
    rows = evaluate(binary, preset_text(base, x, mechanisms))
    total, parts = score(rows)
    print("params: " + " ".join("%s=%s" % (k, x[k]) for k in SPACE), file=out)
    print("score %.1f (iops %.1f, diff %.1f, cpu %.1f)" % (
        total, parts["iops"], parts["diff"], parts["cpu"]), file=out)
    print("%-22s %9s %9s %7s %8s %8s" % ("row", "sim", "published", "err%",
                                          "diff", "pub diff"), file=out)
    for r in rows:
        key = (int(r["bs"]), int(r["numjobs"]), int(r["iothreads"]))
        pub, pub_diff = PUBLISHED[key]
        print("%-22s %9.0f %9d %+7.1f %+8.2f %+8.2f" % (
            "bs=%dk nj=%d it=%d" % (key[0] // 1024, key[1], key[2]),
            float(r["baseline_iops"]), pub,
            100 * (float(r["baseline_iops"]) - pub) / pub,
            float(r["iops_diff_pct"]), pub_diff), file=out)
    for it, (mb, mp) in parts["means"].items():
        print("CPU %d IOThread(s): %.2f -> %.2f (published %.2f -> %.2f)" % (
            it, mb, mp, *CPU[it]), file=out)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--evals", type=int, default=30)
    ap.add_argument("--random", type=int, default=0, help="global random samples first")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pollwise", default=os.path.join(HERE, "..", "target", "release", "pollwise"))
    ap.add_argument("--mechanisms", default="self_notify,notifier_polled",
                    help="comma-separated, from %s; or none" % ", ".join(MECHANISMS))
    ap.add_argument("--preset", default=PRESET, help="start from this preset's values")
    ap.add_argument("--show", nargs="*", help="report one point (k=v ...) instead of searching")
    a = ap.parse_args()
    base = open(a.preset).read()
    mech = [] if a.mechanisms == "none" else a.mechanisms.split(",")
    for k in mech:
        if k not in MECHANISMS:
            sys.exit("--mechanisms: unknown %r; known: %s, or none" % (k, ", ".join(MECHANISMS)))
    if a.show is not None:
        x = {}
        for kv in a.show:
            k, v = kv.split("=", 1)
            x[k] = SPACE[k][2](float(v))
        report(a.pollwise, base, x, mech)
        return
    rng = random.Random(a.seed)
    best_x = current(base)
    best, _ = score(evaluate(a.pollwise, preset_text(base, best_x, mech)))
    print("start: score %.1f %s" % (best, best_x), file=sys.stderr, flush=True)
    for i in range(a.evals):
        if i < a.random:
            x = sample(rng)
        else:
            k = rng.choice(list(SPACE))
            lo, hi, t = SPACE[k]
            x = dict(best_x)
            x[k] = clamp(k, best_x[k] + rng.gauss(0, (hi - lo) / 8))
        s, _ = score(evaluate(a.pollwise, preset_text(base, x, mech)))
        if s < best:
            best, best_x = s, x
            print("eval %d: score %.1f %s" % (i, s, x), file=sys.stderr, flush=True)
    report(a.pollwise, base, best_x, mech)


if __name__ == "__main__":
    main()
