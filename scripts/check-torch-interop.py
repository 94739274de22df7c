#!/usr/bin/env python3
"""Check that an exported eggroll policy is a PyTorch `nn.Linear` state dict and that its
forward pass matches eggroll's.

    scripts/check-torch-interop.py [--require-torch] [path/to/eggroll]

Trains CartPole into a temporary run directory, loads `policy.safetensors` with the
`safetensors` package into `nn.Linear` layers (`layers.<l>.weight` is out × in) with
`load_state_dict(strict=True)`, and compares the outputs on a few inputs with
`eggroll policy forward` (max abs difference ≤ 1e-5). Without torch it checks the same
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
INPUTS = [[0.1, -0.2, 0.03, 0.5], [0.0, 0.0, 0.0, 0.0], [-1.5, 2.0, -0.2, -3.0], [2.4, -1.0, 0.2, 1.0]]


def eggroll_forward(path, x):
    out = subprocess.run(
        [BIN, "policy", "forward", "--policy", path, "--input", ",".join(str(v) for v in x)],
        check=True, capture_output=True, text=True,
    ).stdout
    return np.array(json.loads(out), dtype=np.float64)


with tempfile.TemporaryDirectory() as d:
    subprocess.run([BIN, "train", "cartpole", "--quiet", "--out", d], check=True, stdout=subprocess.DEVNULL)
    path = os.path.join(d, "policy.safetensors")
    with safe_open(path, "np") as f:
        meta = json.loads(f.metadata()["eggroll"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    net = json.loads(meta["policy"])
    sizes, bias, act_name = net["sizes"], net["bias"], net["activation"]
    n_layers = len(sizes) - 1
    for l in range(n_layers):
        w = tensors[f"layers.{l}.weight"]
        assert w.shape == (sizes[l + 1], sizes[l]), f"layer {l}: weight {w.shape} is not out × in"
    worst = 0.0
    if torch is not None:
        layers = torch.nn.ModuleList(
            [torch.nn.Linear(sizes[l], sizes[l + 1], bias=bias) for l in range(n_layers)]
        )
        holder = torch.nn.Module()
        holder.layers = layers
        holder.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
        act = torch.tanh if act_name == "tanh" else torch.relu
        for x in INPUTS:
            h = torch.tensor(x, dtype=torch.float32)
            for l, lin in enumerate(layers):
                h = lin(h)
                if l + 1 < n_layers:
                    h = act(h)
            worst = max(worst, float(np.abs(h.detach().numpy() - eggroll_forward(path, x)).max()))
        mode = f"torch {torch.__version__}"
    else:
        act = np.tanh if act_name == "tanh" else (lambda v: np.maximum(v, 0))
        for x in INPUTS:
            h = np.array(x, dtype=np.float64)
            for l in range(n_layers):
                h = h @ tensors[f"layers.{l}.weight"].astype(np.float64).T
                if bias:
                    h = h + tensors[f"layers.{l}.bias"]
                if l + 1 < n_layers:
                    h = act(h)
            worst = max(worst, float(np.abs(h - eggroll_forward(path, x)).max()))
        mode = "numpy (torch not installed)"
    assert worst <= 1e-5, f"outputs differ by {worst}"
    print(f"interop OK ({mode}): {n_layers} layers {sizes}, max abs difference {worst:.2e}")
