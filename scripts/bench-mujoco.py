#!/usr/bin/env python3
"""eggroll's MuJoCo stepping side by side with MuJoCo's own mujoco.rollout and Gymnasium.

For each task: `eggroll bench env --task T --population N --steps S --json` (control steps,
random actions, no policy, members running on past terminations), then MuJoCo's native
multithreaded `mujoco.rollout` on the same model (Gymnasium's MJCF), N rollouts of
S x frame_skip physics steps with random controls on the same number of threads, then
Gymnasium's own vector env (SyncVectorEnv of gym.make(id), N envs, random actions, auto-reset)
for a shorter run. Prints env-steps/s of each and the ratios.

  pip install gymnasium==1.4.0 mujoco==4.0.1 numpy
  python3 scripts/bench-mujoco.py [--tasks halfcheetah,humanoid] [--population 256]
                                  [--steps 1000] [--threads 2] [--gym-steps 100]
                                  [--eggroll target/release/eggroll]
"""
import argparse
import json
import os
import subprocess
import time

import gymnasium as gym
import mujoco
import numpy as np
from mujoco import rollout

# Humanoid's MJCF draws a deprecation warning from MuJoCo at every load; keep stderr readable.
mujoco.set_mju_user_warning(lambda msg: None)

IDS = {
    "halfcheetah": "HalfCheetah-v5", "hopper": "Hopper-v5", "walker2d": "Walker2d-v5",
    "ant": "Ant-v5", "swimmer": "Swimmer-v5", "humanoid": "Humanoid-v5",
    "inverted-pendulum": "InvertedPendulum-v5",
    "inverted-double-pendulum": "InvertedDoublePendulum-v5", "reacher": "Reacher-v5",
}


def native(env_id, n, steps, threads):
    env = gym.make(env_id)
    u = env.unwrapped
    model, frame_skip = u.model, u.frame_skip
    datas = [mujoco.MjData(model) for _ in range(threads)]
    rng = np.random.default_rng(0)
    lo, hi = model.actuator_ctrlrange.T
    nstep = steps * frame_skip
    state0 = np.zeros((n, mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_FULLPHYSICS)))
    for i in range(n):
        env.reset(seed=i)
        mujoco.mj_getState(model, u.data, state0[i], mujoco.mjtState.mjSTATE_FULLPHYSICS)
    # One control per control step, held for frame_skip physics steps (as env.step does).
    ctrl = rng.uniform(lo, hi, size=(n, steps, model.nu)).repeat(frame_skip, axis=1)
    start = time.perf_counter()
    rollout.rollout([model] * n, datas, state0, ctrl, nstep=nstep)
    s = time.perf_counter() - start
    return n * steps / s, s


def gymnasium_vec(env_id, n, steps):
    envs = gym.vector.SyncVectorEnv([lambda: gym.make(env_id) for _ in range(n)])
    envs.reset(seed=0)
    envs.action_space.seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        envs.step(envs.action_space.sample())
    s = time.perf_counter() - start
    envs.close()
    return n * steps / s, s


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tasks", default="halfcheetah,humanoid")
    p.add_argument("--population", type=int, default=256)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--gym-steps", type=int, default=100)
    p.add_argument("--eggroll", default="target/release/eggroll")
    a = p.parse_args()
    rows = []
    for task in a.tasks.split(","):
        env_id = IDS[task]
        out = subprocess.run(
            [a.eggroll, "bench", "env", "--task", task, "--population", str(a.population),
             "--steps", str(a.steps), "--json"],
            check=True, capture_output=True, text=True,
            env={**os.environ, "RAYON_NUM_THREADS": str(a.threads)}).stdout
        ours = json.loads(out.strip().splitlines()[-1])
        nat, nat_s = native(env_id, a.population, a.steps, a.threads)
        gv, gv_s = gymnasium_vec(env_id, a.population, a.gym_steps)
        row = {
            "task": task, "population": a.population, "steps": a.steps, "threads": a.threads,
            "eggroll_env_steps_per_s": round(ours["env_steps_per_s"]),
            "eggroll_rollout_steps_per_s": round(ours["rollout_steps_per_s"]),
            "mujoco_rollout_steps_per_s": round(nat),
            "gymnasium_sync_vec_steps_per_s": round(gv),
            "vs_mujoco_rollout": round(ours["env_steps_per_s"] / nat, 3),
            "vs_gymnasium": round(ours["env_steps_per_s"] / gv, 2),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
