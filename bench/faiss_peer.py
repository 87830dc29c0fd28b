"""faiss_peer.py BASE.f32 QUERIES.f32 GROUNDTRUTH.u32|-  -> one JSON line

The in-process peer for exact search: faiss IndexFlatIP on the same
(normalised) vectors, single queries (one search call per query) and
batches of 8 and 16 queries per call, with 1 and 2 OpenMP threads.
Reports QPS (best of 3 timed passes over the query set, after a warm-up
pass) and recall@10 against the ground truth.  Uses no numpy matmul, so the
OPENBLAS_* variables are left as they are (faiss's flat search below 20
queries per call does not use BLAS).
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
gt = None
if sys.argv[3] != "-":
    gt = np.fromfile(sys.argv[3], dtype="<u4").reshape(-1, 100)[:, :10]

index = faiss.IndexFlatIP(DIM)
index.add(base)
rows = []
for threads in (1, 2):
    faiss.omp_set_num_threads(threads)
    for batch in (0, 8, 16):
        per = max(batch, 1)
        chunks = [qs[i:i + per] for i in range(0, len(qs), per)]
        ids = None
        best = 1e9
        for rep in range(3):
            out = []
            t0 = time.perf_counter()
            for c in chunks:
                _, idx = index.search(c, 10)
                out.append(idx)
            el = time.perf_counter() - t0
            if rep:  # the first pass is a warm-up
                best = min(best, el)
            ids = np.vstack(out)
        row = {"batch": batch, "threads": threads, "qps": round(len(qs) / best, 1),
               "ms_per_call": round(best / len(chunks) * 1e3, 3)}
        if gt is not None:
            row["recall_at_10"] = round(
                float(np.mean([len(set(ids[i]).intersection(gt[i])) / 10 for i in range(len(qs))])), 5)
        rows.append(row)
        print("faiss batch=%d threads=%d: %.1f QPS" % (batch, threads, row["qps"]), file=sys.stderr, flush=True)
print(json.dumps({"faiss_version": faiss.__version__, "index": "IndexFlatIP", "rows": rows}))
