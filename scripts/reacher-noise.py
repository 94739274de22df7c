#!/usr/bin/env python3
"""How well does one generation's fitness rank the members of a trained Reacher policy?

Takes a policy file of `eggroll train reacher` (the MLP and its observation normaliser), draws
32 isotropic perturbations θ + σz, and scores every member on three episode sets, each shared
by all members (common random numbers, as training does): 8 random seeds (a training
generation), 8 seeds stratified by the target's angle (one per 45° sector), and 200 seeds (the
"true" fitness). Prints the rank correlation of each 8-episode fitness with the 200-episode one,
per repetition and averaged (± standard error). Steps the Rust environments through
`eggroll.envs` (pip install ./python; MuJoCo from scripts/get-mujoco.sh).

  python3 scripts/reacher-noise.py POLICY [--sigma 0.008] [--reps 4]
"""
import argparse

import numpy as np
from safetensors.numpy import load_file

import eggroll.envs as E

ap = argparse.ArgumentParser()
ap.add_argument("policy")
ap.add_argument("--sigma", type=float, default=0.008)
ap.add_argument("--reps", type=int, default=4)
a = ap.parse_args()
P = load_file(a.policy)
mu, sd = P["obs_norm.mean"], P["obs_norm.std"]
shapes = [P[k].shape for k in ("layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias")]
theta = np.concatenate(
    [P[k].ravel() for k in ("layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias")]
).astype(np.float64)


def unpack(t):
    out, i = [], 0
    for shp in shapes:
        k = int(np.prod(shp))
        out.append(t[i : i + k].reshape(shp))
        i += k
    return out


def returns(thetas, seeds):
    """Mean return of every member over `seeds` (all members on the same seeds)."""
    M, S = len(thetas), len(seeds)
    env = E.make_vec("Reacher-v5", M * S)
    obs, _ = env.reset(seed=[int(s) for _ in range(M) for s in seeds])
    nets = [unpack(t) for t in thetas]
    total = np.zeros(M * S)
    for _ in range(50):
        x = np.clip((obs - mu) / sd, -5, 5).reshape(M, S, -1)
        act = np.empty((M, S, 2), np.float32)
        for m, (w0, b0, w1, b1) in enumerate(nets):
            act[m] = np.tanh(np.tanh(x[m] @ w0.T + b0) @ w1.T + b1)
        obs, r, _, _, _ = env.step(act.reshape(M * S, 2))
        total += r
    return total.reshape(M, S).mean(1)


def rank_corr(a, b):
    return np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1]


rng = np.random.default_rng(0)
cand = np.arange(100_000, 104_000)
o, _ = E.make_vec("Reacher-v5", len(cand)).reset(seed=[int(s) for s in cand])
angle = np.arctan2(o[:, 5], o[:, 4])
big = np.arange(5000, 5200)
ra, rs = [], []
for rep in range(a.reps):
    thetas = theta + a.sigma * rng.standard_normal((32, theta.size))
    true = returns(thetas, big)
    random8 = rng.choice(np.arange(10**6, 2 * 10**6), 8, replace=False)
    strat8 = [
        rng.choice(cand[(angle >= lo) & (angle < lo + np.pi / 4)])
        for lo in -np.pi + np.pi / 4 * np.arange(8)
    ]
    ra.append(rank_corr(returns(thetas, random8), true))
    rs.append(rank_corr(returns(thetas, np.array(strat8)), true))
    print(f"rep {rep}: random8 {ra[-1]:.3f}  stratified8 {rs[-1]:.3f}  spread of the true fitness {true.std():.4f}", flush=True)
se = lambda v: np.std(v) / np.sqrt(len(v))
print(f"rank correlation with 200 episodes: random 8 {np.mean(ra):.3f} ± {se(ra):.3f}, stratified 8 {np.mean(rs):.3f} ± {se(rs):.3f}")
