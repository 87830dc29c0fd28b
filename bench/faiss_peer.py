"""faiss_peer.py BASE.f32 QUERIES.f32 GROUNDTRUTH.u32|-  -> one JSON line

The in-process peer for exact search: faiss IndexFlatIP on the same
(normalised) vectors, single queries (one search call per query) and
batches of 8 and 16 queries per call, with 1 and 2 OpenMP threads; plus,
for reference, all queries in one call (faiss then uses its BLAS path).
Reports QPS (best of 2 timed passes over a query subset, after a short
warm-up) and recall@10 against the ground truth (plain, and tie-aware: a
result whose exact score reaches the 10th true score within 1e-5 counts).
Uses no numpy matmul; the OPENBLAS_* variables are left as they are.
Below 20 queries per call faiss scans once per query (no shared pass).
"""
import json
import sys
import time

import numpy as np

try:
    import faiss
except ImportError as e:  # reported, not fatal
    print(json.dumps({"error": "faiss not importable: %s" % e}))
    sys.exit(0)

DIM = 384
base = np.fromfile(sys.argv[1], dtype="<f4").reshape(-1, DIM)
qs = np.fromfile(sys.argv[2], dtype="<f4").reshape(-1, DIM)
gt = gs10 = None
if sys.argv[3] != "-":
    gt = np.fromfile(sys.argv[3], dtype="<u4").reshape(-1, 100)[:, :10]
    gs10 = np.fromfile(sys.argv[3].replace("groundtruth.u32", "groundtruth-scores.f32"),
                       dtype="<f4").reshape(-1, 100)[:, 9]
NQ = 400  # queries timed per configuration (single queries with 2 threads: 100)

index = faiss.IndexFlatIP(DIM)
index.add(base)
rows = []
for threads in (1, 2):
    faiss.omp_set_num_threads(threads)
    for batch in (0, 8, 16, len(qs)):
        per = max(batch, 1)
        nq = len(qs) if batch == len(qs) else (100 if (batch == 0 and threads > 1) else NQ)
        sub = qs[:nq]
        chunks = [sub[i:i + per] for i in range(0, nq, per)]
        for c in chunks[:max(1, 16 // per)]:  # warm-up
            index.search(c, 10)
        best = 1e9
        for rep in range(2):
            out, dist = [], []
            t0 = time.perf_counter()
            for c in chunks:
                d, idx = index.search(c, 10)
                out.append(idx)
                dist.append(d)
            el = time.perf_counter() - t0
            best = min(best, el)
            ids = np.vstack(out)
            ds = np.vstack(dist)
        row = {"batch": batch, "threads": threads, "qps": round(nq / best, 1), "queries": nq,
               "ms_per_call": round(best / len(chunks) * 1e3, 3)}
        if gt is not None:
            row["recall_at_10"] = round(
                float(np.mean([len(set(ids[i]).intersection(gt[i])) / 10 for i in range(nq)])), 5)
            row["recall_at_10_tie_aware"] = round(float(np.mean(
                [sum(1 for k, x in enumerate(ids[i]) if x in set(gt[i]) or ds[i, k] >= gs10[i] - 1e-5) / 10
                 for i in range(nq)])), 5)
        rows.append(row)
        print("faiss batch=%d threads=%d: %.1f QPS" % (batch, threads, row["qps"]), file=sys.stderr, flush=True)
print(json.dumps({"faiss_version": faiss.__version__, "index": "IndexFlatIP", "rows": rows}))
