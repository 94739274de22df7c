"""The Rust environments as Gymnasium environments (needs ``gymnasium``).

- ``make(id)`` → a ``gymnasium.Env``;
- ``make_vec(id, num_envs)`` → a ``gymnasium.vector.VectorEnv`` with Gymnasium's default
  next-step autoreset, as ``gymnasium.make_vec(id, num_envs, vectorization_mode="sync")``.

Every id in ``IDS`` (five classic control, nine MuJoCo v5) steps in Rust with the GIL
released. The same seeds and actions give Gymnasium's own trajectories bit for bit
(observations, rewards, flags; MuJoCo observations in float64, classic control in float32).
Continuous actions are taken as float32, the action space's dtype. The MuJoCo environments
need MuJoCo 4.0.1's library (``scripts/get-mujoco.sh`` or ``EGGROLL_MUJOCO_LIB``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Union

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ._eggroll import ENV_IDS as _ENV_IDS
from ._eggroll import Env as _Env
from ._eggroll import VecEnv as _VecEnv

__all__ = ["IDS", "make", "make_vec", "RustEnv", "RustVectorEnv"]

#: Every environment id, from the Rust catalogue (`eggroll_envs::registry::IDS`).
IDS = tuple(_ENV_IDS)


def _space(d: Dict[str, Any], dtype: Any) -> spaces.Space:
    if d["kind"] == "discrete":
        return spaces.Discrete(int(d["n"]))
    return spaces.Box(d["low"].astype(dtype), d["high"].astype(dtype), dtype=dtype)


def _spec(id: str, max_steps: Optional[int], vector: bool = False) -> EnvSpec:
    return EnvSpec(
        id=f"eggroll/{id}",
        entry_point="eggroll.envs:make_vec" if vector else "eggroll.envs:make",
        max_episode_steps=max_steps,
        nondeterministic=False,
        kwargs={"id": id},
    )


class RustEnv(gym.Env):
    """One Rust environment behind Gymnasium's ``Env`` API (``make(id)`` builds it)."""

    metadata: Dict[str, Any] = {"render_modes": []}

    def __init__(self, id: str):
        self._env = _Env(id)
        obs_dtype = np.float64 if self._env.obs_f64 else np.float32
        self.observation_space = _space(self._env.observation_space, obs_dtype)
        self.action_space = _space(self._env.action_space, np.float32)
        self.spec = _spec(id, self._env.max_episode_steps)
        self.render_mode = None

    def reset(
        self, *, seed: Optional[int] = None, options: Optional[Dict[str, Any]] = None
    ) -> Tuple[np.ndarray, Dict[str, Any]]:
        super().reset(seed=seed)
        return self._env.reset(seed), {}

    def step(self, action: Any) -> Tuple[np.ndarray, float, bool, bool, Dict[str, Any]]:
        obs, reward, terminated, truncated = self._env.step(action)
        return obs, reward, terminated, truncated, {}


class RustVectorEnv(VectorEnv):
    """``num_envs`` Rust environments behind Gymnasium's ``VectorEnv`` API, next-step
    autoreset (``make_vec(id, num_envs)`` builds it)."""

    metadata: Dict[str, Any] = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, id: str, num_envs: int):
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)):
            raise TypeError(f"`num_envs` must be an integer, got {type(num_envs).__name__}")
        self._v = _VecEnv(id, int(num_envs))
        one = _Env(id)
        obs_dtype = np.float64 if one.obs_f64 else np.float32
        self.num_envs = int(num_envs)
        self.single_observation_space = _space(one.observation_space, obs_dtype)
        self.single_action_space = _space(one.action_space, np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.spec = _spec(id, one.max_episode_steps, vector=True)
        self.render_mode = None
        self.closed = False

    def reset(
        self,
        *,
        seed: Union[int, List[Optional[int]], None] = None,
        options: Optional[Dict[str, Any]] = None,
    ) -> Tuple[np.ndarray, Dict[str, Any]]:
        if options and "reset_mask" in options:
            raise ValueError("`options['reset_mask']` is not supported by eggroll.envs")
        if seed is None:
            seeds: List[Optional[int]] = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)):
            super().reset(seed=int(seed))
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(
                    f"`seed`: a list of {len(seeds)} seeds for num_envs={self.num_envs}"
                )
        obs, _, _, _ = self._v.reset(seeds)
        return obs, {}

    def step(
        self, actions: Any
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Dict[str, Any]]:
        obs, rewards, terminated, truncated = self._v.step(actions)
        return obs, rewards, terminated, truncated, {}


def make(id: str) -> RustEnv:
    """A ``gymnasium.Env`` for the Rust environment ``id`` (one of :data:`IDS`)."""
    return RustEnv(id)


def make_vec(id: str, num_envs: int = 1) -> RustVectorEnv:
    """A ``gymnasium.vector.VectorEnv`` of ``num_envs`` Rust environments ``id``."""
    return RustVectorEnv(id, num_envs)
