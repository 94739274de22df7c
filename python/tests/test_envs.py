"""eggroll.envs: the Rust environments as gymnasium.Env / VectorEnv, bit for bit.

MuJoCo ids need MuJoCo 4.0.1's library; they are skipped without it unless
EGGROLL_REQUIRE_MUJOCO=1. The comparison against Gymnasium's own MuJoCo environments also
needs the `mujoco` Python package; without it the recorded Gymnasium trajectories of
envs/tests/data/parity are replayed instead (always, when the library is present).
"""

import json
import os
import pathlib
import warnings

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
from gymnasium.utils.env_checker import check_env  # noqa: E402

import eggroll.envs as E  # noqa: E402

CLASSIC = E.IDS[:5]
MUJOCO = E.IDS[5:]
PARITY = pathlib.Path(__file__).resolve().parents[2] / "envs" / "tests" / "data" / "parity"


def mujoco_lib():
    try:
        E.make("InvertedPendulum-v5")
        return True
    except RuntimeError:
        if os.environ.get("EGGROLL_REQUIRE_MUJOCO") == "1":
            raise
        return False


def gym_mujoco():
    try:
        import mujoco  # noqa: F401
        import gymnasium.envs.mujoco  # noqa: F401

        return True
    except Exception:
        return False


def ids_available():
    return list(CLASSIC) + (list(MUJOCO) if mujoco_lib() else [])


def test_ids_are_the_rust_catalogue():
    assert len(E.IDS) == 14 and len(set(E.IDS)) == 14
    with pytest.raises(ValueError, match="`id`: unknown environment id `CartPole-v0`"):
        E.make("CartPole-v0")
    with pytest.raises(ValueError, match="`id`"):
        E.make_vec("Nope-v1", 2)


@pytest.mark.parametrize("id", E.IDS)
def test_check_env_and_spaces(id):
    if id in MUJOCO and not mujoco_lib():
        pytest.skip("MuJoCo library not available")
    env = E.make(id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Gymnasium's own MuJoCo envs warn alike (inf bounds)
        check_env(env, skip_render_check=True)
    if id in CLASSIC or gym_mujoco():
        ref = gym.make(id)
        assert env.observation_space == ref.observation_space
        assert env.action_space == ref.action_space
        assert env.spec.max_episode_steps == ref.spec.max_episode_steps


def random_actions(space, n, seed):
    space.seed(seed)
    out = []
    for k in range(n):
        a = space.sample()
        if k % 97 == 5 and isinstance(space, gym.spaces.Box):  # beyond the box sometimes
            a = (a * 3).astype(space.dtype)
        out.append(a)
    return out


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def run_scalar(env, seed, actions):
    """Episodes with reset(seed) then reset() continuing the generator."""
    trace = []
    obs, _ = env.reset(seed=seed)
    trace.append(obs)
    for a in actions:
        obs, r, term, trunc, _ = env.step(a)
        trace.append((obs, r, term, trunc))
        if term or trunc:
            obs, _ = env.reset()
            trace.append(obs)
    return trace


def numpy_dot_is_fma_chain():
    """Whether this machine's numpy computes a 3-vector's ``x.dot(x)`` (OpenBLAS's ddot tail
    loop) as ``fma(z, z, fma(y, y, x·x))``: OpenBLAS's AVX-512 kernels do, what Reacher's
    ``np.linalg.norm`` reward reproduces and the vendored files hold; its Haswell/Zen
    kernels (AVX2 CPUs) multiply and add separately, so Gymnasium's Reacher reward then
    differs from those by an ulp at some steps."""
    from fractions import Fraction

    rng = np.random.default_rng(0)
    for _ in range(200):
        x, y, z = (float(t) for t in rng.normal(size=3))
        inner = float(Fraction(y) * Fraction(y) + Fraction(x * x))
        if float(np.array([x, y, z]).dot([x, y, z])) != float(Fraction(z) * Fraction(z) + Fraction(inner)):
            return False
    return True


def reward_tolerance(env_id):
    """0 (bit for bit), or 1e-12 relative for Reacher's reward where numpy's ddot is not
    the FMA chain (see numpy_dot_is_fma_chain): the CPU-specific BLAS kernel, not us."""
    return 1e-12 if env_id == "Reacher-v5" and not numpy_dot_is_fma_chain() else 0.0


def same_reward(g, w, rtol):
    if rtol == 0.0:
        return np.float64(g).tobytes() == np.float64(w).tobytes()
    return abs(g - w) <= rtol * abs(w)


def assert_same_trace(got, want, rtol=0.0):
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        if isinstance(w, tuple):
            assert same(g[0], w[0]), k
            assert type(g[1]) is float and same_reward(g[1], w[1], rtol), k
            assert (g[2], g[3]) == (bool(w[2]), bool(w[3])), k
        else:
            assert same(g, w), k


@pytest.mark.parametrize("id", CLASSIC)
def test_classic_control_equals_gymnasium_bit_for_bit(id):
    env, ref = E.make(id), gym.make(id)
    steps = 1200 if id != "MountainCar-v0" else 600
    for seed in (0, 7):
        actions = random_actions(ref.action_space, steps, seed)
        assert_same_trace(run_scalar(env, seed, actions), run_scalar(ref, seed, actions))


@pytest.mark.parametrize("id", MUJOCO)
def test_mujoco_equals_gymnasium_bit_for_bit(id):
    if not mujoco_lib():
        pytest.skip("MuJoCo library not available")
    env = E.make(id)
    if gym_mujoco():
        ref = gym.make(id)
        actions = random_actions(ref.action_space, 300, 3)
        got, want = run_scalar(env, 3, actions), run_scalar(ref, 3, actions)
        assert_same_trace(got, want, reward_tolerance(id))
    # Gymnasium's recorded trajectories (also long episodes of trained policies).
    name = id.split("-")[0].lower() + "_v5.json"
    episodes = json.loads((PARITY / name).read_text())["episodes"]
    for ep in episodes[:6] + episodes[-2:]:
        obs, _ = env.reset(seed=ep["seed"])
        assert obs.dtype == np.float64
        assert obs.tolist() == ep["initial_obs"], ep["seed"]
        for k, (a, s) in enumerate(zip(ep["actions"], ep["steps"])):
            obs, r, term, trunc, _ = env.step(np.asarray(a, dtype=np.float32))
            assert obs.tolist() == s["obs"], (ep["seed"], k)
            assert r == s["reward"] and (term, trunc) == (s["terminated"], s["truncated"])


def run_vector(venv, seed, actions):
    trace = [venv.reset(seed=seed)[0]]
    for a in actions:
        obs, r, term, trunc, _ = venv.step(a)
        trace.append((obs, r, term, trunc))
    return trace


@pytest.mark.parametrize("id", E.IDS)
def test_vector_env_equals_gymnasium_sync_vector_env(id):
    """Next-step autoreset, seeds seed+i, rewards float64, flags bool: bit for bit."""
    if id in MUJOCO and not (mujoco_lib() and gym_mujoco()):
        pytest.skip("MuJoCo library or the mujoco package not available")
    n = 5
    venv = E.make_vec(id, n)
    ref = gym.make_vec(id, n, vectorization_mode="sync")
    assert venv.single_observation_space == ref.single_observation_space
    assert venv.single_action_space == ref.single_action_space
    assert venv.observation_space == ref.observation_space
    assert venv.action_space == ref.action_space
    assert venv.metadata["autoreset_mode"] == ref.metadata["autoreset_mode"]
    steps = 700 if id in CLASSIC else 150
    actions = random_actions(ref.action_space, steps, 11)
    got, want = run_vector(venv, 11, actions), run_vector(ref, 11, actions)
    ends, rtol = 0, reward_tolerance(id)
    for k, (g, w) in enumerate(zip(got, want)):
        if k == 0:
            assert same(g, w)
            continue
        for j in range(4):
            if j == 1 and rtol:
                assert g[j].dtype == w[j].dtype and np.all(np.abs(g[j] - w[j]) <= rtol * np.abs(w[j])), (k, j)
            else:
                assert same(g[j], w[j]), (k, j)
        ends += int(np.sum(w[2] | w[3]))
    if id in ("CartPole-v1", "Acrobot-v1", "Pendulum-v1"):
        assert ends > 0  # autoreset exercised
    # reset(seed=None) continues each member's generator, as Gymnasium's does
    assert same(venv.reset()[0], ref.reset()[0])


def test_bad_actions_name_the_argument_and_change_nothing():
    env = E.make("CartPole-v1")
    with pytest.raises(ValueError):
        env.step(0)  # before reset
    env.reset(seed=0)
    for bad in (2, -1, 0.5, "left"):
        with pytest.raises(ValueError, match="`action`"):
            env.step(bad)
    pend = E.make("Pendulum-v1")
    pend.reset(seed=0)
    with pytest.raises(ValueError, match="`action` has 2 value"):
        pend.step(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        pend.step(np.array([np.nan], np.float32))
    venv = E.make_vec("CartPole-v1", 4)
    with pytest.raises(RuntimeError, match="reset"):
        venv.step(np.zeros(4, np.int64))
    obs0, _ = venv.reset(seed=1)
    for bad, match in [
        (np.array([0, 1, 2, 0]), r"`actions`\[2\] is 2"),
        (np.zeros(3, np.int64), r"expected \(4,\)"),
        (np.zeros((4, 1), np.int64), r"expected \(4,\)"),
        (np.zeros(4, np.float32), "must be integers"),
    ]:
        with pytest.raises(ValueError, match=match):
            venv.step(bad)
    # nothing moved: the next valid step equals a fresh env's first step
    fresh = E.make_vec("CartPole-v1", 4)
    fresh.reset(seed=1)
    a = np.array([1, 0, 1, 0])
    assert same(venv.step(a)[0], fresh.step(a)[0])
    cvec = E.make_vec("MountainCarContinuous-v0", 2)
    cvec.reset(seed=0)
    with pytest.raises(ValueError, match=r"`actions`\[1\] holds NaN"):
        cvec.step(np.array([[0.1], [np.nan]], np.float32))
    with pytest.raises(ValueError, match="`num_envs` is 0"):
        E.make_vec("CartPole-v1", 0)
    with pytest.raises(ValueError, match="reset_mask"):
        venv.reset(options={"reset_mask": np.ones(4, bool)})
