#!/usr/bin/env python3
"""A hand-written Reacher-v5 controller in Gymnasium, for scale: how precise a policy the
−3.75 bar asks for.

The controller knows the arm (links 0.1 and 0.11): it solves the inverse kinematics of the
target (the elbow branch nearer the current angles) and applies a PD law on the joint angles,
`clip(kp·(q* − q) − kd·q̇, ±1)`. It prints the mean and std of the return over `--episodes`
episodes (seeds 1000, 1001, …) for every gain pair of the grid, then the best pair.

  pip install gymnasium==1.4.0 mujoco==4.0.1 numpy
  python3 scripts/reacher-oracle.py [--kp 0.3,0.4,0.5,0.6] [--kd 0.05,0.07,0.1] [--episodes 100]
"""
import argparse
import json

import gymnasium as gym
import numpy as np

L1, L2 = 0.1, 0.11


def wrap(x):
    return (x + np.pi) % (2 * np.pi) - np.pi


def ik(tx, ty, elbow):
    c2 = np.clip((tx * tx + ty * ty - L1 * L1 - L2 * L2) / (2 * L1 * L2), -1, 1)
    s2 = elbow * np.sqrt(1 - c2 * c2)
    return np.arctan2(ty, tx) - np.arctan2(L2 * s2, L1 + L2 * c2), np.arctan2(s2, c2)


def episode_return(env, seed, kp, kd):
    obs, _ = env.reset(seed=seed)
    total = 0.0
    while True:
        # Reacher-v5: cos q (2), sin q (2), target (2), q̇ (2), fingertip − target (2)
        q, target, qd = np.arctan2(obs[2:4], obs[0:2]), obs[4:6], obs[6:8]
        goals = [ik(target[0], target[1], e) for e in (1, -1)]
        goal = min(goals, key=lambda g: abs(wrap(g[0] - q[0])) + abs(wrap(g[1] - q[1])))
        err = np.array([wrap(goal[0] - q[0]), wrap(goal[1] - q[1])])
        action = np.clip(kp * err - kd * qd, -1, 1).astype(np.float32)
        obs, reward, terminated, truncated, _ = env.step(action)
        total += reward
        if terminated or truncated:
            return total


ap = argparse.ArgumentParser()
ap.add_argument("--kp", default="0.3,0.4,0.5,0.6")
ap.add_argument("--kd", default="0.05,0.07,0.1")
ap.add_argument("--episodes", type=int, default=100)
a = ap.parse_args()
env = gym.make("Reacher-v5")
results = []
for kp in map(float, a.kp.split(",")):
    for kd in map(float, a.kd.split(",")):
        r = [episode_return(env, 1000 + i, kp, kd) for i in range(a.episodes)]
        results.append({"kp": kp, "kd": kd, "mean": round(float(np.mean(r)), 3),
                        "std": round(float(np.std(r)), 3)})
        print(json.dumps(results[-1]), flush=True)
print(json.dumps({"best": max(results, key=lambda x: x["mean"])}))
