"""Where one population-mode generation of `torch_mlp.py`'s setting spends its time.

    python python/bench/torch_profile.py [--population 256] [--batch 256] [--steps 15]

The same 784-256-10 MLP, N members on a shared batch of B images. Prints one JSON line: the
median milliseconds of each phase of `EGGROLLTrainer.step` (ask, the noise handed to torch,
the fitness function's batched pass, Rust's tell, θ written back into the model), then torch's
profiler's operators by self CPU time over 5 further passes.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn

from eggroll.torch import EGGROLLTrainer
from eggroll.torch._population import Population

ap = argparse.ArgumentParser()
ap.add_argument("--population", type=int, default=256)
ap.add_argument("--batch", type=int, default=256)
ap.add_argument("--steps", type=int, default=15)
a = ap.parse_args()
torch.manual_seed(0)
N, B = a.population, a.batch
x = torch.rand(B, 784)
y = torch.randint(0, 10, (B,))


def fitness(pop):
    logp = torch.log_softmax(pop(x), -1)  # [N, B, 10]
    return logp.gather(2, y.view(1, B, 1).expand(N, B, 1)).mean((1, 2))


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
tr = EGGROLLTrainer(model, population_fitness_fn=fitness, population_size=N, seed=0)
for _ in range(3):
    tr.step()
phases = {k: [] for k in ["ask", "noise", "pass", "tell", "load", "total"]}
for _ in range(a.steps):  # EGGROLLTrainer.step, phase by phase
    t = [time.perf_counter()]
    tr.strategy.ask(materialize=False)
    t.append(time.perf_counter())
    pop = Population(tr)
    t.append(time.perf_counter())
    with torch.no_grad():
        f = fitness(pop)
    pop._close()
    t.append(time.perf_counter())
    tr.strategy.tell(f.numpy().astype("float64"))
    t.append(time.perf_counter())
    tr._load(tr.strategy.mean)
    t.append(time.perf_counter())
    for k, t0, t1 in zip(phases, t, t[1:]):
        phases[k].append((t1 - t0) * 1e3)
    phases["total"].append((t[-1] - t[0]) * 1e3)
out = {k + "_ms": round(statistics.median(v), 2) for k, v in phases.items()}

tr.strategy.ask(materialize=False)
pop = Population(tr)
with torch.profiler.profile() as prof:
    for _ in range(5):
        with torch.no_grad():
            fitness(pop)
pop._close()
ops = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
total = sum(e.self_cpu_time_total for e in ops) or 1
out["pass_self_cpu_share"] = {e.key: round(e.self_cpu_time_total / total, 3) for e in ops[:6]}
print(json.dumps(out))
