"""Long reference episodes from Gymnasium 1.4 for every classic-control environment: each runs
to its full time limit where the policy allows (CartPole 500, Acrobot 500, MountainCar 200,
MountainCarContinuous 999, Pendulum 200 steps), under random and under pumping or aggressive
policies, on many seeds kept apart from the short files' seeds. Same per-episode format as
gen_parity.py / gen_parity2.py (`initial_state` is the env's internal float64 state after
reset; `initial_obs` the float32 observation reset returned), one file per environment,
`<id lower-cased, '-' → '_'>_long.json`.

Usage: python gen_parity_long.py OUT_DIR [SEED_BASE=1000] [EPISODES=16]
"""
import json, sys
import numpy as np
import gymnasium as gym

out = sys.argv[1]
base = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
n = int(sys.argv[3]) if len(sys.argv) > 3 else 16
rng = np.random.default_rng(base)


def cartpole(obs, k):
    x, xd, th, thd = obs
    if k % 4 == 0:
        return int(rng.integers(0, 2))                      # random: falls in ~20 steps
    if k % 4 == 1:                                          # balances for 500 steps
        return int(th + 0.5 * thd + 0.01 * x + 0.05 * xd > 0)
    if k % 4 == 2:                                          # balancer with 10 % random pushes
        return int(rng.integers(0, 2)) if rng.random() < 0.1 else int(th + 0.5 * thd + 0.01 * x + 0.05 * xd > 0)
    return int(th + 0.5 * thd > 0)                          # bang-bang: drifts off the track


def acrobot(obs, k):
    if k % 3 == 0:
        return int(rng.integers(0, 3))                      # random: 500 steps, chaotic
    if k % 3 == 1:
        return 2 if obs[5] > 0 else 0                       # pump: reaches the bar
    return int(rng.integers(0, 3)) if rng.random() < 0.3 else (2 if obs[4] + obs[5] > 0 else 0)


def mountaincar(obs, k):
    if k % 3 == 0:
        return int(rng.integers(0, 3))
    if k % 3 == 1:
        return 2 if obs[1] >= 0 else 0
    return 0 if obs[1] >= 0 else 2                          # against the velocity: pinned at the wall


def mountaincar_continuous(obs, k):
    if k % 3 == 0:
        return float(rng.uniform(-3.0, 3.0))                # out-of-range actions: clipping
    if k % 3 == 1:
        return float(np.clip(obs[1] * 300.0, -2.5, 2.5))
    return float(rng.normal(0.0, 0.3))                      # near-zero pushes: 999 steps


def pendulum(obs, k):
    if k % 3 == 0:
        return float(rng.uniform(-3.0, 3.0))
    if k % 3 == 1:
        return 2.5 if obs[2] >= 0 else -2.5                 # energy pumping: spins over the top
    c, s, w = obs
    return float(np.clip(-10.0 * np.arctan2(s, c) - 2.0 * w, -4.0, 4.0))  # swing-up and hold


specs = [
    ("CartPole-v1", cartpole, int),
    ("Acrobot-v1", acrobot, int),
    ("MountainCar-v0", mountaincar, int),
    ("MountainCarContinuous-v0", mountaincar_continuous, lambda a: np.array([a], dtype=np.float32)),
    ("Pendulum-v1", pendulum, lambda a: np.array([a], dtype=np.float32)),
]


def episode(env_id, seed, k, policy, cast):
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    ep = {"env": env_id, "seed": seed,
          "initial_state": [float(v) for v in env.unwrapped.state],
          "initial_obs": [float(v) for v in obs], "actions": [], "steps": []}
    while True:
        a = policy(obs, k)
        obs, r, term, trunc, _ = env.step(cast(a))
        ep["actions"].append(a)
        ep["steps"].append({"obs": [float(v) for v in obs], "reward": float(r),
                            "terminated": bool(term), "truncated": bool(trunc)})
        if term or trunc:
            return ep


meta = {"source": f"gymnasium {gym.__version__}, numpy {np.__version__}",
        "note": "long episodes (gen_parity_long.py): discrete actions are integers; continuous "
                "actions are applied as float32 arrays of one element"}
for env_id, policy, cast in specs:
    eps = [episode(env_id, base + i, i, policy, cast) for i in range(n)]
    name = env_id.lower().replace("-", "_") + "_long.json"
    with open(f"{out}/{name}", "w") as f:
        json.dump({**meta, "episodes": eps}, f, separators=(",", ":"))
    lens = [len(e["steps"]) for e in eps]
    print(name, len(eps), "episodes", sum(lens), "steps; lengths", min(lens), "to", max(lens),
          "; terminated", sum(e["steps"][-1]["terminated"] for e in eps))
