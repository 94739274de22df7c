"""Train Gymnasium's own CartPole-v1 vector environment with EGGROLL from Python.

Every generation, the whole population (one environment per member) is driven by ONE batched
low-rank forward per time step (`Policy.forward_population`): no member's weights are formed.
The mean policy is then evaluated on 100 fresh episodes; training stops when their mean
return reaches 475 (Gymnasium's threshold for CartPole-v1).

    pip install ./python gymnasium
    python python/examples/cartpole.py [--seed 0] [--population 256] [--generations 100]
"""
import argparse
import json
import time

import gymnasium as gym
import numpy as np

import eggroll


def run_episodes(envs, act, seed):
    """Mean-free episode returns of a vector env: each sub-env plays one episode (the steps
    after its end are ignored, whatever the autoreset mode)."""
    obs, _ = envs.reset(seed=seed)
    n = envs.num_envs
    returns = np.zeros(n)
    done = np.zeros(n, dtype=bool)
    while not done.all():
        obs, reward, terminated, truncated, _ = envs.step(act(obs))
        returns += reward * ~done
        done |= terminated | truncated
    return returns


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--population", type=int, default=256)
    ap.add_argument("--generations", type=int, default=100)
    a = ap.parse_args()

    policy = eggroll.Policy(sizes=[4, 16, 2], activation="tanh", action="argmax")
    es = eggroll.Strategy(
        "eggroll", shapes=policy.shapes, init=policy.init(seed=a.seed),
        population_size=a.population, sigma=0.2, learning_rate=0.1, rank=1, seed=a.seed,
    )
    train_envs = gym.make_vec("CartPole-v1", num_envs=a.population,
                              vectorization_mode="vector_entry_point")
    eval_envs = gym.make_vec("CartPole-v1", num_envs=100, vectorization_mode="vector_entry_point")
    start = time.perf_counter()
    eval_mean = float("nan")
    for gen in range(a.generations):
        es.ask(materialize=False)
        fitness = run_episodes(train_envs, lambda o: policy.forward_population(es, o),
                               seed=a.seed * 1_000_003 + gen)
        es.tell(fitness)
        eval_mean = float(run_episodes(eval_envs, lambda o: policy.forward(es, o),
                                       seed=10_000_000 + gen).mean())
        print(f"generation {gen}: population mean {fitness.mean():.1f}, "
              f"mean policy {eval_mean:.1f} on 100 episodes", flush=True)
        if eval_mean >= 475:
            break
    wall = time.perf_counter() - start
    # Final check on 100 episodes never seen in training or selection.
    final = float(run_episodes(eval_envs, lambda o: policy.forward(es, o), seed=123_456_789).mean())
    print(json.dumps({"solved": final >= 475, "eval_mean": final, "generations": gen + 1,
                      "wall_s": round(wall, 3)}))


if __name__ == "__main__":
    main()
