"""Rust's ask and tell alone, for the parameter shapes of `torch_mlp.py`'s 784-256-10 MLP.

    python python/bench/update.py [--population 256] [--rounds 30]

`eggroll.Strategy` as `EGGROLLTrainer` builds it (no antithetic pairs, the official scaling,
rank 1), the tell given fixed fitnesses, on a pool of 1 and of 2 threads: two blocks of
`--rounds` rounds each, alternating.
Prints one JSON line: the median milliseconds of `ask(materialize=False)` and of `tell` for
each thread count. The tell is dominated by the low-rank update GEMM
(`eggroll_core::kernels::lowrank_update`).
"""
import argparse
import json
import statistics
import time

import numpy as np

import eggroll

ap = argparse.ArgumentParser()
ap.add_argument("--population", type=int, default=256)
ap.add_argument("--rounds", type=int, default=30)
a = ap.parse_args()
shapes = {"w1": (256, 784), "b1": (256,), "w2": (10, 256), "b2": (10,)}
s = eggroll.Strategy(
    "eggroll", shapes, population_size=a.population, sigma=0.1, learning_rate=0.01, rank=1,
    seed=0, antithetic=False, scaling="official",
)
f = np.random.default_rng(0).random(a.population)
ts = {t: {"ask": [], "tell": []} for t in (1, 2)}
for _ in range(2):  # blocks of rounds per thread count (setting `threads` builds a pool)
    for t, phases in ts.items():
        s.threads = t
        for _ in range(a.rounds):
            t0 = time.perf_counter()
            s.ask(materialize=False)
            t1 = time.perf_counter()
            s.tell(f)
            t2 = time.perf_counter()
            phases["ask"].append(t1 - t0)
            phases["tell"].append(t2 - t1)
out = {
    f"threads_{t}": {k: round(statistics.median(v) * 1e3, 2) for k, v in p.items()}
    for t, p in ts.items()
}
print(json.dumps({"population": a.population, **out}))
