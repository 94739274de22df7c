"""eggroll.envs against Gymnasium's own vector environments, side by side in one run.

    python python/bench/envs.py [--id CartPole-v1] [--num-envs 256] [--steps 2000]

Env-steps per second (num_envs × steps / seconds) of `step()` with pre-drawn random actions
(autoreset included), for:
1. `eggroll.envs.make_vec(id, num_envs)`: Rust, GIL released;
2. `gymnasium.make_vec(id, num_envs, vectorization_mode="sync")`: SyncVectorEnv;
3. `gymnasium.make_vec(id, num_envs)` (Gymnasium's default: its numpy-vectorised
   implementation where the id has one, e.g. CartPole-v1; otherwise sync again).
Prints one JSON line.
"""
import argparse
import json
import time

import gymnasium as gym
import numpy as np

import eggroll.envs

ap = argparse.ArgumentParser()
ap.add_argument("--id", default="CartPole-v1")
ap.add_argument("--num-envs", type=int, default=256)
ap.add_argument("--steps", type=int, default=2000)
a = ap.parse_args()


def rate(env, steps):
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(64)]
    for k in range(20):  # warm-up
        env.step(actions[k % 64])
    t0 = time.perf_counter()
    for k in range(steps):
        env.step(actions[k % 64])
    dt = time.perf_counter() - t0
    env.close()
    return a.num_envs * steps / dt


envs = {
    "eggroll": lambda: eggroll.envs.make_vec(a.id, a.num_envs),
    "gymnasium_sync": lambda: gym.make_vec(a.id, a.num_envs, vectorization_mode="sync"),
    "gymnasium_default": lambda: gym.make_vec(a.id, a.num_envs),
}
out = {"id": a.id, "num_envs": a.num_envs}
for name, make in envs.items():
    env = make()
    steps = a.steps if name != "gymnasium_sync" else max(a.steps // 10, 50)
    out[f"{name}_env_steps_per_s"] = round(rate(env, steps))
    if name == "gymnasium_default":
        out["gymnasium_default_is"] = type(env.unwrapped).__name__
out["vs_gymnasium_sync"] = round(out["eggroll_env_steps_per_s"] / out["gymnasium_sync_env_steps_per_s"], 1)
out["vs_gymnasium_default"] = round(
    out["eggroll_env_steps_per_s"] / out["gymnasium_default_env_steps_per_s"], 1
)
print(json.dumps(out))
