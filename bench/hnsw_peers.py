"""hnsw_peers.py - Quiver's HNSW index against hnswlib, faiss and usearch, in one run.

  python bench/hnsw_peers.py            (bench/hnsw_run.sh builds what it needs and calls this)
  python bench/hnsw_peers.py --worker ENGINE BASE.f32 QUERIES.f32 GT.u32 DIM M EFC

A report, never a test: nothing asserts a time.  The driver prepares the data
(man-lsa-384 widened from float16 and re-normalised, and bench/gen.py's
synthetic mixture, both with exact top-10 ground truth), then for each dataset
and engine starts one worker process (Quiver: build/release/hnsw_bench
--serve; the peers: this file with --worker) and drives it over a line
protocol: "build T", "search EF T PASSES", "count EF", "quit", one JSON line
back per command (see bench/hnsw_bench.c).  Around each measurement it reads
/proc/stat and the worker's own CPU time, so the CPU the rest of the machine
used during it is known ("other_load_cores"); a measurement taken while others
were busy is repeated (best kept, every attempt recorded).

Every engine gets the same vectors (unit length), inner product, M=16 (2M
links on level 0), ef_construct=100, the same queries, k=10, and ef in
16..512.  Queries are timed as one batch per call with T threads (T=1: a plain
loop inside the engine, no per-query Python overhead), best of PASSES passes
(more while under 0.3 s in all, at most 20) after a warm-up over a tenth of them.

Environment: BENCH_HNSW_N (base rows, default 100000), BENCH_HNSW_DATASETS
(default man-lsa-384,synth-384,synth-1536), BENCH_HNSW_ENGINES (default
quiver,hnswlib,faiss,usearch), BENCH_HNSW_THREADS (query threads, default
1,2), BENCH_HNSW_PASSES (default 2), BENCH_HNSW_OUT (JSON path), BENCH_HNSW_MD
(Markdown path, "-" for none), BENCH_HNSW_BUDGET (seconds after which a busy
measurement is no longer repeated, default 480).

Quantization (Quiver only, same worker, same run): after the float curves the
worker builds quantized codes of the same vectors (index/qcodes.h) and measures
the scored graph walk + float rescoring ("qsearch EF T P OVERSAMPLING", the
server's sequence) over ef 16..512 at several oversampling factors, one query
thread, plus counted/timed single passes ("qcount") that split a query into the
walk over the codes and the rescoring.  BENCH_HNSW_QUANT picks the code sets
(default int8,int8-q1,binary; "none" skips it): int8 = scalar int8 at Qdrant's
default quantile 0.99, oversampling 1, 2, 3; int8-q1 = the same at quantile 1
(min..max); binary = one bit per dimension, oversampling 1, 2, 4, 8, 16.
Resident memory is then measured in separate search-only processes
(hnsw_bench --search-only) that load the saved graph: f32 = graph + float
vectors read into memory; each code set = graph + codes in memory, the float
vectors a file mapping (not populated, MADV_RANDOM, page cache dropped first)
read only to rescore, at that code set's fastest point with recall >= 0.95.
Each code set's process also sweeps ef at its best oversampling (the one fastest
at recall 0.95), and then the same sweep runs in a fresh search-only process
started inside a cgroup v1 memory group (BENCH_HNSW_CGROUP, default
/sys/fs/cgroup/memory/qvbench-*, removed afterwards) whose limit is
BENCH_HNSW_CAP (default 0.4; "none" skips it) x the f32 process's VmRSS: the
goal's memory.  The limit counts the page cache the process faults in, so the
mapped float vectors must fit beside the graph and codes or be re-read from
disk (the base file must be on a disk, not tmpfs; checked).  The worker reports
major faults and kB read from storage a query over the timed passes.
"""
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import proc_cpu, qps_at, sys_busy  # noqa: E402
from benchlib import machine as benchlib_machine  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATASETS_DIR = os.path.join(ROOT, "..", "shared", "datasets")
OUT = os.path.join(HERE, "out")
DATA = os.path.join(OUT, "hnsw-data")
QUIVER = os.environ.get("BENCH_HNSW_QUIVER", os.path.join(ROOT, "build", "release", "hnsw_bench"))
K = 10
M, EFC = 16, 100
EFS = [16, 32, 64, 128, 256, 512]
COUNT_EFS = [16, 32, 64, 128, 256]  # distance counts per query (untimed passes)
BUILD_THREADS = 2
BUSY = 0.25  # other processes' cores above which a measurement is repeated
TRIES = 3
BUDGET = float(os.environ.get("BENCH_HNSW_BUDGET", "480"))  # seconds after which nothing is repeated
T_START = time.time()
QUANT_SETS = {  # label: (worker codes arguments, oversampling factors)
    "int8": ("int8 0.99", [1, 2, 3]),
    "int8-q1": ("int8 1", [1, 2, 3]),
    "binary": ("binary", [1, 2, 4, 8, 16]),
}
QCOUNT_EFS = [16, 32, 64, 128]
_cap = os.environ.get("BENCH_HNSW_CAP", "0.4")  # memory cap of the capped run, x the f32 VmRSS
CAP_RATIO = None if _cap in ("none", "0", "") else float(_cap)
CGROUP_PARENT = os.environ.get("BENCH_HNSW_CGROUP", "/sys/fs/cgroup/memory")  # cgroup v1 memory hierarchy
PREPARE_VERSION = 1  # bump when prepare() changes what it writes


# ---- worker side (peers) -----------------------------------------------------------------

def worker(argv):
    engine, bpath, qpath, gpath = argv[0], argv[1], argv[2], argv[3]
    dim, m, efc = int(argv[4]), int(argv[5]), int(argv[6])
    base = np.fromfile(bpath, dtype="<f4").reshape(-1, dim)
    qs = np.fromfile(qpath, dtype="<f4").reshape(-1, dim)
    gt = np.fromfile(gpath, dtype="<u4").reshape(-1, K)
    n, nq = len(base), len(qs)
    keys = np.arange(n, dtype=np.uint64)
    info = {"ready": True, "n": n, "nq": nq, "dim": dim, "m": m, "ef_construct": efc, "distance": "ip"}
    if engine == "hnswlib":
        import hnswlib
        info["version"] = getattr(hnswlib, "__version__", None) or _dist_version("hnswlib")
    elif engine == "faiss":
        import faiss
        info["version"] = faiss.__version__
    elif engine == "usearch":
        import usearch
        from usearch.index import Index
        info["version"] = usearch.__version__
    else:
        raise SystemExit("unknown engine " + engine)
    print(json.dumps(info), flush=True)
    idx = None

    def search(ef, threads):
        if engine == "hnswlib":
            idx.set_ef(ef)
            labels, _ = idx.knn_query(qs, k=K, num_threads=threads)
            return labels
        if engine == "faiss":
            faiss.omp_set_num_threads(threads)
            idx.hnsw.efSearch = ef
            _, labels = idx.search(qs, K)
            return labels
        idx.expansion_search = ef
        return idx.search(qs, K, threads=threads).keys

    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        try:
            if w[0] == "build":
                threads = int(w[1])
                idx = None
                c0, t0 = time.process_time(), time.perf_counter()
                if engine == "hnswlib":
                    idx = hnswlib.Index(space="ip", dim=dim)
                    idx.init_index(max_elements=n, M=m, ef_construction=efc, random_seed=1)
                    idx.add_items(base, keys, num_threads=threads)
                elif engine == "faiss":
                    faiss.omp_set_num_threads(threads)
                    idx = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
                    idx.hnsw.efConstruction = efc
                    idx.add(base)
                else:
                    idx = Index(ndim=dim, metric="ip", dtype="f32", connectivity=m, expansion_add=efc,
                                expansion_search=64)
                    idx.add(keys, base, threads=threads)
                t1, c1 = time.perf_counter(), time.process_time()
                res = {"build_s": round(t1 - t0, 4), "build_cpu_s": round(c1 - c0, 4), "threads": threads}
                res.update(graph_bytes(engine, idx, n, dim))
            elif w[0] == "search":
                ef, threads, passes = int(w[1]), int(w[2]), int(w[3])
                sub = qs[: max(1, nq // 10)]
                if engine == "hnswlib":  # warm-up
                    idx.set_ef(ef)
                    idx.knn_query(sub, k=K, num_threads=threads)
                elif engine == "faiss":
                    faiss.omp_set_num_threads(threads)
                    idx.hnsw.efSearch = ef
                    idx.search(sub, K)
                else:
                    idx.expansion_search = ef
                    idx.search(sub, K, threads=threads)
                best, labels = 1e30, None
                total, r = 0.0, 0
                while r < passes or (total < 0.3 and r < 20):  # as hnsw_bench.c: >= P passes and 0.3 s
                    t0 = time.perf_counter()
                    labels = search(ef, threads)
                    el = time.perf_counter() - t0
                    best, total, r = min(best, el), total + el, r + 1
                labels = np.asarray(labels).astype(np.int64)
                hits = sum(len(set(labels[i]).intersection(gt[i])) for i in range(nq))
                res = {"ef": ef, "threads": threads, "recall_at_10": round(hits / (nq * K), 5),
                       "qps": round(nq / best, 1), "us_per_query": round(best / nq * 1e6, 2)}
            elif w[0] == "count":
                ef = int(w[1])
                if engine == "faiss":
                    faiss.omp_set_num_threads(1)
                    idx.hnsw.efSearch = ef
                    faiss.cvar.hnsw_stats.reset()
                    idx.search(qs, K)
                    st = faiss.cvar.hnsw_stats
                    res = {"ef": ef, "distances_per_query": round(st.ndis / nq, 1)}
                elif engine == "usearch":
                    idx.expansion_search = ef
                    r = idx.search(qs, K, threads=1)
                    res = {"ef": ef, "distances_per_query": round(float(np.sum(r.computed_distances)) / nq, 1),
                           "visited_per_query": round(float(np.sum(r.visited_members)) / nq, 1)}
                else:
                    res = {"ef": ef, "distances_per_query": None,
                           "note": "hnswlib's Python binding does not expose its distance counter"}
            elif w[0] == "quit":
                break
            else:
                res = {"error": "bad command"}
        except Exception as e:  # reported, not fatal
            res = {"error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(res), flush=True)


def _dist_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return None


def graph_bytes(engine, idx, n, dim):
    """Bytes of the index beyond the float32 vectors, as far as the library tells."""
    try:
        if engine == "faiss":
            h = idx.hnsw
            b = h.neighbors.size() * 4 + h.offsets.size() * 8 + h.levels.size() * 4
            return {"graph_bytes": int(b), "graph_bytes_per_vector": round(b / n, 2),
                    "graph_bytes_how": "hnsw.neighbors*4 + offsets*8 + levels*4"}
        if engine == "usearch":
            mu = int(idx.memory_usage)
            b = mu - n * dim * 4
            return {"index_bytes": mu, "graph_bytes": b, "graph_bytes_per_vector": round(b / n, 2),
                    "graph_bytes_how": "Index.memory_usage minus n*dim*4 (vectors); includes key/slot tables"}
        if engine == "hnswlib":
            path = os.path.join(DATA, "hnswlib-%d.bin" % os.getpid())
            idx.save_index(path)
            sz = os.path.getsize(path)
            os.unlink(path)
            b = sz - n * (dim * 4 + 8)
            return {"index_bytes": sz, "graph_bytes": b, "graph_bytes_per_vector": round(b / n, 2),
                    "graph_bytes_how": "saved file size minus n*(dim*4 + 8-byte label); level-0 links "
                                       "are preallocated (4 + 2M*4 bytes per node)"}
    except Exception as e:
        return {"graph_bytes": None, "graph_bytes_how": "unavailable: %s" % e}
    return {}


# ---- driver side -------------------------------------------------------------------------

def proc_rss_kb(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Worker:
    def __init__(self, engine, files, dim, cmd=None, preexec=None):
        if cmd:
            pass
        elif engine == "quiver":
            cmd = [QUIVER, "--serve", files["base"], files["queries"], files["gt"], str(dim), str(M), str(EFC)]
        else:
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", engine, files["base"],
                   files["queries"], files["gt"], str(dim), str(M), str(EFC)]
        env = dict(os.environ)
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                                  preexec_fn=preexec)
        self.info = self.read()

    def read(self):
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("worker exited (rc %s)" % self.p.wait())
        return json.loads(line)

    def cmd(self, text):
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()
        return self.read()

    def measured(self, text, better, tries=None):
        """Runs a command while watching the machine; repeats it while others were busy."""
        best, attempts = None, []
        if tries is None:
            tries = TRIES if time.time() - T_START < BUDGET else 1  # no repeats once over the time budget
        for attempt in range(tries):
            if attempt:
                time.sleep(0.5)
            b0, c0, s0, t0 = sys_busy(), proc_cpu(self.p.pid), time.process_time(), time.time()
            r = self.cmd(text)
            el = time.time() - t0
            own = proc_cpu(self.p.pid) - c0 + time.process_time() - s0
            other = max(sys_busy() - b0 - own, 0.0) / max(el, 1e-9)
            r["other_load_cores"] = round(other, 2)
            attempts.append({k: r.get(k) for k in ("qps", "build_s", "recall_at_10", "other_load_cores")
                             if k in r})
            if "error" in r:
                return r
            if best is None or better(r, best):
                best = r
            if other < BUSY:
                break
        best["attempts"] = attempts
        return best

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
            self.p.wait(30)
        except Exception:
            self.p.kill()
            self.p.wait()


def exact_topk(base, qs, k=K):
    out = np.empty((len(qs), k), dtype=np.uint32)
    for i in range(0, len(qs), 100):
        s = qs[i:i + 100] @ base.T
        part = np.argpartition(-s, k, axis=1)[:, :k]
        ps = np.take_along_axis(s, part, axis=1)
        order = np.argsort(-ps, axis=1, kind="stable")
        out[i:i + 100] = np.take_along_axis(part, order, axis=1)
    return out


def prepare(name, n):
    """Writes BASE/QUERIES/GT files for a dataset; returns their paths and notes."""
    os.makedirs(DATA, exist_ok=True)
    pre = os.path.join(DATA, "%s-%d" % (name, n))
    files = {"base": pre + ".f32", "queries": pre + "-queries.f32", "gt": pre + "-gt10.u32"}
    meta_path = pre + ".json"
    srcs = [os.path.join(HERE, "gen.py"), os.path.join(DATASETS_DIR, "man-lsa-384", "base.f16")]
    newest = max(os.path.getmtime(f) for f in srcs if os.path.exists(f))
    if all(os.path.exists(f) for f in files.values()) and os.path.exists(meta_path) \
            and os.path.getmtime(meta_path) > newest:  # cached in bench/out/hnsw-data
        with open(meta_path) as f:
            meta = json.load(f)
        if meta.get("prepare_version", 1) == PREPARE_VERSION:
            return files, meta
    t0 = time.time()
    meta = {"name": name, "n": n, "dim": 384, "prepare_version": PREPARE_VERSION}
    if name == "man-lsa-384":
        d = os.path.join(DATASETS_DIR, "man-lsa-384")
        base = np.fromfile(os.path.join(d, "base.f16"), dtype="<f2").reshape(-1, 384).astype(np.float32)
        qs = np.fromfile(os.path.join(d, "queries.f16"), dtype="<f2").reshape(-1, 384).astype(np.float32)
        base /= np.linalg.norm(base, axis=1, keepdims=True)  # as bench/gen.py f16 does
        qs /= np.linalg.norm(qs, axis=1, keepdims=True)
        if n > len(base):
            raise SystemExit("man-lsa-384 has only %d rows" % len(base))
        base = np.ascontiguousarray(base[:n])
        gt = exact_topk(base, qs)
        if n == 100000:
            given = np.fromfile(os.path.join(d, "groundtruth.u32"), dtype="<u4").reshape(-1, 100)[:, :K]
            agree = np.mean([len(set(gt[i]).intersection(given[i])) / K for i in range(len(qs))])
            meta["groundtruth"] = "the dataset's groundtruth.u32 (top 10 of 100); numpy exact top-10 agrees " \
                                  "on %.4f of the ids (the rest are score ties)" % agree
            gt = np.ascontiguousarray(given.astype(np.uint32))
        else:
            meta["groundtruth"] = "numpy exact inner-product top-10 over the first %d rows" % n
        meta["source"] = "../shared/datasets/man-lsa-384 (real LSA text vectors), float16 widened to float32, " \
                         "re-normalised"
    elif name.startswith("synth-"):
        dim = int(name.split("-")[1])
        meta["dim"] = dim
        sys.path.insert(0, HERE)
        import gen
        base, qs = gen.synth(n, dim, 42, 1000)
        gt = exact_topk(base, qs)
        meta["groundtruth"] = "numpy exact inner-product top-10"
        meta["source"] = "bench/gen.py synth %d %d --seed 42 --queries 1000 (clustered anisotropic mixture, " \
                         "normalised)" % (n, dim)
    else:
        raise SystemExit("unknown dataset " + name)
    base.astype("<f4").tofile(files["base"])
    qs.astype("<f4").tofile(files["queries"])
    gt.astype("<u4").tofile(files["gt"])
    meta["queries"] = len(qs)
    meta["prepare_s"] = round(time.time() - t0, 1)
    with open(meta_path, "w") as f:
        json.dump(meta, f)
    return files, meta


def machine():
    info = benchlib_machine()
    try:
        info["cc"] = subprocess.run(["cc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except Exception:
        pass
    info["numpy"] = np.__version__
    return info


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    n = int(os.environ.get("BENCH_HNSW_N", "100000"))
    datasets = os.environ.get("BENCH_HNSW_DATASETS", "man-lsa-384,synth-384,synth-1536").split(",")
    engines = os.environ.get("BENCH_HNSW_ENGINES", "quiver,hnswlib,faiss,usearch").split(",")
    qthreads = [int(x) for x in os.environ.get("BENCH_HNSW_THREADS", "1,2").split(",")]
    passes = int(os.environ.get("BENCH_HNSW_PASSES", "2"))
    qenv = os.environ.get("BENCH_HNSW_QUANT", "int8,int8-q1,binary")
    quant_sets = [x for x in qenv.split(",") if x in QUANT_SETS] if qenv != "none" else []
    out_json = os.environ.get("BENCH_HNSW_OUT", os.path.join(OUT, "hnsw-report.json"))
    out_md = os.environ.get("BENCH_HNSW_MD", os.path.join(ROOT, "docs", "benchmarks-hnsw.md"))
    t_start = time.time()
    report = {"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "machine": machine(),
              "loadavg_start": loadavg(), "params": {"m": M, "ef_construct": EFC, "k": K, "efs": EFS,
                                                     "build_threads": BUILD_THREADS, "query_threads": qthreads,
                                                     "passes": passes, "n": n, "busy_threshold_cores": BUSY,
                                                     "quant_sets": {q: QUANT_SETS[q] for q in quant_sets}},
              "engines": {}, "datasets": []}
    b0, t0 = sys_busy(), time.time()
    time.sleep(1.0)
    report["other_load_cores_before"] = round((sys_busy() - b0) / (time.time() - t0), 2)
    for ds in datasets:
        files, meta = prepare(ds, n)
        log("== %s: %s" % (ds, meta))
        dres = {"dataset": ds, "meta": meta, "engines": {}}
        for eng in engines:
            log("-- %s on %s" % (eng, ds))
            try:
                w = Worker(eng, files, meta["dim"])
            except Exception as e:
                log("   %s unavailable: %s" % (eng, e))
                dres["engines"][eng] = {"error": str(e)}
                continue
            er = {"info": w.info}
            if w.info.get("version"):
                report["engines"][eng] = w.info["version"]
            elif eng == "quiver":
                report["engines"][eng] = "in-process, kernels %s" % w.info.get("kernels")
            rss0 = proc_rss_kb(w.p.pid)
            er["build"] = w.measured("build %d" % BUILD_THREADS, lambda a, b: a["build_s"] < b["build_s"])
            rss1 = proc_rss_kb(w.p.pid)
            er["rss_after_load_mb"] = round(rss0 / 1024, 1)
            er["rss_after_build_mb"] = round(rss1 / 1024, 1)
            er["index_rss_mb"] = round((rss1 - rss0) / 1024, 1)
            log("   build %s" % er["build"])
            er["curves"] = {}
            for th in qthreads:
                curve = []
                for ef in EFS:
                    r = w.measured("search %d %d %d" % (ef, th, passes), lambda a, b: a["qps"] > b["qps"])
                    log("   t=%d ef=%d recall %.4f qps %.0f other %.2f" % (
                        th, ef, r.get("recall_at_10", -1), r.get("qps", -1), r.get("other_load_cores", -1)))
                    curve.append(r)
                er["curves"][str(th)] = curve
            er["distances"] = [w.cmd("count %d" % ef) for ef in COUNT_EFS]
            er["peak_rss_mb"] = round(proc_rss_kb(w.p.pid, "VmHWM") / 1024, 1)
            er["rss_after_f32_mb"] = round(proc_rss_kb(w.p.pid) / 1024, 1)
            if eng == "quiver" and quant_sets:
                qres = quant_measure(w, ds, n, passes, quant_sets)
                w.close()
                quant_memory(files, meta, er, qres)
                er["quant"] = qres
            else:
                w.close()
            dres["engines"][eng] = er
        # ratios
        ratios = {}
        for th in [str(t) for t in qthreads]:
            for target in (0.95, 0.99):
                row = {}
                for eng, er in dres["engines"].items():
                    if "curves" in er:
                        q, how = qps_at(er["curves"][th], target)
                        row[eng] = {"qps": round(q, 1) if q else None, "how": how}
                ratios["t%s@%.2f" % (th, target)] = row
        dres["qps_at_recall"] = ratios
        dres["ratios"] = compute_ratios(dres)
        dres["quant_goals"] = quant_goals(dres)
        report["datasets"].append(dres)
    report["loadavg_end"] = loadavg()
    report["total_s"] = round(time.time() - t_start, 1)
    os.makedirs(os.path.dirname(out_json), exist_ok=True)
    with open(out_json, "w") as f:
        json.dump(report, f, indent=1)
    log("wrote %s (%.0f s)" % (out_json, report["total_s"]))
    if out_md != "-":
        import hnsw_report_md
        hnsw_report_md.write(report, out_md)
        log("wrote %s" % out_md)


# ---- quantization (Quiver) ----------------------------------------------------------------

def quant_measure(w, ds, n, passes, sets):
    """Curves, counts and saved files of each code set, in the f32 worker (graph already built)."""
    qdir = os.path.join(DATA, "quant-%s-%d" % (ds, n))
    os.makedirs(qdir, exist_ok=True)
    graph = os.path.join(qdir, "graph.hnsw")
    res = {"graph_file": graph}
    for label in sets:
        args, oss = QUANT_SETS[label]
        codes_file = os.path.join(qdir, "codes-%s.qc" % label)
        qr = {"codes": w.cmd("codes " + args), "curves": {}, "counts": []}
        log("   codes %s: %s" % (label, qr["codes"]))
        if "error" in qr["codes"]:
            res[label] = qr
            continue
        for os_ in oss:
            curve, seen = [], set()
            for ef in EFS:
                eu = max(ef, math.ceil(K * os_))
                if eu in seen:  # ef below the candidates: the same search as a smaller ef
                    continue
                seen.add(eu)
                r = w.measured("qsearch %d 1 %d %g" % (ef, passes, os_), lambda a, b: a["qps"] > b["qps"])
                log("   %s os=%g ef=%d recall %.4f qps %.0f other %.2f" % (
                    label, os_, ef, r.get("recall_at_10", -1), r.get("qps", -1), r.get("other_load_cores", -1)))
                curve.append(r)
            qr["curves"][str(os_)] = curve
        for os_ in oss:
            for ef in QCOUNT_EFS:
                if ef >= math.ceil(K * os_) or ef == QCOUNT_EFS[-1]:
                    qr["counts"].append(w.cmd("qcount %d %g" % (ef, os_)))
        qr["save"] = w.cmd("save %s %s" % (graph, codes_file))
        qr["codes_file"] = codes_file
        res[label] = qr
    return res


def best_point(points, target=0.95):
    """The fastest point with recall >= target, else the most accurate one."""
    pts = [p for p in points if p.get("qps")]
    ok = [p for p in pts if p["recall_at_10"] >= target]
    if ok:
        return max(ok, key=lambda p: p["qps"])
    return max(pts, key=lambda p: p["recall_at_10"]) if pts else None


def quant_memory(files, meta, er, qres):
    """Resident memory of search-only processes: f32 (vectors in RAM) and each code set (vectors mapped),
    then each code set again inside a memory cgroup capped at CAP x the f32 process's VmRSS."""
    graph = qres.get("graph_file")
    if not graph or not os.path.exists(graph):
        return
    # The mapped processes read a private copy of the float vectors: page cache is shared between
    # processes and cgroups (a page another process brought in is mapped without being charged to the
    # capped group, and pages another process maps survive POSIX_FADV_DONTNEED), so the shared data
    # file, which other runs may be reading, would leak resident pages into the figures.
    priv = os.path.join(os.path.dirname(files["base"]), "mapped-%d.f32" % os.getpid())
    t0 = time.time()
    try:
        copy_synced(files["base"], priv)
        quant_memory_runs(files, meta, er, qres, graph, priv)
        qres["memory_and_capped_s"] = round(time.time() - t0, 1)
    finally:
        try:
            os.unlink(priv)
        except OSError:
            pass


def copy_synced(src, dst):
    """Copies src to dst and writes it back to disk (dirty pages would survive the workers'
    POSIX_FADV_DONTNEED)."""
    with open(src, "rb") as f, open(dst, "wb") as g:
        while True:
            b = f.read(1 << 22)
            if not b:
                break
            g.write(b)
        g.flush()
        os.fsync(g.fileno())


def quant_memory_runs(files, meta, er, qres, graph, priv):
    dim = meta["dim"]
    mem = {}
    f32pt = best_point(er["curves"].get("1", []))
    runs = [("f32", "ram", "-", "search %d 1 2" % (f32pt["ef"] if f32pt else 128), None)]
    for label, qr in qres.items():
        if not isinstance(qr, dict) or "curves" not in qr:
            continue
        pt = best_point([p for c in qr["curves"].values() for p in c])
        if pt:
            runs.append((label, "mmap", qr["codes_file"],
                         "qsearch %d 1 2 %g" % (pt["ef"], pt["oversampling"]), cap_oversampling(qr)))
    for label, mode, codes, search, cap_os in runs:
        cmd = [QUIVER, "--search-only", mode, graph, codes, files["base"] if mode == "ram" else priv,
               files["queries"], files["gt"], str(dim)]
        try:
            w = Worker("quiver", files, dim, cmd=cmd)
            r = {"ready": w.info, "search": w.measured(search, lambda a, b: a["qps"] > b["qps"]),
                 "mem": w.cmd("mem")}
            if cap_os and CAP_RATIO:  # the same sweeps as the capped run, without the cap
                r["sweep"] = {"%g" % o: cap_sweep(w, o, passes=2) for o in cap_os}
            w.close()
        except Exception as e:
            r = {"error": str(e)}
        log("   memory %s (%s): %s" % (label, mode, r.get("mem") or r))
        mem[label] = r
    qres["memory"] = mem
    f32kb = ((mem.get("f32") or {}).get("mem") or {}).get("vm_rss_kb")
    if not CAP_RATIO:
        qres["capped"] = {"skipped": "BENCH_HNSW_CAP=none"}
        return
    why = cap_unavailable(priv)
    if not why and not f32kb:
        why = "no f32 resident figure to cap against"
    if why:
        log("   capped run skipped: " + why)
        qres["capped"] = {"skipped": why}
        return
    cg_remove_stale()
    t0 = time.time()
    limit = int(f32kb * 1024 * CAP_RATIO) // 4096 * 4096
    capped = {"cap_ratio": CAP_RATIO, "limit_bytes": limit, "f32_vm_rss_kb": f32kb,
              "vectors_fs": fs_type(priv), "cgroup_parent": CGROUP_PARENT}
    for label, mode, codes, search, cap_os in runs:
        if not cap_os:
            continue
        cmd = [QUIVER, "--search-only", mode, graph, codes, priv, files["queries"], files["gt"], str(dim)]
        capped[label] = capped_run(files, dim, cmd, limit, cap_os)
    capped["capped_s"] = round(time.time() - t0, 1)
    qres["capped"] = capped


def cap_oversampling(qr):
    """The oversamplings the capped run sweeps: the one whose curve is fastest at recall 0.95 and the
    smallest that reaches 0.95 (fewest float vectors read a query); else the one reaching the best recall."""
    best, best_os, reach = None, None, []
    for os_, c in qr["curves"].items():
        v, _ = qps_at(c, 0.95)
        if v:
            reach.append(float(os_))
            if best is None or v > best:
                best, best_os = v, float(os_)
    if best_os is None:
        pt = best_point([p for c in qr["curves"].values() for p in c])
        return [float(pt["oversampling"])] if pt else []
    return sorted({best_os, min(reach)})


def cap_sweep(w, os_, passes=1, tries=None):
    """qsearch over EFS at one oversampling (ef below the candidates skipped, as in quant_measure)."""
    out, seen = [], set()
    for ef in EFS:
        eu = max(ef, math.ceil(K * os_))
        if eu in seen:
            continue
        seen.add(eu)
        out.append(w.measured("qsearch %d 1 %d %g" % (ef, passes, os_), lambda a, b: a["qps"] > b["qps"],
                              tries))
    return out


def fs_type(path):
    """File system type of the mount holding path (/proc/mounts, longest mount point prefix)."""
    path, best, typ = os.path.realpath(path), "", None
    try:
        with open("/proc/mounts") as f:
            for line in f:
                w = line.split()
                mp = w[1].replace("\\040", " ")
                if (path == mp or path.startswith(mp.rstrip("/") + "/")) and len(mp) >= len(best):
                    best, typ = mp, w[2]
    except OSError:
        pass
    return typ


def cap_unavailable(base):
    """Why the capped run cannot be done here (None: it can)."""
    typ = fs_type(base)
    if typ in ("tmpfs", "ramfs", "devtmpfs", "overlay-tmpfs"):
        return "the float vectors (%s) are on %s: their pages cannot be evicted, a cap would only " \
               "OOM-kill; put bench/out on a disk" % (base, typ)
    if not os.path.isdir(CGROUP_PARENT):
        return "no cgroup v1 memory hierarchy at %s" % CGROUP_PARENT
    if not os.access(CGROUP_PARENT, os.W_OK):
        return "%s is not writable (need root)" % CGROUP_PARENT
    return None


def cg_remove_stale():
    """Removes empty groups left by a driver that was killed (qvbench-PID-*, PID no longer running)."""
    try:
        names = os.listdir(CGROUP_PARENT)
    except OSError:
        return
    for nm in names:
        w = nm.split("-")
        if len(w) == 3 and w[0] == "qvbench" and w[1].isdigit() and not os.path.exists("/proc/" + w[1]):
            try:
                os.rmdir(os.path.join(CGROUP_PARENT, nm))  # fails, harmlessly, if a process is still in it
            except OSError:
                pass


def cg_read(cg, name):
    try:
        with open(os.path.join(cg, name)) as f:
            return f.read()
    except OSError:
        return None


def cg_stat(cg):
    txt = cg_read(cg, "memory.stat") or ""
    st = dict((w[0], int(w[1])) for w in (l.split() for l in txt.splitlines()) if len(w) == 2)
    return {k: st.get(k) for k in ("rss", "cache", "mapped_file", "pgmajfault", "pgpgin", "inactive_file",
                                   "active_file")}


def proc_faults(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    v = s[s.rindex(")") + 2:].split()
    return int(v[7]), int(v[9])  # minflt, majflt


def proc_read_bytes(pid):
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("read_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def capped_run(files, dim, cmd, limit, oss):
    """One search-only process started inside a fresh memory cgroup limited to `limit` bytes (page
    cache it reads is charged to it too): the ef sweep at each oversampling of oss (one timed pass per
    point: under the cap a pass is seconds of IO), then `mem` and the group's counters.  The group is
    removed afterwards."""
    cg = os.path.join(CGROUP_PARENT, "qvbench-%d-%d" % (os.getpid(), int(time.time() * 1000) % 10**9))
    r = {"cgroup": cg, "limit_bytes": limit, "oversamplings": oss}
    try:
        os.mkdir(cg)
    except OSError as e:
        return {"error": "mkdir %s: %s" % (cg, e)}
    w = None
    try:
        with open(os.path.join(cg, "memory.limit_in_bytes"), "w") as f:
            f.write(str(limit))
        r["limit_read_back"] = int((cg_read(cg, "memory.limit_in_bytes") or "0").strip() or 0)
        procs = os.path.join(cg, "cgroup.procs")

        def join():  # in the child, before exec: everything the worker touches is charged to the group
            with open(procs, "w") as f:
                f.write(str(os.getpid()))

        try:
            w = Worker("quiver", files, dim, cmd=cmd, preexec=join)
            r["ready"] = w.info
            f0, io0 = proc_faults(w.p.pid), proc_read_bytes(w.p.pid)
            # one attempt a point: the capped figure is bound by disk reads, not by other processes' CPU
            r["sweep"] = {"%g" % o: cap_sweep(w, o, tries=1) for o in oss}
            r["mem"] = w.cmd("mem")
            f1, io1 = proc_faults(w.p.pid), proc_read_bytes(w.p.pid)
            r["minflt"], r["majflt"] = f1[0] - f0[0], f1[1] - f0[1]
            r["read_bytes"] = io1 - io0 if io0 is not None and io1 is not None else None
        except Exception as e:
            rc = w.p.poll() if w else None
            r["error"] = "%s%s" % (e, " (killed: out of memory under the cap?)" if rc == -9 else "")
        r["max_usage_bytes"] = int((cg_read(cg, "memory.max_usage_in_bytes") or "0").strip() or 0)
        r["failcnt"] = int((cg_read(cg, "memory.failcnt") or "0").strip() or 0)
        r["stat"] = cg_stat(cg)
        oom = cg_read(cg, "memory.oom_control") or ""
        r["oom_kills"] = next((int(l.split()[1]) for l in oom.splitlines() if l.startswith("oom_kill ")), None)
    finally:
        if w:
            w.close()
        for _ in range(50):  # the group empties once the worker is reaped
            try:
                os.rmdir(cg)
                break
            except OSError:
                time.sleep(0.1)
        else:
            r["cleanup"] = "could not remove %s" % cg
    log("   capped %s limit %.1f MB: %s; max usage %.1f MB, %s major faults" % (
        cmd[4].rsplit("/", 1)[-1], limit / 2**20, "; ".join(
            "os=%s: " % o + ", ".join("ef %s %.4f/%s" % (p.get("ef"), p.get("recall_at_10", -1), p.get("qps"))
                                       for p in sw) for o, sw in (r.get("sweep") or {}).items()),
        r.get("max_usage_bytes", 0) / 2**20, r.get("majflt")))
    return r


def quant_goals(dres):
    """The quantization goals of issue 4 as ratios to this run's f32 figures (1 thread)."""
    q = dres["engines"].get("quiver") or {}
    qres = q.get("quant") or {}
    out = {}
    f32q, f32how = qps_at(q.get("curves", {}).get("1", []), 0.95)
    mem = qres.get("memory") or {}
    f32m = (mem.get("f32") or {}).get("mem") or {}
    for label, qr in qres.items():
        if not isinstance(qr, dict) or "curves" not in qr:
            continue
        best, best_os, how = None, None, None
        for os_, c in qr["curves"].items():
            v, h = qps_at(c, 0.95)
            if v and (best is None or v > best):
                best, best_os, how = v, os_, h
        pts = [p for c in qr["curves"].values() for p in c if p.get("qps")]
        top = max(pts, key=lambda p: (p["recall_at_10"], p["qps"])) if pts else {}
        m = (mem.get(label) or {}).get("mem") or {}
        out[label] = {
            "qps_at_095": round(best, 1) if best else None, "oversampling_at_095": best_os, "how": how,
            "f32_qps_at_095": round(f32q, 1) if f32q else None, "f32_how": f32how,
            "qps_ratio": round(best / f32q, 3) if best and f32q else None,
            "best_recall": top.get("recall_at_10"),
            "best_recall_at": {k: top.get(k) for k in ("ef", "oversampling", "qps")},
            "rss_kb": m.get("vm_rss_kb"), "f32_rss_kb": f32m.get("vm_rss_kb"),
            "rss_ratio": round(m["vm_rss_kb"] / f32m["vm_rss_kb"], 3)
            if m.get("vm_rss_kb") and f32m.get("vm_rss_kb") else None,
            "hwm_ratio": round(m["vm_hwm_kb"] / f32m["vm_hwm_kb"], 3)
            if m.get("vm_hwm_kb") and f32m.get("vm_hwm_kb") else None,
            # VmRSS = RssAnon (what the process needs: graph, codes, heap) + RssFile (file pages mapped:
            # the binary and, for the code sets, the float vectors read to rescore, reclaimable)
            "rss_anon_kb": m.get("rss_anon_kb"), "rss_file_kb": m.get("rss_file_kb"),
            "f32_rss_anon_kb": f32m.get("rss_anon_kb"), "f32_rss_file_kb": f32m.get("rss_file_kb"),
            "anon_ratio": round(m["rss_anon_kb"] / f32m["vm_rss_kb"], 3)
            if m.get("rss_anon_kb") is not None and f32m.get("vm_rss_kb") else None,
            "file_ratio": round(m["rss_file_kb"] / f32m["vm_rss_kb"], 3)
            if m.get("rss_file_kb") is not None and f32m.get("vm_rss_kb") else None}
        out[label].update(capped_goal(qres, label, f32q))
    return out


def capped_goal(qres, label, f32q):
    """QPS at recall 0.95 of the capped run and of the same sweep uncapped, against the f32 QPS at 0.95."""
    cap = qres.get("capped") or {}
    if "skipped" in cap:
        return {"capped_skipped": cap["skipped"]}
    c = cap.get(label)
    if not c:
        return {}
    g = {"cap_ratio": cap.get("cap_ratio"), "cap_limit_bytes": cap.get("limit_bytes"),
         "capped_error": c.get("error"), "capped_max_usage_bytes": c.get("max_usage_bytes")}
    for key, sweeps in (("capped", c.get("sweep")), ("uncapped", ((qres.get("memory") or {}).get(label) or {})
                                                     .get("sweep"))):
        best = None  # the oversampling whose sweep is fastest at recall 0.95
        for os_, sweep in (sweeps or {}).items():
            v, how = qps_at(sweep, 0.95)
            if v and (best is None or v > best[0]):
                best = (v, how, os_, sweep)
        if not best:
            g[key + "_qps_at_095"] = None
            pts = [p for sw in (sweeps or {}).values() for p in sw if p.get("qps")]
            top = max(pts, key=lambda p: (p["recall_at_10"], p["qps"])) if pts else None
            g[key + "_how"] = "best %.4f at ef %s, oversampling %g: %s QPS" % (
                top["recall_at_10"], top["ef"], top["oversampling"], top["qps"]) if top else "not run"
            continue
        v, how, os_, sweep = best
        g[key + "_qps_at_095"], g[key + "_how"], g[key + "_oversampling"] = round(v, 1), how, os_
        g[key + "_qps_ratio"] = round(v / f32q, 3) if f32q else None
        p = min((p for p in sweep if p.get("recall_at_10", 0) >= 0.95), key=lambda p: p["ef"])
        g[key + "_at_095_point"] = {k: p.get(k) for k in ("ef", "oversampling", "recall_at_10", "qps",
                                                        "major_faults_per_query", "read_kb_per_query",
                                                        "mean_us_per_query")}
    return g


def compute_ratios(dres):
    r = {}
    eng = dres["engines"]
    q = dres["qps_at_recall"]
    for key, row in q.items():
        qv = (row.get("quiver") or {}).get("qps")
        hl = (row.get("hnswlib") or {}).get("qps")
        peers = [(row.get(p) or {}).get("qps") for p in ("faiss", "usearch")]
        peers = [p for p in peers if p]
        r[key] = {"quiver_qps": qv,
                  "vs_hnswlib": round(qv / hl, 3) if qv and hl else None,
                  "vs_best_faiss_usearch": round(qv / max(peers), 3) if qv and peers else None}
    qb = (eng.get("quiver") or {}).get("build", {}).get("build_s")
    hb = (eng.get("hnswlib") or {}).get("build", {}).get("build_s")
    r["build_vs_hnswlib"] = round(qb / hb, 3) if qb and hb else None
    return r


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
    else:
        sys.path.insert(0, HERE)
        main()
