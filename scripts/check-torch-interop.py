#!/usr/bin/env python3
"""Check that an exported eggroll policy is a PyTorch `nn.Linear` state dict and that its
forward pass matches eggroll's.

    scripts/check-torch-interop.py [--require-torch] [path/to/eggroll]

Trains CartPole and Acrobot (whose default normalises observations) into temporary run
directories, loads each `policy.safetensors` with the `safetensors` package into `nn.Linear`
layers (`layers.<l>.weight` is out × in) with `load_state_dict(strict=True)`, applies the
observation normaliser when the file has one (`x ↦ clamp((x − obs_norm.mean) / obs_norm.std,
−obs_clip, obs_clip)`), and compares the outputs on a few inputs with `eggroll policy forward`
(max abs difference ≤ 1e-5). Without torch it checks the same
layout with numpy (x @ W.T + b); without safetensors/numpy it prints SKIPPED and exits 0.
With --require-torch (what CI passes) a missing torch, numpy or safetensors is a failure.
"""
import json
import os
import subprocess
import sys
import tempfile

ARGS = [a for a in sys.argv[1:] if a != "--require-torch"]
REQUIRE_TORCH = "--require-torch" in sys.argv[1:]
try:
    from safetensors import safe_open
    import numpy as np
except ImportError as e:  # optional dependency
    if REQUIRE_TORCH:
        sys.exit(f"--require-torch: {e}")
    print(f"SKIPPED: {e}")
    sys.exit(0)
try:
    import torch
except ImportError as e:
    if REQUIRE_TORCH:
        sys.exit(f"--require-torch: {e}")
    torch = None

BIN = ARGS[0] if ARGS else "target/release/eggroll"


def inputs(dim):
    """A few fixed input rows of `dim` values, including zeros and values past the clip."""
    rows = [[0.0] * dim]
    for k, scale in enumerate([0.1, 1.0, 3.0, 40.0]):
        rows.append([scale * ((-1) ** (i + k)) * (1 + i % 3) / 3 for i in range(dim)])
    return rows


def eggroll_forward(path, x):
    out = subprocess.run(
        [BIN, "policy", "forward", "--policy", path, "--input=" + ",".join(repr(float(v)) for v in x)],
        check=True, capture_output=True, text=True,
    ).stdout
    return np.array(json.loads(out), dtype=np.float64)


def check(task, extra):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([BIN, "train", task, "--quiet", "--out", d] + extra, check=True, stdout=subprocess.DEVNULL)
        path = os.path.join(d, "policy.safetensors")
        with safe_open(path, "np") as f:
            meta = json.loads(f.metadata()["eggroll"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        norm = None
        if "obs_norm.mean" in tensors:
            norm = (tensors.pop("obs_norm.mean"), tensors.pop("obs_norm.std"), json.loads(meta["obs_clip"]))
        net = json.loads(meta["policy"])
        sizes, bias, act_name = net["sizes"], net["bias"], net["activation"]
        n_layers = len(sizes) - 1
        for l in range(n_layers):
            w = tensors[f"layers.{l}.weight"]
            assert w.shape == (sizes[l + 1], sizes[l]), f"layer {l}: weight {w.shape} is not out × in"
        worst = 0.0
        rows = inputs(sizes[0])
        if torch is not None:
            layers = torch.nn.ModuleList(
                [torch.nn.Linear(sizes[l], sizes[l + 1], bias=bias) for l in range(n_layers)]
            )
            holder = torch.nn.Module()
            holder.layers = layers
            holder.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
            act = torch.tanh if act_name == "tanh" else torch.relu
            for x in rows:
                h = torch.tensor(x, dtype=torch.float32)
                if norm is not None:
                    mean, std, clip = norm
                    h = ((h - torch.from_numpy(mean)) / torch.from_numpy(std)).clamp(-clip, clip)
                for l, lin in enumerate(layers):
                    h = lin(h)
                    if l + 1 < n_layers:
                        h = act(h)
                worst = max(worst, float(np.abs(h.detach().numpy() - eggroll_forward(path, x)).max()))
            mode = f"torch {torch.__version__}"
        else:
            act = np.tanh if act_name == "tanh" else (lambda v: np.maximum(v, 0))
            for x in rows:
                h = np.array(x, dtype=np.float32)
                if norm is not None:
                    mean, std, clip = norm
                    h = np.clip((h - mean) / std, -clip, clip)
                h = h.astype(np.float64)
                for l in range(n_layers):
                    h = h @ tensors[f"layers.{l}.weight"].astype(np.float64).T
                    if bias:
                        h = h + tensors[f"layers.{l}.bias"]
                    if l + 1 < n_layers:
                        h = act(h)
                worst = max(worst, float(np.abs(h - eggroll_forward(path, x)).max()))
            mode = "numpy (torch not installed)"
        assert worst <= 1e-5, f"{task}: outputs differ by {worst}"
        normed = "with" if norm is not None else "without"
        print(f"interop OK ({mode}) {task}: {n_layers} layers {sizes}, {normed} observation normaliser, max abs difference {worst:.2e}")
        return norm is not None


assert not check("cartpole", [])
assert check("acrobot", ["--generations", "20"]), "acrobot's default normalises observations"
