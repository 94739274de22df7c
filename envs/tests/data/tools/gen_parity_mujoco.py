"""Record Gymnasium's MuJoCo v5 environments for the Rust parity tests.

Writes envs/tests/data/parity/<id lower-cased, '-' -> '_'>.json for the nine environments, in
the schema of issue 31: {"source", "episodes": [{"env", "seed", "initial_qpos", "initial_qvel",
"initial_obs", "actions", "steps": [{"obs", "reward", "terminated", "truncated"}]}]}.
Each episode runs through gym.make's TimeLimit to its end (termination or the time limit).
Actions are float32 and come from several policies: uniform over 1.3x the action box (so some
lie outside it: MuJoCo clamps the controls, the control cost sees the raw action), bang-bang
at the box corners, a sinusoidal gait, and zeros. The policies' random numbers come from a
generator separate from the environment's.

  pip install gymnasium==1.4.0 mujoco==4.0.1 numpy
  python envs/tests/data/tools/gen_parity_mujoco.py
"""
import json
import os

import gymnasium as gym
import mujoco
import numpy as np

ENVS = {
    # id: (episodes, max steps kept per episode or None for the whole episode)
    "HalfCheetah-v5": 4,
    "Hopper-v5": 8,
    "Walker2d-v5": 8,
    "Ant-v5": 3,
    "Swimmer-v5": 3,
    "Humanoid-v5": 6,
    "InvertedPendulum-v5": 10,
    "InvertedDoublePendulum-v5": 10,
    "Reacher-v5": 12,
}
POLICIES = ["uniform_wide", "bang_bang", "gait", "zeros"]


def action_for(policy, rng, low, high, t, phase):
    if policy == "uniform_wide":
        mid, half = (high + low) / 2, (high - low) / 2
        return (mid + half * 1.3 * rng.uniform(-1, 1, size=low.shape)).astype(np.float32)
    if policy == "bang_bang":
        return np.where(rng.uniform(size=low.shape) < 0.5, low, high).astype(np.float32)
    if policy == "gait":
        k = np.arange(low.shape[0])
        return (high * np.sin(0.3 * t + phase + k * 1.7)).astype(np.float32)
    return np.zeros(low.shape, dtype=np.float32)


def record(env_id, n_episodes):
    env = gym.make(env_id)
    low, high = env.action_space.low, env.action_space.high
    episodes = []
    for e in range(n_episodes):
        seed = 5000 + 97 * e + len(env_id)
        policy = POLICIES[e % len(POLICIES)]
        rng = np.random.default_rng(seed + 1)
        obs, _ = env.reset(seed=seed)
        u = env.unwrapped
        ep = {
            "env": env_id,
            "seed": seed,
            "policy": policy,
            "initial_qpos": u.data.qpos.tolist(),
            "initial_qvel": u.data.qvel.tolist(),
            "initial_obs": obs.tolist(),
            "actions": [],
            "steps": [],
        }
        phase = rng.uniform(0, 6.28)
        t = 0
        while True:
            a = action_for(policy, rng, low, high, t, phase)
            obs, reward, terminated, truncated, _ = env.step(a)
            ep["actions"].append([float(x) for x in a])
            ep["steps"].append({
                "obs": obs.tolist(),
                "reward": float(reward),
                "terminated": bool(terminated),
                "truncated": bool(truncated),
            })
            t += 1
            if terminated or truncated:
                break
        episodes.append(ep)
    env.close()
    return episodes


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = os.path.normpath(os.path.join(here, "..", "parity"))
    source = (f"gymnasium {gym.__version__}, mujoco {mujoco.__version__}, numpy {np.__version__}; "
              "envs/tests/data/tools/gen_parity_mujoco.py")
    for env_id, n in ENVS.items():
        episodes = record(env_id, n)
        name = env_id.lower().replace("-", "_") + ".json"
        with open(os.path.join(out_dir, name), "w") as f:
            json.dump({"source": source, "episodes": episodes}, f, separators=(",", ":"))
        steps = sum(len(ep["steps"]) for ep in episodes)
        print(f"{name}: {len(episodes)} episodes, {steps} steps, "
              f"{os.path.getsize(os.path.join(out_dir, name)) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
