"""The reference `pollwise bench` measures its simulator's speed against: the
closed-loop IOThread model written as a SimPy user would write it.

Every one of NUMJOBS x 8 requests goes round a loop: the guest spends a few
microseconds, the single IOThread submits it (paying a wake-up first when
the request came after its poll window, which doubles from 4 us up to 32 us
while requests keep coming and drops to 0 after a longer gap), the device
takes a lognormal time, and the IOThread completes it. Deterministic (seeded).

Usage: python3 simpy_closed_loop.py [NUMJOBS] [SIMULATED_SECONDS]
Prints one line: `simulated_ios_per_wall_second N`.
"""
import math
import random
import sys
import time

import simpy

GUEST_NS = 3000
SUBMIT_NS = 1500
COMPLETE_NS = 1500
WAKEUP_NS = 8000
WINDOW_MIN_NS = 4000
WINDOW_MAX_NS = 32768
DEVICE_MEDIAN_NS = 9000
DEVICE_SIGMA = 0.25
IODEPTH = 8


def run(numjobs, simulated_ns):
    env = simpy.Environment()
    loop = simpy.Resource(env, capacity=1)
    rng = random.Random(1)
    poll = {"window": 0, "last_submit": 0}
    completed = [0]

    def one_request():
        while True:
            yield env.timeout(GUEST_NS)
            with loop.request() as turn:
                yield turn
                gap = env.now - poll["last_submit"]
                if gap > poll["window"]:
                    yield env.timeout(WAKEUP_NS)
                    grown = min(WINDOW_MAX_NS, max(WINDOW_MIN_NS, 2 * poll["window"]))
                    poll["window"] = 0 if gap > WINDOW_MAX_NS else grown
                yield env.timeout(SUBMIT_NS)
                poll["last_submit"] = env.now
            device = rng.lognormvariate(math.log(DEVICE_MEDIAN_NS), DEVICE_SIGMA)
            yield env.timeout(int(device))
            with loop.request() as turn:
                yield turn
                yield env.timeout(COMPLETE_NS)
            completed[0] += 1

    for _ in range(numjobs * IODEPTH):
        env.process(one_request())
    start = time.perf_counter()
    env.run(until=simulated_ns)
    return completed[0], time.perf_counter() - start


if __name__ == "__main__":
    numjobs = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 0.2
    ios, wall = run(numjobs, int(seconds * 1e9))
    print(f"simulated_ios_per_wall_second {ios / wall:.0f}")
