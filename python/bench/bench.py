"""Python-side benchmarks, each measured side by side in one run.

    pip install ./python cma          # cma (pycma) only for its column
    python python/bench/bench.py [--eggroll target/release/eggroll]

1. Ask/tell overhead per generation, N = 1000 members, d = 100 parameters: eggroll.Strategy
   (EGGROLL on a 10×10 matrix and on a 100-vector, CMA-ES, sep-CMA-ES) next to pycma's
   CMAEvolutionStrategy ask/tell with popsize 1000. The fitness computation is excluded.
2. Policy.forward_population at N = 4096, 4-64-64-2, in members/s, next to the Rust-only
   EGGROLL forward of the same network (`eggroll bench forward`, cached noise), in 7
   alternating rounds (medians).
"""
import argparse
import json
import os
import statistics
import subprocess
import time
import warnings

# numpy's OpenBLAS threads busy-wait after each BLAS call; on a 2-core machine they would
# compete with the Rust thread pool that the timed calls use.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

import eggroll  # noqa: E402

warnings.filterwarnings("ignore")
ap = argparse.ArgumentParser()
ap.add_argument("--eggroll", default="target/release/eggroll")
ap.add_argument("--generations", type=int, default=30)
a = ap.parse_args()
N, D = 1000, 100


def timed(ask, tell, fitness, gens):
    ts = []
    for g in range(gens + 3):
        t0 = time.perf_counter()
        pop = ask()
        t1 = time.perf_counter()
        f = fitness(pop)
        t2 = time.perf_counter()
        tell(pop, f)
        t3 = time.perf_counter()
        if g >= 3:
            ts.append((t1 - t0) + (t3 - t2))
    return statistics.median(ts) * 1e3, statistics.mean(ts) * 1e3


print("## forward_population, N = 4096, 4-64-64-2 (members/s)")
P = 4096
policy = eggroll.Policy(sizes=[4, 64, 64, 2], action="none")
es = eggroll.Strategy("eggroll", shapes=policy.shapes, init=policy.init(0), population_size=P,
                      sigma=0.1, rank=1, seed=0)
es.ask(materialize=False)
obs = np.random.default_rng(0).normal(size=(P, 4)).astype(np.float32)
for _ in range(5):
    policy.forward_population(es, obs)


def python_round():
    # Warm up for 0.2 s after the Rust round, as `eggroll bench forward` warms its own pool
    # before timing: the rayon workers of this process slept through the Rust round and wake
    # on one core; the scheduler takes some milliseconds to spread them over both again
    # (with 5 warm-up calls, whole runs measured this process at exactly half speed).
    t1 = time.perf_counter()
    while time.perf_counter() - t1 < 0.2:
        policy.forward_population(es, obs)
    t0 = time.perf_counter()
    for _ in range(20):
        policy.forward_population(es, obs)
    return 20 * P / (time.perf_counter() - t0)


def rust_round():
    out = subprocess.run([a.eggroll, "bench", "forward", "--population", str(P), "--layers",
                          "4,64,64,2", "--rounds", "3", "--json"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["eggroll_members_per_s"]


# Alternate Python and Rust-only rounds, so both see the same machine load.
py_rates, rust_rates = [], []
for _ in range(7):
    py_rates.append(python_round())
    rust_rates.append(rust_round())
py_rate, rust_rate = statistics.median(py_rates), statistics.median(rust_rates)
print("| path | members/s (median of 7 alternating rounds) | ratio |")
print("|---|---|---|")
print(f"| Rust-only EGGROLL forward (eggroll bench forward) | {rust_rate:.3e} | 1 |")
print(f"| Python Policy.forward_population | {py_rate:.3e} | {py_rate / rust_rate:.2f} |")

print(f"\n## ask/tell overhead per generation, N = {N}, d = {D} (ms, fitness excluded)")
print("| strategy | median ms/generation | mean ms/generation |")
print("|---|---|---|")
for kind, shape in [("eggroll", (10, 10)), ("eggroll", (D,)), ("simplees", (D,)),
                    ("cmaes", (D,)), ("sep-cmaes", (D,))]:
    es = eggroll.Strategy(kind, shapes={"w": shape}, population_size=N, sigma=0.1, seed=0)
    med, mean = timed(lambda: es.ask(), lambda p, f: es.tell(f),
                      lambda pop: -np.sum(pop["w"].reshape(N, -1) ** 2, axis=1), a.generations)
    print(f"| eggroll.Strategy({kind!r}, {shape}) | {med:.3f} | {mean:.3f} |", flush=True)
try:
    import cma
    es = cma.CMAEvolutionStrategy(np.zeros(D), 0.1, {"popsize": N, "verbose": -9, "seed": 1})
    med, mean = timed(lambda: es.ask(), lambda X, f: es.tell(X, f),
                      lambda X: [float(np.dot(x, x)) for x in X], max(5, a.generations // 3))
    print(f"| pycma {cma.__version__} CMAEvolutionStrategy (popsize {N}) | {med:.3f} | {mean:.3f} |")
except ImportError:
    print("| pycma | not installed (pip install cma) |")

