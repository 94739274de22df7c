"""eggroll: Evolution Strategies with low-rank EGGROLL noise, CMA-ES and batched population
policies, implemented in Rust.

- ``minimize(fn, x0, sigma0=1.0, strategy="cmaes", ...)``: minimise a Python function.
- ``Strategy(kind, shapes, ...)``: ask/tell over named parameter arrays.
- ``Policy(sizes, ...)``: an MLP whose population forward runs every member in one batched pass.
- ``train(task, **overrides)``: the command line's ``eggroll train TASK --json`` as a dict.
- ``eggroll.torch`` (needs torch): ``EGGROLLTrainer``/``ESTrainer`` over any ``nn.Module``.
"""

from ._eggroll import OptimizeResult, Policy, Strategy, __version__, minimize, train

__all__ = ["OptimizeResult", "Policy", "Strategy", "__version__", "minimize", "train"]
