"""gen.py - benchmark data for Quiver.

  python bench/gen.py synth N DIM OUT.f32 [--seed S] [--queries Q QOUT.f32]
      Synthetic vectors calibrated to behave like real embeddings (see
      /work/shared/docs/BENCHMARKS.md): a mixture of many anisotropic clusters
      of low intrinsic dimension, normalised.  Plain Gaussian or low-rank noise
      is far harder than real data, so it is not used.
  python bench/gen.py f16 IN.f16 DIM OUT.f32
      Widens a float16 matrix (man-lsa-384) to float32 and re-normalises each
      row, exactly what the ground truth was computed on.

The generator, per cluster k (about N/100 clusters, sizes heavy-tailed):
  centre c_k: a unit vector drawn near one of a few "topic" directions
              (topics are themselves random), so clusters are not uniformly
              spread over the sphere;
  basis  B_k: DIM x r_k random orthonormal, r_k in [6, 24] (low intrinsic
              dimension);
  scales s_k: r_k values decaying as j^-0.7, times a per-cluster spread
              (anisotropy: a few long axes, many short ones);
  point = c_k + B_k (z * s_k) + 0.02 * isotropic noise, z ~ N(0, I); then the
  point is normalised.  Queries come from the same mixture (fresh draws), so
  they fall near the data as real queries do.
Raw output is little-endian float32, row-major.
"""
import sys

import numpy as np


def synth(n, dim, seed, nq=0, labels=False):
    """(base, queries), and with labels=True also each row's cluster number (base, then queries): the
    same draws either way, so the vectors do not depend on labels."""
    rng = np.random.default_rng(seed)
    k = max(8, n // 100)
    ntop = max(4, k // 40)
    topics = rng.standard_normal((ntop, dim)).astype(np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    tid = rng.integers(0, ntop, k)
    centres = topics[tid] + 0.6 * rng.standard_normal((k, dim)).astype(np.float32) / np.sqrt(dim)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    # heavy-tailed cluster weights
    w = rng.pareto(1.5, k) + 0.2
    w /= w.sum()
    ranks = rng.integers(6, 25, k)
    spread = rng.uniform(0.5, 1.0, k)
    total = n + nq
    assign = rng.choice(k, size=total, p=w)
    out = np.empty((total, dim), dtype=np.float32)
    order = np.argsort(assign, kind="stable")
    sa = assign[order]
    bounds = np.searchsorted(sa, np.arange(k + 1))
    for c in range(k):
        lo, hi = bounds[c], bounds[c + 1]
        m = hi - lo
        if m == 0:
            continue
        r = int(ranks[c])
        basis, _ = np.linalg.qr(rng.standard_normal((dim, r)).astype(np.float32))
        scales = spread[c] * np.arange(1, r + 1, dtype=np.float32) ** -0.7
        z = rng.standard_normal((m, r)).astype(np.float32) * scales
        pts = centres[c] + z @ basis.T + 0.02 * rng.standard_normal((m, dim)).astype(np.float32) / np.sqrt(dim) * 4
        out[order[lo:hi]] = pts
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    if labels:
        return out[:n], out[n:], assign[:n], assign[n:]
    return out[:n], out[n:]


def main(argv):
    if len(argv) >= 5 and argv[1] == "synth":
        n, dim, path = int(argv[2]), int(argv[3]), argv[4]
        seed, nq, qpath = 42, 0, None
        rest = argv[5:]
        while rest:
            if rest[0] == "--seed":
                seed = int(rest[1])
                rest = rest[2:]
            elif rest[0] == "--queries":
                nq, qpath = int(rest[1]), rest[2]
                rest = rest[3:]
            else:
                raise SystemExit("unknown argument " + rest[0])
        base, q = synth(n, dim, seed, nq)
        base.tofile(path)
        if qpath:
            q.tofile(qpath)
    elif len(argv) == 5 and argv[1] == "f16":
        dim = int(argv[3])
        m = np.fromfile(argv[2], dtype="<f2").reshape(-1, dim).astype(np.float32)
        m /= np.linalg.norm(m, axis=1, keepdims=True)
        m.astype("<f4").tofile(argv[4])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
