"""BBOB (COCO 'bbob' suite, noiseless, 24 functions) reference values from the real COCO
package (pip install coco-experiment): for each (function, instance, dimension), points and
their float64 function values, as COCO's C code computes them.
Usage: python scripts/gen-bbob-values.py OUT.json INSTANCES SEED   (the vendored fixture:
INSTANCES=1-3; gzip it into bbob/tests/data/bbob_values.json.gz)
"""
import json, sys
import numpy as np
import cocoex

out, inst, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(seed)
dims = [2, 3, 5, 10, 20, 40]
suite = cocoex.Suite("bbob", f"instances: {inst}", "dimensions: " + ",".join(map(str, dims)))
cases = []
for p in suite:
    d = p.dimension
    pts = [rng.uniform(-5, 5, d) for _ in range(12)]          # the search domain
    pts += [rng.uniform(-0.5, 0.5, d) for _ in range(3)]       # near the origin
    pts += [rng.uniform(-12, 12, d) for _ in range(3)]         # outside: boundary penalties
    pts.append(np.zeros(d))
    cases.append({"id": p.id, "function": p.id_function, "instance": p.id_instance, "dim": d,
                  "points": [[float(v) for v in x] for x in pts],
                  "values": [float(p(x)) for x in pts]})
json.dump({"source": f"coco-experiment (cocoex) {cocoex.__version__}, suite bbob",
           "cases": cases}, open(out, "w"))
print(out, len(cases), "cases")
