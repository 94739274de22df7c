"""Type stubs of the eggroll extension module."""

from os import PathLike
from typing import Any, Callable, Dict, Literal, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

ArrayLike = npt.ArrayLike
Shape = Union[int, Tuple[int, ...]]

class OptimizeResult:
    """What :func:`minimize` returns."""

    x: npt.NDArray[np.float64]
    """The best point evaluated."""
    fun: float
    """Its value."""
    evals: int
    """Evaluations used."""
    evals_to_target: Optional[int]
    """Evaluations when ``target`` was first reached (None if not reached)."""
    stop: str
    """Why it stopped: "target", "max_evals" or a CMA-ES criterion ("tol_fun", "tol_x", ...)."""
    restarts: int
    """Restarts performed."""

def minimize(
    fn_: Callable[[npt.NDArray[np.float64]], float],
    x0: ArrayLike,
    sigma0: float = 1.0,
    strategy: Literal["cmaes", "sep-cmaes", "eggroll", "simplees"] = "cmaes",
    max_evals: int = 100_000,
    seed: int = 0,
    bounds: Optional[Tuple[Union[float, ArrayLike], Union[float, ArrayLike]]] = None,
    target: Optional[float] = None,
    restarts: Literal["none", "ipop", "bipop"] = "none",
    population_size: int = 0,
    bound_handling: Literal["penalty", "repair"] = "penalty",
    nonfinite: Literal["error", "worst"] = "error",
) -> OptimizeResult:
    """Minimise ``fn_(x) -> float`` from ``x0`` with initial step size ``sigma0``.

    The GIL is released between evaluations; an exception raised by ``fn_`` propagates
    unchanged; Ctrl-C raises KeyboardInterrupt. ``population_size=0`` is the strategy's
    default (CMA-ES: 4 + 3 ln n). Bad arguments raise ValueError/TypeError naming them.
    """

class Strategy:
    """An evolution strategy over named parameter arrays, driven by ask/tell."""

    def __init__(
        self,
        kind: Literal["eggroll", "simplees", "cmaes", "sep-cmaes"],
        shapes: Mapping[str, Shape],
        population_size: int = 256,
        sigma: float = 0.1,
        learning_rate: float = 0.01,
        rank: int = 1,
        seed: int = 0,
        optimizer: Literal["sgd", "adam"] = "sgd",
        maximize: bool = True,
        init: Optional[Mapping[str, ArrayLike]] = None,
        noise_reuse: int = 1,
        group_size: int = 0,
        freeze_nonlora: bool = False,
        antithetic: bool = True,
        scaling: Literal["textbook", "official"] = "textbook",
    ) -> None:
        """``noise_reuse``: keep the noise for k generations; ``group_size``: 0 = global
        fitness shaping, g = centred per group of g; ``freeze_nonlora``: perturb matrices only;
        ``antithetic``: members 2k, 2k+1 are θ ± σE_k (False: every member its own noise, odd
        populations allowed); ``scaling``: ``textbook`` (lr/(Nσ)·Σ f̃ σE) or ``official``
        (lr·σ/√N·Σ f̃ E, the seed package's)."""
    def ask(self, materialize: bool = True) -> Optional[Dict[str, npt.NDArray[np.float32]]]:
        """Propose the next generation: ``{name: array (N, *shape)}``, or None with
        ``materialize=False`` (then use :meth:`Policy.forward_population`)."""
    def noise(
        self,
    ) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], Dict[str, Tuple[Any, ...]]]:
        """The last ask's noise, unscaled: ``(block, sign, {name: entry})``; member i's value
        is ``θ + σ·sign[i]·E[block[i]]`` with entry ``("lowrank", A, B)`` (``E = ABᵀ/√r``),
        ``("full", eps)`` or ``("none",)``."""
    def member(self, i: int) -> Dict[str, npt.NDArray[np.float32]]:
        """Member i of the last ask, exactly as ``ask()`` materialises it."""
    def tell(self, fitness: ArrayLike) -> None:
        """Update from one fitness per member of the last ask (higher is better unless
        ``maximize=False``)."""
    @property
    def mean(self) -> Dict[str, npt.NDArray[np.float32]]:
        """The current (mean) parameters."""
    @property
    def threads(self) -> Optional[int]:
        """Threads of ask/tell/member: None shares the process's pool; a number gives this
        strategy its own pool of that size (same bits either way)."""
    @threads.setter
    def threads(self, threads: Optional[int]) -> None: ...
    @property
    def generation(self) -> int: ...
    @property
    def population_size(self) -> int: ...
    @property
    def sigma(self) -> float: ...
    @property
    def kind(self) -> str: ...
    @property
    def shapes(self) -> Dict[str, Tuple[int, ...]]: ...
    def save(self, path: Union[str, PathLike[str]]) -> None:
        """Save parameters, strategy state and counters (safetensors, atomic)."""
    @staticmethod
    def load(path: Union[str, PathLike[str]]) -> "Strategy":
        """Load a strategy written by :meth:`save`."""

class Policy:
    """An MLP policy whose whole population runs in one batched low-rank forward."""

    def __init__(
        self,
        sizes: Sequence[int],
        activation: Literal["tanh", "relu", "gelu"] = "tanh",
        bias: bool = True,
        action: Literal["argmax", "tanh", "none"] = "argmax",
        low: Optional[Sequence[float]] = None,
        high: Optional[Sequence[float]] = None,
    ) -> None: ...
    @property
    def shapes(self) -> Dict[str, Tuple[int, ...]]:
        """Parameter shapes, for ``Strategy(shapes=...)``."""
    def init(self, seed: int = 0) -> Dict[str, npt.NDArray[np.float32]]:
        """PyTorch-style initial parameters, for ``Strategy(init=...)``."""
    def forward_population(self, es: Strategy, obs: ArrayLike) -> npt.NDArray[Any]:
        """Actions of every member (row i of ``obs`` for member i) after ``es.ask``."""
    def forward(self, es: Strategy, obs: ArrayLike) -> npt.NDArray[Any]:
        """Actions of the mean parameters (plain inference), any number of rows."""

def train(task: str, **overrides: Any) -> Dict[str, Any]:
    """Train ``task`` as ``eggroll train TASK --json`` does; returns that JSON object.

    Overrides: the CLI's flags (seed, generations, population, rank, sigma, lr, episodes,
    batch, model, time_budget, data_dir, out, force) and any config key with ``__`` for its
    dots (``es__optimizer__kind="sgd"``).
    """
