"""eggroll.torch: the seed's trainers over nn.Module, population mode, bad input.

Skipped without torch unless EGGROLL_REQUIRE_TORCH=1 (CI sets it and runs with torch CPU).
"""

import math
import os

import numpy as np
import pytest

if os.environ.get("EGGROLL_REQUIRE_TORCH") == "1":
    import torch
else:
    torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import eggroll  # noqa: E402
from eggroll.torch import EGGROLLTrainer, ESTrainer, SimpleESTrainer  # noqa: E402


def snapshot(model):
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def same_bits(a, b):
    return all(torch.equal(a[k], b[k]) for k in a) and a.keys() == b.keys()


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 5, 3, padding=1)
        self.conv2 = nn.Conv2d(5, 4, 3, stride=2)
        self.fc = nn.Linear(4 * 3 * 3, 6)
        self.norm = nn.LayerNorm(6)
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        h = torch.relu(self.conv(x))
        h = torch.relu(self.conv2(h)).flatten(1)
        return self.out(self.norm(torch.tanh(self.fc(h))))


class TokenNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(11, 8)
        self.proj = nn.Linear(8, 8)
        self.gru = nn.GRU(8, 5, batch_first=True)  # no fused rule: one call per member
        self.head = nn.Linear(5, 4, bias=False)

    def forward(self, ids):
        h = torch.tanh(self.proj(self.emb(ids)))
        return self.head(self.gru(h)[0])


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 3))


def check_population(model, make_x, n=12, rank=2, noise_reuse=2):
    seen = {}

    def fn(pop):
        x = make_x()
        y = pop(x)
        assert y.shape[:2] == (n, x.shape[0])
        for i in range(n):
            yi = pop.member(i)(x)
            seen[i] = (y[i] - yi).abs().max().item()
        # per_member=True with each member's own rows, several pass sizes
        xs = torch.stack([make_x() for _ in range(n)])
        for chunk in (None, 1, 5, n):
            ys = pop(xs, per_member=True, chunk=chunk)
            for i in (0, n - 1):
                assert (ys[i] - pop.member(i)(xs[i])).abs().max().item() < 1e-5
        # chunked shared input gives the same rows as one pass
        assert (pop(x, chunk=1) - pop(x, chunk=n)).abs().max().item() < 1e-5
        return y.reshape(n, -1).sum(1)

    t = EGGROLLTrainer(
        model, population_fitness_fn=fn, population_size=n, rank=rank, noise_reuse=noise_reuse,
        seed=3,
    )
    t.step()
    assert len(seen) == n
    assert max(seen.values()) < 1e-5, seen


def test_population_forward_equals_members_linear():
    torch.manual_seed(0)
    check_population(mlp(), lambda: torch.randn(7, 10))


def test_population_forward_equals_members_conv_layernorm():
    torch.manual_seed(0)
    check_population(ConvNet(), lambda: torch.randn(3, 2, 8, 8), rank=1)


def test_population_forward_equals_members_embedding_and_fallback():
    torch.manual_seed(0)
    check_population(TokenNet(), lambda: torch.randint(0, 11, (4, 6)), n=6, noise_reuse=0)


def test_fitness_fn_members_are_exactly_the_strategy_members():
    """Each member is evaluated with exactly θ + σEᵢ of eggroll.Strategy (same seed, same
    bits), θ is restored, and the update equals Strategy.tell's."""
    model = mlp()
    init = {k: v.detach().numpy().copy() for k, v in model.named_parameters()}
    seen = []

    def fn(m):
        seen.append({k: v.detach().numpy().copy() for k, v in m.named_parameters()})
        return float(sum(v.sum() for v in seen[-1].values()))

    t = EGGROLLTrainer(model, fitness_fn=fn, population_size=8, rank=2, noise_reuse=0,
                       learning_rate=0.05, sigma=0.2, seed=11)
    ref = eggroll.Strategy(
        "eggroll", {k: v.shape for k, v in init.items()}, population_size=8, sigma=0.2,
        learning_rate=0.05, rank=2, seed=11, init=init, antithetic=False, scaling="official",
    )
    members = ref.ask()
    t.step()
    assert len(seen) == 8
    for i, got in enumerate(seen):
        for k in init:
            assert np.array_equal(got[k], members[k][i]), (i, k)
    fitness = [float(sum(v.sum() for v in s.values())) for s in seen]
    ref.tell(fitness)
    for k, v in model.named_parameters():
        assert np.array_equal(v.detach().numpy(), ref.mean[k]), k
    # independent members (noise_reuse=0): no antithetic pairs
    assert not np.allclose(seen[0]["0.bias"] + seen[1]["0.bias"], 2 * init["0.bias"])


def test_antithetic_pairs_with_noise_reuse():
    model = mlp()
    theta = snapshot(model)
    seen = []
    t = EGGROLLTrainer(model, fitness_fn=lambda m: seen.append(snapshot(m)) or 0.0,
                       population_size=6, noise_reuse=2, seed=1)
    t.step()
    for k in theta:
        np.testing.assert_allclose((seen[0][k] + seen[1][k]).numpy(), 2 * theta[k].numpy(),
                                   atol=1e-6)


def test_theta_restored_bit_for_bit_when_fitness_fn_raises():
    model = mlp()
    before = snapshot(model)
    calls = []

    def fn(m):
        calls.append(1)
        if len(calls) == 4 and fail[0]:
            raise KeyError("boom")
        return 1.0

    fail = [True]

    t = EGGROLLTrainer(model, fitness_fn=fn, population_size=8, seed=0)
    with pytest.raises(KeyError, match="boom"):
        t.step()
    assert same_bits(before, snapshot(model))
    assert t.generation == 0
    fail[0] = False  # the next step runs through
    t.step()
    assert t.generation == 1


@pytest.mark.parametrize(
    "value, match",
    [
        (float("nan"), "nan for member 0"),
        (torch.ones(3), r"shape \(3,\)"),
        ("high", "expected a number"),
    ],
)
def test_bad_fitness_values_name_the_argument(value, match):
    model = mlp()
    before = snapshot(model)
    t = EGGROLLTrainer(model, fitness_fn=lambda m: value, population_size=4, seed=0)
    with pytest.raises((ValueError, TypeError), match=f"`fitness_fn`.*{match}"):
        t.step()
    assert same_bits(before, snapshot(model))


def test_fitness_requiring_grad_is_refused():
    model = mlp()
    before = snapshot(model)
    x = torch.randn(4, 10)

    def fn(m):
        with torch.enable_grad():
            return m(x).sum()

    t = EGGROLLTrainer(model, fitness_fn=fn, population_size=4, seed=0)
    with pytest.raises(ValueError, match="`fitness_fn` returned a tensor that requires grad"):
        t.step()
    assert same_bits(before, snapshot(model))


def test_bad_population_fitness_and_inputs():
    model = mlp()
    before = snapshot(model)
    for fn, match in [
        (lambda pop: torch.zeros(3), r"`population_fitness_fn` returned shape \(3,\)"),
        (lambda pop: [0.0] * 3 + [math.inf], "returned inf for member 3"),
        (lambda pop: pop(torch.zeros(2, 10, device="meta")), "`x` is on meta"),
        (lambda pop: pop(torch.zeros(3, 2, 10), per_member=True), "per_member=True needs"),
    ]:
        t = EGGROLLTrainer(model, population_fitness_fn=fn, population_size=4, seed=0)
        with pytest.raises(ValueError, match=match):
            t.step()
        assert same_bits(before, snapshot(model))


class Residual(nn.Module):  # keeps a pre-activation alive past the next layer
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 12)
        # 8–15 outputs: at rank 1 the one-GEMM narrow path (10 + 1 ≤ 16 columns), at
        # rank 7 the padded GEMM and a separate projection (10 + 7 > 16)
        self.fc2 = nn.Linear(12, 10)

    def forward(self, x):
        h = self.fc1(x)
        return self.fc2(torch.relu(h)) + h[..., :10]


@pytest.mark.parametrize("rank", [1, 7])
def test_reused_buffers_never_overwrite_a_live_result(rank):
    torch.manual_seed(1)
    check_population(Residual(), lambda: torch.randn(5, 6), n=10, rank=rank)
    torch.manual_seed(1)
    x = torch.randn(9, 6)

    def fn(pop):
        first = pop(x, chunk=4)  # two passes: the first one's rows are alive in the second
        ref = torch.stack([pop.member(i)(x) for i in range(pop.size)])
        assert (first - ref).abs().max().item() < 1e-5
        single = pop(x, chunk=pop.size)  # one pass: the rows returned are the layer's buffer
        kept = single.clone()
        pop(x * 2, chunk=pop.size)
        assert torch.equal(single, kept)
        return first.sum((1, 2))

    t = EGGROLLTrainer(
        nn.Linear(6, 10), population_fitness_fn=fn, population_size=6, rank=rank, seed=2
    )
    t.train(2)


def test_threads_default_and_bad_values():
    t = EGGROLLTrainer(mlp(), fitness_fn=lambda m: 0.0, population_size=4)
    assert t.threads == 1 and t.strategy.threads == 1  # CPU model: one Rust thread
    with pytest.raises(ValueError, match="`threads` is 0"):
        EGGROLLTrainer(mlp(), fitness_fn=lambda m: 0.0, threads=0)
    x = torch.randn(8, 10)
    runs = []
    for threads in (1, 2):
        t = EGGROLLTrainer(mlp(), population_fitness_fn=lambda pop: pop(x).sum((1, 2)),
                           population_size=8, seed=5, threads=threads)
        t.train(3)
        runs.append(snapshot(t.model))
    assert same_bits(runs[0], runs[1])


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="`model` has no trainable parameters"):
        EGGROLLTrainer(nn.ReLU(), fitness_fn=lambda m: 0.0)
    with pytest.raises(ValueError, match="`population_size` is 5; antithetic"):
        EGGROLLTrainer(mlp(), fitness_fn=lambda m: 0.0, population_size=5, noise_reuse=2)
    EGGROLLTrainer(mlp(), fitness_fn=lambda m: 0.0, population_size=5, noise_reuse=0)
    with pytest.raises(ValueError, match="exactly one of"):
        EGGROLLTrainer(mlp())
    with pytest.raises(ValueError, match="`sigma` is -1"):
        EGGROLLTrainer(mlp(), fitness_fn=lambda m: 0.0, sigma=-1)
    with pytest.raises(ValueError, match="`group_size`"):
        EGGROLLTrainer(mlp(), fitness_fn=lambda m: 0.0, population_size=8, group_size=3)
    with pytest.raises(ValueError, match="float64"):
        EGGROLLTrainer(mlp().double(), fitness_fn=lambda m: 0.0)
    with pytest.raises(TypeError, match="`model` must be a torch.nn.Module"):
        EGGROLLTrainer("model", fitness_fn=lambda m: 0.0)


def regression_fitness(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 10, generator=g)
    y = torch.sin(x[:, :1] * 2) + 0.5 * x[:, 1:2]

    def fitness(model):
        return -F.mse_loss(model(x), y).item()

    return fitness


class Seed(nn.Module):  # the seed README's SimpleModel
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 20)
        self.fc2 = nn.Linear(20, 1)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def test_seed_readme_eggroll_example_learns():
    torch.manual_seed(0)
    model = Seed()
    fitness_fn = regression_fitness()
    start = fitness_fn(model)
    trainer = EGGROLLTrainer(
        model=model, fitness_fn=fitness_fn, population_size=256, learning_rate=0.01,
        sigma=0.1, rank=1, noise_reuse=0, group_size=0, freeze_nonlora=False, seed=42,
    )
    history = trainer.train(num_generations=100)
    assert len(history) == 100 and trainer.history is history
    assert fitness_fn(model) > start + 0.3 * abs(start), (start, fitness_fn(model))
    assert trainer.fitness_history[-1] > trainer.fitness_history[0]


def test_seed_readme_es_subclass_learns():
    class MyESTrainer(ESTrainer):  # verbatim from the seed README
        def sample_perturbations(self, population_size):
            param_dim = self.current_params.shape[0]
            return torch.randn(population_size, param_dim, device=self.device)

        def compute_update(self, perturbations, fitnesses):
            weights = (fitnesses - fitnesses.mean()) / fitnesses.std()
            return (weights[:, None] * perturbations).mean(dim=0)

    torch.manual_seed(0)
    model = Seed()
    fitness_fn = regression_fitness()
    start = fitness_fn(model)
    t = MyESTrainer(model=model, fitness_fn=fitness_fn, population_size=50, learning_rate=0.05,
                    sigma=0.05, seed=1)
    t.train(num_generations=60)
    assert fitness_fn(model) > start + 0.3 * abs(start)
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    assert torch.equal(flat, t.current_params)
    s = SimpleESTrainer(model=Seed(), fitness_fn=fitness_fn, population_size=20, seed=2)
    assert len(s.train(3)) == 3 and s.generation == 3
    assert isinstance(s.get_best_model(), Seed)


def test_es_trainer_bad_subclass_output():
    class Bad(ESTrainer):
        def sample_perturbations(self, population_size):
            return torch.zeros(population_size, 3)

        def compute_update(self, perturbations, fitnesses):
            return perturbations.mean(0)

    model = mlp()
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"`sample_perturbations` returned \(4, 3\)"):
        Bad(model, lambda m: 0.0, population_size=4).step()
    assert same_bits(before, snapshot(model))


def test_population_mode_learns_and_matches_rust_noise():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(128, 10, generator=g)
    labels = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    model = mlp()

    def fn(pop):
        logp = torch.log_softmax(pop(x), -1)  # [N, B, 3]
        return logp.gather(2, labels.view(1, -1, 1).expand(pop.size, -1, 1)).mean((1, 2))

    def acc():
        with torch.no_grad():
            return (model(x).argmax(1) == labels).float().mean().item()

    start = acc()
    t = EGGROLLTrainer(model, population_fitness_fn=fn, population_size=64, learning_rate=0.05,
                       sigma=0.05, noise_reuse=2, seed=0, optimizer="adam")
    t.train(80)
    assert acc() > max(start + 0.25, 0.75), (start, acc())


def test_save_and_load_resume_the_same_bits(tmp_path):
    x = torch.randn(16, 10)
    a = EGGROLLTrainer(mlp(), fitness_fn=lambda m: -(m(x) ** 2).mean().item(),
                       population_size=8, seed=4, optimizer="adam")
    a.train(3)
    a.save(tmp_path / "t.safetensors")
    b = EGGROLLTrainer(mlp(seed=9), fitness_fn=a.fitness_fn, population_size=8, seed=4,
                       optimizer="adam")
    b.load(tmp_path / "t.safetensors")
    assert same_bits(snapshot(a.model), snapshot(b.model))
    a.step()
    b.step()
    assert same_bits(snapshot(a.model), snapshot(b.model))
    other = EGGROLLTrainer(nn.Linear(3, 3), fitness_fn=lambda m: 0.0, population_size=8)
    before = snapshot(other.model)
    with pytest.raises(ValueError, match="saved for parameters"):
        other.load(tmp_path / "t.safetensors")
    assert same_bits(before, snapshot(other.model))
