#!/usr/bin/env python3
"""A peer on HalfCheetah-v5 with the same wall-clock budget: ARS V2-t (Mania et al. 2018), in
numpy over Gymnasium's vector env, the paper's HalfCheetah setting (32 directions, top 4,
step 0.02, noise 0.03, linear policy on running-normalised observations).

Every `--eval-every` iterations the current policy (no noise) is evaluated on 10 fresh
episodes; each line prints the elapsed seconds, episodes used and the mean return, as
JSON. Run `eggroll train halfcheetah --json` with the same `--time-budget` beside it.

  pip install gymnasium==1.4.0 mujoco==4.0.1 numpy
  python3 scripts/peer-halfcheetah.py [--time-budget 600] [--seed 0] [--directions 32]
"""
import argparse
import json
import time

import gymnasium as gym
import mujoco
import numpy as np

mujoco.set_mju_user_warning(lambda msg: None)


class RunningStat:
    """Welford mean/variance of every observation seen (ARS's state normalisation)."""

    def __init__(self, dim):
        self.n, self.mean, self.m2 = 0, np.zeros(dim), np.zeros(dim)

    def push_batch(self, xs):
        # Chan et al.'s merge of the batch's own mean and sum of squares (= one push each).
        nb = len(xs)
        if nb == 0:
            return
        mb = xs.mean(0)
        m2b = ((xs - mb) ** 2).sum(0)
        d = mb - self.mean
        tot = self.n + nb
        self.mean = self.mean + d * nb / tot
        self.m2 = self.m2 + m2b + d * d * self.n * nb / tot
        self.n = tot

    def std(self):
        if self.n < 2:
            return np.ones_like(self.mean)
        s = np.sqrt(self.m2 / (self.n - 1))
        s[s < 1e-8] = 1.0
        return s


def rollouts(envs, policies, mean, std, stat, seed):
    """One episode per policy (policies: [K, act, obs]), all K envs stepped together."""
    k = len(policies)
    obs, _ = envs.reset(seed=seed)
    ret = np.zeros(k)
    done = np.zeros(k, dtype=bool)
    seen = []
    while not done.all():
        seen.append(obs[~done])
        x = (obs - mean) / std
        act = np.einsum("kao,ko->ka", policies, x).astype(np.float32)
        obs, r, term, trunc, _ = envs.step(act)
        ret += np.where(done, 0.0, r)
        done |= term | trunc
    if stat is not None:
        stat.push_batch(np.concatenate(seen))
    return ret


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--time-budget", type=float, default=600)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--directions", type=int, default=32)
    p.add_argument("--top", type=int, default=4)
    p.add_argument("--step", type=float, default=0.02)
    p.add_argument("--noise", type=float, default=0.03)
    p.add_argument("--eval-every", type=int, default=10)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    n = a.directions
    envs = gym.vector.SyncVectorEnv([lambda: gym.make("HalfCheetah-v5") for _ in range(2 * n)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    evals = gym.vector.SyncVectorEnv([lambda: gym.make("HalfCheetah-v5") for _ in range(10)],
                                     autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    od, ad = envs.single_observation_space.shape[0], envs.single_action_space.shape[0]
    m = np.zeros((ad, od))
    stat = RunningStat(od)
    start, episodes, it = time.perf_counter(), 0, 0
    while time.perf_counter() - start < a.time_budget:
        mean, std = stat.mean.copy(), stat.std()
        delta = rng.standard_normal((n, ad, od))
        pols = np.concatenate([m + a.noise * delta, m - a.noise * delta])
        r = rollouts(envs, pols, mean, std, stat, int(rng.integers(1 << 31)))
        episodes += 2 * n
        rp, rm = r[:n], r[n:]
        top = np.argsort(-np.maximum(rp, rm))[: a.top]
        sigma_r = np.concatenate([rp[top], rm[top]]).std() + 1e-8
        m += a.step / (a.top * sigma_r) * np.einsum("k,kao->ao", rp[top] - rm[top], delta[top])
        it += 1
        if it % a.eval_every == 0:
            e = rollouts(evals, np.repeat(m[None], 10, 0), stat.mean, stat.std(), None,
                         10_000_000 + it)
            print(json.dumps({"peer": "ars-v2t", "seconds": round(time.perf_counter() - start, 1),
                              "iterations": it, "episodes": episodes,
                              "eval_mean": round(float(e.mean()), 1)}), flush=True)


if __name__ == "__main__":
    main()
