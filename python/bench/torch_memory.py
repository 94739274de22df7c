"""Peak memory of an eggroll.torch population-mode trainer as the population grows.

    python python/bench/torch_memory.py --population 1024

The 784-256-10 MLP and 256 shared images of `torch_mlp.py`; five generations of
`EGGROLLTrainer(..., population_fitness_fn=...)`. Prints one JSON line: peak RSS (ru_maxrss)
before the trainer is built (torch and the data) and after the five generations, in MB.
"""
import argparse
import json
import resource

import torch
import torch.nn as nn

from eggroll.torch import EGGROLLTrainer

ap = argparse.ArgumentParser()
ap.add_argument("--population", type=int, default=256)
ap.add_argument("--batch", type=int, default=256)
a = ap.parse_args()
N, B = a.population, a.batch
torch.manual_seed(0)
x, y = torch.rand(B, 784), torch.randint(0, 10, (B,))
model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def fitness(pop):
    logp = torch.log_softmax(pop(x), -1)
    return logp.gather(2, y.view(1, B, 1).expand(N, B, 1)).mean((1, 2))


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


before = peak_mb()
trainer = EGGROLLTrainer(model, population_fitness_fn=fitness, population_size=N, seed=0)
trainer.train(5)
print(json.dumps({"population": N, "batch": B, "peak_rss_mb_before": round(before),
                  "peak_rss_mb_after": round(peak_mb()), "growth_mb": round(peak_mb() - before)}))
