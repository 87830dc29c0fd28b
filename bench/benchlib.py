"""benchlib.py - pieces the benchmark drivers share (bench.py, hnsw_peers.py, filter_bench.py).

  Server        a Quiver server on temporary storage and free loopback ports (REST and gRPC), with
                a small JSON request helper and its CPU time, resident memory and disk use
  free_port     a free TCP port on 127.0.0.1
  sys_busy      busy CPU seconds of the whole machine so far (all processes): the drivers subtract
                their own processes' CPU to know what the rest of the machine did during a
                measurement ("other load")
  proc_cpu      user + system CPU seconds of one process
  qps_at        QPS of a recall/QPS curve at a recall target, interpolated log-linearly

A library, not a benchmark: importing it starts nothing.
"""
import json
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def sys_busy():
    """Busy CPU seconds of the whole machine so far (all processes)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """User + system CPU seconds of process pid."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    v = s[s.rindex(")") + 2:].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def qps_at(curve, target):
    """QPS at a recall target, log-linear between the two points that bracket it (curve by ef).
    Returns (qps or None, how)."""
    pts = sorted((p["recall_at_10"], p["qps"]) for p in curve if p.get("qps"))
    if not pts:
        return None, "no data"
    if pts[-1][0] < target:
        return None, "not reached (max %.4f)" % pts[-1][0]
    if pts[0][0] >= target:
        return pts[0][1], "reached at the smallest ef (%.4f): QPS there, a lower bound" % pts[0][0]
    for (r0, q0), (r1, q1) in zip(pts, pts[1:]):
        if r0 < target <= r1:
            if r1 == r0:
                return q1, "interpolated"
            f = (target - r0) / (r1 - r0)
            return math.exp(math.log(q0) + f * (math.log(q1) - math.log(q0))), "interpolated"
    return None, "?"


class Server:
    """A Quiver server process on a fresh storage directory under storage_parent, REST and gRPC on free
    loopback ports, output appended to log_path; extra_env adds to (or overrides) its environment.
    stop() ends it (SIGTERM, then SIGKILL after 60 s) and removes the storage."""

    def __init__(self, binary, log_path, storage_parent="/var/tmp", extra_env=None, start_timeout=10.0):
        self.dir = tempfile.mkdtemp(prefix="quiver-bench-", dir=storage_parent)
        self.port = free_port()
        self.grpc_port = free_port()
        while self.grpc_port == self.port:
            self.grpc_port = free_port()
        env = dict(os.environ)
        env.update({
            "QDRANT__SERVICE__HTTP_PORT": str(self.port),
            "QDRANT__SERVICE__GRPC_PORT": str(self.grpc_port),
            "QDRANT__SERVICE__HOST": "127.0.0.1",
            "QDRANT__STORAGE__STORAGE_PATH": self.dir,
            "QDRANT__LOG_LEVEL": "WARN",
        })
        env.update(extra_env or {})
        self.log_path = log_path
        self.logf = open(log_path, "a")
        self.p = subprocess.Popen([binary], env=env, stdout=self.logf, stderr=self.logf)
        t_end = time.time() + start_timeout
        while True:
            try:
                self.req("GET", "/collections")
                return
            except OSError:
                if self.p.poll() is not None or time.time() > t_end:
                    self.stop()
                    raise RuntimeError("server did not start (see %s)" % log_path)
                time.sleep(0.05)

    def req(self, method, path, body=None, timeout=600):
        """One JSON request; returns the parsed response.  An HTTP error status raises
        urllib.error.HTTPError (an OSError) whose .body holds the response text."""
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data, method=method,
                                   headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(r, timeout=timeout) as f:
                return json.loads(f.read())
        except urllib.error.HTTPError as e:
            e.body = e.read().decode(errors="replace")
            raise

    def status(self):
        """VmRSS and VmHWM in bytes."""
        st = {}
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    st[k] = int(v.split()[0]) * 1024
        return st

    def cpu(self):
        return proc_cpu(self.p.pid)

    def disk(self):
        total = 0
        for d, _, fs in os.walk(self.dir):
            for fn in fs:
                try:
                    total += os.path.getsize(os.path.join(d, fn))
                except OSError:
                    pass
        return total

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def machine():
    """The machine a report was measured on: platform, Python, CPUs, CPU model, memory."""
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["mem_gb"] = round(int(f.readline().split()[1]) / 1e6, 1)
    except OSError:
        pass
    return info


def fmt(x, nd=0):
    """A report cell: "–" for none, floats with thousands separators and nd decimals."""
    if x is None:
        return "–"
    if isinstance(x, float):
        return ("{:,.%df}" % nd).format(x)
    return str(x)


def ratio(x):
    return "–" if x is None else "%.2f×" % x
