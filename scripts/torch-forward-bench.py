#!/usr/bin/env python3
"""The shapes of `eggroll bench forward --device cuda` through PyTorch (fp32, TF32 off): plain
batched inference and an EGGROLL forward with per-row low-rank noise (einsum), as the
reference ceiling. One JSON line per shape."""
import json
import time

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = "cuda"


def bench(n, layers, rank=1, rounds=7, sigma=0.1):
    g = torch.Generator(device=dev).manual_seed(0)
    ws = [torch.randn(m, k, device=dev, generator=g) / k**0.5 for k, m in zip(layers, layers[1:])]
    bs = [torch.zeros(m, device=dev) for m in layers[1:]]
    half = n // 2
    a = [torch.randn(half, m, rank, device=dev, generator=g) for m in layers[1:]]
    b = [torch.randn(half, k, rank, device=dev, generator=g) for k in layers[:-1]]
    blk = torch.arange(n, device=dev) // 2
    sign = 1.0 - 2.0 * (torch.arange(n, device=dev) % 2).float()
    coef = (sigma * sign / rank**0.5)[:, None]
    x = torch.randn(n, layers[0], device=dev, generator=g)

    def plain():
        h = x
        for i, (w, bb) in enumerate(zip(ws, bs)):
            h = h @ w.T + bb
            if i + 1 < len(ws):
                h = torch.tanh(h)
        return h

    def eggroll():
        h = x
        for i, (w, bb) in enumerate(zip(ws, bs)):
            t = torch.einsum("ni,nir->nr", h, b[i][blk]) * coef
            h = h @ w.T + bb + torch.einsum("nr,nor->no", t, a[i][blk])
            if i + 1 < len(ws):
                h = torch.tanh(h)
        return h

    res = {}
    for name, f in [("inference", plain), ("eggroll", eggroll)]:
        times = []
        for _ in range(rounds + 1):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            f()
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        res[name] = n / sorted(times[1:])[len(times[1:]) // 2]
    return {
        "framework": "pytorch",
        "population": n,
        "layers": layers,
        "rank": rank,
        "inference_members_per_s": res["inference"],
        "eggroll_members_per_s": res["eggroll"],
        "eggroll_vs_inference": res["eggroll"] / res["inference"],
    }


if __name__ == "__main__":
    for n, layers in [(16384, [1024] * 4), (65536, [4, 64, 64, 2]), (1024, [8192, 8192])]:
        print(json.dumps(bench(n, layers)), flush=True)
