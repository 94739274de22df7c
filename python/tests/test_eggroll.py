"""pytest for the eggroll Python package (run by .ci/run after `pip install ./python`)."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import eggroll

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "cartpole.py"


def sphere(x):
    return float(np.sum((x - 0.5) ** 2))


# ---------------------------------------------------------------------------- minimize

@pytest.mark.parametrize("strategy", ["cmaes", "sep-cmaes"])
def test_minimize_reaches_the_target(strategy):
    r = eggroll.minimize(sphere, np.zeros(8), sigma0=1.0, strategy=strategy, target=1e-10, seed=3)
    assert r.stop == "target"
    assert r.fun <= 1e-10 and r.evals_to_target <= r.evals
    assert r.x.dtype == np.float64 and r.x.shape == (8,)
    np.testing.assert_allclose(r.x, 0.5, atol=1e-4)


@pytest.mark.parametrize("strategy", ["eggroll", "simplees"])
def test_es_strategies_minimize_the_same_function(strategy):
    start = sphere(np.full(8, 2.0))
    r = eggroll.minimize(sphere, np.full(8, 2.0), sigma0=0.5, strategy=strategy, max_evals=20_000)
    assert r.stop == "max_evals" and r.evals >= 20_000
    assert r.fun < 1e-2 * start


def test_minimize_is_deterministic_and_respects_bounds():
    seen = []

    def f(x):
        seen.append(x.copy())
        return float(np.sum((x - 3.0) ** 2))

    a = eggroll.minimize(f, [0.0, 0.0, 0.0], sigma0=0.5, bounds=(-1.0, [1.0, 1.0, 1.0]),
                         max_evals=3000, seed=7)
    assert all(((-1 <= p) & (p <= 1)).all() for p in seen)
    np.testing.assert_allclose(a.x, 1.0, atol=1e-9)
    b = eggroll.minimize(f, [0.0, 0.0, 0.0], sigma0=0.5, bounds=(-1.0, [1.0, 1.0, 1.0]),
                         max_evals=3000, seed=7)
    assert a.fun == b.fun and (a.x == b.x).all()


def test_restarts_solve_rastrigin():
    def rastrigin(x):
        return float(10 * len(x) + np.sum(x * x - 10 * np.cos(2 * np.pi * x)))

    r = eggroll.minimize(rastrigin, np.full(4, 3.0), sigma0=2.0, restarts="ipop",
                         target=1e-8, max_evals=200_000, seed=1)
    assert r.stop == "target", r


class Boom(Exception):
    pass


def test_an_exception_in_fn_propagates_unchanged():
    calls = []

    def f(x):
        calls.append(1)
        if len(calls) == 5:
            raise Boom("from the objective")
        return sphere(x)

    with pytest.raises(Boom, match="from the objective"):
        eggroll.minimize(f, np.zeros(3))
    assert len(calls) == 5, "evaluation stops at the exception"


def test_bad_return_values():
    with pytest.raises(TypeError, match="`fn` must return a number"):
        eggroll.minimize(lambda x: "one", np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        eggroll.minimize(lambda x: float("nan"), np.zeros(3))
    # "worst" ranks NaN last and carries on.
    r = eggroll.minimize(lambda x: float("nan") if x[0] > 0 else sphere(x), np.zeros(3),
                         nonfinite="worst", max_evals=500)
    assert np.isfinite(r.fun) and r.x[0] <= 0


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(sigma0=0.0), ValueError, "sigma0"),
    (dict(sigma0=-1.0), ValueError, "sigma0"),
    (dict(strategy="nelder-mead"), ValueError, "strategy"),
    (dict(restarts="often"), ValueError, "restarts"),
    (dict(bounds=(1.0, -1.0)), ValueError, "bounds"),
    (dict(bounds=([0, 0], [1, 1, 1])), ValueError, "bounds"),
    (dict(bounds="box"), TypeError, "bounds"),
    (dict(max_evals=-5), ValueError, "max_evals"),
    (dict(bound_handling="clip"), ValueError, "bound_handling"),
])
def test_bad_arguments_name_the_argument(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        eggroll.minimize(sphere, np.zeros(3), **kwargs)


def test_bad_x0_and_fn():
    with pytest.raises(ValueError, match="x0"):
        eggroll.minimize(sphere, [])
    with pytest.raises(ValueError, match="x0"):
        eggroll.minimize(sphere, [0.0, float("nan")])
    with pytest.raises(TypeError, match="x0"):
        eggroll.minimize(sphere, ["a", "b"])
    with pytest.raises(TypeError, match="callable"):
        eggroll.minimize(42, np.zeros(3))


# ---------------------------------------------------------------------------- Strategy

def test_ask_tell_shapes_antithetic_pairs_and_mean():
    es = eggroll.Strategy("eggroll", shapes={"w": (6, 5), "b": (6,)}, population_size=8,
                          sigma=0.1, learning_rate=0.05, rank=2, seed=1)
    pop = es.ask()
    assert pop["w"].shape == (8, 6, 5) and pop["b"].shape == (8, 6)
    assert pop["w"].dtype == np.float32
    mean = es.mean
    # Antithetic: members 2k and 2k+1 mirror each other around the mean.
    np.testing.assert_allclose(pop["w"][0] + pop["w"][1], 2 * mean["w"], atol=1e-6)
    np.testing.assert_allclose(pop["b"][2] + pop["b"][3], 2 * mean["b"], atol=1e-6)
    assert es.ask()["w"].tolist() == pop["w"].tolist(), "asking twice gives the same population"
    es.tell(np.arange(8.0))
    assert es.generation == 1
    assert not np.array_equal(es.mean["w"], mean["w"])


@pytest.mark.parametrize("kind", ["eggroll", "simplees", "cmaes", "sep-cmaes"])
def test_ask_tell_maximises_a_quadratic(kind):
    target = np.linspace(-1, 1, 12).astype(np.float32).reshape(3, 4)
    es = eggroll.Strategy(kind, shapes={"w": (3, 4)}, population_size=32, sigma=0.1,
                          learning_rate=0.05, seed=0, optimizer="adam")
    start = float(np.sum(target ** 2))
    for _ in range(150):
        pop = es.ask()
        es.tell(-np.sum((pop["w"] - target) ** 2, axis=(1, 2)))
    assert float(np.sum((es.mean["w"] - target) ** 2)) < 0.05 * start, kind


def test_minimisation_mode_and_bad_fitness():
    es = eggroll.Strategy("eggroll", shapes={"w": 4}, population_size=4, maximize=False)
    with pytest.raises(RuntimeError, match="ask"):
        es.tell([0, 0, 0, 0])
    es.ask()
    with pytest.raises(ValueError, match="fitness"):
        es.tell([1.0, 2.0])
    with pytest.raises(ValueError, match="fitness"):
        es.tell([1.0, float("nan"), 0.0, 0.0])
    with pytest.raises(TypeError, match="fitness"):
        es.tell(["a", "b", "c", "d"])
    es.tell([1.0, 2.0, 3.0, 4.0])


@pytest.mark.parametrize("kwargs, exc, name", [
    (dict(kind="adam-es"), ValueError, "strategy"),
    (dict(shapes={}), ValueError, "shapes"),
    (dict(shapes={"w": (0, 3)}), ValueError, "shapes"),
    (dict(shapes={"w": "big"}), TypeError, "shapes"),
    (dict(population_size=7), ValueError, "population_size"),
    (dict(population_size=-2), ValueError, "population_size"),
    (dict(sigma=-0.1), ValueError, "sigma"),
    (dict(rank=0), ValueError, "rank"),
    (dict(optimizer="rmsprop"), ValueError, "optimizer"),
    (dict(init={"w": np.zeros((2, 2))}), ValueError, "init"),
])
def test_strategy_bad_arguments(kwargs, exc, name):
    args = dict(kind="eggroll", shapes={"w": (3, 3)}, population_size=8)
    args.update(kwargs)
    with pytest.raises(exc, match=name):
        eggroll.Strategy(**args)


def test_save_and_load_resume_bit_identically(tmp_path):
    def make():
        return eggroll.Strategy("eggroll", shapes={"w": (5, 4), "b": (5,)}, population_size=16,
                                sigma=0.1, learning_rate=0.05, rank=2, seed=9, optimizer="adam")

    def step(es):
        pop = es.ask()
        es.tell(-np.sum(pop["w"] ** 2, axis=(1, 2)) - np.sum((pop["b"] - 1) ** 2, axis=1))

    a = make()
    for _ in range(10):
        step(a)
    b = make()
    for _ in range(5):
        step(b)
    path = tmp_path / "es.safetensors"
    b.save(path)
    c = eggroll.Strategy.load(str(path))
    assert c.generation == 5 and c.kind == "eggroll"
    for _ in range(5):
        step(c)
    for k in ("w", "b"):
        assert a.mean[k].tobytes() == c.mean[k].tobytes()
    (tmp_path / "junk").write_bytes(b"not a file")
    with pytest.raises(ValueError):
        eggroll.Strategy.load(tmp_path / "junk")
    with pytest.raises(OSError):
        eggroll.Strategy.load(tmp_path / "missing")


def test_threads_give_the_same_bits():
    """`threads` picks the pool ask/tell/member run on, never the result: a wide matrix
    (the tiled update kernel) and a bias, 1, 2 and 3 threads against the shared pool."""
    def run(threads):
        es = eggroll.Strategy("eggroll", shapes={"w": (37, 45), "b": (37,)}, population_size=24,
                              sigma=0.1, learning_rate=0.05, rank=2, seed=4, optimizer="adam")
        es.threads = threads
        assert es.threads == threads
        for _ in range(4):
            pop = es.ask()
            es.tell(-np.sum((pop["w"] - 0.3) ** 2, axis=(1, 2)) - np.sum(pop["b"] ** 2, axis=1))
        es.ask(materialize=False)
        return [es.mean["w"].tobytes(), es.mean["b"].tobytes(), es.member(5)["w"].tobytes()]

    want = run(None)
    for threads in (1, 2, 3):
        assert run(threads) == want, threads
    es = eggroll.Strategy("eggroll", shapes={"w": 4}, population_size=4)
    for bad, exc in ((0, ValueError), (-2, ValueError), ("2", TypeError), (1.5, TypeError)):
        with pytest.raises(exc, match="threads" if exc is ValueError else None):
            es.threads = bad
    assert es.threads is None


# ---------------------------------------------------------------------------- Policy

def np_forward(params, x):
    h = np.tanh(x @ params["layers.0.weight"].T + params["layers.0.bias"])
    h = np.tanh(h @ params["layers.1.weight"].T + params["layers.1.bias"])
    return h @ params["layers.2.weight"].T + params["layers.2.bias"]


def test_forward_population_equals_each_members_own_forward():
    policy = eggroll.Policy(sizes=[4, 32, 16, 3], action="none")
    es = eggroll.Strategy("eggroll", shapes=policy.shapes, init=policy.init(seed=2),
                          population_size=24, sigma=0.3, rank=2, seed=5)
    pop = es.ask()
    obs = np.random.default_rng(0).normal(size=(24, 4)).astype(np.float32)
    out = policy.forward_population(es, obs)
    assert out.shape == (24, 3)
    for i in range(24):
        member = {k: v[i] for k, v in pop.items()}
        np.testing.assert_allclose(out[i], np_forward(member, obs[i]), atol=1e-4)
    mean_out = eggroll.Policy(sizes=[4, 32, 16, 3], action="none").forward(es, obs)
    np.testing.assert_allclose(mean_out, np_forward(es.mean, obs), atol=1e-4)
    # argmax and scaled tanh heads.
    acts = eggroll.Policy(sizes=[4, 32, 16, 3]).forward_population(es, obs)
    assert acts.dtype == np.int64 and (acts == out.argmax(axis=1)).all()
    cont = eggroll.Policy(sizes=[4, 32, 16, 3], action="tanh", low=[-2, -2, 0],
                          high=[2, 2, 1]).forward_population(es, obs)
    np.testing.assert_allclose(cont[:, 0], 2 * np.tanh(out[:, 0]), atol=1e-5)


def test_policy_bad_input():
    policy = eggroll.Policy(sizes=[4, 8, 2])
    es = eggroll.Strategy("eggroll", shapes=policy.shapes, population_size=6)
    with pytest.raises(ValueError, match="ask"):
        policy.forward_population(es, np.zeros((6, 4)))
    es.ask(materialize=False)
    with pytest.raises(ValueError, match="obs"):
        policy.forward_population(es, np.zeros((5, 4)))
    with pytest.raises(ValueError, match="obs"):
        policy.forward_population(es, np.zeros((6, 3)))
    other = eggroll.Strategy("eggroll", shapes={"w": (3, 3)}, population_size=6)
    other.ask(materialize=False)
    with pytest.raises(ValueError, match="policy"):
        policy.forward_population(other, np.zeros((6, 4)))
    for kwargs, name in [(dict(sizes=[4]), "sizes"), (dict(sizes=[4, 0, 2]), "sizes"),
                         (dict(sizes=[4, 2], activation="swish"), "activation"),
                         (dict(sizes=[4, 2], action="softmax"), "action"),
                         (dict(sizes=[4, 2], action="tanh", low=[0, 0]), "low")]:
        with pytest.raises(ValueError, match=name):
            eggroll.Policy(**kwargs)


# ---------------------------------------------------------------------------- train

def test_train_returns_the_cli_json(tmp_path):
    r = eggroll.train("cartpole", seed=0, generations=30, out=str(tmp_path / "run"))
    assert r["task"] == "cartpole" and r["strategy"] == "eggroll"
    assert r["eval_mean"] >= 475 and r["solved"] is True
    assert (tmp_path / "run" / "policy.safetensors").exists()
    r = eggroll.train("sphere", generations=20, es__optimizer__kind="sgd",
                      problem__rows=4, problem__cols=4, out=str(tmp_path / "s"))
    assert r["generations"] == 20
    with pytest.raises(ValueError, match="unknown task|nope"):
        eggroll.train("nope")
    with pytest.raises(ValueError, match="sigma"):
        eggroll.train("cartpole", sigma=-1.0, out=str(tmp_path / "bad"))
    with pytest.raises(ValueError, match="es.population_sise|unknown"):
        eggroll.train("cartpole", es__population_sise=4, out=str(tmp_path / "bad2"))


def test_the_gil_is_released_during_training(tmp_path):
    ticks = 0
    stop = threading.Event()

    def count():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    t = threading.Thread(target=count)
    t.start()
    start = time.perf_counter()
    eggroll.train("pendulum", generations=1_000_000, time_budget=1.0, out=str(tmp_path / "p"))
    elapsed = time.perf_counter() - start
    stop.set()
    t.join()
    # A Python thread kept running while Rust trained (it would be starved with the GIL held).
    assert ticks > 1000 * elapsed, (ticks, elapsed)


# ---------------------------------------------------------------------------- Ctrl-C

@pytest.mark.parametrize("call", [
    # Noise never converges, and IPOP restarts forever: only Ctrl-C ends it.
    "eggroll.minimize(lambda x: (time.sleep(0.001), float(np.random.rand()))[1], np.zeros(5), "
    "max_evals=10**9, restarts='ipop')",
    "eggroll.train('pendulum', generations=10**9, out=sys.argv[1])",
])
def test_ctrl_c_interrupts(tmp_path, call):
    code = textwrap.dedent(f"""
        import sys, time
        import numpy as np
        import eggroll
        print("started", flush=True)
        try:
            {call}
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
    """)
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "run")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "started"
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 3, (p.returncode, out, err)
    assert "interrupted" in out


# ---------------------------------------------------------------------------- example

def test_cartpole_example_solves_gymnasium_cartpole():
    pytest.importorskip("gymnasium")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, str(EXAMPLE), "--seed", "0"], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    wall = time.perf_counter() - start
    r = json.loads(out.strip().splitlines()[-1])
    assert r["solved"] and r["eval_mean"] >= 475, r
    assert wall < 10, wall
