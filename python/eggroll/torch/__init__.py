"""EGGROLL and plain ES over any ``torch.nn.Module``, with the seed package's API.

``EGGROLLTrainer`` and ``ESTrainer`` take the keywords of the PyTorch package this project
started from (``eggroll_trainer``), so its scripts run with only the import changed::

    from eggroll.torch import EGGROLLTrainer, ESTrainer

The noise and the update of ``EGGROLLTrainer`` come from the Rust core (the counter-based
streams of :class:`eggroll.Strategy`: the same seed gives the same bits). Two ways to evaluate
a generation:

- ``fitness_fn(model) -> float``: called once per member with the model's parameters set to
  exactly ``θ + σEᵢ``; θ is restored bit for bit afterwards, also when ``fitness_fn`` raises.
- ``population_fitness_fn(pop) -> N fitnesses``: called once per generation; ``pop(x)`` runs
  the model for every member in one batched pass (``nn.Linear``, ``nn.Conv2d``,
  ``nn.Embedding`` add the low-rank correction ``σ/√r·(x Bᵢ)Aᵢᵀ``; ``W + σABᵀ`` is never
  formed). This is what EGGROLL exists for: one pass instead of N.

Fitness is "higher is better". Parameters are float32 and updated in place.
"""

from ._population import Population
from ._trainer import EGGROLLTrainer, ESTrainer, SimpleESTrainer

__all__ = ["EGGROLLTrainer", "ESTrainer", "SimpleESTrainer", "Population"]
