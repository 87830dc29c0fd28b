"""Runs scripts/proto_check.py: proto/ must match Qdrant 1.19's gRPC
descriptors and must go through protoc-c and the C compiler cleanly."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECK = os.path.join(ROOT, "scripts", "proto_check.py")


def test_proto_matches_reference():
    p = subprocess.run(
        [sys.executable, CHECK],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    for line in p.stdout.splitlines():
        if line.startswith("SKIP:") and p.returncode == 0:
            pytest.skip(line[len("SKIP:"):].strip())
    assert p.returncode == 0, p.stdout


def _check_mutated(tmp_path, path, old, new):
    """Runs the checker (descriptors only) over a copy of proto/ with one edit."""
    import shutil

    d = tmp_path / "proto"
    shutil.copytree(os.path.join(ROOT, "proto"), d)
    text = (d / path).read_text()
    assert text.count(old) == 1, old
    (d / path).write_text(text.replace(old, new))
    return subprocess.run(
        [sys.executable, CHECK, "--no-c", "--proto-dir", str(d)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
    )


def _needs_reference():
    p = subprocess.run([sys.executable, CHECK, "--no-c"], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=600)
    if p.stdout.startswith("SKIP:"):
        pytest.skip(p.stdout.strip())
    assert p.returncode == 0, p.stdout
    # the declared differences are printed
    assert "string->bytes .qdrant.Value.string_value" in p.stdout
    assert "map_entry .qdrant.PointStruct.PayloadEntry" in p.stdout


@pytest.mark.parametrize(
    "path,old,new,expect",
    [
        # the option taken off a declared field
        ("json_with_int.proto", "string string_value = 4 [(pb_c_field).string_as_bytes = true];",
         "string string_value = 4;", "declared in STRING_AS_BYTES but lacks"),
        # the option put on a field that is not declared
        ("qdrant_common.proto", "string uuid = 2;",
         "string uuid = 2 [(pb_c_field).string_as_bytes = true];", "not declared in STRING_AS_BYTES"),
        # a real bytes field (the server would UTF-8-check it wrongly)
        ("qdrant_common.proto", "string uuid = 2;", "bytes uuid = 2;", "type TYPE_STRING != ours TYPE_BYTES"),
        # an explicit entry whose wire shape drifts is still caught
        ("points.proto", "  repeated PayloadEntry payload = 3;\n  oneof _vectors",
         "  repeated PayloadEntry payload = 9;\n  oneof _vectors", "number 3 != ours 9"),
        # an explicit entry message that is not a declared one
        ("collections.proto", "map<string, VectorParams> map = 1;",
         "message MapEntry { string key = 1; VectorParams value = 2; }\n  repeated MapEntry map = 1;",
         "map_entry True != ours False"),
    ],
)
def test_checker_accepts_only_the_declared_differences(tmp_path, path, old, new, expect):
    _needs_reference()
    p = _check_mutated(tmp_path, path, old, new)
    assert p.returncode == 1, p.stdout
    assert expect in p.stdout, p.stdout
