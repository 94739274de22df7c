#!/usr/bin/env python3
"""Peers on HalfCheetah-v5 with the same wall-clock budget.

`--peer ars` (default): ARS V2-t (Mania et al. 2018), in numpy over Gymnasium's vector env,
the paper's HalfCheetah setting (32 directions, top 4, step 0.02, noise 0.03, linear policy on
running-normalised observations).

`--peer evotorch`: EvoTorch's PGPE with ClipUp through its `GymNE` problem, with the setting of
EvoTorch's README MuJoCo example (linear policy, observation normalisation, popsize 200 growing
to 3,200 until 150,000 interactions per generation, centre lr 0.01125, stdev lr 0.1, max speed
0.015, radius 0.027), `num_actors` = all cores.

Every `--eval-every` iterations the current policy (no noise; EvoTorch: the centre) is
evaluated on 10 fresh episodes; each line prints the elapsed seconds, episodes used and the
mean return, as JSON. Run `eggroll train halfcheetah --json` with the same `--time-budget`.

  pip install gymnasium==1.4.0 mujoco==4.0.1 numpy [evotorch]
  python3 scripts/peer-halfcheetah.py [--peer ars|evotorch] [--time-budget 600] [--seed 0]
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


def evotorch_peer(a):
    """EvoTorch's PGPE on HalfCheetah-v5 (the README's MuJoCo setting, as documented above)."""
    import torch
    from evotorch.algorithms import PGPE
    from evotorch.neuroevolution import GymNE

    torch.manual_seed(a.seed)
    problem = GymNE(
        env="HalfCheetah-v5",
        network="Linear(obs_length, act_length)",
        observation_normalization=True,
        num_actors="max",
    )
    searcher = PGPE(
        problem,
        popsize=200,
        center_learning_rate=0.01125,
        stdev_learning_rate=0.1,
        optimizer_config={"max_speed": 0.015},
        radius_init=0.027,
        num_interactions=150000,
        popsize_max=3200,
    )
    start, it = time.perf_counter(), 0
    while time.perf_counter() - start < a.time_budget:
        searcher.step()
        it += 1
        if it % a.eval_every == 0:
            center = searcher.status["center"]
            e = problem.run(center, num_episodes=10)["cumulative_reward"]
            print(json.dumps({"peer": "evotorch-pgpe",
                              "seconds": round(time.perf_counter() - start, 1),
                              "iterations": it, "episodes": int(problem.episode_count),
                              "eval_mean": round(float(e), 1)}), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--peer", choices=["ars", "evotorch"], default="ars")
    p.add_argument("--time-budget", type=float, default=600)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--directions", type=int, default=32)
    p.add_argument("--top", type=int, default=4)
    p.add_argument("--step", type=float, default=0.02)
    p.add_argument("--noise", type=float, default=0.03)
    p.add_argument("--eval-every", type=int, default=10)
    a = p.parse_args()
    if a.peer == "evotorch":
        return evotorch_peer(a)
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
