"""Comparison helpers shared by the differential tests (test_differential.py,
test_filter_fuzz.py): Quiver's answers against the Python client's in-memory
reference (QdrantClient(":memory:")).

Each compare_* returns a list of mismatch descriptions (empty when equal), so a
test can gather them and fail once with everything a CI log needs to debug.
"""

import json
import uuid

import numpy as np

from quiver_harness import prefer_grpc


def describe(obj):
    """A request object (a pydantic model such as a Filter) as compact JSON."""
    if obj is None:
        return "None"
    if hasattr(obj, "model_dump"):
        return json.dumps(obj.model_dump(exclude_none=True, by_alias=True, mode="json"), ensure_ascii=False)
    return json.dumps(obj, default=str, ensure_ascii=False)


def canon(v):
    """JSON text with types kept (1 vs 1.0), for exact payload comparison."""
    return json.dumps(v, sort_keys=True, ensure_ascii=False)


def same_payload(q, ref):
    """Exact payload equality (types kept).  Over gRPC an empty payload and no payload are the
    same thing on the wire (a proto map cannot be absent: the client reads a retrieved point's
    as {} and a scored point's as None), so only there are None and {} equal."""
    if prefer_grpc() and q in (None, {}) and ref in (None, {}):
        return True
    return canon(q) == canon(ref)


def same_vectors(a, b, cosine_names=("c",)):
    if a is None or b is None:
        return a == b or (not a and not b)
    if isinstance(a, list) or isinstance(b, list):
        return np.array_equal(np.asarray(a, np.float32), np.asarray(b, np.float32))
    if set(a) != set(b):
        return False
    for k in a:
        x, y = np.asarray(a[k], np.float32), np.asarray(b[k], np.float32)
        if k in cosine_names:
            if not np.allclose(x, y, rtol=1e-5, atol=1e-6):
                return False
        elif not np.array_equal(x, y):
            return False
    return True


def compare_scored(q_pts, l_pts, what):
    """Scored points in order; ids may differ only between scores equal within float32 noise."""
    errs = []
    q_ids = [p.id for p in q_pts]
    l_ids = [p.id for p in l_pts]
    if len(q_ids) != len(l_ids):
        return [f"{what}: {len(q_ids)} results, reference {len(l_ids)}: {q_ids[:12]} vs {l_ids[:12]}"]
    l_score = {p.id: p.score for p in l_pts}
    for i, (qp, lp) in enumerate(zip(q_pts, l_pts)):
        if not np.isclose(qp.score, lp.score, rtol=1e-4, atol=1e-5):
            errs.append(f"{what}: score #{i} {qp.score} vs reference {lp.score} (ids {qp.id}/{lp.id})")
            break
        if qp.id != lp.id:
            # only acceptable for scores equal within float32 noise
            ok = abs(qp.score - lp.score) <= 1e-5 * max(1.0, abs(lp.score)) and (
                qp.id not in l_score or abs(l_score[qp.id] - lp.score) <= 1e-5 * max(1.0, abs(lp.score))
            )
            if not ok:
                errs.append(f"{what}: id #{i} {qp.id} vs reference {lp.id}: {q_ids} vs {l_ids}")
                break
        if qp.id == lp.id:
            if not same_payload(qp.payload, lp.payload):
                errs.append(f"{what}: payload of {qp.id}: {canon(qp.payload)} vs reference {canon(lp.payload)}")
                break
            if not same_vectors(qp.vector, lp.vector):
                errs.append(f"{what}: vector of {qp.id}: {qp.vector} vs reference {lp.vector}")
                break
    return errs


def compare_records(q_pts, l_pts, what):
    """Records (scroll, retrieve) in order: the same ids, payloads and vectors."""
    errs = []
    q_ids = [p.id for p in q_pts]
    l_ids = [p.id for p in l_pts]
    if q_ids != l_ids:
        return [f"{what}: ids {q_ids[:15]}... ({len(q_ids)}) vs reference {l_ids[:15]}... ({len(l_ids)}); "
                f"only quiver: {sorted(set(q_ids) - set(l_ids), key=str)[:8]}, "
                f"only reference: {sorted(set(l_ids) - set(q_ids), key=str)[:8]}"]
    for qp, lp in zip(q_pts, l_pts):
        if not same_payload(qp.payload, lp.payload):
            errs.append(f"{what}: payload of {qp.id}: {canon(qp.payload)} vs reference {canon(lp.payload)}")
            break
        if not same_vectors(qp.vector, lp.vector):
            errs.append(f"{what}: vector of {qp.id}: {qp.vector} vs reference {lp.vector}")
            break
    return errs


def rand_id(r, used, small_max, p_small):
    """A point ID not in used (added to it): a small integer (below small_max) with
    probability p_small, a large one (>= 2**40) with 0.1, else a random UUID string."""
    while True:
        x = r.random()
        if x < p_small:
            pid = r.randint(0, small_max)
        elif x < p_small + 0.1:
            pid = r.randint(2**40, 2**64 - 1)
        else:
            pid = str(uuid.UUID(int=r.getrandbits(128), version=4))
        if pid not in used:
            used.add(pid)
            return pid
