"""Argument and fitness checks shared by the trainers (errors name the argument)."""

from __future__ import annotations

import math
import time
from typing import Any, Dict, List

import numpy as np
import torch
from torch import Tensor, nn

# ----------------------------------------------------------------------------------------------


def positive_int(value: Any, arg: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{arg}` must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"`{arg}` is {value}; must be ≥ {minimum}")
    return int(value)


def positive_float(value: Any, arg: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"`{arg}` must be a number, got {type(value).__name__}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"`{arg}` is {value}; must be a finite number > 0")
    return v


def scalar_fitness(value: Any, arg: str, member: int) -> float:
    """One member's fitness as a float, or a ValueError/TypeError naming ``arg``."""
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise ValueError(
                f"`{arg}` returned a tensor that requires grad for member {member}; "
                "return `.item()` or compute it under torch.no_grad()"
            )
        if value.numel() != 1:
            raise ValueError(
                f"`{arg}` returned a tensor of shape {tuple(value.shape)} for member {member}; "
                "expected a scalar"
            )
        v = float(value.detach().reshape(()).item())
    elif isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(
                f"`{arg}` returned an array of shape {value.shape} for member {member}; "
                "expected a scalar"
            )
        v = float(value.reshape(()))
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        v = float(value)
    else:
        raise TypeError(
            f"`{arg}` returned {type(value).__name__} for member {member}; expected a number"
        )
    if not math.isfinite(v):
        raise ValueError(f"`{arg}` returned {v} for member {member}; fitness must be finite")
    return v


def population_fitness(value: Any, n: int) -> np.ndarray:
    """N fitnesses from ``population_fitness_fn``, or an error naming it."""
    arg = "population_fitness_fn"
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise ValueError(
                f"`{arg}` returned a tensor that requires grad; detach it or compute it "
                "under torch.no_grad()"
            )
        arr = value.detach().to("cpu", torch.float64).numpy()
    else:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise TypeError(f"`{arg}` must return N numbers: {e}") from None
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"`{arg}` returned shape {tuple(arr.shape)}; expected ({n},), one fitness per member"
        )
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(
            f"`{arg}` returned {arr[bad[0]]} for member {bad[0]}; fitness must be finite"
        )
    return arr


def model_device(model: nn.Module, device: Any) -> torch.device:
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module, got {type(model).__name__}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("`model` has no trainable parameters (none with requires_grad=True)")
    if device is not None:
        device = torch.device(device)
        model.to(device)
        return device
    devices = {p.device for p in params}
    if len(devices) > 1:
        raise ValueError(f"`model` has parameters on several devices {sorted(map(str, devices))}")
    return devices.pop()


def record(history: List[Dict[str, Any]], generation: int, f: np.ndarray, t0: float) -> Dict:
    entry = {
        "generation": generation,
        "mean_fitness": float(f.mean()),
        "best_fitness": float(f.max()),
        "std_fitness": float(f.std(ddof=1)) if f.size > 1 else 0.0,
        "time_s": time.perf_counter() - t0,
    }
    history.append(entry)
    return entry


def print_entry(entry: Dict[str, Any]) -> None:
    print(
        f"Generation {entry['generation']}: Mean Fitness = {entry['mean_fitness']:.4f}, "
        f"Best Fitness = {entry['best_fitness']:.4f}"
    )


