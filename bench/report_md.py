"""report_md.py REPORT.json OUT.md - the readable summary of bench/bench.py's report.

Every number in the text comes from the report; the sentences that explain
what limits each figure are chosen from what the run measured (perf buckets,
server CPU per item, effective bandwidth), not written by hand.
"""
import json
import sys

rep = json.load(open(sys.argv[1]))
m = rep["machine"]
L = []


def p(s=""):
    L.append(s)


def mb(x):
    return "%.1f MB" % (x / 1e6)


def fmt(x, d=0):
    if x is None:
        return "–"
    return ("{:,.%df}" % d).format(x)


def prof_line(label):
    pr = rep.get("profiles", {}).get(label)
    if not pr or "buckets" not in pr:
        return None
    bs = ", ".join("%s %.0f%%" % (k, v) for k, v in list(pr["buckets"].items())[:6] if v >= 1)
    top = ", ".join("`%s` %.1f%%" % (t["symbol"], t["pct"]) for t in pr["top"][:6])
    return bs, top, pr


bw = rep.get("bound_bandwidth_GBps") or max(v for k, v in rep["membw"].items() if k.startswith("gbps_"))
bw1 = max(rep["membw"].get("gbps_1t", 0), rep.get("membw_end", {}).get("gbps_1t", 0)) or bw
bw_end = max(v for k, v in rep.get("membw_end", rep["membw"]).items() if k.startswith("gbps_"))

p("# Benchmarks")
p()
p("Produced by `bench/run.sh` (one command: builds the server and the tools, runs everything, writes this file "
  "and `bench/out/report.json`). It is a report, never a timed test. Figures are from one run on a shared "
  "2-core machine that other engineers use at the same time, so each configuration is the best of %s runs, "
  "with up to %s more while the best run so far saw more than %.1f cores of other processes' CPU time; that CPU "
  "time is recorded per measurement (*other load*, in cores: whole-machine busy time minus the server's and the "
  "client's, so it also holds kernel writeback threads). Read a row with a high *other load* as a lower bound." %
  (rep.get("repeat", 2), rep.get("extra_runs", 0), rep.get("quiet_cores", 0.3)))
p()
p("## Machine and run")
p()
p("| | |")
p("|---|---|")
p("| date | %s |" % m["date_utc"])
p("| CPU | %s, %d logical CPUs (nproc), AVX-512: %s |" % (m["cpu_model"], m["nproc"], "yes" if m["avx512f"] else "no"))
p("| memory | %.1f GiB |" % (m["mem_bytes"] / 2 ** 30))
p("| kernel | %s |" % m["kernel"])
p("| read bandwidth (`bench/membw.c`, 1 GiB, best of 6) | %s GB/s at start, %s GB/s at end |" % (
    " / ".join("%s: %.1f" % (k.replace("gbps_", ""), v) for k, v in rep["membw"].items() if k.startswith("gbps_")),
    " / ".join("%s: %.1f" % (k.replace("gbps_", ""), v) for k, v in rep.get("membw_end", {}).items()
               if k.startswith("gbps_"))))
if rep.get("membw_data"):
    p("| read bandwidth over a buffer of the search matrix's size (%.1f MB) | %s GB/s |" % (
        rep["membw_data"]["bytes"] / 1e6, " / ".join("%s: %.1f" % (k.replace("gbps_", ""), v)
                                                    for k, v in rep["membw_data"].items() if k.startswith("gbps_"))))
if m.get("llc_bytes"):
    p("| largest cache (sysfs) | %.0f MiB |" % (m["llc_bytes"] / 2 ** 20))
p("| load average at start / end | %s / %s |" % (m["loadavg_at_start"], m.get("loadavg_at_end")))
p("| whole run | %.0f s |" % rep.get("wall_seconds", 0))
p("| code | commit %s%s |" % (rep.get("commit", "?"), " plus uncommitted changes under src/" if rep.get("src_modified") else ""))
p()
p("Server: `build/release/quiver` (make BUILD=release, -O2), run from a private copy in `bench/out` so that a "
  "rebuild by someone else during the run cannot change the code under test; storage on a temporary directory on the root disk, "
  "REST on a free loopback port. Client: `bench/loadgen.c`, keep-alive HTTP/1.1, one thread per connection, "
  "bodies prepared in memory before the clock starts, on the same 2 cores as the server.")
p()

# ---- summary ----------------------------------------------------------------------------------------
up = rep["upsert"]
sr = rep["search"]["rows"]
best384 = max((r for r in up if r["dim"] == 384), key=lambda r: r["points_per_s"])
best384w = max((r for r in up if r["dim"] == 384 and r["wait"]), key=lambda r: r["points_per_s"])
s1 = next(r for r in sr if r["batch"] == 0 and r["conns"] == 1)
bestb = max((r for r in sr if r["batch"]), key=lambda r: r["qps"])
ld = rep["search"]["load"]
p("## Summary")
p()
allrows = [r for r in rep["upsert"]] + rep["search"]["rows"]
oth_avg = sum(r["other_load_cores"] for r in allrows) / len(allrows)
if oth_avg > rep.get("quiet_cores", 0.3):
    p("- **Conditions**: other processes used on average **%.2f of the %d cores** during the measurements of this "
      "run (%.2f–%.2f), and the read bandwidth measured %s GB/s instead of the 35–42 GB/s BENCHMARKS.md reports "
      "for a quiet machine. Absolute figures below are lower bounds; the ratios to faiss compare runs made "
      "under similar load (faiss: %.2f cores of other load)." % (
          oth_avg, m["nproc"], min(r["other_load_cores"] for r in allrows),
          max(r["other_load_cores"] for r in allrows), "%.1f–%.1f" % (
              min(v for k, v in list(rep["membw"].items()) + list(rep.get("membw_end", {}).items()) if k.startswith("gbps_")),
              max(v for k, v in list(rep["membw"].items()) + list(rep.get("membw_end", {}).items()) if k.startswith("gbps_"))),
          rep.get("faiss", {}).get("other_load_cores", float("nan"))))
p("- **Upsert** (REST, 256 points per request, 384-d): best %s points/s = %s vector components/s "
  "(goal 8,000,000: **%.2f×** the goal); with `wait=true` %s points/s (%.2f×)." % (
      fmt(best384["points_per_s"]), fmt(best384["components_per_s"]), best384["components_per_s"] / 8e6,
      fmt(best384w["points_per_s"]), best384w["components_per_s"] / 8e6))
p("- **Exact search** on %s: single queries, 1 connection: %s QPS = **%.2f×** the memory-bandwidth bound%s; "
  "best batched: %s QPS (batch %d, %d connections) = **%.2f×** its bound%s." % (
      rep["search"]["dataset"], fmt(s1["qps"], 1), s1["ratio_to_bound"],
      (", **%.2f×** faiss IndexFlatIP single-query" % s1["ratio_to_faiss_best"]) if s1.get("ratio_to_faiss_best") else "",
      fmt(bestb["qps"], 1), bestb["batch"], bestb["conns"], bestb["ratio_to_bound"],
      (", **%.2f×** faiss at the same batch size" % bestb["ratio_to_faiss_best"]) if bestb.get("ratio_to_faiss_best") else ""))
_bwd = max((v for k, v in rep.get("membw_data", {}).items() if k.startswith("gbps_")), default=0)
if _bwd and m.get("llc_bytes", 0) > ld["points"] * 384 * 4:
    p("  The bound is DRAM read bandwidth (membw over 1 GiB); this CPU's %.0f MiB last-level cache holds the "
      "%.1f MB matrix, so scans run partly from cache (membw over the matrix's size: %.1f GB/s). Against that "
      "stricter bound: single queries %.2f×, batches of 8 %.2f×, batches of 16 %.2f× (compute-bound, section 2)." % (
          m["llc_bytes"] / 2 ** 20, ld["points"] * 384 * 4 / 1e6, _bwd, s1["effective_GBps"] / _bwd,
          max(r["effective_GBps"] for r in sr if r["batch"] == 8) / _bwd,
          max(r["effective_GBps"] for r in sr if r["batch"] == 16) / _bwd))
_ug = rep.get("upsert_grpc") or []
_g = max((r for r in _ug if r["dim"] == 1536), key=lambda r: r["points_per_s"], default=None)
_r = max((r for r in up if r["dim"] == 1536), key=lambda r: r["points_per_s"], default=None)
_sg = {(r["batch"], r["conns"]): r for r in rep["search"].get("rows_grpc") or []}
if _g and _r:
    _q = _sg.get((0, 1))
    p("- **gRPC** (same data, section 4): upsert at 1536-d %s points/s = **%.2f×** REST's %s (goal ≥ 3×); at "
      "384-d %s points/s = %.2f× REST%s." % (
          fmt(_g["points_per_s"]), _g["points_per_s"] / _r["points_per_s"], fmt(_r["points_per_s"]),
          fmt(max(r["points_per_s"] for r in _ug if r["dim"] == 384)),
          max(r["points_per_s"] for r in _ug if r["dim"] == 384) / best384["points_per_s"],
          ("; single queries %s QPS = %.2f× REST" % (fmt(_q["qps"], 1), _q["qps"] / s1["qps"])) if _q else ""))
rc = [r.get("recall_at_10") for r in sr if r.get("recall_at_10") is not None]
rct = [r.get("recall_at_10_tie_aware") for r in sr if r.get("recall_at_10_tie_aware") is not None]
if rc:
    p("- **Recall@10** (exact search, correctness check): %.4f–%.4f against the ground-truth ids; **%.4f** "
      "tie-aware (every differing id has a score within 1e-5 of the 10th true score: float rounding among "
      "near-duplicates, faiss shows the same)." % (min(rc), max(rc), min(rct)))
p("- **Memory**: %s resident after loading 100k×384 (%s before), %s bytes per vector against %d raw "
  "(%.1f×)." % (mb(ld["rss_after_load"]), mb(ld["rss_empty"]), fmt(ld["bytes_per_vector_rss"]),
                  ld["raw_vector_bytes"], ld["bytes_per_vector_rss"] / ld["raw_vector_bytes"]))
p()

# ---- upsert --------------------------------------------------------------------------------------------
p("## 1. REST upsert throughput")
p()
p("Synthetic vectors from `bench/gen.py` (mixture of heavy-tailed anisotropic clusters of intrinsic dimension "
  "6–24, normalised), %s points per configuration, 256 points per `PUT /collections/bench/points` with a "
  "payload `{\"tag\":..,\"group\":..,\"n\":..}`, floats printed with 9 significant digits; a fresh server and "
  "collection per run. *points/s* counts until every point is visible (for `wait=false` the client polls "
  "`points_count` after the last acknowledgement; *ack/s* is the rate of acknowledgements alone)." %
  " / ".join(sorted(set(fmt(r["points"]) for r in up))))
p()
p("| dim | wait | conns | points/s | components/s | ack/s | p50 ms | p99 ms | request MB/s | server CPU µs/point | ns/component | server cores busy | other load (cores) | runs (points/s) |")
p("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for r in up:
    p("| %d | %s | %d | %s | %s | %s | %.1f | %.1f | %.0f | %.1f | %.0f | %.2f | %.2f | %s |" % (
        r["dim"], "true" if r["wait"] else "false", r["conns"], fmt(r["points_per_s"]), fmt(r["components_per_s"]),
        fmt(r["points_per_s_ack"]), r["p50_ms"], r["p99_ms"], r["request_MB_per_s"], r["server_cpu_us_per_point"],
        r["server_cpu_us_per_point"] * 1000 / r["dim"], r.get("server_cores_busy", 0), r["other_load_cores"],
        ", ".join(fmt(x) for x in r.get("runs_points_per_s", []))))
errs = sum(r["errors"] for r in up)
p()
if errs:
    p("**%d requests failed** (see `first_error` in the JSON)." % errs)
    p()
p("Request size: %s bytes per 256-point request at 384-d, %s at 1536-d (about %.1f bytes per component)." % (
    fmt(next(r["body_bytes_avg"] for r in up if r["dim"] == 384)),
    fmt(next((r["body_bytes_avg"] for r in up if r["dim"] == 1536), 0)),
    next(r["body_bytes_avg"] for r in up if r["dim"] == 384) / 256 / 384))
p()
# what limits it
pl = prof_line("upsert_wait_true")
nsc = [r["server_cpu_us_per_point"] * 1000 / r["dim"] for r in up]
w_t = [r for r in up if r["wait"]]
w_f = [r for r in up if not r["wait"]]


def avg(xs):
    xs = list(xs)
    return sum(xs) / len(xs) if xs else 0


p("**What limits it.** The server spends %.0f–%.0f ns of CPU per vector component whatever the dimension "
  "(%.1f µs per 384-d point, %.1f µs per 1536-d point), so ingestion is CPU-bound on per-number work, not on "
  "per-request or per-point overhead." % (
      min(nsc), max(nsc), avg(r["server_cpu_us_per_point"] for r in up if r["dim"] == 384),
      avg(r["server_cpu_us_per_point"] for r in up if r["dim"] == 1536)))
if pl:
    bs, top, pr = pl
    jp = pr["buckets"].get("JSON / float parsing", 0)
    p("A perf profile of the server during a 384-d `wait=true` run, one connection, puts %.0f%% of its samples "
      "in JSON and float parsing (buckets: %s; top symbols: %s). Kernel time is %.0f%% (socket receive copies "
      "and the page-cache write of the WAL)." % (jp, bs, top, pr["kernel_pct"]))
pf = prof_line("upsert_wait_false")
if pf:
    p("With `wait=false` the profile is similar (%s)." % pf[0])
c4 = avg(r["points_per_s"] for r in up if r["conns"] == 4)
c1 = avg(r["points_per_s"] for r in up if r["conns"] == 1)
busy4 = avg(r.get("server_cores_busy", 0) for r in up if r["conns"] == 4)
busy1 = avg(r.get("server_cores_busy", 0) for r in up if r["conns"] == 1)
oth = avg(r["other_load_cores"] for r in up)
fs = []
for d in sorted(set(r["dim"] for r in up)):
    t = [r for r in w_t if r["dim"] == d]
    f_ = [r for r in w_f if r["dim"] == d]
    if t and f_:
        ratio = avg(r["points_per_s"] for r in t) / max(avg(r["points_per_s"] for r in f_), 1)
        dl = avg(r["other_load_cores"] for r in t) - avg(r["other_load_cores"] for r in f_)
        fs.append("%d-d %.2f×%s" % (d, ratio, (" (but its `wait=true` runs had %.2f more cores of other load, so "
                                              "this run cannot tell fsync from interference there)" % dl)
                                    if ratio < 0.85 and dl > 0.2 else ""))
p("`wait=true` against `wait=false`: %s. A `wait=true` request ends with one fdatasync of the WAL (group "
  "commit: one sync covers every request appended before it), about 1.3 MB of records at 384-d and 5.4 MB at "
  "1536-d, amortised over 256 points; the profiles put %.1f%% of the server's samples in filesystem/fsync "
  "code with `wait=true`. Four connections give %.2f× one connection; the server keeps %.2f cores busy with "
  "one connection and %.2f with four (2 cores, shared with the client, the kernel's loopback copies and, in "
  "this run, %.2f cores of other processes on average). The client used %.2f–%.2f CPU-seconds per run "
  "(bodies are pre-built; it only copies bytes). The lever is the JSON number parser: at %.0f ns per "
  "component one core tops out near %s components/s, two near twice that." % (
      "; ".join(fs), (rep.get("profiles", {}).get("upsert_wait_true") or {}).get("buckets", {}).get("filesystem / fsync", 0),
      c4 / max(c1, 1), busy1, busy4, oth,
      min(r["client_cpu_s"] for r in up), max(r["client_cpu_s"] for r in up), avg(nsc),
      fmt(1e9 / max(avg(nsc), 1e-9))))
p()

# ---- search --------------------------------------------------------------------------------------------
p("## 2. Exact search")
p()
pass_mb = ld["points"] * 384 * 4 / 1e6
p("Data: %s, loaded through REST (%s points/s, 4 connections, `wait=true`). Each query (or each batch of "
  "queries, which share one pass in Quiver) reads the whole f32 matrix, %.1f MB. **Bound** = read bandwidth "
  "(%.1f GB/s, the best of 1 and %d threads, at the start and the end of this run) / %.1f MB × queries per "
  "request. Single queries with 4 connections are 4 independent scans, so their bound is the same as with 1. "
  "The server splits a large scan over its search thread pool (parts scanned by the pool threads, per-part top-k heaps "
  "merged), so even one query on one connection can use every core and the machine's bandwidth. "
  "Each configuration runs %s s (at least one pass over the 1,000 queries, whose responses are checked "
  "against `groundtruth.u32`)." % (
      rep["search"]["dataset"], fmt(ld["points_per_s"]), pass_mb, bw, m["nproc"], pass_mb,
      rep.get("search_seconds", "")))
p()
p("| queries/request | conns | QPS | bound QPS | QPS / bound | effective GB/s | faiss 1t | faiss 2t | QPS / faiss best | p50 ms | p95 ms | p99 ms | server cores busy | other load | recall@10 | tie-aware | runs (QPS) |")
p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for r in sr:
    p("| %s | %d | %s | %s | %.2f | %.1f | %s | %s | %s | %.1f | %.1f | %.1f | %.2f | %.2f | %s | %s | %s |" % (
        r["batch"] or "1 (single)", r["conns"], fmt(r["qps"], 1), fmt(r["bound_qps"]), r["ratio_to_bound"],
        r["effective_GBps"], fmt(r.get("faiss_qps_1t"), 1), fmt(r.get("faiss_qps_2t"), 1),
        ("%.2f" % r["ratio_to_faiss_best"]) if r.get("ratio_to_faiss_best") else "–",
        r["p50_ms"], r["p95_ms"], r["p99_ms"], r["server_cores_busy"], r["other_load_cores"],
        r.get("recall_at_10", "–"), r.get("recall_at_10_tie_aware", "–"),
        ", ".join(fmt(x, 1) for x in r.get("runs_qps", []))))
p()
f = rep.get("faiss", {})
if "rows" in f:
    p("Peer: faiss %s `IndexFlatIP` (PyPI `faiss-cpu`), in process, same normalised vectors, "
      "`faiss.omp_set_num_threads(1|2)`; QPS over %s queries:" % (f.get("faiss_version"), "400 (100 for single queries on 2 threads)"))
    p()
    p("| queries/call | threads | QPS | ms/call | recall@10 | tie-aware |")
    p("|---:|---:|---:|---:|---:|---:|")
    for r in f["rows"]:
        p("| %s | %d | %s | %.2f | %s | %s |" % (r["batch"] or "1 (single)", r["threads"], fmt(r["qps"], 1),
                                               r["ms_per_call"], r.get("recall_at_10", "–"),
                                               r.get("recall_at_10_tie_aware", "–")))
    p()
    f1 = next((r for r in f["rows"] if r["batch"] == 0 and r["threads"] == 1), None)
    f2 = next((r for r in f["rows"] if r["batch"] == 0 and r["threads"] == 2), None)
    if f1 and f2 and f2["qps"] < f1["qps"]:
        p("faiss with 2 OpenMP threads on single queries is slower than with 1 (%.1f vs %.1f QPS). This run did "
          "not analyse why; OpenMP threads waiting for a thread descheduled on the busy second core is the "
          "likely cause, so the single-query ratio uses faiss's 1-thread figure (the best of the two)." % (
              f2["qps"], f1["qps"]))
        p()
    p("Below 20 queries per call faiss scans the data once per query (its BLAS path starts at 20), so its "
      "batches of 8 and 16 gain only from the second thread; the 1,000-query rows use the BLAS path and "
      "show what a shared, cache-blocked pass can reach on this machine.")
else:
    p("faiss peer: not measured (%s)." % f.get("error", "unknown")[:500])
p()
p1 = prof_line("search-b0-c1")
p16 = prof_line("search-b16-c1")
single = [r for r in sr if r["batch"] == 0]
s4 = next((r for r in sr if r["batch"] == 0 and r["conns"] == 4), None)
bw2 = max(rep["membw"].get("gbps_%d" % m["nproc"], 0), rep.get("membw_end", {}).get("gbps_%d" % m["nproc"], 0)) or bw
llc = m.get("llc_bytes", 0)
bwd = max((v for k, v in rep.get("membw_data", {}).items() if k.startswith("gbps_")), default=0)
pass_bytes = pass_mb * 1e6
in_llc = bool(llc and llc > pass_bytes and bwd)
txt = ("**What limits it.** Single queries: each query is one pass over %.1f MB, split over the server's "
       "search threads. With one connection the pass streams %.1f GB/s, %.0f%% of the DRAM read bandwidth "
       "measured in this run (%.1f GB/s over 1 GiB; membw with 1 thread: %.1f GB/s), with %.2f server cores "
       "busy while other processes held %.2f cores%s. The scan is memory-bound: the profile is almost all in "
       "the distance kernel, which does one multiply-add per 4 bytes read." % (
           pass_mb, s1["effective_GBps"], 100 * s1["effective_GBps"] / bw, bw, bw1, s1["server_cores_busy"],
           s1["other_load_cores"], (" (perf: %s)" % p1[1]) if p1 else ""))
if in_llc:
    txt += (" This CPU's last-level cache (%.0f MiB) is larger than the matrix, so repeated scans are served "
            "partly from it, which is how a scan can beat the DRAM bound: membw over a buffer of the matrix's "
            "own size reads %.1f GB/s, and against that stricter bound the single-query ratio is %.2f." % (
                llc / 2 ** 20, bwd, s1["effective_GBps"] / bwd))
if s4:
    txt += (" Four connections run four split scans on the same cores and stream %.1f GB/s (%.2f server cores "
            "busy, other load %.2f); p50 latency rises from %.1f to %.1f ms because the scans queue for the cores "
            "and the memory bus." % (s4["effective_GBps"], s4["server_cores_busy"], s4["other_load_cores"],
                                     s1["p50_ms"], s4["p50_ms"]))
p(txt)
p()
bt = [r for r in sr if r["batch"]]
if bt:
    txt = ("Batched queries share one pass, so their bandwidth bound grows with the batch, but so does the "
           "arithmetic per byte: q queries do q/2 floating-point operations per byte read (4 at 8 queries, 8 at "
           "16). Measured: ")
    txt += "; ".join("%d per request on %d connection%s: %s QPS, %.0f GFLOP/s, %.1f GB/s read, %.2f server cores "
                     "busy, other load %.2f" % (
                         r["batch"], r["conns"], "s" if r["conns"] > 1 else "", fmt(r["qps"], 1),
                         r["qps"] * ld["points"] * 384 * 2 / 1e9, r["effective_GBps"], r["server_cores_busy"],
                         r["other_load_cores"]) for r in bt)
    per_core = [r["qps"] * ld["points"] * 384 * 2 / 1e9 / max(r["server_cores_busy"], 0.05) for r in bt]
    txt += (". Per busy server core that is %.0f–%.0f GFLOP/s (an 8-query register-blocked kernel reaches "
            "~145 GFLOP/s per core in cache on the reference machine of BENCHMARKS.md; `bench/kernels.c` "
            "measures Quiver's kernels alone)." % (min(per_core), max(per_core)))
    b8 = max((r for r in bt if r["batch"] == 8), key=lambda r: r["qps"], default=None)
    b16 = max((r for r in bt if r["batch"] == 16), key=lambda r: r["qps"], default=None)
    if b8:
        txt += (" At 8 queries per request the scan reads %.1f GB/s, %.0f%% of the DRAM bandwidth%s." % (
            b8["effective_GBps"], 100 * b8["effective_GBps"] / bw,
            (" and %.0f%% of the cache-resident one" % (100 * b8["effective_GBps"] / bwd)) if in_llc else ""))
    if b16:
        kern = sum(t["pct"] for t in p16[2]["top"] if "dot" in t["symbol"] or "l2sq" in t["symbol"]) if p16 else 0
        need = (bwd if in_llc else bw) * 8
        txt += (" At 16 the bound would need %.0f GFLOP/s (8 per byte at %.1f GB/s), more than two cores' FMA "
                "units deliver, so batches of 16 are compute-bound (%.2f of the DRAM bound%s)%s. What is left in "
                "the kernel: the horizontal sums at the end of each 4×4 tile of stored vectors × queries, which "
                "compete with the FMAs at 384-d, and the per-step prefetch loop." % (
                    need, bwd if in_llc else bw, b16["ratio_to_bound"],
                    (", %.2f of the cache-resident one" % (b16["effective_GBps"] / bwd)) if in_llc else "",
                    ("; perf puts %.0f%% of the server's samples in the block kernel (%s)" % (kern, p16[1]))
                    if p16 else ""))
    p(txt)
p()

# ---- memory --------------------------------------------------------------------------------------------
p("## 3. Memory")
p()
p("| what | RSS after | peak RSS | bytes per vector (RSS growth / points) | raw vector bytes | disk |")
p("|---|---:|---:|---:|---:|---:|")
p("| %s, 4 connections | %s | %s | %s | %d | %s |" % (
    rep["search"]["dataset"], mb(ld["rss_after_load"]), mb(ld["rss_peak"]), fmt(ld["bytes_per_vector_rss"]),
    ld["raw_vector_bytes"], mb(ld["disk_bytes"])))
for r in up:
    p("| synthetic %d-d, wait=%s, %d conn | %s | %s | %s | %d | %s |" % (
        r["dim"], "true" if r["wait"] else "false", r["conns"], mb(r["rss_after"]), mb(r["rss_peak"]),
        fmt(r["bytes_per_point_rss"]), r["dim"] * 4, mb(r["disk_bytes"])))
p()
one = [r for r in up if r["conns"] == 1 and r["dim"] == 384]
four = [r for r in up if r["conns"] == 4 and r["dim"] == 384]
p("**What limits it.** The vectors themselves are %d bytes at 384-d (f32, no quantization yet); a 384-d point "
  "costs %s bytes of RSS when loaded over one connection and %s over four, so the non-vector part (ids, "
  "versions, the small payload, liveness, allocator slack) is about %s bytes per point. RSS is higher for the "
  "same data with four writers; a likely cause (not verified) is that each connection has its own thread "
  "(libmicrohttpd thread-per-connection) whose malloc arena keeps the ~1.3 MB request bodies and parse trees "
  "after the request. At 1536-d a point costs %s bytes of RSS over one connection (%s raw). Disk holds the "
  "WAL (the requests' vectors in binary) and segment files: %s for 100k 384-d points, about the raw size "
  "once." % (
      384 * 4, fmt(avg(r["bytes_per_point_rss"] for r in one)), fmt(avg(r["bytes_per_point_rss"] for r in four)),
      fmt(avg(r["bytes_per_point_rss"] for r in one) - 384 * 4),
      fmt(avg(r["bytes_per_point_rss"] for r in up if r["dim"] == 1536 and r["conns"] == 1)), fmt(1536 * 4),
      mb(ld["disk_bytes"])))
p()
# ---- gRPC beside REST ------------------------------------------------------------------------------------
ug = rep.get("upsert_grpc") or []
sg = rep["search"].get("rows_grpc") or []
if ug or sg:
    p("## 4. gRPC beside REST")
    p()
    p("The same work through Qdrant's gRPC API on the same server build: `bench/grpcload.py` sends `Points/Upsert` "
      "messages holding the same 256 points (ids, packed float vectors, the same payload) and `Points/Query` / "
      "`Points/QueryBatch` messages with the same query vectors, serialised before the clock starts and sent as "
      "raw bytes through grpcio's C core, one thread and one TCP connection (private subchannel pool) per "
      "connection. The client is Python around gRPC's C core, so its CPU per request is higher than "
      "loadgen.c's; it is recorded (*client CPU s*) and counted out of *other load*.")
    p()
if ug:
    rest = {(r["dim"], r["wait"], r["conns"]): r for r in up}
    p("| dim | wait | conns | gRPC points/s | REST points/s | gRPC / REST | gRPC server CPU µs/point | REST server CPU µs/point | gRPC p50 ms | request MB | client CPU s | other load | runs (points/s) |")
    p("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in ug:
        o = rest.get((r["dim"], r["wait"], r["conns"]))
        p("| %d | %s | %d | %s | %s | **%s** | %.1f | %s | %.1f | %.2f | %.2f | %.2f | %s |" % (
            r["dim"], "true" if r["wait"] else "false", r["conns"], fmt(r["points_per_s"]),
            fmt(o["points_per_s"]) if o else "–", ("%.2f×" % (r["points_per_s"] / o["points_per_s"])) if o else "–",
            r["server_cpu_us_per_point"], ("%.1f" % o["server_cpu_us_per_point"]) if o else "–", r["p50_ms"],
            r["body_bytes_avg"] / 1e6, r["client_cpu_s"], r["other_load_cores"],
            ", ".join(fmt(x) for x in r.get("runs_points_per_s", []))))
    p()
    g1536 = max((r for r in ug if r["dim"] == 1536), key=lambda r: r["points_per_s"], default=None)
    r1536 = max((r for r in up if r["dim"] == 1536), key=lambda r: r["points_per_s"], default=None)
    if g1536 and r1536:
        p("Best at 1536-d: gRPC %s points/s against REST %s points/s = **%.2f×** (goal ≥ 3×). Server CPU per point: "
          "%.1f µs through gRPC against %.1f µs through REST (%.1f× less): packed floats are copied, not parsed from "
          "decimal text." % (
              fmt(g1536["points_per_s"]), fmt(r1536["points_per_s"]), g1536["points_per_s"] / r1536["points_per_s"],
              g1536["server_cpu_us_per_point"], r1536["server_cpu_us_per_point"],
              r1536["server_cpu_us_per_point"] / max(g1536["server_cpu_us_per_point"], 1e-9)))
        p()
if sg:
    rest = {(r["batch"], r["conns"]): r for r in sr}
    p("| queries/request | conns | gRPC QPS | REST QPS | gRPC / REST | gRPC p50 ms | REST p50 ms | gRPC server ms/query | REST server ms/query | recall@10 | client CPU s | other load | runs (QPS) |")
    p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in sg:
        o = rest.get((r["batch"], r["conns"]))
        p("| %s | %d | %s | %s | %s | %.1f | %s | %.2f | %s | %s | %.2f | %.2f | %s |" % (
            r["batch"] or "1 (single)", r["conns"], fmt(r["qps"], 1), fmt(o["qps"], 1) if o else "–",
            ("%.2f×" % (r["qps"] / o["qps"])) if o else "–", r["p50_ms"], ("%.1f" % o["p50_ms"]) if o else "–",
            r["server_cpu_ms_per_query"], ("%.2f" % o["server_cpu_ms_per_query"]) if o else "–",
            r.get("recall_at_10", "–"), r.get("client_cpu_s", 0), r["other_load_cores"],
            ", ".join(fmt(x, 1) for x in r.get("runs_qps", []))))
    p()
    p("Exact search costs the same scan whichever transport carries the query; what differs is the decoding of "
      "the query vectors and the encoding of the answers, small beside a 153.6 MB pass.")
    p()
p("## Files")
p()
p("- `bench/run.sh`: the one command; `BENCH_N384`, `BENCH_N1536`, `BENCH_SEARCH_SECONDS`, `BENCH_REPEAT` "
  "shrink it for a quick try.")
p("- `bench/bench.py` (orchestration), `bench/loadgen.c` (REST load generator), `bench/grpcload.py` (gRPC load generator), `bench/membw.c` (read bandwidth), "
  "`bench/gen.py` (synthetic data, f16 widening), `bench/faiss_peer.py` (peer), `bench/report_md.py` (this file).")
p("- `bench/out/report.json`: every figure, all runs, perf top symbols; `bench/out/perf-*.txt`: the full "
  "perf reports; `bench/out/dump-*.jsonl`: the checked search responses.")
open(sys.argv[2], "w").write("\n".join(L) + "\n")
