"""Population mode: every member of a generation through the model in batched passes."""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import positive_int

if TYPE_CHECKING:
    from ._trainer import EGGROLLTrainer, _Param

#: Rows (members × batch) per batched pass when ``chunk`` is not given: activations of a
#: pass stay near the CPU's caches instead of streaming ``N·B`` rows through memory.
ROWS_PER_PASS = 2048

#: A Linear with ``out + rank`` at most this many columns computes its GEMM and its noise
#: projection in one batched GEMM on per-member rows (`Population._narrow`).
NARROW = 16


class _Shared(Tensor):
    """Rows shared by every member (``pop(x)``). torch's default ``__torch_function__`` keeps
    the type through parameter-free ops, so the first layer with parameters sees it and
    computes its base output once for all members."""


class Population:
    """One generation's members, evaluated together (``population_fitness_fn``'s argument).

    ``pop(x)``: ``x`` of shape ``[B, …]`` is given to every member; returns ``[N, B, …]``.
    ``pop(x, per_member=True)``: ``x`` of shape ``[N, B, …]``, rows ``x[i]`` for member i.

    The model runs on groups of members (``chunk`` members per pass, default so that a pass
    holds about 2048 rows). ``nn.Linear``, ``nn.Conv2d`` (groups=1, zero padding) and
    ``nn.Embedding`` compute ``W x`` once and add each member's low-rank correction
    ``σ/√r·(x Bᵢ)Aᵢᵀ`` (``W + σABᵀ`` is never formed); biases and ``nn.LayerNorm`` add their
    full noise; with a shared ``x`` the first such layer computes its base output once for the
    whole generation. Any other module with parameters of its own runs once per member with
    that member's parameters. Parameter-free ops (activations, pooling, reshapes that keep
    the first dimension) work unchanged. Valid only during its generation.
    """

    def __init__(self, trainer: "EGGROLLTrainer"):
        self._trainer = trainer
        self._generation = trainer.generation
        self._open = True
        block, sign, noise = trainer.strategy.noise()
        dev = trainer.device
        self.size = int(block.shape[0])
        idx = torch.from_numpy(block).to(dev)
        scale = torch.from_numpy(sign).to(dev) * float(trainer.strategy.sigma)
        # Per member (sign and σ folded in): low-rank (σsᵢ/√r·Aᵢ, Bᵢ), full σsᵢεᵢ, or none.
        self._noise: Dict[str, Tuple[str, Optional[Tensor], Optional[Tensor]]] = {}
        for p in trainer._params:
            entry = noise[p.name]
            if entry[0] == "lowrank":
                a = torch.from_numpy(entry[1]).to(dev)[idx]
                b = torch.from_numpy(entry[2]).to(dev)[idx]
                a = a * (scale / math.sqrt(a.shape[-1]))[:, None, None]
                self._noise[p.name] = ("lowrank", a, b)
            elif entry[0] == "full":
                e = torch.from_numpy(entry[1]).to(dev)[idx]
                e = e * scale.reshape((-1,) + (1,) * (e.dim() - 1))
                self._noise[p.name] = ("full", e, None)
            else:
                self._noise[p.name] = ("none", None, None)
        self._modules: Dict[int, Tuple[nn.Module, Dict[str, "_Param"]]] = {}
        for p in trainer._params:
            self._modules.setdefault(id(p.module), (p.module, {}))[1][p.local] = p
        for module, _ in self._modules.values():
            if _fused(module):
                continue
            for child_name, child in module.named_modules():
                if child is not module and any(
                    q.requires_grad for q in child.parameters(recurse=False)
                ):
                    raise ValueError(
                        f"`model`: module {type(module).__name__} has parameters of its own and "
                        f"a child `{child_name}` with parameters; population mode needs one of "
                        "the two"
                    )
        self._lo, self._hi = 0, self.size  # the members of the current pass
        self._cache: Dict[Tuple[int, int], Any] = {}  # shared-input results, per pop(x)
        self._calls: Dict[int, int] = {}  # shared calls per module in the current pass
        # Output buffers of the fused layers, reused by later passes and generations once
        # nothing holds them (kept on the trainer).
        self._buffers: Dict[int, Tensor] = trainer.__dict__.setdefault(
            "_population_buffers", {}
        )
        self._padded: Dict[int, Tuple[Tensor, Optional[Tensor]]] = {}
        self._narrow_w: Dict[int, Tuple[Tensor, Tensor]] = {}
        self._augmented: Dict[str, Tensor] = {}

    def _close(self) -> None:
        self._open = False

    def _check(self) -> None:
        if not self._open or self._trainer.generation != self._generation:
            raise RuntimeError("this Population belongs to a finished generation")

    def member(self, i: int) -> nn.Module:
        """Member ``i`` as a standalone model (a deep copy holding exactly ``θ + σEᵢ``)."""
        self._check()
        i = positive_int(i, "i", 0)
        if i >= self.size:
            raise ValueError(f"`i` is {i}; the population has members 0..{self.size - 1}")
        model = copy.deepcopy(self._trainer.model)
        self._trainer._load(self._trainer.strategy.member(i), model)
        return model

    # -- the batched forward -------------------------------------------------------------------

    def __call__(self, x: Any, per_member: bool = False, chunk: Optional[int] = None) -> Tensor:
        self._check()
        n = self.size
        if not isinstance(x, Tensor):
            x = torch.as_tensor(np.asarray(x))
        if x.device != self._trainer.device:
            raise ValueError(f"`x` is on {x.device}; the model is on {self._trainer.device}")
        if per_member:
            if x.dim() < 2 or x.shape[0] != n:
                raise ValueError(
                    f"`x` has shape {tuple(x.shape)}; per_member=True needs [N={n}, B, …]"
                )
            rows = x.shape[1]
        else:
            if x.dim() < 1:
                raise ValueError("`x` must have a batch dimension [B, …]")
            rows = x.shape[0]
        if chunk is None:
            chunk = max(1, ROWS_PER_PASS // max(rows, 1))
        chunk = min(positive_int(chunk, "chunk"), n)
        shared = None if per_member else x.as_subclass(_Shared)
        outs: List[Tensor] = []
        patched = []
        try:
            for module, params in self._modules.values():
                patched.append((module, module.__dict__.get("forward")))
                module.forward = self._forward_of(module, params)
            for lo in range(0, n, chunk):
                hi = min(n, lo + chunk)
                self._lo, self._hi = lo, hi
                self._calls.clear()
                if shared is not None:
                    inp = shared
                else:
                    inp = x[lo:hi].reshape(((hi - lo) * rows,) + tuple(x.shape[2:]))
                with torch.no_grad():
                    out = self._trainer.model(inp)
                if isinstance(out, _Shared):  # no parameter on the way: every member alike
                    out = _expand(out, hi - lo)
                if not isinstance(out, Tensor) or out.dim() < 1 or out.shape[0] != (hi - lo) * rows:
                    shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
                    raise ValueError(
                        f"the model returned {shape} for {hi - lo} members × {rows} rows; "
                        "population mode needs a tensor with one output row per input row"
                    )
                outs.append(out.reshape((hi - lo, rows) + tuple(out.shape[1:])))
        finally:
            self._cache.clear()
            self._lo, self._hi = 0, n
            for module, old in reversed(patched):
                if old is None:
                    del module.forward
                else:
                    module.forward = old
        return outs[0] if len(outs) == 1 else torch.cat(outs, 0)

    # -- noise of the current pass ------------------------------------------------------------

    def _lowrank(self, p: Optional["_Param"]) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        """The pass's ``(σs/√r·A, B)`` of a matrix, or ``(None, None)`` if frozen."""
        if p is None:
            return None, None
        kind, a, b = self._noise[p.name]
        if kind == "lowrank":
            return a[self._lo:self._hi], b[self._lo:self._hi]
        return None, None

    def _full(self, p: Optional["_Param"]) -> Optional[Tensor]:
        if p is None:
            return None
        kind, e, _ = self._noise[p.name]
        return e[self._lo:self._hi] if kind == "full" else None

    def _shared_key(self, module: nn.Module) -> Tuple[int, int]:
        """(module, its k-th call with shared rows in this pass): the same in every pass,
        since shared rows depend on ``x`` alone."""
        k = self._calls.get(id(module), 0)
        self._calls[id(module)] = k + 1
        return (id(module), k)

    def _buffer(self, module: nn.Module, shape: Tuple[int, ...], like: Tensor) -> Tensor:
        """An output buffer for ``module``: the one of its last pass when no tensor still
        holds it (a fresh buffer per pass costs page faults and cache misses that take
        longer than the arithmetic), else a new one."""
        buf = self._buffers.get(id(module))  # one per module: memory stays bounded
        if (
            buf is None
            or tuple(buf.shape) != shape
            or (buf.dtype, buf.device) != (like.dtype, like.device)
            or not _unshared(buf)
        ):
            buf = torch.empty(shape, dtype=like.dtype, device=like.device)
            self._buffers[id(module)] = buf
        return buf

    def _with_bias(self, params: Dict[str, "_Param"], a: Tensor, e: Optional[Tensor]) -> Tensor:
        """The pass's ``σs/√r·Aᵢ`` of ``params["weight"]`` with the bias noise ``e`` [n, out]
        as one more column (to pair with a column of ones: one batched GEMM adds both),
        built once per generation."""
        if e is None:
            return a
        w, bias = params["weight"], params["bias"]
        if w.name not in self._augmented:
            a_all, e_all = self._noise[w.name][1], self._noise[bias.name][1]
            self._augmented[w.name] = torch.cat([a_all, e_all[..., None]], -1)
        return self._augmented[w.name][self._lo:self._hi]

    def _weight_of(self, lin: nn.Linear) -> Tuple[Tensor, Optional[Tensor]]:
        """``(W, b)`` of ``lin`` for ``x Wᵀ + b`` over many rows; 8–15 outputs are padded
        with zero rows to 16 (MKL's GEMM takes 1.2–2.1× longer on those widths:
        `python/bench/torch_ops.py`)."""
        if not 8 <= lin.out_features < 16:
            return lin.weight, lin.bias
        if id(lin) not in self._padded:
            w = lin.weight.new_zeros((16, lin.in_features))
            w[: lin.out_features] = lin.weight
            b = None
            if lin.bias is not None:
                b = lin.bias.new_zeros(16)
                b[: lin.out_features] = lin.bias
            self._padded[id(lin)] = (w, b)
        return self._padded[id(lin)]

    def _narrow(
        self, lin: nn.Linear, params: Dict[str, "_Param"], xs: Tensor, a: Tensor, b: Tensor
    ) -> Tensor:
        """A Linear whose outputs and rank fit in ``NARROW`` columns, on per-member rows:
        ONE batched GEMM against ``[Wᵀ | Bᵢ | 0]`` gives ``x Wᵀ`` and the projection ``x Bᵢ``
        in one read of ``x`` (reading ``x`` twice, for the GEMM and the projection, took
        longer than the arithmetic: `python/bench/torch_ops.py`), the bias and its noise
        are the GEMM's starting values; then ``(x Bᵢ)(σ/√r·Aᵢ)ᵀ`` is added."""
        n, out, r = a.shape[0], lin.out_features, a.shape[-1]
        xm = xs.reshape(n, -1, xs.shape[-1])
        key = id(lin)
        if key not in self._narrow_w or self._narrow_w[key][0].shape[0] < n:
            # Once per generation: [Wᵀ | · | 0] for a pass, and every member's bias + noise.
            w = xs.new_zeros((n, lin.in_features, NARROW))
            w[:, :, :out] = lin.weight.t()
            start = xs.new_zeros((self.size, 1, NARROW))
            if lin.bias is not None:
                start[:, 0, :out] = lin.bias
            bias = params.get("bias")
            if bias is not None and self._noise[bias.name][0] == "full":
                start[:, 0, :out] += self._noise[bias.name][1]
            self._narrow_w[key] = (w, start)
        w, start = self._narrow_w[key]
        w = w[:n]
        w[:, :, out:out + r] = b
        o = self._buffer(lin, (n, xm.shape[1], NARROW), xs)
        torch.baddbmm(start[self._lo:self._hi], xm, w, out=o)
        y, p = o[..., :out], o[..., out:out + r]
        if r == 1:
            y.addcmul_(p, a.transpose(1, 2))
        else:
            y.baddbmm_(p, a.transpose(1, 2))
        return y

    # -- layers --------------------------------------------------------------------------------

    def _forward_of(self, module: nn.Module, params: Dict[str, "_Param"]) -> Callable:
        if _fused(module) and isinstance(module, nn.Linear):
            return self._linear(module, params)
        if _fused(module) and isinstance(module, nn.Conv2d):
            return self._conv2d(module, params)
        if _fused(module) and isinstance(module, nn.Embedding):
            return self._embedding(module, params)
        if _fused(module) and isinstance(module, nn.LayerNorm):
            return self._layer_norm(module, params)
        return self._per_member(module, params)

    def _linear(self, lin: nn.Linear, params: Dict[str, "_Param"]) -> Callable:
        def linear(x: Tensor) -> Tensor:
            a, b = self._lowrank(params.get("weight"))
            eb = self._full(params.get("bias"))
            n = self._hi - self._lo
            if isinstance(x, _Shared):
                x = x.as_subclass(Tensor)
                key = self._shared_key(lin)
                if key not in self._cache:  # once per generation: W x and x·Bᵢ for all i
                    base = F.linear(x, lin.weight, lin.bias)
                    xb = None
                    w = params.get("weight")
                    kind, _, b_all = self._noise[w.name] if w else ("none", None, None)
                    if kind == "lowrank":
                        r = b_all.shape[-1]
                        xs = x.reshape(-1, x.shape[-1])
                        xb = xs @ b_all.permute(1, 0, 2).reshape(x.shape[-1], -1)
                        xb = xb.reshape(xs.shape[0], -1, r).transpose(0, 1)  # [N, R, r]
                        if eb is not None:  # a column of ones: the bias noise as one more rank
                            xb = torch.cat([xb, xb.new_ones(xb.shape[:-1] + (1,))], -1)
                    self._cache[key] = (base, xb)
                base, xb = self._cache[key]
                lead, width = tuple(base.shape[:-1]), base.shape[-1]
                flat = base.reshape(1, -1, width).expand(n, -1, -1)
                full = self._buffer(lin, tuple(flat.shape), base)
                if a is not None:  # one pass: W x + (x Bᵢ)(σ/√r·Aᵢ)ᵀ (+ the bias noise)
                    p, q = xb[self._lo:self._hi], self._with_bias(params, a, eb)
                    if p.shape[-1] == 1:
                        torch.addcmul(flat, p, q.transpose(1, 2), out=full)
                    else:
                        torch.baddbmm(flat, p, q.transpose(1, 2), out=full)
                elif eb is not None:
                    torch.add(flat, eb[:, None, :], out=full)
                else:
                    full.copy_(flat)
                return full.reshape((n * lead[0],) + lead[1:] + (width,))
            xs = x.reshape(-1, x.shape[-1])
            if a is not None and lin.out_features + a.shape[-1] <= NARROW:
                return self._narrow(lin, params, xs, a, b).reshape(
                    tuple(x.shape[:-1]) + (lin.out_features,)
                )
            w, bias = self._weight_of(lin)
            o = self._buffer(lin, (xs.shape[0], w.shape[0]), xs)
            if bias is None:
                torch.mm(xs, w.t(), out=o)
            else:
                torch.addmm(bias, xs, w.t(), out=o)
            o = o[:, : lin.out_features].reshape(n, -1, lin.out_features)
            if a is not None:
                # (Bᵢᵀ xᵀ)ᵀ: the projection with the rows as the GEMM's long side.
                xm = xs.reshape(n, -1, xs.shape[-1])
                p = torch.bmm(b.transpose(1, 2), xm.transpose(1, 2)).transpose(1, 2)
                # Rank 1: a GEMM with one inner column is 6–8× slower (bench/torch_ops.py).
                if p.shape[-1] == 1:
                    o.addcmul_(p, a.transpose(1, 2))
                else:
                    if eb is not None:
                        p = torch.cat([p, p.new_ones(p.shape[:-1] + (1,))], -1)
                    o.baddbmm_(p, self._with_bias(params, a, eb).transpose(1, 2))
                    eb = None  # added with the low-rank term
            if eb is not None:
                o.add_(eb[:, None, :])
            return o.reshape(tuple(x.shape[:-1]) + (lin.out_features,))

        return linear

    def _conv2d(self, conv: nn.Conv2d, params: Dict[str, "_Param"]) -> Callable:
        def conv2d(x: Tensor) -> Tensor:
            a, b = self._lowrank(params.get("weight"))
            eb = self._full(params.get("bias"))
            n = self._hi - self._lo
            shared = isinstance(x, _Shared)
            if shared:
                x = x.as_subclass(Tensor)
                key = self._shared_key(conv)
                if key not in self._cache:
                    self._cache[key] = conv._conv_forward(x, conv.weight, conv.bias)
                base = self._cache[key]  # [B, out, H', W'], once for all members
                rows = base.shape[0]
                o = torch.empty((n,) + tuple(base.shape), dtype=base.dtype, device=base.device)
                o.copy_(base.unsqueeze(0).expand_as(o))
                xg = x  # every member's filters see the same rows
            else:
                out = conv._conv_forward(x, conv.weight, conv.bias)
                rows = out.shape[0] // n
                o = out.reshape((n, rows) + tuple(out.shape[1:]))
                # All members as the groups of one convolution.
                xg = x.reshape((n, rows) + tuple(x.shape[1:])).transpose(0, 1)
                xg = xg.reshape((rows, n * x.shape[1]) + tuple(x.shape[2:]))
            if a is not None:
                r = a.shape[-1]
                c, kh, kw = conv.weight.shape[1:]
                w = b.transpose(1, 2).reshape(n * r, c, kh, kw)  # Bᵢᵀ as r filters per member
                groups = 1 if shared else n
                z = F.conv2d(xg, w, None, conv.stride, conv.padding, conv.dilation, groups)
                hw = z.shape[-2] * z.shape[-1]
                z = z.reshape(rows, n, r, hw).permute(1, 0, 3, 2).reshape(n, rows * hw, r)
                corr = torch.bmm(z, a.transpose(1, 2))  # [n, rows·hw, out]
                corr = corr.reshape(n, rows, hw, -1).permute(0, 1, 3, 2)
                o += corr.reshape(o.shape)
            if eb is not None:
                o += eb[:, None, :, None, None]
            return o.reshape((n * rows,) + tuple(o.shape[2:]))

        return conv2d

    def _embedding(self, emb: nn.Embedding, params: Dict[str, "_Param"]) -> Callable:
        def embedding(ids: Tensor) -> Tensor:
            a, b = self._lowrank(params.get("weight"))
            n = self._hi - self._lo
            if isinstance(ids, _Shared):
                ids = ids.as_subclass(Tensor)
                key = self._shared_key(emb)
                if key not in self._cache:
                    self._cache[key] = F.embedding(ids, emb.weight, emb.padding_idx)
                base = self._cache[key]
                flat = base.reshape(1, -1, base.shape[-1]).expand(n, -1, -1)
                if a is None:
                    full = flat.contiguous()
                else:
                    full = torch.baddbmm(flat, a[:, ids.reshape(-1), :], b.transpose(1, 2))
                return full.reshape((n * base.shape[0],) + tuple(base.shape[1:]))
            out = F.embedding(ids, emb.weight, emb.padding_idx)
            if a is None:
                return out
            r = a.shape[-1]
            flat_ids = ids.reshape(n, -1)
            ag = torch.gather(a, 1, flat_ids[..., None].expand(-1, -1, r))
            o = out.reshape(n, -1, out.shape[-1])
            o.baddbmm_(ag, b.transpose(1, 2))
            return o.reshape(out.shape)

        return embedding

    def _layer_norm(self, ln: nn.LayerNorm, params: Dict[str, "_Param"]) -> Callable:
        dims = tuple(ln.normalized_shape)

        def layer_norm(x: Tensor) -> Tensor:
            ew = self._full(params.get("weight"))
            ebias = self._full(params.get("bias"))
            n = self._hi - self._lo
            if isinstance(x, _Shared):
                x = x.as_subclass(Tensor)
                y = F.layer_norm(x, dims, None, None, ln.eps)
                shape = (n * y.shape[0],) + tuple(y.shape[1:])
                y = y.reshape((1, -1) + dims).expand((n, -1) + dims)
            else:
                y = F.layer_norm(x, dims, None, None, ln.eps)
                shape = tuple(y.shape)
                y = y.reshape((n, -1) + dims)
            one = (slice(None), None)  # [n, *dims] → [n, 1, *dims]
            if ln.weight is not None:
                y = y * (ln.weight if ew is None else (ln.weight + ew)[one])
            if ln.bias is not None:
                y = y + (ln.bias if ebias is None else (ln.bias + ebias)[one])
            return y.reshape(shape)

        return layer_norm

    def _per_member(self, module: nn.Module, params: Dict[str, "_Param"]) -> Callable:
        """Any other module: one call per member with that member's parameters."""
        cls_forward = type(module).forward

        def member_values(i: int) -> Dict[str, Tensor]:
            values = {}
            for local, p in params.items():
                kind, u, v = self._noise[p.name]
                base = p.param.detach()
                if kind == "lowrank":
                    values[local] = base + (u[i] @ v[i].T).reshape(base.shape)
                elif kind == "full":
                    values[local] = base + u[i].reshape(base.shape)
            return values

        def forward(*args: Any, **kwargs: Any) -> Any:
            n = self._hi - self._lo
            tensors = [t for t in list(args) + list(kwargs.values()) if isinstance(t, Tensor)]
            own = [t.shape[0] for t in tensors if not isinstance(t, _Shared) and t.dim()]
            rows = own[0] // n if own else 0

            def split(t: Any, j: int) -> Any:
                if isinstance(t, _Shared):  # the same rows for every member
                    return t.as_subclass(Tensor)
                if isinstance(t, Tensor) and t.dim() > 0 and own and t.shape[0] == own[0]:
                    return t[j * rows:(j + 1) * rows]
                return t

            outs = []
            for j in range(n):
                aj = [split(t, j) for t in args]
                kj = {k: split(t, j) for k, t in kwargs.items()}
                outs.append(_call_with(module, cls_forward, member_values(self._lo + j), aj, kj))
            if isinstance(outs[0], Tensor):
                return torch.cat(outs, 0)
            if isinstance(outs[0], tuple):
                return tuple(torch.cat(parts, 0) for parts in zip(*outs))
            raise TypeError(
                f"population mode: {type(module).__name__} returned {type(outs[0]).__name__}"
            )

        return forward


_USE_COUNT = getattr(torch._C, "_storage_Use_Count", None)


def _use_count(t: Tensor) -> int:
    """References to ``t``'s storage (its tensors and views, plus the one taken here)."""
    storage = t.untyped_storage()  # held while torch reads the count
    return _USE_COUNT(storage._cdata)


_ALONE = _use_count(torch.empty(1)) if _USE_COUNT else None


def _unshared(t: Tensor) -> bool:
    """No tensor but ``t`` uses its storage (no view of it survives): safe to overwrite.
    False where torch cannot tell (then buffers are never reused)."""
    return _USE_COUNT is not None and _use_count(t) == _ALONE


def _expand(t: Tensor, n: int) -> Tensor:
    t = t.as_subclass(Tensor)
    return t.unsqueeze(0).expand((n,) + tuple(t.shape)).reshape((n * t.shape[0],) + t.shape[1:])


def _call_with(module: nn.Module, forward: Callable, values: Dict[str, Tensor], args, kwargs):
    """``forward(module, *args)`` with ``module``'s own parameters replaced by ``values``."""
    saved = {k: module._parameters[k] for k in values}
    try:
        for k, v in values.items():
            module._parameters.pop(k)
            setattr(module, k, v)
        return forward(module, *args, **kwargs)
    finally:
        for k, v in saved.items():
            delattr(module, k)
            module._parameters[k] = v


def _fused(module: nn.Module) -> bool:
    """Modules whose population forward is batched over members."""
    if type(module) is nn.Linear or type(module) is nn.LayerNorm:
        return True
    if type(module) is nn.Conv2d:
        return module.groups == 1 and module.padding_mode == "zeros"
    if type(module) is nn.Embedding:
        return module.max_norm is None
    return False
