"""Process control and small helpers shared by conftest.py and the tests."""

import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from qdrant_client import QdrantClient

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


def quiver_bin():
    path = os.environ.get("QUIVER_BIN", "build/release/quiver")
    if not os.path.isabs(path):
        cand = os.path.abspath(path)
        path = cand if os.path.exists(cand) else os.path.join(REPO_ROOT, path)
    return path


def prefer_grpc():
    """True when the suite runs with QUIVER_PREFER_GRPC=1: every QdrantClient
    for the server under test then talks gRPC (raw-HTTP tests stay on REST)."""
    return os.environ.get("QUIVER_PREFER_GRPC", "") not in ("", "0")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5.0):
    """(status, body bytes) of a GET; status None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError, OSError, socket.timeout):
        return None, b""


class ServerProc:
    """One Quiver process on a given storage directory.

    start() picks a fresh free HTTP port and a fresh free gRPC port each
    time, waits for GET /readyz and raises (with the server's stderr) if the
    process dies first.  stop() sends SIGTERM and returns the exit code;
    kill() sends SIGKILL.  client() speaks gRPC when QUIVER_PREFER_GRPC=1.
    """

    def __init__(self, storage, env=None, log_dir=None):
        self.storage = storage
        self.extra_env = dict(env or {})
        self.log_dir = log_dir or tempfile.mkdtemp(prefix="quiver-log-")
        self.proc = None
        self.port = None
        self.grpc_port = None
        self.starts = 0
        self.stderr_path = None

    # -- process control ------------------------------------------------------

    def _env(self, port, grpc_port=None):
        grpc_port = self.grpc_port if grpc_port is None else grpc_port
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("QDRANT__")}
        env.update(
            {
                "QDRANT__SERVICE__HTTP_PORT": str(port),
                "QDRANT__SERVICE__HOST": "127.0.0.1",
                "QDRANT__SERVICE__GRPC_PORT": str(grpc_port),
                "QDRANT__STORAGE__STORAGE_PATH": self.storage,
                "QDRANT__LOG_LEVEL": "INFO",
            }
        )
        env.update(self.extra_env)
        return env

    def spawn(self, port=None):
        """Starts the process without waiting for it to become ready."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.port = port or free_port()
        self.grpc_port = free_port()
        while self.grpc_port == self.port:
            self.grpc_port = free_port()
        self.starts += 1
        self.stderr_path = os.path.join(self.log_dir, f"stderr-{self.port}-{self.starts}.log")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [quiver_bin()],
            cwd=self.log_dir,  # no config/config.yaml there
            env=self._env(self.port, self.grpc_port),
            stdin=subprocess.DEVNULL,
            stdout=self._stderr,
            stderr=self._stderr,
        )
        return self.proc

    def start(self, port=None):
        last_err = None
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.spawn(port)
            try:
                self.wait_ready()
                return self
            except ServerDied as e:
                last_err = e
                # the gRPC port is always picked here, so a clash on it is retried
                grpc_clash = f":{self.grpc_port}" in e.stderr
                if "address" not in e.stderr.lower() or (port is not None and not grpc_clash):
                    raise
        raise last_err

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise ServerDied(rc, self.stderr())
            status, _ = http_get(self.url + "/readyz", timeout=1.0)
            if status == 200:
                return
            time.sleep(0.02)
        self.kill()
        raise AssertionError(f"server not ready after {timeout}s; stderr:\n{self.stderr()}")

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM; returns the exit code (SIGKILLs and fails if it hangs)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(
                    f"server did not stop within {timeout}s of SIGTERM; stderr:\n{self.stderr()}"
                )
        self._stderr.close()
        return self.proc.returncode

    def kill(self):
        """SIGKILL (a crash); waits for the process to be gone."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._stderr.close()

    def restart(self):
        self.kill()
        return self.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- accessors ------------------------------------------------------------

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def client(self, **kw):
        """A QdrantClient for this server: REST, or gRPC when QUIVER_PREFER_GRPC=1."""
        if prefer_grpc():
            return QdrantClient(host="127.0.0.1", port=self.port, grpc_port=self.grpc_port,
                                prefer_grpc=True, timeout=30, **kw)
        return QdrantClient(url=self.url, prefer_grpc=False, timeout=30, **kw)


class ServerDied(AssertionError):
    def __init__(self, rc, stderr):
        super().__init__(f"server exited with {rc} before it was ready; stderr:\n{stderr}")
        self.rc = rc
        self.stderr = stderr


# ---- helpers shared by the test modules ---------------------------------------------


def assert_error_shape(resp, status=None, contains=None):
    """Checks a raw httpx response is a Qdrant error: {"status":{"error":...},"time":...}."""
    if status is not None:
        assert resp.status_code == status, (resp.status_code, resp.text[:500])
    else:
        assert 400 <= resp.status_code < 600, (resp.status_code, resp.text[:500])
    body = resp.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("status"), dict), body
    msg = body["status"].get("error")
    assert isinstance(msg, str) and msg, body
    assert isinstance(body.get("time"), (int, float)), body
    assert "result" not in body or body["result"] is None, body
    if contains is not None:
        assert contains in msg, (contains, msg)
    return msg


def copy_storage(src, dst):
    shutil.copytree(src, dst, symlinks=True)
    # the storage lock file may be copied in a locked state of its holder; it is
    # an flock, so the copy is not locked.


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))


def raw_request(port, method, target, body=b"", headers=None, timeout=10.0):
    """Sends one HTTP/1.1 request with the request target exactly as given
    (no client-side normalisation) and returns (status, body bytes)."""
    hdrs = {"Host": f"127.0.0.1:{port}", "Connection": "close"}
    if body or method in ("POST", "PUT", "PATCH"):
        hdrs["Content-Type"] = "application/json"
        hdrs["Content-Length"] = str(len(body))
    hdrs.update(headers or {})
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.encode("latin-1") + body)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
    data = b"".join(chunks)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    h = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        h[k.strip().lower()] = v.strip()
    if h.get("transfer-encoding", "").lower() == "chunked":
        out, buf = b"", rest
        while buf:
            size_line, _, buf = buf.partition(b"\r\n")
            n = int(size_line.split(b";")[0], 16)
            if n == 0:
                break
            out, buf = out + buf[:n], buf[n + 2:]
        rest = out
    return status, rest


# ---- transport-aware expectations (QUIVER_PREFER_GRPC=1) -------------------------------------
#
# The same client call gives the same answer over REST and gRPC except where the wire format
# itself differs; these helpers state those differences once, so the tests keep exact assertions.

# REST status -> the gRPC code Qdrant (and Quiver) answer for the same error
GRPC_CODE_FOR_STATUS = {
    400: "INVALID_ARGUMENT",
    422: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
}


class ClientError:
    """What client_error() caught: the transport, the REST status or gRPC code, the message."""

    def __init__(self):
        self.exc = None
        self.transport = None
        self.status = None  # REST status code
        self.code = None  # gRPC status code name
        self.message = None


@contextlib.contextmanager
def client_error(status, contains=None):
    """Expects the QdrantClient call in the block to fail as the server's REST `status` would.

    Over REST: UnexpectedResponse with that HTTP status and the message in `status.error`.
    Over gRPC: grpc.RpcError with the matching code (400/422 -> INVALID_ARGUMENT, 404 -> NOT_FOUND,
    409 -> ALREADY_EXISTS, ...) and the same message in the details.  `contains` must be in the
    message either way (the server keeps the text identical on both transports).
    """
    import grpc
    from qdrant_client.http.exceptions import UnexpectedResponse

    info = ClientError()
    try:
        yield info
    except UnexpectedResponse as e:
        info.exc, info.transport, info.status = e, "rest", e.status_code
        try:
            info.message = json.loads(e.content)["status"]["error"]
        except (ValueError, KeyError, TypeError):
            info.message = e.content.decode("utf-8", "replace")
        assert e.status_code == status, (e.status_code, info.message)
    except grpc.RpcError as e:
        info.exc, info.transport, info.code = e, "grpc", e.code().name
        info.message = e.details() or ""
        want = GRPC_CODE_FOR_STATUS[status]
        assert info.code == want, (f"gRPC code {info.code}, expected {want} (REST {status})", info.message)
    else:
        raise AssertionError(f"the call succeeded; expected an error (REST {status})")
    if contains is not None:
        assert contains in info.message, (contains, info.message)


def wire_vector(v):
    """A vector (list, or dict of named lists) as the client reads it back: exact over REST
    (shortest round-trip decimals), float32 widened to double over gRPC (proto `float`)."""
    if not prefer_grpc() or v is None:
        return v
    if isinstance(v, dict):
        return {k: wire_vector(x) for k, x in v.items()}
    return [float(struct.unpack("f", struct.pack("f", x))[0]) for x in v]


def wire_payload(p):
    """A payload as gRPC can carry it: qdrant.Value's integer is int64, so an integer outside
    int64 travels as a double (as Qdrant converts it).  Unchanged over REST."""
    if not prefer_grpc():
        return p
    if isinstance(p, bool) or p is None:
        return p
    if isinstance(p, int):
        return p if -(2**63) <= p < 2**63 else float(p)
    if isinstance(p, dict):
        return {k: wire_payload(x) for k, x in p.items()}
    if isinstance(p, list):
        return [wire_payload(x) for x in p]
    return p


def assert_no_payload(record_payload):
    """A point read back without payload: None over REST; over gRPC a RetrievedPoint's payload is
    a proto map, which cannot be absent, so the client returns {}."""
    if prefer_grpc():
        assert record_payload in (None, {}), record_payload
    else:
        assert record_payload is None, record_payload


def config_json(http, name):
    """The collection's "config" object as the REST API returns it (http: an
    httpx client on the server, the `http` fixture)."""
    r = http.get(f"/collections/{name}")
    assert r.status_code == 200, r.text
    return r.json()["result"]["config"]


def refused(fn, text=None):
    """fn must fail with a client error (REST 400/422, gRPC INVALID_ARGUMENT),
    its message containing text when given; returns the exception."""
    import grpc
    import pytest
    from qdrant_client.http.exceptions import UnexpectedResponse

    with pytest.raises((UnexpectedResponse, grpc.RpcError)) as ei:
        fn()
    e = ei.value
    if isinstance(e, grpc.RpcError):
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
        msg = e.details()
    else:
        assert e.status_code in (400, 422), e
        msg = e.content.decode()
    if text:
        assert text in msg, msg
    return e


def configs_survive_restart(srv, names):
    """The REST "config" of each collection in names is the same after a clean
    restart of srv; returns them (as read before the restart)."""
    import httpx

    with httpx.Client(base_url=srv.url, timeout=30) as h:
        before = {n: config_json(h, n) for n in names}
    assert srv.stop() == 0
    srv.start()
    with httpx.Client(base_url=srv.url, timeout=30) as h:
        assert {n: config_json(h, n) for n in names} == before
    return before
