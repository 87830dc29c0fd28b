"""grpc_harness.py - what the gRPC test modules share: a module-scoped Quiver
whose gRPC port is known to take calls (tests/py/quiver_harness.py starts the
process on free REST and gRPC ports), and a raw grpcio channel to it.

Use from a module:

    @pytest.fixture(scope="module")
    def server(tmp_path_factory):
        yield from grpc_server(tmp_path_factory, "label", env={...})

    @pytest.fixture(scope="module")
    def channel(server):
        yield from grpc_channel(server)
"""

import os
import sys

import grpc
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "py"))
from quiver_harness import ServerProc, quiver_bin  # noqa: E402


def grpc_server(tmp_path_factory, label, env=None):
    """Starts a server with its own storage (extra QDRANT__* settings in env), waits until its gRPC port
    takes calls, yields it, and on teardown asserts that SIGTERM stops it with exit code 0."""
    path = quiver_bin()
    if not os.path.exists(path):
        pytest.fail(f"server binary {path} does not exist (build it or set QUIVER_BIN)")
    srv = ServerProc(str(tmp_path_factory.mktemp(label + "-storage")), env=env or {},
                     log_dir=str(tmp_path_factory.mktemp(label + "-log")))
    srv.start()
    # readiness is REST's /readyz; the gRPC port is checked here as well
    with grpc.insecure_channel(f"127.0.0.1:{srv.grpc_port}") as ch:
        grpc.channel_ready_future(ch).result(timeout=30)
    yield srv
    rc = srv.stop()
    assert rc == 0, f"server exited with {rc} after SIGTERM; stderr:\n{srv.stderr()}"


def grpc_channel(server, options=None):
    """A raw channel to the server's gRPC port, closed on teardown."""
    ch = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}", options=options or [])
    yield ch
    ch.close()
