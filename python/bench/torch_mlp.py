"""eggroll.torch population mode against its fitness_fn mode and against plain inference.

    python python/bench/torch_mlp.py [--population 256] [--batch 256] [--rounds 5]

A 784-256-10 MLP (ReLU), a batch of B images shared by all N members, fitness = minus the
cross-entropy. Three things are timed side by side, each the median of `--rounds` rounds:

1. `EGGROLLTrainer(..., population_fitness_fn=fn).step()`: one batched pass over N·B rows
   (low-rank corrections, no member materialised), plus the Rust ask/tell.
2. `EGGROLLTrainer(..., fitness_fn=fn).step()`: N calls of the model on B rows, each member's
   θ + σEᵢ copied into the model (the seed's way).
3. Plain batched inference: the same model on the same N·B rows with fixed weights.

Members/s = N / seconds. Prints one JSON line.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from eggroll.torch import EGGROLLTrainer

ap = argparse.ArgumentParser()
ap.add_argument("--population", type=int, default=256)
ap.add_argument("--batch", type=int, default=256)
ap.add_argument("--hidden", type=int, default=256)
ap.add_argument("--rounds", type=int, default=5)
ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
ap.add_argument(
    "--keep-freed-memory",
    action="store_true",
    help="glibc mallopt: keep freed blocks for reuse instead of returning them to the OS "
    "(every mode then skips the page faults of fresh [N·B, width] buffers)",
)
a = ap.parse_args()
if a.keep_freed_memory:
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    # 32 MiB is glibc's largest mmap threshold on 64-bit (a larger value is refused, and a
    # set trim threshold alone would freeze the mmap threshold at 128 KiB: every activation
    # buffer mmapped afresh, the opposite of the intent).
    if not (libc.mallopt(M_MMAP_THRESHOLD, 1 << 25) and libc.mallopt(M_TRIM_THRESHOLD, 1 << 31)):
        raise SystemExit("glibc refused mallopt")
if a.threads:
    torch.set_num_threads(a.threads)
torch.manual_seed(0)
N, B = a.population, a.batch
x = torch.rand(B, 784)
y = torch.randint(0, 10, (B,))


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(784, a.hidden), nn.ReLU(), nn.Linear(a.hidden, 10))


def pop_fitness(pop):
    logp = torch.log_softmax(pop(x), -1)  # [N, B, 10]
    return logp.gather(2, y.view(1, B, 1).expand(N, B, 1)).mean((1, 2))  # −cross-entropy


def member_fitness(model):
    return -F.cross_entropy(model(x), y).item()


pop_trainer = EGGROLLTrainer(mlp(), population_fitness_fn=pop_fitness, population_size=N, seed=0)
one_trainer = EGGROLLTrainer(mlp(), fitness_fn=member_fitness, population_size=N, seed=0)
plain = mlp()
xs = x.unsqueeze(0).expand(N, B, 784).reshape(N * B, 784).contiguous()


def infer():
    with torch.no_grad():
        plain(xs)


def median_time(fn, rounds):
    fn()  # warm-up
    ts = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


rows = {"pop": [], "member": [], "infer": []}
for _ in range(a.rounds):  # alternate, so machine noise hits all three alike
    rows["pop"].append(median_time(pop_trainer.step, 1))
    rows["member"].append(median_time(one_trainer.step, 1))
    rows["infer"].append(median_time(infer, 1))
s = {k: statistics.median(v) for k, v in rows.items()}
out = {
    "model": f"784-{a.hidden}-10",
    "population": N,
    "batch": B,
    "torch": torch.__version__,
    "threads": torch.get_num_threads(),
    "keep_freed_memory": a.keep_freed_memory,
    "population_mode_s_per_gen": round(s["pop"], 4),
    "fitness_fn_mode_s_per_gen": round(s["member"], 4),
    "plain_inference_s": round(s["infer"], 4),
    "population_mode_members_per_s": round(N / s["pop"], 1),
    "plain_inference_members_per_s": round(N / s["infer"], 1),
    "speedup_vs_fitness_fn_mode": round(s["member"] / s["pop"], 2),
    "population_vs_inference": round(s["infer"] / s["pop"], 3),
}
print(json.dumps(out))
