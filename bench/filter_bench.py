"""filter_bench.py - the filtered-search benchmark (issue 5), driven by bench/filter_run.sh.

  python bench/filter_bench.py                       the run (filter_run.sh builds what it needs first)
  python bench/filter_bench.py --edge-worker DIR DIM  the qdrant-edge peer's worker (started by the driver)

A report, never a test: nothing asserts a time.

Data (bench/out/filter-data/<dataset>-<n>/, cached): man-lsa-384 (real LSA vectors, widened from float16
and re-normalised, with its natural payload: source, section, package, words) and bench/gen.py's
synthetic mixture (synth-1536 by default, seed 42 as bench/hnsw_peers.py uses), each with generated
payload fields independent of the vectors (their own random generator):
  kw   keyword: "p01" on exactly 1% of the points, "p10" on 10%, "p50" on 50%, "rest" on the others
  num  integer: a random permutation of 0..n-1, so a range [lo, lo + s*n) matches exactly s*n points
       (lo drawn per query)
  geo  {"lon", "lat"} uniform on the sphere; geo_radius around a per-query centre uniform on the sphere
       with radius R = 6371008.8 m x acos(0.8), a cap holding 10% of the sphere
  and a keyword correlated with the vectors: man-lsa-384's own `package` (the query's own package, from
  query-payloads.jsonl), for the synthetic set `cluster` = the mixture component the point was drawn
  from (the query's own component).
Filters: kw-1, kw-10, kw-50 (match value), int-1, int-10, int-50 (range gte/lt), geo-10 (geo_radius),
cluster (match the query's own package / component).  Ground truth: exact filtered top-10 by numpy
(inner product of the unit float32 vectors = Cosine), ties within 1e-5 of the 10th score counted in
the tie-aware recall; every returned id is also checked against the filter (violations reported).

Engines:
  quiver       the release server (BENCH_FILTER_QUIVER), a fresh one per dataset: collection (Cosine,
               default HNSW m 16 / ef_construct 100, indexing_threshold 0 while loading), payload
               indexes created through the REST API before the upload (keyword, integer, geo), upload by
               bench/loadgen.c (256 points a request, 4 connections, wait=true, payloads from the data
               dir), indexing_threshold raised to 10000 and the optimizer waited for (green), then every
               query through
               bench/loadgen.c: keep-alive HTTP/1.1, bodies built before the clock starts, one pass over
               the queries at least and BENCH_FILTER_SECONDS of them, BENCH_FILTER_CONNS connections.
  qdrant-edge  qdrant-edge-py (Qdrant's engine in-process: EdgeShard, same HNSW parameters, the same
               payload indexes created before the upsert, optimize()), driven in a worker process over a
               line protocol; the worker reads the same request bodies and times shard.query() calls in
               a loop (1 thread, requests built before the clock starts).
Per dataset, engine and filter: the hnsw_ef curve (BENCH_FILTER_EFS), the same filter with
params.exact=true (the pre-filtered exact scan, the "never slower than" line), and the unfiltered curve
of the same queries.  Recall@10 and QPS per point, CPU of the engine per query, the client's CPU per
request, other processes' CPU during the point ("other load"; a point with more than 0.25 cores of it is
repeated, best QPS kept, while inside BENCH_FILTER_BUDGET seconds).

Environment (defaults in brackets):
  BENCH_FILTER_QUICK=1          development run: man-lsa-384 only, 100 queries, ef 16,64,256, 0.3 s a
                                point (labelled quick in the report); each knob below still overrides
  BENCH_FILTER_DATASETS         [man-lsa-384,synth-1536] (also synth-<dim>)
  BENCH_FILTER_N                [100000] points per dataset
  BENCH_FILTER_QUERIES          [300] queries per point (of the 1000 each dataset has)
  BENCH_FILTER_EFS              [16,32,64,128,256,512]
  BENCH_FILTER_FILTERS          [kw-1,kw-10,kw-50,int-1,int-10,int-50,geo-10,cluster]
  BENCH_FILTER_ENGINES          [quiver,qdrant-edge] (filter_run.sh drops qdrant-edge if it will not import)
  BENCH_FILTER_CONNS            [1] client connections for Quiver (e.g. 1,2: a curve per value)
  BENCH_FILTER_SECONDS          [1.0] minimum seconds a point
  BENCH_FILTER_EXTRA            [empty] also measure a filter no point passes (kw = "no-such-value", no
                                hnsw_ef): the per-request floor of each engine (parsing, planning, the
                                client); "" skips it
  BENCH_FILTER_BUDGET           [1200] seconds after which busy points are no longer repeated
  BENCH_FILTER_EDGE_PAYLOAD_HNSW [1] 0 creates Edge's keyword/integer/geo indexes with enable_hnsw false
                                (no payload-aware graph links: faster build, slower filtered search)
  BENCH_FILTER_OUT              [docs/benchmarks-filter.json]; BENCH_FILTER_MD [docs/benchmarks-filter.md,
                                "-" for none; the plot goes beside it as .png]
  BENCH_FILTER_QUIVER, BENCH_FILTER_LOADGEN  the server and load generator binaries (filter_run.sh)
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import Server, proc_cpu, qps_at, sys_busy  # noqa: E402
from benchlib import machine as benchlib_machine  # noqa: E402

ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
DATA = os.path.join(OUT, "filter-data")
WORK = os.path.join(OUT, "filter-work")
DATASETS_DIR = os.path.normpath(os.path.join(ROOT, "..", "shared", "datasets"))
K = 10
TARGET = 0.97
EARTH_RADIUS = 6371008.8  # metres, the radius src/index/filter.c (and Qdrant) use in the haversine
GEO_FRACTION = 0.1
GEO_RADIUS = EARTH_RADIUS * math.acos(1 - 2 * GEO_FRACTION)  # a spherical cap of 10% of the sphere
PREPARE_VERSION = 1
BUSY = 0.25
TRIES = 3
TIE_EPS = 1e-5
T_START = time.time()

# name: (kind, target selectivity or None, payload field, description)
FILTERS = {
    "kw-1": ("keyword", 0.01, "kw", 'match {"kw": "p01"}'),
    "kw-10": ("keyword", 0.10, "kw", 'match {"kw": "p10"}'),
    "kw-50": ("keyword", 0.50, "kw", 'match {"kw": "p50"}'),
    "int-1": ("range", 0.01, "num", "range num in [lo, lo + 1% n)"),
    "int-10": ("range", 0.10, "num", "range num in [lo, lo + 10% n)"),
    "int-50": ("range", 0.50, "num", "range num in [lo, lo + 50% n)"),
    "geo-10": ("geo_radius", GEO_FRACTION, "geo", "geo_radius %.0f km around a random centre" % (GEO_RADIUS / 1e3)),
    "cluster": ("correlated", None, None, "keyword = the query's own cluster"),
}
KW_VALUES = ["p01", "p10", "p50", "rest"]
KW_CODE = {"kw-1": 0, "kw-10": 1, "kw-50": 2}
INT_FRACTION = {"int-1": 0.01, "int-10": 0.10, "int-50": 0.50}


def env_list(name, default):
    v = os.environ.get(name)
    return [x for x in (v if v is not None else default).split(",") if x]


QUICK = os.environ.get("BENCH_FILTER_QUICK", "0") not in ("", "0")
DATASET_NAMES = env_list("BENCH_FILTER_DATASETS", "man-lsa-384" if QUICK else "man-lsa-384,synth-1536")
N = int(os.environ.get("BENCH_FILTER_N", "100000"))
NQ = int(os.environ.get("BENCH_FILTER_QUERIES", "100" if QUICK else "300"))
EFS = [int(x) for x in env_list("BENCH_FILTER_EFS", "16,64,256" if QUICK else "16,32,64,128,256,512")]
FILTER_NAMES = env_list("BENCH_FILTER_FILTERS", ",".join(FILTERS))
ENGINES = env_list("BENCH_FILTER_ENGINES", "quiver,qdrant-edge")
CONNS = [int(x) for x in env_list("BENCH_FILTER_CONNS", "1")]
EXTRA_POINTS = env_list("BENCH_FILTER_EXTRA", "empty")
SECONDS = float(os.environ.get("BENCH_FILTER_SECONDS", "0.3" if QUICK else "1.0"))
BUDGET = float(os.environ.get("BENCH_FILTER_BUDGET", "1200"))
EDGE_PAYLOAD_HNSW = os.environ.get("BENCH_FILTER_EDGE_PAYLOAD_HNSW", "1") not in ("", "0")
QUIVER = os.environ.get("BENCH_FILTER_QUIVER", os.path.join(ROOT, "build", "release", "quiver"))
LOADGEN = os.environ.get("BENCH_FILTER_LOADGEN", os.path.join(OUT, "loadgen"))
OUT_JSON = os.environ.get("BENCH_FILTER_OUT", os.path.join(ROOT, "docs", "benchmarks-filter.json"))
OUT_MD = os.environ.get("BENCH_FILTER_MD", os.path.join(ROOT, "docs", "benchmarks-filter.md"))


def log(*a):
    print("[filter %5.0fs]" % (time.time() - T_START), *a, file=sys.stderr, flush=True)


# ---- data ----------------------------------------------------------------------------------------

class Dataset:
    """Vectors, payload fields, per-query filters and their exact ground truth of one dataset."""

    def __init__(self, name, n):
        self.name, self.n = name, n
        self.dir = os.path.join(DATA, "%s-%d" % (name, n))
        self.files = {k: os.path.join(self.dir, f) for k, f in (
            ("base", "base.f32"), ("queries", "queries.f32"), ("payloads", "payloads.jsonl"),
            ("fields", "fields.npz"), ("meta", "meta.json"))}
        if not self._cached():
            self._prepare()
        with open(self.files["meta"]) as f:
            self.meta = json.load(f)
        self.dim = self.meta["dim"]
        self.base = np.fromfile(self.files["base"], dtype="<f4").reshape(-1, self.dim)
        self.queries = np.fromfile(self.files["queries"], dtype="<f4").reshape(-1, self.dim)
        fz = np.load(self.files["fields"])
        self.kw, self.num, self.lon, self.lat = fz["kw"], fz["num"], fz["lon"], fz["lat"]
        self.cl, self.qcl = fz["cluster"], fz["query_cluster"]
        self.int_lo = {k: fz["int_lo_" + k] for k in INT_FRACTION}
        self.geo_c = (fz["geo_clon"], fz["geo_clat"])
        self.cluster_names = self.meta["cluster_names"]
        self.cluster_field = self.meta["cluster_field"]
        self.nq_total = len(self.queries)
        self._vtext = {}
        self.gt = {}

    def _cached(self):
        if not all(os.path.exists(f) for f in self.files.values()):
            return False
        try:
            with open(self.files["meta"]) as f:
                m = json.load(f)
        except (OSError, ValueError):
            return False
        return m.get("prepare_version") == PREPARE_VERSION and \
            os.path.getmtime(self.files["meta"]) > os.path.getmtime(os.path.join(HERE, "gen.py"))

    def _prepare(self):
        t0 = time.time()
        os.makedirs(self.dir, exist_ok=True)
        name, n = self.name, self.n
        natural = None
        if name == "man-lsa-384":
            d = os.path.join(DATASETS_DIR, "man-lsa-384")
            dim = 384
            base = np.fromfile(os.path.join(d, "base.f16"), dtype="<f2").reshape(-1, dim).astype(np.float32)
            qs = np.fromfile(os.path.join(d, "queries.f16"), dtype="<f2").reshape(-1, dim).astype(np.float32)
            if n > len(base):
                raise SystemExit("man-lsa-384 has only %d rows" % len(base))
            base = base[:n]
            base /= np.linalg.norm(base, axis=1, keepdims=True)  # as bench/gen.py f16 does
            qs /= np.linalg.norm(qs, axis=1, keepdims=True)
            with open(os.path.join(d, "payloads.jsonl")) as f:
                natural = [json.loads(next(f)) for _ in range(n)]
            with open(os.path.join(d, "query-payloads.jsonl")) as f:
                qnat = [json.loads(line) for line in f if line.strip()]
            names = sorted({p["package"] for p in natural} | {p["package"] for p in qnat})
            idx = {v: i for i, v in enumerate(names)}
            cl = np.array([idx[p["package"]] for p in natural], dtype=np.int64)
            qcl = np.array([idx[p["package"]] for p in qnat], dtype=np.int64)
            cluster_field = "package"
            source = ("../shared/datasets/man-lsa-384 (real LSA text vectors, float16 widened to float32 and "
                      "re-normalised) with its natural payload (source, section, package, words)")
        elif name.startswith("synth-"):
            dim = int(name.split("-", 1)[1])
            import gen
            base, qs, cl, qcl = gen.synth(n, dim, 42, 1000, labels=True)
            names = ["c%d" % i for i in range(int(max(cl.max(), qcl.max())) + 1)]
            cluster_field = "cluster"
            source = ("bench/gen.py synth %d %d --seed 42 --queries 1000 (clustered anisotropic mixture, "
                      "normalised); cluster = the mixture component a point was drawn from" % (n, dim))
        else:
            raise SystemExit("unknown dataset " + name)
        nqt = len(qs)
        rng = np.random.default_rng(20261207)
        perm = rng.permutation(n)
        kw = np.full(n, 3, dtype=np.int8)
        a = 0
        for code, frac in enumerate((0.01, 0.10, 0.50)):
            m = int(round(n * frac))
            kw[perm[a:a + m]] = code
            a += m
        num = rng.permutation(n).astype(np.int64)
        lon = rng.uniform(-180.0, 180.0, n)
        lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
        rq = np.random.default_rng(7)
        int_lo = {}
        for k, frac in INT_FRACTION.items():
            w = int(round(n * frac))
            int_lo[k] = rq.integers(0, n - w + 1, nqt).astype(np.int64)
        clon = rq.uniform(-180.0, 180.0, nqt)
        clat = np.degrees(np.arcsin(rq.uniform(-1.0, 1.0, nqt)))
        base.astype("<f4").tofile(self.files["base"])
        qs.astype("<f4").tofile(self.files["queries"])
        with open(self.files["payloads"] + ".tmp", "w") as f:
            for i in range(n):
                p = dict(natural[i]) if natural else {}
                p["kw"] = KW_VALUES[kw[i]]
                p["num"] = int(num[i])
                p["geo"] = {"lon": float(lon[i]), "lat": float(lat[i])}
                if cluster_field == "cluster":
                    p["cluster"] = names[cl[i]]
                f.write(json.dumps(p, separators=(",", ":")) + "\n")
        os.replace(self.files["payloads"] + ".tmp", self.files["payloads"])
        np.savez(self.files["fields"], kw=kw, num=num, lon=lon, lat=lat, cluster=cl, query_cluster=qcl,
                 geo_clon=clon, geo_clat=clat, **{"int_lo_" + k: v for k, v in int_lo.items()})
        for f in os.listdir(self.dir):  # ground truth of an older preparation
            if f.startswith("gt-"):
                os.unlink(os.path.join(self.dir, f))
        meta = {"name": name, "n": n, "dim": dim, "queries": nqt, "source": source,
                "cluster_field": cluster_field, "cluster_names": names, "prepare_version": PREPARE_VERSION,
                "prepare_s": round(time.time() - t0, 1)}
        with open(self.files["meta"], "w") as f:
            json.dump(meta, f)
        log("prepared %s in %.1f s" % (name, time.time() - t0))

    # -- filters --

    def filter_json(self, fname, qi):
        """The Qdrant REST filter of filter fname for query qi (None: unfiltered)."""
        if fname == "none":
            return None
        if fname in KW_CODE:
            c = {"key": "kw", "match": {"value": KW_VALUES[KW_CODE[fname]]}}
        elif fname in INT_FRACTION:
            lo = int(self.int_lo[fname][qi])
            c = {"key": "num", "range": {"gte": lo, "lt": lo + int(round(self.n * INT_FRACTION[fname]))}}
        elif fname == "geo-10":
            c = {"key": "geo", "geo_radius": {"center": {"lon": float(self.geo_c[0][qi]),
                                                         "lat": float(self.geo_c[1][qi])},
                                              "radius": GEO_RADIUS}}
        elif fname == "cluster":
            c = {"key": self.cluster_field, "match": {"value": self.cluster_names[self.qcl[qi]]}}
        elif fname == "empty":
            c = {"key": "kw", "match": {"value": "no-such-value"}}
        else:
            raise SystemExit("unknown filter " + fname)
        return {"must": [c]}

    def match(self, fname, qi, rows=slice(None)):
        """Whether the points `rows` (indices or a slice) pass filter fname for query qi."""
        if fname == "none":
            return np.ones(len(self.kw[rows]), dtype=bool)
        if fname in KW_CODE:
            return self.kw[rows] == KW_CODE[fname]
        if fname in INT_FRACTION:
            lo = self.int_lo[fname][qi]
            v = self.num[rows]
            return (v >= lo) & (v < lo + int(round(self.n * INT_FRACTION[fname])))
        if fname == "geo-10":
            return haversine(self.lon[rows], self.lat[rows], self.geo_c[0][qi], self.geo_c[1][qi]) < GEO_RADIUS
        if fname == "cluster":
            return self.cl[rows] == self.qcl[qi]
        if fname == "empty":
            return np.zeros(len(self.kw[rows]), dtype=bool)
        raise SystemExit("unknown filter " + fname)

    def ground_truth(self, fname):
        """Exact filtered top-10 of every query: ids (-1 past the matches), scores, matches per query."""
        if fname not in self.gt:
            self.ground_truths([fname])
        return self.gt[fname]

    def ground_truths(self, fnames):
        """Loads (or computes, one score matrix a chunk of queries for all of them, and saves) the ground
        truth of every filter in fnames."""
        todo = []
        for fname in fnames:
            path = os.path.join(self.dir, "gt-%s.npz" % fname)
            if fname in self.gt:
                continue
            if os.path.exists(path):
                z = np.load(path)
                self.gt[fname] = (z["ids"], z["scores"], z["nmatch"])
            else:
                todo.append(fname)
        if not todo:
            return
        t0 = time.time()
        nqt = self.nq_total
        res = {f: (np.full((nqt, K), -1, dtype=np.int64), np.full((nqt, K), -np.inf, dtype=np.float32),
                   np.zeros(nqt, dtype=np.int64)) for f in todo}
        for lo in range(0, nqt, 50):
            s = self.queries[lo:lo + 50] @ self.base.T
            for fname in todo:
                ids, scores, nmatch = res[fname]
                for j in range(len(s)):
                    qi = lo + j
                    m = self.match(fname, qi)
                    nmatch[qi] = int(m.sum())
                    k = min(K, nmatch[qi])
                    if k == 0:
                        continue
                    row = np.where(m, s[j], -np.inf).astype(np.float32)
                    part = np.argpartition(-row, k - 1)[:k]
                    order = np.argsort(-row[part], kind="stable")
                    ids[qi, :k] = part[order]
                    scores[qi, :k] = row[part[order]]
        for fname in todo:
            ids, scores, nmatch = res[fname]
            np.savez(os.path.join(self.dir, "gt-%s.npz" % fname), ids=ids, scores=scores, nmatch=nmatch)
            self.gt[fname] = res[fname]
        log("ground truth of %s on %s in %.1f s" % (",".join(todo), self.name, time.time() - t0))

    # -- request bodies --

    def vec_text(self, qi):
        t = self._vtext.get(qi)
        if t is None:
            t = self._vtext[qi] = "[" + ",".join("%.9g" % x for x in self.queries[qi].tolist()) + "]"
        return t

    def write_bodies(self, path, fname, nq, ef=None, exact=False):
        """One /points/query body a line for the first nq queries: the filter, params.hnsw_ef or
        params.exact, limit 10 (payloads and vectors not returned: Qdrant's defaults)."""
        with open(path, "w") as f:
            for qi in range(nq):
                parts = ['{"query":', self.vec_text(qi), ',"limit":%d' % K]
                flt = self.filter_json(fname, qi)
                if flt is not None:
                    parts.append(',"filter":' + json.dumps(flt, separators=(",", ":")))
                if exact:
                    parts.append(',"params":{"exact":true}')
                elif ef is not None:
                    parts.append(',"params":{"hnsw_ef":%d}' % ef)
                parts.append("}\n")
                f.write("".join(parts))


def haversine(lon1, lat1, lon2, lat2):
    """Great-circle distance in metres, in src/index/filter.c's operation order (float64)."""
    rad = math.pi / 180.0
    lon1, lat1, lon2, lat2 = lon1 * rad, lat1 * rad, lon2 * rad, lat2 * rad
    sdlat = np.sin((lat2 - lat1) / 2)
    sdlon = np.sin((lon2 - lon1) / 2)
    a = sdlat * sdlat + np.cos(lat1) * np.cos(lat2) * (sdlon * sdlon)
    return EARTH_RADIUS * (2 * np.arcsin(np.sqrt(a)))


def recall_from_dump(ds, fname, dump, nq):
    """Recall@10 of the responses in a dump (one JSON response a line, body order) against the exact
    filtered top-10; tie-aware: a returned id that passes the filter and whose exact score reaches the
    last true score - 1e-5 counts too.  Also: ids that fail the filter, short answers, missing lines."""
    gids, gsc, nmatch = ds.ground_truth(fname)
    hit = tie = denom = viol = short = missing = 0
    with open(dump) as f:
        lines = f.read().split("\n")
    for qi in range(nq):
        line = lines[qi].strip() if qi < len(lines) else ""
        if not line:
            missing += 1
            continue
        try:
            pts = json.loads(line)["result"]["points"]
        except (ValueError, KeyError, TypeError):
            missing += 1
            continue
        got = [int(p["id"]) for p in pts[:K]]
        k = int(min(K, nmatch[qi]))
        denom += k
        if len(got) < k:
            short += 1
        if not got:
            continue
        truth = set(int(x) for x in gids[qi, :k])
        rows = np.array(got, dtype=np.int64)
        ok = ds.match(fname, qi, rows)
        viol += int((~ok).sum())
        sc = ds.base[rows] @ ds.queries[qi]
        thr = gsc[qi, k - 1] - TIE_EPS if k else np.inf
        for j, pid in enumerate(got[:max(k, 0)]):
            if pid in truth:
                hit += 1
                tie += 1
            elif ok[j] and sc[j] >= thr:
                tie += 1
    d = max(denom, 1)
    return {"recall_at_10": round(hit / d, 5) if denom else None,
            "recall_at_10_tie_aware": round(tie / d, 5) if denom else None,
            "filter_violations": viol, "short_answers": short, "missing_answers": missing}


# ---- quiver -------------------------------------------------------------------------------------

class QuiverEngine:
    name = "quiver"

    def __init__(self, ds, conns):
        self.ds, self.conns = ds, conns
        self.srv = None
        self.info = {}

    def setup(self):
        ds = self.ds
        self.srv = Server(QUIVER, os.path.join(OUT, "filter-server.log"))
        srv = self.srv
        info = {"binary": QUIVER, "version": srv.req("GET", "/").get("version")}
        srv.req("PUT", "/collections/f", {"vectors": {"size": ds.dim, "distance": "Cosine"},
                                          "optimizers_config": {"indexing_threshold": 0}})
        info["indexes"] = {}
        for field, schema in index_fields(ds):
            try:
                srv.req("PUT", "/collections/f/index?wait=true", {"field_name": field, "field_schema": schema})
                info["indexes"][field] = schema
            except OSError as e:
                info["indexes"][field] = "failed: %s" % getattr(e, "body", e)
                log("   index %s (%s) failed: %s" % (field, schema, getattr(e, "body", e)))
        c0 = srv.cpu()
        r = loadgen(srv, "--method", "PUT", "--path", "/collections/f/points?wait=true", "--upsert-f32",
                    ds.files["base"], "--dim", ds.dim, "--batch", 256, "--payloads", ds.files["payloads"],
                    "--conns", 4)  # loadgen times the requests only, not the building of the bodies
        info["upload"] = {"conns": 4, "seconds": round(r["seconds"], 2), "points_per_s": round(r["items_per_s"]),
                          "server_cpu_s": round(srv.cpu() - c0, 1), "errors": r["errors"],
                          "first_error": r.get("first_error_body")}
        c0, t0 = srv.cpu(), time.time()
        srv.req("PATCH", "/collections/f", {"optimizers_config": {"indexing_threshold": 10000}})
        time.sleep(0.5)
        st = None
        while time.time() - t0 < 1800:
            st = srv.req("GET", "/collections/f")["result"]
            if st["status"] == "green":
                break
            time.sleep(0.5)
        info["index_build"] = {"seconds": round(time.time() - t0, 1), "server_cpu_s": round(srv.cpu() - c0, 1),
                               "status": st["status"], "points_count": st.get("points_count"),
                               "indexed_vectors_count": st.get("indexed_vectors_count"),
                               "segments_count": st.get("segments_count"),
                               "payload_schema": st.get("payload_schema")}
        info["rss_mb"] = round(srv.status()["VmRSS"] / 2**20, 1)
        info["disk_mb"] = round(srv.disk() / 2**20, 1)
        self.info = info
        log("   quiver: upload %s, index %s" % (info["upload"], {k: v for k, v in info["index_build"].items()
                                                                  if k != "payload_schema"}))
        return info

    def measure(self, bodies, nq, dump, conns):
        srv = self.srv
        c0, b0 = srv.cpu(), sys_busy()
        r = loadgen(srv, "--path", "/collections/f/points/query", "--bodies", bodies, "--conns", conns,
                    "--duration", SECONDS, "--min-requests", nq, "--warmup", min(nq, 10) * conns, "--dump", dump)
        cpu = srv.cpu() - c0
        other = sys_busy() - b0 - cpu - r["client_cpu_s"]
        res = {"qps": round(r["items_per_s"], 1), "requests": r["requests"], "errors": r["errors"],
               "p50_ms": round(r["p50_ms"], 3), "p95_ms": round(r["p95_ms"], 3), "p99_ms": round(r["p99_ms"], 3),
               "engine_cpu_ms_per_query": round(cpu / max(r["requests"], 1) * 1e3, 4),
               "engine_cores_busy": round(cpu / r["seconds"], 2),
               "client_us_per_query": round(r["client_cpu_s"] / max(r["requests"], 1) * 1e6, 1),
               "other_load_cores": round(max(other, 0) / r["seconds"], 2), "seconds": round(r["seconds"], 2)}
        if r["errors"]:
            res["first_error"] = r.get("first_error_body")
        return res

    def close(self):
        if self.srv:
            self.info["rss_end_mb"] = round(self.srv.status()["VmRSS"] / 2**20, 1)
            self.srv.stop()
            self.srv = None


def loadgen(srv, *args):
    p = subprocess.run([LOADGEN, "--port", str(srv.port)] + [str(a) for a in args], capture_output=True,
                       text=True)
    if p.returncode != 0:
        raise RuntimeError("loadgen failed (%d): %s" % (p.returncode, p.stderr[-500:]))
    return json.loads(p.stdout.strip().splitlines()[-1])


def index_fields(ds):
    return [("kw", "keyword"), ("num", "integer"), ("geo", "geo"), (ds.cluster_field, "keyword")]


# ---- qdrant-edge ----------------------------------------------------------------------------------

class EdgeEngine:
    """qdrant-edge-py in a worker process (this file with --edge-worker)."""
    name = "qdrant-edge"

    def __init__(self, ds, conns):
        self.ds = ds
        self.p = None
        self.info = {}

    def _cmd(self, obj):
        self.p.stdin.write(json.dumps(obj) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("edge worker exited (rc %s)" % self.p.wait())
        r = json.loads(line)
        if "error" in r:
            raise RuntimeError("edge worker: " + r["error"])
        return r

    def setup(self):
        ds = self.ds
        self.p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--edge-worker", ds.dir, str(ds.dim)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        hello = json.loads(self.p.stdout.readline())
        c0, t0 = proc_cpu(self.p.pid), time.time()
        r = self._cmd({"cmd": "build", "fields": index_fields(ds), "payload_hnsw": EDGE_PAYLOAD_HNSW})
        r["worker_cpu_s"] = round(proc_cpu(self.p.pid) - c0, 1)
        r["wall_s"] = round(time.time() - t0, 1)
        self.info = {"version": hello.get("version"), "build": r}
        log("   qdrant-edge %s: %s" % (hello.get("version"), r))
        return self.info

    def measure(self, bodies, nq, dump, conns):
        c0, b0, s0 = proc_cpu(self.p.pid), sys_busy(), time.process_time()
        r = self._cmd({"cmd": "search", "bodies": bodies, "nq": nq, "seconds": SECONDS,
                       "warmup": min(nq, 10), "dump": dump})
        cpu = proc_cpu(self.p.pid) - c0
        other = sys_busy() - b0 - cpu - (time.process_time() - s0)
        res = {"qps": round(r["queries"] / r["seconds"], 1), "requests": r["queries"], "errors": 0,
               "p50_ms": r["p50_ms"], "p95_ms": r["p95_ms"], "p99_ms": r["p99_ms"],
               "engine_cpu_ms_per_query": round(cpu / max(r["queries"], 1) * 1e3, 4),
               "engine_cores_busy": round(cpu / r["seconds"], 2),
               "client_us_per_query": None,
               "other_load_cores": round(max(other, 0) / r["seconds"], 2), "seconds": round(r["seconds"], 2)}
        return res

    def close(self):
        if self.p:
            try:
                self._cmd({"cmd": "quit"})
                self.p.wait(60)
            except Exception:
                self.p.kill()
                self.p.wait()
            self.p = None


def edge_worker(argv):
    """Line protocol on stdin/stdout, one JSON object each way:
    build {fields, payload_hnsw} | search {bodies, nq, seconds, warmup, dump} | quit."""
    import qdrant_edge as qe
    ddir, dim = argv[0], int(argv[1])
    try:
        from importlib.metadata import version
        ver = version("qdrant-edge-py")
    except Exception:
        ver = None
    print(json.dumps({"ready": True, "version": ver}), flush=True)
    shard, path = None, None

    def to_filter(f):
        conds = []
        for c in f["must"]:
            key = c["key"]
            if "match" in c:
                conds.append(qe.FieldCondition(key=key, match=qe.MatchValue(value=c["match"]["value"])))
            elif "range" in c:
                conds.append(qe.FieldCondition(key=key, range=qe.RangeFloat(
                    **{k: float(v) for k, v in c["range"].items()})))
            elif "geo_radius" in c:
                g = c["geo_radius"]
                conds.append(qe.FieldCondition(key=key, geo_radius=qe.GeoRadius(
                    center=qe.GeoPoint(lon=g["center"]["lon"], lat=g["center"]["lat"]), radius=g["radius"])))
            else:
                raise ValueError("condition not handled: %s" % c)
        return qe.Filter(must=conds)

    def to_request(body):
        p = body.get("params") or {}
        params = qe.SearchParams(hnsw_ef=p.get("hnsw_ef"), exact=bool(p.get("exact", False)))
        flt = to_filter(body["filter"]) if body.get("filter") else None
        return qe.QueryRequest(limit=body["limit"], query=qe.Query.Nearest(body["query"]), filter=flt,
                               params=params, with_payload=False, with_vector=False)

    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        try:
            if cmd["cmd"] == "build":
                path = tempfile.mkdtemp(prefix="edge-filter-", dir="/var/tmp")
                cfg = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine),
                                    hnsw_config=qe.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=10000))
                shard = qe.EdgeShard.create(os.path.join(path, "shard"), cfg)
                for field, schema in cmd["fields"]:
                    if cmd.get("payload_hnsw", True):  # Qdrant's defaults, as a user creates them
                        sch = {"keyword": qe.PayloadSchemaType.Keyword, "integer": qe.PayloadSchemaType.Integer,
                               "geo": qe.PayloadSchemaType.Geo}[schema]
                    else:  # no payload-aware graph links
                        sch = {"keyword": qe.KeywordIndexParams(enable_hnsw=False),
                               "integer": qe.IntegerIndexParams(lookup=True, range=True, enable_hnsw=False),
                               "geo": qe.GeoIndexParams(enable_hnsw=False)}[schema]
                    shard.update(qe.UpdateOperation.create_field_index(field, sch))
                base = np.fromfile(os.path.join(ddir, "base.f32"), dtype="<f4").reshape(-1, dim)
                t0 = time.perf_counter()
                with open(os.path.join(ddir, "payloads.jsonl")) as f:
                    pls = [json.loads(x) for x in f]
                for lo in range(0, len(base), 512):
                    pts = [qe.Point(i, base[i].tolist(), pls[i]) for i in range(lo, min(lo + 512, len(base)))]
                    shard.update(qe.UpdateOperation.upsert_points(pts))
                t1 = time.perf_counter()
                shard.optimize()
                t2 = time.perf_counter()
                inf = shard.info()
                res = {"upsert_s": round(t1 - t0, 1), "optimize_s": round(t2 - t1, 1),
                       "points_count": inf.points_count, "indexed_vectors_count": inf.indexed_vectors_count,
                       "segments_count": inf.segments_count, "payload_hnsw": cmd.get("payload_hnsw", True),
                       "rss_mb": round(_rss_kb() / 1024, 1)}
            elif cmd["cmd"] == "search":
                nq = cmd["nq"]
                with open(cmd["bodies"]) as f:
                    reqs = [to_request(json.loads(x)) for x in f if x.strip()][:nq]
                for i in range(cmd["warmup"]):
                    shard.query(reqs[i % len(reqs)])
                first = [None] * len(reqs)
                lat = []
                t_start = time.perf_counter()
                done = 0
                while done < len(reqs) or time.perf_counter() - t_start < cmd["seconds"]:
                    req = reqs[done % len(reqs)]
                    t0 = time.perf_counter()
                    r = shard.query(req)
                    lat.append(time.perf_counter() - t0)
                    if done < len(reqs):
                        first[done] = r
                    done += 1
                secs = time.perf_counter() - t_start
                with open(cmd["dump"], "w") as f:
                    for r in first:
                        f.write(json.dumps({"result": {"points": [{"id": p.id, "score": p.score} for p in r]}}) + "\n")
                lat = np.sort(np.array(lat)) * 1e3
                res = {"queries": done, "seconds": secs,
                       "p50_ms": round(float(lat[int(0.50 * (len(lat) - 1))]), 3),
                       "p95_ms": round(float(lat[int(0.95 * (len(lat) - 1))]), 3),
                       "p99_ms": round(float(lat[int(0.99 * (len(lat) - 1))]), 3)}
            elif cmd["cmd"] == "quit":
                if shard:
                    shard.close()
                if path:
                    shutil.rmtree(path, ignore_errors=True)
                print(json.dumps({"bye": True}), flush=True)
                return
            else:
                res = {"error": "bad command"}
        except Exception as e:  # reported to the driver
            res = {"error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(res), flush=True)
    if path:
        shutil.rmtree(path, ignore_errors=True)


def _rss_kb(pid=None):
    with open("/proc/%s/status" % (pid or "self")) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---- the run ---------------------------------------------------------------------------------------

def measured(eng, ds, fname, nq, conns, ef=None, exact=False):
    """One curve point: bodies written, measured (repeated while others were busy), recall checked."""
    os.makedirs(WORK, exist_ok=True)
    bodies = os.path.join(WORK, "bodies.jsonl")
    dump = os.path.join(WORK, "dump.jsonl")
    ds.write_bodies(bodies, fname, nq, ef=ef, exact=exact)
    best, attempts = None, []
    tries = TRIES if time.time() - T_START < BUDGET else 1
    for attempt in range(tries):
        if attempt:
            time.sleep(0.5)
        r = eng.measure(bodies, nq, dump, conns)
        r.update(recall_from_dump(ds, fname, dump, nq))
        attempts.append({"qps": r["qps"], "other_load_cores": r["other_load_cores"]})
        if best is None or r["qps"] > best["qps"]:
            best = r
        if r["other_load_cores"] < BUSY or r.get("errors"):
            break
    best["attempts"] = attempts
    best["ef"] = ef
    best["exact"] = exact
    return best


def selectivity(ds, fname, nq):
    _, _, nmatch = ds.ground_truth(fname)
    fr = nmatch[:nq] / ds.n
    return {"mean": round(float(fr.mean()), 5), "min": round(float(fr.min()), 6), "max": round(float(fr.max()), 5),
            "median": round(float(np.median(fr)), 6),
            "queries_under_10_matches": int((nmatch[:nq] < K).sum())}


def summarize(curve, exact, unfiltered, target=TARGET):
    """The point where recall first reaches target (by ef), the best recall, QPS interpolated at target,
    and the goal ratios: against the unfiltered curve at the same recall (interpolated on its envelope;
    where the unfiltered curve never reaches that recall, at its most accurate point: "clipped") and
    against the exact scan."""
    pts = sorted([p for p in curve if p.get("qps") and not p.get("errors") and p.get("recall_at_10") is not None],
                 key=lambda p: p["ef"])
    s = {}
    at = next((p for p in pts if p["recall_at_10"] >= target), None)
    top = max(pts, key=lambda p: (p["recall_at_10"], p["qps"])) if pts else None
    s["best_recall"] = top["recall_at_10"] if top else None
    s["best_recall_ef"] = top["ef"] if top else None
    s["best_recall_qps"] = top["qps"] if top else None
    q, how = qps_at(envelope(pts), target)
    s["qps_interpolated_at_target"], s["interpolated_how"] = (round(q, 1) if q else None), how
    if at:
        s.update({"ef_at_target": at["ef"], "recall_at_target": at["recall_at_10"], "qps_at_target": at["qps"]})
        if unfiltered:
            env = envelope(unfiltered)
            r = at["recall_at_10"]
            if env and r > env[0]["recall_at_10"]:
                r, s["unfiltered_clipped"] = env[0]["recall_at_10"], True
            u, how = qps_at(env, r)
            s["unfiltered_qps_same_recall"] = round(u, 1) if u else None
            s["unfiltered_how"] = how
            s["ratio_to_unfiltered"] = round(at["qps"] / u, 3) if u else None
        if exact and exact.get("qps") and not exact.get("errors"):
            s["ratio_to_exact"] = round(at["qps"] / exact["qps"], 3)
    if exact and exact.get("qps") and not exact.get("errors"):
        s["exact_qps"] = exact["qps"]
        s["exact_recall"] = exact["recall_at_10"]
    return s


def envelope(curve):
    """The points of a curve that no other point beats on both recall and QPS (so that a slower point with
    the same recall, e.g. recall 1.0 at every ef, does not stand for the curve)."""
    pts = sorted((p for p in curve if p.get("qps") and not p.get("errors")),
                 key=lambda p: (-p["recall_at_10"], -p["qps"]))
    out, best = [], 0.0
    for p in pts:
        if p["qps"] > best:
            out.append(p)
            best = p["qps"]
    return out


def goals(fname, s):
    """Issue 5's goals for one filter: recall >= 0.97 reached; at 10% selectivity QPS >= 0.5x the unfiltered
    QPS at the same recall; never slower than the exact pre-filtered scan (at the 0.97 point)."""
    g = {"recall": s.get("best_recall") is not None and s["best_recall"] >= TARGET}
    if FILTERS[fname][1] == 0.10:
        r = s.get("ratio_to_unfiltered")
        g["half_unfiltered"] = r is not None and r >= 0.5
    r = s.get("ratio_to_exact")
    g["not_slower_than_exact"] = r is not None and r >= 1.0
    return g


def machine():
    info = benchlib_machine()
    info["numpy"] = np.__version__
    return info


def git_info():
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no", "src"],
                               capture_output=True, text=True).stdout.strip()
        return {"commit": commit, "src_modified": bool(dirty)}
    except OSError:
        return {}


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run_engine(cls, ds, nq, conns_list):
    """Every curve of one engine on one dataset; returns its result dict."""
    eng = cls(ds, conns_list[0])
    res = {"curves": {}}
    try:
        res["setup"] = eng.setup()
    except Exception as e:
        log("   %s setup failed: %s" % (cls.name, e))
        eng.close()
        return {"error": "setup: %s" % e}
    conns_used = conns_list if cls is QuiverEngine else [1]
    try:
        for conns in conns_used:
            cv = {}
            unf = []
            for ef in EFS:
                p = measured(eng, ds, "none", nq, conns, ef=ef)
                log("   %s c%d none ef=%d: recall %.4f qps %.0f other %.2f" % (
                    cls.name, conns, ef, p["recall_at_10"], p["qps"], p["other_load_cores"]))
                unf.append(p)
            cv["none"] = {"curve": unf}
            if "empty" in EXTRA_POINTS:  # the per-request floor: a filter no point passes
                p = measured(eng, ds, "empty", nq, conns)
                log("   %s c%d empty filter: qps %.0f, %s answers not empty" % (
                    cls.name, conns, p["qps"], p["filter_violations"]))
                cv["empty"] = {"point": p}
            for fname in FILTER_NAMES:
                curve = []
                for ef in EFS:
                    p = measured(eng, ds, fname, nq, conns, ef=ef)
                    log("   %s c%d %s ef=%d: recall %.4f qps %.0f other %.2f%s" % (
                        cls.name, conns, fname, ef, p["recall_at_10"], p["qps"], p["other_load_cores"],
                        " ERRORS %d: %s" % (p["errors"], p.get("first_error")) if p.get("errors") else ""))
                    curve.append(p)
                ex = measured(eng, ds, fname, nq, conns, exact=True)
                log("   %s c%d %s exact: recall %.4f qps %.0f" % (cls.name, conns, fname, ex["recall_at_10"],
                                                                   ex["qps"]))
                s = summarize(curve, ex, unf)
                cv[fname] = {"curve": curve, "exact": ex, "summary": s, "goals": goals(fname, s)}
            cv["none"]["summary"] = summarize(unf, None, None)
            res["curves"][str(conns)] = cv
    except Exception as e:
        log("   %s failed: %s" % (cls.name, e))
        res["error"] = str(e)
    finally:
        eng.close()
        res["setup"] = eng.info
    return res


def main():
    os.makedirs(OUT, exist_ok=True)
    engines = {"quiver": QuiverEngine, "qdrant-edge": EdgeEngine}
    report = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
              "git": git_info(), "loadavg_start": loadavg(), "quick": QUICK,
              "params": {"n": N, "queries": NQ, "efs": EFS, "filters": FILTER_NAMES, "engines": ENGINES,
                         "conns": CONNS, "seconds_per_point": SECONDS, "k": K, "target_recall": TARGET,
                         "busy_threshold_cores": BUSY, "hnsw": {"m": 16, "ef_construct": 100,
                                                                "full_scan_threshold_kb": 10000},
                         "edge_payload_hnsw": EDGE_PAYLOAD_HNSW, "geo_radius_m": round(GEO_RADIUS, 1)},
              "filters": {k: {"kind": v[0], "target_selectivity": v[1], "what": v[3]} for k, v in FILTERS.items()
                          if k in FILTER_NAMES},
              "datasets": []}
    b0, t0 = sys_busy(), time.time()
    time.sleep(1.0)
    report["other_load_cores_before"] = round((sys_busy() - b0) / (time.time() - t0), 2)
    for name in DATASET_NAMES:
        ds = Dataset(name, N)
        nq = min(NQ, ds.nq_total)
        log("== %s: n=%d dim=%d, %d queries" % (name, ds.n, ds.dim, nq))
        dres = {"dataset": name, "meta": {k: v for k, v in ds.meta.items() if k != "cluster_names"},
                "queries": nq, "selectivity": {}, "engines": {}}
        dres["meta"]["clusters"] = len(ds.meta["cluster_names"])
        ds.ground_truths(["none"] + FILTER_NAMES + [x for x in EXTRA_POINTS if x == "empty"])
        for fname in ["none"] + FILTER_NAMES:
            if fname != "none":
                dres["selectivity"][fname] = selectivity(ds, fname, nq)
        for e in ENGINES:
            if e not in engines:
                log("unknown engine " + e)
                continue
            log("-- %s on %s" % (e, name))
            dres["engines"][e] = run_engine(engines[e], ds, nq, CONNS)
        report["datasets"].append(dres)
        del ds
    report["loadavg_end"] = loadavg()
    report["total_s"] = round(time.time() - T_START, 1)
    os.makedirs(os.path.dirname(OUT_JSON), exist_ok=True)
    with open(OUT_JSON, "w") as f:
        json.dump(report, f, indent=1)
    log("wrote %s (%.0f s)" % (OUT_JSON, report["total_s"]))
    if OUT_MD != "-":
        import filter_report_md
        filter_report_md.write(report, OUT_MD, json_path=OUT_JSON)
        log("wrote %s" % OUT_MD)
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--edge-worker":
        edge_worker(sys.argv[2:])
    else:
        main()
