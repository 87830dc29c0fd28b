"""quiver-inspect on a real data directory: it reports clean files as clean,
finds a flipped byte in a checkpoint, and never changes what it reads."""

import glob
import hashlib
import os
import subprocess

from qdrant_client import models

from quiver_harness import ServerProc, quiver_bin


def inspect_bin():
    return os.path.join(os.path.dirname(quiver_bin()), "quiver-inspect")


def run_inspect(*args):
    p = subprocess.run([inspect_bin(), *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def tree_digest(root):
    h = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(root, "**"), recursive=True)):
        if os.path.isfile(path) and not path.endswith(".quiver.lock"):
            h.update(path.encode())
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def test_inspect_wal_and_checkpoint(tmp_path):
    storage = str(tmp_path / "storage")
    srv = ServerProc(storage)
    srv.start()
    # no background version check: it would race with the stop below and warn
    client = srv.client(check_compatibility=False)
    client.create_collection("ins", vectors_config=models.VectorParams(
        size=3, distance=models.Distance.DOT))
    client.upsert("ins", [models.PointStruct(id=i, vector=[i, 1.0, 2.0], payload={"i": i})
                          for i in range(25)], wait=True)
    assert srv.stop() == 0  # a clean stop writes a checkpoint

    coll = os.path.join(storage, "collections", "ins")
    before = tree_digest(storage)
    rc, out = run_inspect("wal", os.path.join(coll, "wal"))
    assert rc == 0, out
    assert "verdict: clean" in out
    (cp,) = glob.glob(os.path.join(coll, "checkpoints", "cp-*"))
    rc, out = run_inspect("checkpoint", cp)
    assert rc == 0, out
    assert "points 25" in out
    assert tree_digest(storage) == before  # read-only

    vec = os.path.join(cp, "vectors-0.dat")
    with open(vec, "r+b") as f:
        f.seek(40)
        b = f.read(1)
        f.seek(40)
        f.write(bytes([b[0] ^ 0x10]))
    rc, out = run_inspect("checkpoint", cp)
    assert rc == 2, out
    assert "checksum" in out


def test_inspect_usage():
    rc, out = run_inspect()
    assert rc == 64
    assert "wal" in out and "checkpoint" in out
