"""The two examples of the seed package's README (eggroll_trainer), with only the import
changed, then the same trainers on a fitness that can improve.

    python python/examples/seed_readme.py

The README's EGGROLL example scores members with `torch.randn(1).item()` — pure noise, so it
shows that the script runs, not that anything learns. Part 2 keeps every keyword and swaps
in a regression fitness (−MSE of the model against a fixed target) and prints the fitness of
the mean model before and after.
"""
import time

import torch
import torch.nn as nn
from eggroll.torch import EGGROLLTrainer  # was: from eggroll_trainer import EGGROLLTrainer
from eggroll.torch import ESTrainer  # was: from eggroll_trainer import ESTrainer


# ---- seed README, "EGGROLL Trainer (Recommended)" --------------------------------------------
# Define a model
class SimpleModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)  # Matrix: uses LoRA updates
        self.fc2 = nn.Linear(20, 1)   # Matrix: uses LoRA updates

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


# Define fitness function (higher is better)
def fitness_fn(model):
    # Your evaluation logic
    return torch.randn(1).item()


# Create EGGROLL trainer
model = SimpleModel()
trainer = EGGROLLTrainer(
    model=model,
    fitness_fn=fitness_fn,
    population_size=256,      # Large populations are efficient!
    learning_rate=0.01,
    sigma=0.1,
    rank=1,                   # Low-rank rank (1 is often sufficient)
    noise_reuse=0,            # 0 = no reuse, 2 = antithetic sampling
    group_size=0,             # 0 = global normalization
    freeze_nonlora=False,     # If True, only update matrix params
    seed=42,
)

# Train
trainer.train(num_generations=100)


# ---- seed README, "Base ES Trainer" -----------------------------------------------------------
class MyESTrainer(ESTrainer):
    def sample_perturbations(self, population_size):
        param_dim = self.current_params.shape[0]
        return torch.randn(population_size, param_dim, device=self.device)

    def compute_update(self, perturbations, fitnesses):
        weights = (fitnesses - fitnesses.mean()) / fitnesses.std()
        return (weights[:, None] * perturbations).mean(dim=0)


# ---- part 2: the same trainers on a fitness that can improve ---------------------------------
g = torch.Generator().manual_seed(0)
x = torch.randn(64, 10, generator=g)
y = torch.sin(2 * x[:, :1]) + 0.5 * x[:, 1:2]


def regression(model):
    return -nn.functional.mse_loss(model(x), y).item()


for name, make in [
    ("EGGROLLTrainer (README keywords)", lambda m: EGGROLLTrainer(
        model=m, fitness_fn=regression, population_size=256, learning_rate=0.01, sigma=0.1,
        rank=1, noise_reuse=0, group_size=0, freeze_nonlora=False, seed=42)),
    ("MyESTrainer (README subclass)", lambda m: MyESTrainer(
        model=m, fitness_fn=regression, population_size=50, learning_rate=0.05, sigma=0.05,
        seed=1)),
]:
    torch.manual_seed(0)
    m = SimpleModel()
    before = regression(m)
    t = make(m)
    t0 = time.perf_counter()
    t.train(num_generations=100)
    print(f"{name}: fitness {before:.4f} -> {regression(m):.4f} in 100 generations, "
          f"{time.perf_counter() - t0:.2f} s")
