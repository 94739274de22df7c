"""Record Gymnasium's MuJoCo v5 environments for the Rust parity tests.

Writes envs/tests/data/parity/<id lower-cased, '-' -> '_'>.json for the nine environments, in
the schema of issue 31: {"source", "episodes": [{"env", "seed", "initial_qpos", "initial_qvel",
"initial_obs", "actions", "steps": [{"obs", "reward", "terminated", "truncated"}]}]}.
Each episode runs through gym.make's TimeLimit to its end (termination or the time limit).
Actions are float32 and come from several policies: uniform over 1.3x the action box (so some
lie outside it: MuJoCo clamps the controls, the control cost sees the raw action), bang-bang
at the box corners, a sinusoidal gait, and zeros. The policies' random numbers come from a
generator separate from the environment's.

With `--policy TASK=FILE` (an eggroll policy.safetensors of that task, e.g.
`--policy hopper=runs/hopper/policy.safetensors`), two more episodes of that environment follow
a trained policy: long episodes through contacts and gaits that random actions never reach
(the recorded actions are the data; the policy file is not needed to replay them).

  pip install gymnasium==1.4.0 mujoco==4.0.1 numpy
  python envs/tests/data/tools/gen_parity_mujoco.py [--policy TASK=FILE ...]
"""
import argparse
import json
import os
import struct

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
TASKS = {
    "halfcheetah": "HalfCheetah-v5", "hopper": "Hopper-v5", "walker2d": "Walker2d-v5",
    "ant": "Ant-v5", "swimmer": "Swimmer-v5", "humanoid": "Humanoid-v5",
    "inverted-pendulum": "InvertedPendulum-v5",
    "inverted-double-pendulum": "InvertedDoublePendulum-v5", "reacher": "Reacher-v5",
}


def load_policy(path):
    """An eggroll policy.safetensors: MLP layers, tanh hidden activation, obs normalisation."""
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    meta = json.loads(header["__metadata__"]["eggroll"])
    spec = json.loads(meta["policy"])
    assert spec["activation"] == "tanh", spec
    t = {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
                          dtype=np.float32).reshape(v["shape"])
         for k, v in header.items() if k != "__metadata__"}
    layers = [(t[f"layers.{i}.weight"], t.get(f"layers.{i}.bias"))
              for i in range(len(spec["sizes"]) - 1)]
    clip = float(meta.get("obs_clip", "inf"))
    return layers, t.get("obs_norm.mean"), t.get("obs_norm.std"), clip


def policy_action(policy, obs, high):
    layers, mean, std, clip = policy
    x = obs.astype(np.float32)
    if mean is not None:
        x = np.clip((x - mean) / std, -clip, clip)
    for i, (w, b) in enumerate(layers):
        x = w @ x + (b if b is not None else 0)
        if i + 1 < len(layers):
            x = np.tanh(x)
    return (np.tanh(x) * high).astype(np.float32)


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


def record(env_id, n_episodes, trained=None):
    env = gym.make(env_id)
    low, high = env.action_space.low, env.action_space.high
    episodes = []
    total = n_episodes + (2 if trained else 0)
    for e in range(total):
        seed = 5000 + 97 * e + len(env_id)
        policy = POLICIES[e % len(POLICIES)] if e < n_episodes else "trained"
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
            if policy == "trained":
                a = policy_action(trained, obs, high)
            else:
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
    ap = argparse.ArgumentParser()
    ap.add_argument("--policy", action="append", default=[], metavar="TASK=FILE")
    args = ap.parse_args()
    trained = {}
    for spec in args.policy:
        task, path = spec.split("=", 1)
        trained[TASKS[task]] = load_policy(path)
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = os.path.normpath(os.path.join(here, "..", "parity"))
    source = (f"gymnasium {gym.__version__}, mujoco {mujoco.__version__}, numpy {np.__version__}; "
              "envs/tests/data/tools/gen_parity_mujoco.py")
    for env_id, n in ENVS.items():
        episodes = record(env_id, n, trained.get(env_id))
        name = env_id.lower().replace("-", "_") + ".json"
        with open(os.path.join(out_dir, name), "w") as f:
            json.dump({"source": source, "episodes": episodes}, f, separators=(",", ":"))
        steps = sum(len(ep["steps"]) for ep in episodes)
        print(f"{name}: {len(episodes)} episodes, {steps} steps, "
              f"{os.path.getsize(os.path.join(out_dir, name)) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
