"""The torch op timings behind population mode's choices (`eggroll/torch/_population.py`).

    python python/bench/torch_ops.py [--reps 60]

One chunk of the 784-256-10 benchmark: 8 members × 256 rows. Medians in ms, printed as one
JSON line:

- `rank1`: adding a rank-1 correction to [8, 256, 256] in place, batched GEMM (`baddbmm_`,
  one inner column) against a broadcast multiply-add (`addcmul_`);
- `projection`: `x Bᵢ` for [8, 256, 256] rows and rank 1, as `bmm(x, B)` and as
  `bmm(Bᵀ, xᵀ)ᵀ`;
- `linear_width`: `F.linear` of 2,048 × 256 rows to `out` outputs, as is and with the weight
  padded with zero rows to a multiple of 16;
- `narrow_head`: a whole noisy Linear of 2,048 × 256 rows to `out` outputs at rank `r`,
  `out + r ≤ 16`: the GEMM (padded as above where that wins) and the projection `x Bᵢ` as two
  ops, against one batched GEMM with `[Wᵀ | Bᵢ | 0]` (16 columns); both then add
  `(x Bᵢ)Aᵢᵀ`.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--reps", type=int, default=60)
a = ap.parse_args()
torch.manual_seed(0)


def median_ms(fns):
    """Medians of `fns` timed in alternation, so machine noise hits them alike."""
    ts = {k: [] for k in fns}
    for f in fns.values():
        f()
    for _ in range(a.reps):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            ts[k].append(time.perf_counter() - t0)
    return {k: round(statistics.median(v) * 1e3, 3) for k, v in ts.items()}


n, rows, h = 8, 256, 256
o = torch.rand(n, rows, h)
p, q = torch.rand(n, rows, 1), torch.rand(n, h, 1)
out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
out["rank1"] = median_ms({
    "baddbmm_": lambda: o.baddbmm_(p, q.transpose(1, 2)),
    "addcmul_": lambda: o.addcmul_(p, q.transpose(1, 2)),
})
x, b = torch.rand(n, rows, h), torch.rand(n, h, 1)
out["projection"] = median_ms({
    "bmm(x, B)": lambda: torch.bmm(x, b),
    "bmm(Bt, xt)": lambda: torch.bmm(b.transpose(1, 2), x.transpose(1, 2)).transpose(1, 2),
})
xs = torch.rand(n * rows, h)
out["linear_width"] = {}
for width in (4, 8, 10, 15, 16, 17, 33, 64):
    padded = -(-width // 16) * 16
    w, bias = torch.randn(width, h), torch.randn(width)
    wp, bp = torch.zeros(padded, h), torch.zeros(padded)
    wp[:width], bp[:width] = w, bias
    out["linear_width"][width] = median_ms({
        "plain": lambda: F.linear(xs, w, bias),
        f"padded_{padded}": lambda: F.linear(xs, wp, bp)[:, :width],
    })


def correct(y, p, a):
    return y.addcmul_(p, a.transpose(1, 2)) if p.shape[-1] == 1 else y.baddbmm_(p, a.transpose(1, 2))


out["narrow_head"] = {}
xm = xs.reshape(n, rows, h)
for width, r in ((1, 1), (3, 1), (4, 1), (10, 1), (10, 4), (15, 1)):
    w, bias = torch.randn(width, h), torch.randn(width)
    padded = 16 if 8 <= width < 16 else width
    wp, bp = torch.zeros(padded, h), torch.zeros(padded)
    wp[:width], bp[:width] = w, bias
    b, am = torch.randn(n, h, r), torch.randn(n, width, r)
    wide = torch.zeros(n, h, 16)
    start = torch.zeros(n, 1, 16)
    start[:, 0, :width] = bias

    def two_ops():
        y = F.linear(xs, wp, bp)[:, :width].reshape(n, rows, width)
        p = torch.bmm(b.transpose(1, 2), xm.transpose(1, 2)).transpose(1, 2)
        return correct(y, p, am)

    def one_gemm():
        wide[:, :, :width] = w.t()
        wide[:, :, width:width + r] = b
        o = torch.baddbmm(start, xm, wide)
        return correct(o[..., :width], o[..., width:width + r], am)

    out["narrow_head"][f"{width}+{r}"] = median_ms({"two_ops": two_ops, "one_gemm": one_gemm})
print(json.dumps(out))
