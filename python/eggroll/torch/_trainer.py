"""EGGROLLTrainer (noise and update from the Rust core) and the seed's ESTrainer."""

from __future__ import annotations

import abc
import copy
import os
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from .._eggroll import Strategy
from ._checks import (
    model_device,
    population_fitness,
    positive_float,
    positive_int,
    print_entry,
    record,
    scalar_fitness,
)
from ._population import Population

Fitness = Union[float, int, Tensor, np.ndarray]


# ----------------------------------------------------------------------------------------------
# EGGROLL over torch parameters, noise and update from the Rust core
# ----------------------------------------------------------------------------------------------


class _Param:
    """One trainable parameter: its name, tensor, owner module and shape in the strategy."""

    def __init__(self, name: str, param: nn.Parameter, module: nn.Module, local: str):
        self.name = name
        self.param = param
        self.module = module
        self.local = local
        # Conv weights are the `out × in·kh·kw` matrix (low-rank noise), as nn.Linear's.
        if isinstance(module, nn.Conv2d) and local == "weight":
            self.shape: Tuple[int, ...] = (param.shape[0], int(np.prod(param.shape[1:])))
        else:
            self.shape = tuple(param.shape)


def _layout(model: nn.Module) -> List[_Param]:
    owners = {}
    for mname, module in model.named_modules():
        for local, p in module.named_parameters(recurse=False):
            owners.setdefault(id(p), (module, local))
    out = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.dtype != torch.float32:
            raise ValueError(
                f"`model` parameter `{name}` is {p.dtype}; eggroll.torch trains float32 "
                "parameters (call model.float())"
            )
        module, local = owners[id(p)]
        out.append(_Param(name, p, module, local))
    return out


class EGGROLLTrainer:
    """EGGROLL (low-rank evolution strategies) over any ``nn.Module``, the seed's API.

    Keywords keep the seed package's meanings: ``noise_reuse`` 0 = every member its own
    noise, k > 0 = antithetic pairs (θ ± σE) with the noise kept for k generations;
    ``group_size`` 0 = global fitness normalisation, g = each group of g members centred on
    its mean; ``freeze_nonlora`` perturbs and updates only matrices; the update is
    ``θ ← θ + lr·σ/√N·Σᵢ f̃ᵢ Eᵢ`` with z-scored fitnesses f̃ (the seed's scaling).
    ``seed=None`` draws a seed from the OS (``trainer.seed`` tells which).

    Give ``fitness_fn(model)`` (one call per member) or ``population_fitness_fn(pop)`` (one
    call per generation with a :class:`Population`).

    ``threads``: the threads of the Rust ask/tell (:attr:`eggroll.Strategy.threads`). None
    picks 1 for a model on the CPU, where torch's OpenMP workers keep spinning for
    milliseconds after each op and would halve a parallel tell's speed, and the process's
    pool otherwise. The results are the same bits whatever it is.
    """

    def __init__(
        self,
        model: nn.Module,
        fitness_fn: Optional[Callable[[nn.Module], Fitness]] = None,
        population_size: int = 256,
        learning_rate: float = 0.01,
        sigma: float = 0.1,
        rank: int = 1,
        noise_reuse: int = 0,
        group_size: int = 0,
        freeze_nonlora: bool = False,
        device: Optional[Union[str, torch.device]] = None,
        seed: Optional[int] = None,
        *,
        population_fitness_fn: Optional[Callable[["Population"], Any]] = None,
        optimizer: str = "sgd",
        threads: Optional[int] = None,
    ):
        if (fitness_fn is None) == (population_fitness_fn is None):
            raise ValueError("give exactly one of `fitness_fn` and `population_fitness_fn`")
        for arg, fn in (("fitness_fn", fitness_fn), ("population_fitness_fn", population_fitness_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"`{arg}` must be callable")
        self.device = model_device(model, device)
        self.model = model
        self.fitness_fn = fitness_fn
        self.population_fitness_fn = population_fitness_fn
        self.population_size = positive_int(population_size, "population_size", 2)
        self.learning_rate = positive_float(learning_rate, "learning_rate")
        self.sigma = positive_float(sigma, "sigma")
        self.rank = positive_int(rank, "rank")
        self.noise_reuse = positive_int(noise_reuse, "noise_reuse", 0)
        self.group_size = positive_int(group_size, "group_size", 0)
        self.freeze_nonlora = bool(freeze_nonlora)
        if seed is None:
            seed = int.from_bytes(os.urandom(7), "little")
        self.seed = positive_int(seed, "seed", 0)
        if self.noise_reuse > 0 and self.population_size % 2:
            raise ValueError(
                f"`population_size` is {self.population_size}; antithetic sampling "
                f"(noise_reuse={self.noise_reuse}) pairs members, so it must be even"
            )
        self._params = _layout(model)
        init = {
            p.name: p.param.detach().to("cpu").reshape(p.shape).numpy() for p in self._params
        }
        self.strategy = Strategy(
            "eggroll",
            {p.name: p.shape for p in self._params},
            population_size=self.population_size,
            sigma=self.sigma,
            learning_rate=self.learning_rate,
            rank=self.rank,
            seed=self.seed,
            optimizer=optimizer,
            init=init,
            noise_reuse=max(self.noise_reuse, 1),
            group_size=self.group_size,
            freeze_nonlora=self.freeze_nonlora,
            antithetic=self.noise_reuse > 0,
            scaling="official",
        )
        if threads is not None:
            threads = positive_int(threads, "threads")
        elif self.device.type == "cpu":
            threads = 1
        self.threads = threads
        self.strategy.threads = threads
        self.history: List[Dict[str, Any]] = []
        self.best_fitness: Optional[float] = None
        self._t0 = time.perf_counter()

    # -- the seed's attributes -----------------------------------------------------------------

    @property
    def generation(self) -> int:
        """Generations completed."""
        return self.strategy.generation

    @property
    def fitness_history(self) -> List[float]:
        """Mean fitness per generation (the seed's ``fitness_history``)."""
        return [h["mean_fitness"] for h in self.history]

    # -- parameters ----------------------------------------------------------------------------

    def _load(self, values: Dict[str, np.ndarray], model: Optional[nn.Module] = None) -> None:
        """Copy ``values`` (strategy layout) into ``model``'s parameters, in place."""
        with torch.no_grad():
            if model is None:
                targets = [p.param for p in self._params]
            else:
                named = dict(model.named_parameters())
                targets = [named[p.name] for p in self._params]
            for p, t in zip(self._params, targets):
                t.copy_(torch.from_numpy(values[p.name]).reshape(t.shape))

    # -- one generation ------------------------------------------------------------------------

    def step(self) -> Dict[str, Any]:
        """One generation: ask, evaluate every member, tell, write θ back into the model.

        Returns this generation's entry of :attr:`history`. On an error the model's
        parameters are left as they were and no generation is counted.
        """
        self.strategy.ask(materialize=False)
        if self.population_fitness_fn is not None:
            pop = Population(self)
            try:
                with torch.no_grad():
                    raw = self.population_fitness_fn(pop)
            finally:
                pop._close()
            f = population_fitness(raw, self.population_size)
        else:
            f = self._evaluate_members()
        self.strategy.tell(f)
        self._load(self.strategy.mean)
        entry = record(self.history, self.generation, f, self._t0)
        if self.best_fitness is None or entry["best_fitness"] > self.best_fitness:
            self.best_fitness = entry["best_fitness"]
        return entry

    def _evaluate_members(self) -> np.ndarray:
        saved = [p.param.detach().clone() for p in self._params]
        f = np.empty(self.population_size)
        try:
            for i in range(self.population_size):
                self._load(self.strategy.member(i))
                with torch.no_grad():
                    value = self.fitness_fn(self.model)  # type: ignore[misc]
                f[i] = scalar_fitness(value, "fitness_fn", i)
        finally:
            with torch.no_grad():
                for p, s in zip(self._params, saved):
                    p.param.copy_(s)
        return f

    train_step = step

    def train(self, num_generations: int, verbose: bool = False) -> List[Dict[str, Any]]:
        """Run ``num_generations`` generations; returns the whole per-generation history
        (also :attr:`history`): ``generation``, ``mean_fitness``, ``best_fitness``,
        ``std_fitness``, ``time_s``."""
        for _ in range(positive_int(num_generations, "num_generations", 0)):
            entry = self.step()
            if verbose:
                print_entry(entry)
        return self.history

    # -- files ---------------------------------------------------------------------------------

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Save θ, the optimiser state and the counters (safetensors, atomic)."""
        self.strategy.save(path)

    def load(self, path: Union[str, os.PathLike]) -> None:
        """Load a file written by :meth:`save` into this trainer and its model.

        All or nothing: a file for another model (names or shapes) raises ValueError and
        changes nothing."""
        loaded = Strategy.load(path)
        want = {p.name: tuple(p.shape) for p in self._params}
        got = {k: tuple(v) for k, v in loaded.shapes.items()}
        if want != got:
            raise ValueError(f"{path}: saved for parameters {got}, this model has {want}")
        loaded.threads = self.threads
        self.strategy = loaded
        self._load(loaded.mean)


# ----------------------------------------------------------------------------------------------
# The seed's ES base class, in plain torch
# ----------------------------------------------------------------------------------------------


class ESTrainer(abc.ABC):
    """The seed's base class for custom evolution strategies over a flat parameter vector.

    Subclasses implement :meth:`sample_perturbations` (``[N, D]``) and
    :meth:`compute_update` (``[D]``). Member i is ``θ + σ·εᵢ``; after a generation
    ``θ ← θ + lr·update``. ``current_params`` is θ, flat; the model is updated in place.
    ``seed`` seeds torch's global generator, as in the seed package.
    """

    def __init__(
        self,
        model: nn.Module,
        fitness_fn: Callable[[nn.Module], Fitness],
        population_size: int = 50,
        learning_rate: float = 0.01,
        sigma: float = 0.1,
        device: Optional[Union[str, torch.device]] = None,
        seed: Optional[int] = None,
    ):
        if not callable(fitness_fn):
            raise TypeError("`fitness_fn` must be callable")
        self.device = model_device(model, device)
        self.model = model
        self.fitness_fn = fitness_fn
        self.population_size = positive_int(population_size, "population_size", 1)
        self.learning_rate = positive_float(learning_rate, "learning_rate")
        self.sigma = positive_float(sigma, "sigma")
        if seed is not None:
            torch.manual_seed(positive_int(seed, "seed", 0))
        self._params = [p for p in model.parameters() if p.requires_grad]
        for name, p in model.named_parameters():
            if p.requires_grad and not p.dtype.is_floating_point:
                raise ValueError(f"`model` parameter `{name}` is {p.dtype}, not floating point")
        self.current_params = self._flat()
        self.initial_params = self.current_params.clone()
        self.generation = 0
        self.history: List[Dict[str, Any]] = []
        self.best_fitness: Optional[float] = None
        self.best_params: Optional[Tensor] = None
        self._t0 = time.perf_counter()

    @property
    def fitness_history(self) -> List[float]:
        """Mean fitness per generation."""
        return [h["mean_fitness"] for h in self.history]

    def _flat(self) -> Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self._params]).clone()

    def _set_flat_params(self, flat: Tensor) -> None:
        with torch.no_grad():
            i = 0
            for p in self._params:
                p.copy_(flat[i:i + p.numel()].reshape(p.shape))
                i += p.numel()

    @abc.abstractmethod
    def sample_perturbations(self, population_size: int) -> Tensor:
        """``[population_size, D]`` directions εᵢ."""

    @abc.abstractmethod
    def compute_update(self, perturbations: Tensor, fitnesses: Tensor) -> Tensor:
        """``[D]`` update from the directions and the ``[N]`` fitnesses."""

    def step(self) -> Dict[str, Any]:
        """One generation; returns its :attr:`history` entry."""
        n, d = self.population_size, self.current_params.shape[0]
        eps = self.sample_perturbations(n)
        if not isinstance(eps, Tensor) or tuple(eps.shape) != (n, d):
            shape = tuple(eps.shape) if isinstance(eps, Tensor) else type(eps).__name__
            raise ValueError(f"`sample_perturbations` returned {shape}; expected ({n}, {d})")
        f = np.empty(n)
        try:
            for i in range(n):
                self._set_flat_params(self.current_params + self.sigma * eps[i])
                with torch.no_grad():
                    f[i] = scalar_fitness(self.fitness_fn(self.model), "fitness_fn", i)
        finally:
            self._set_flat_params(self.current_params)
        fit = torch.tensor(f, dtype=self.current_params.dtype, device=self.current_params.device)
        update = self.compute_update(eps, fit)
        if not isinstance(update, Tensor) or tuple(update.shape) != (d,):
            shape = tuple(update.shape) if isinstance(update, Tensor) else type(update).__name__
            raise ValueError(f"`compute_update` returned {shape}; expected ({d},)")
        if not bool(torch.isfinite(update).all()):
            raise ValueError("`compute_update` returned non-finite values; θ unchanged")
        best_member = self.current_params + self.sigma * eps[int(np.argmax(f))]
        self.current_params = self.current_params + self.learning_rate * update.detach()
        self._set_flat_params(self.current_params)
        self.generation += 1
        entry = record(self.history, self.generation, f, self._t0)
        if self.best_fitness is None or entry["best_fitness"] > self.best_fitness:
            self.best_fitness = entry["best_fitness"]
            self.best_params = best_member
        return entry

    train_step = step

    def train(self, num_generations: int, verbose: bool = False) -> List[Dict[str, Any]]:
        """Run ``num_generations`` generations; returns :attr:`history`."""
        for _ in range(positive_int(num_generations, "num_generations", 0)):
            entry = self.step()
            if verbose:
                print_entry(entry)
        return self.history

    def get_best_model(self) -> nn.Module:
        """A copy of the model with the best member evaluated so far."""
        model = copy.deepcopy(self.model)
        if self.best_params is not None:
            params = [p for p in model.parameters() if p.requires_grad]
            with torch.no_grad():
                i = 0
                for p in params:
                    p.copy_(self.best_params[i:i + p.numel()].reshape(p.shape))
                    i += p.numel()
        return model


class SimpleESTrainer(ESTrainer):
    """Gaussian directions and z-scored fitness weights: ``update = mean(f̃ᵢ εᵢ)``."""

    def sample_perturbations(self, population_size: int) -> Tensor:
        return torch.randn(
            population_size,
            self.current_params.shape[0],
            device=self.current_params.device,
            dtype=self.current_params.dtype,
        )

    def compute_update(self, perturbations: Tensor, fitnesses: Tensor) -> Tensor:
        centred = fitnesses - fitnesses.mean()
        weights = centred / (centred.std() + 1e-8)
        return (weights[:, None] * perturbations).mean(dim=0)
