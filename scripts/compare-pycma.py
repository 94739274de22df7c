#!/usr/bin/env python3
"""Anchor: pycma against `eggroll bbob run` on the same bbob problems, side by side.

    python3 -m venv .venv && .venv/bin/pip install cma==4.5.0 coco-experiment==2.8.2 numpy
    .venv/bin/python scripts/compare-pycma.py [--seeds 5] [--eggroll target/release/eggroll]

Part 1 (evaluations to target): pycma without restarts and `eggroll bbob run --strategy
cmaes` on f1, f2, f8, f10–f14, d = 10, instances 1–3, x0 = 0, σ0 = 2, budget 1e4·d, target
f_opt + 1e-8 (COCO's `final_target_hit`). With --seeds k every (function, instance) runs k
seeds for both; the table gives the median evaluations over the successful runs, the success
counts and the ratio ours/pycma.

Part 2 (overhead): microseconds per generation of the strategy's own work (ask + tell, the
sphere excluded) for CMA-ES at d = 100 and sep-CMA-ES (pycma: CMA_diagonal) at d = 10,000,
measured in this one run.
"""
import argparse, json, statistics, subprocess, sys, time, warnings

warnings.filterwarnings("ignore")
import numpy as np
import cma
import cocoex

ap = argparse.ArgumentParser()
ap.add_argument("--seeds", type=int, default=1)
ap.add_argument("--functions", default="1,2,8,10,11,12,13,14")
ap.add_argument("--dim", type=int, default=10)
ap.add_argument("--instances", default="1,2,3")
ap.add_argument("--eggroll", default="target/release/eggroll")
ap.add_argument("--skip-overhead", action="store_true")
a = ap.parse_args()
funcs = [int(f) for f in a.functions.split(",")]
insts = [int(i) for i in a.instances.split(",")]
d = a.dim
budget = 10_000 * d


def pycma_run(f, inst, seed):
    p = next(iter(cocoex.Suite("bbob", f"instances: {inst}", f"dimensions: {d} function_indices: {f}")))
    es = cma.CMAEvolutionStrategy(np.zeros(d), 2.0, {"seed": seed, "verbose": -9, "maxfevals": budget})
    hit = None
    while not es.stop() and hit is None:
        X = es.ask()
        F = []
        for x in X:
            F.append(p(x))
            if hit is None and p.final_target_hit:
                hit = p.evaluations
        es.tell(X, F)
    return hit


def ours_run(f, inst, seed):
    out = subprocess.run(
        [a.eggroll, "bbob", "run", "--strategy", "cmaes", "--function", str(f), "--instance", str(inst),
         "--dim", str(d), "--budget-per-dim", "10000", "--seed", str(seed), "--json"],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["evals_to_target"]


def med(v):
    ok = [x for x in v if x is not None]
    return statistics.median(ok) if ok else None


print(f"pycma {cma.__version__}, cocoex {cocoex.__version__}; d = {d}, instances {insts}, "
      f"{a.seeds} seed(s) each, x0 = 0, sigma0 = 2, no restarts")
print("| f | pycma median evals (succ) | eggroll median evals (succ) | ratio |")
print("|---|---|---|---|")
ratios = []
for f in funcs:
    P, O = [], []
    for inst in insts:
        for s in range(1, a.seeds + 1):
            P.append(pycma_run(f, inst, s))
            O.append(ours_run(f, inst, s))
    mp, mo = med(P), med(O)
    r = mo / mp if mp and mo else None
    if r is not None:
        ratios.append(r)
    sp = sum(x is not None for x in P)
    so = sum(x is not None for x in O)
    print(f"| f{f} | {mp} ({sp}/{len(P)}) | {mo} ({so}/{len(O)}) | {r:.3f} |" if r else
          f"| f{f} | {mp} ({sp}/{len(P)}) | {mo} ({so}/{len(O)}) | – |", flush=True)
if ratios:
    print(f"\nmedian ratio over {len(ratios)} functions: {statistics.median(ratios):.3f}; "
          f"max {max(ratios):.3f}")

if a.skip_overhead:
    sys.exit(0)


def pycma_overhead(dim, diagonal, gens):
    es = cma.CMAEvolutionStrategy(np.ones(dim), 1.0, {"verbose": -9, "seed": 1, "CMA_diagonal": diagonal})
    times = []
    for g in range(gens + 5):
        t0 = time.perf_counter()
        X = es.ask()
        spent = time.perf_counter() - t0
        F = [float(np.dot(x, x)) for x in X]
        t1 = time.perf_counter()
        es.tell(X, F)
        spent += time.perf_counter() - t1
        if g >= 5:
            times.append(spent * 1e6)
    return statistics.median(times), statistics.mean(times), es.popsize


print("\n| strategy | d | λ | pycma µs/gen median (mean) | eggroll µs/gen median (mean) | pycma/eggroll |")
print("|---|---|---|---|---|---|")
for name, dim, diag, gens in [("cmaes", 100, False, 200), ("sep-cmaes", 10_000, True, 50)]:
    pm, pmean, lam = pycma_overhead(dim, diag, gens)
    out = subprocess.run([a.eggroll, "bench", "strategy", "--strategy", name, "--dim", str(dim),
                          "--generations", str(gens)], check=True, capture_output=True, text=True).stdout
    o = json.loads(out.strip().splitlines()[-1])
    print(f"| {name} | {dim} | {lam} | {pm:.0f} ({pmean:.0f}) | {o['us_per_generation']:.0f} "
          f"({o['us_per_generation_mean']:.0f}) | {pm / o['us_per_generation']:.1f}× |", flush=True)
