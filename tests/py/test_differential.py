"""Differential test: the same data and the same client calls against Quiver and
against the Python client's in-memory reference (QdrantClient(":memory:")).

Seeded and deterministic.  Every query, scroll and count is compared: IDs in
order, scores (rel 1e-4), payloads (exactly, types included) and vectors.
"""

import random
import uuid

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from diff_compare import canon, compare_records, compare_scored, describe, same_payload
from diff_compare import rand_id as shared_rand_id

SEED = 1125
N_POINTS = 3000
VECTORS = {"c": (8, models.Distance.COSINE), "d": (16, models.Distance.DOT), "e": (32, models.Distance.EUCLID)}
WORDS = ["red", "green", "blue", "cyan", "Red", "rouge", "grün", "青", "", "a b", "zzz"]
EMPTY_KEYS = ["i", "f", "s", "b", "arr", "tags", "a", "a.b", "a.c", "a.d", "n", "nope", "a.d[].e", "arr[]"]
N_QUERIES = 300


# ---- data ------------------------------------------------------------------------------------------


def rand_payload(r):
    p = {}
    x = r.random()
    if x < 0.8:
        p["i"] = r.randint(-20, 20)
    elif x < 0.9:
        p["i"] = None
    x = r.random()
    if x < 0.7:
        p["f"] = r.choice([round(r.uniform(-100, 100), r.choice([1, 2, 6])), float(r.randint(-5, 5)), r.uniform(-1, 1)])
    elif x < 0.8:
        p["f"] = r.randint(-100, 100)  # an int in a mostly-float field
    if r.random() < 0.8:
        p["s"] = r.choice(WORDS)
    if r.random() < 0.7:
        p["b"] = r.random() < 0.5
    x = r.random()
    if x < 0.6:
        p["arr"] = [r.randint(0, 9) for _ in range(r.randint(0, 4))]
    elif x < 0.65:
        p["arr"] = None
    elif x < 0.7:
        p["arr"] = r.randint(0, 9)  # a scalar where others have arrays
    elif x < 0.75:
        p["arr"] = [r.randint(0, 9), None]
    if r.random() < 0.6:
        p["tags"] = r.sample(WORDS, r.randint(0, 3))
    x = r.random()
    if x < 0.7:
        a = {}
        if r.random() < 0.8:
            a["b"] = r.choice([r.randint(-10, 10), r.randint(-10, 10), None, r.uniform(-10, 10)])
        if r.random() < 0.7:
            a["c"] = r.choice(WORDS)
        if r.random() < 0.6:
            a["d"] = [{"e": r.randint(0, 5), "g": r.choice(WORDS)} for _ in range(r.randint(0, 3))]
        p["a"] = a
    elif x < 0.75:
        p["a"] = None
    if r.random() < 0.1:
        p["n"] = None
    if r.random() < 0.05:
        p["big"] = r.choice([2**63 - 1, -(2**63), 2**53 + 1, -3.3817118747907386, 1e-300])
    return p


def rand_id(r, used):
    return shared_rand_id(r, used, 5000, 0.55)


def make_data():
    r = random.Random(SEED)
    rng = np.random.default_rng(SEED)
    used = set()
    ids = [rand_id(r, used) for _ in range(N_POINTS)]
    points = []
    for pid in ids:
        vec = {}
        for name, (dim, _) in VECTORS.items():
            if r.random() < 0.93:
                vec[name] = rng.normal(size=dim).astype(np.float32).tolist()
        if not vec:
            vec["d"] = rng.normal(size=16).astype(np.float32).tolist()
        points.append(models.PointStruct(id=pid, vector=vec, payload=rand_payload(r)))
    return ids, points


# ---- filters ---------------------------------------------------------------------------------------


MATCH_KEYS = {
    "i": "int", "s": "str", "b": "bool", "a.b": "int", "a.c": "str", "arr": "int", "arr[]": "int",
    "tags": "str", "tags[]": "str", "a.d[].e": "int", "a.d[].g": "str", "f": "int",
}
RANGE_KEYS = ["i", "f", "a.b", "arr", "arr[]", "a.d[].e", "big"]
COUNT_KEYS = ["arr", "tags", "a.d", "i", "a", "nope", "a.d[].e"]


def rand_value(r, kind):
    if kind == "int":
        return r.randint(-20, 20) if r.random() < 0.5 else r.randint(0, 9)
    if kind == "str":
        return r.choice(WORDS)
    return r.random() < 0.5


def rand_leaf(r, ids, kind=None):
    kind = kind or r.choice(
        ["match", "match", "any", "except", "range", "range", "is_empty", "is_null", "has_id", "values_count",
         "nested", "has_vector"]
    )
    if kind == "match":
        key = r.choice(list(MATCH_KEYS))
        return models.FieldCondition(key=key, match=models.MatchValue(value=rand_value(r, MATCH_KEYS[key])))
    if kind == "any":
        key = r.choice([k for k, t in MATCH_KEYS.items() if t != "bool"])
        vals = list({rand_value(r, MATCH_KEYS[key]) for _ in range(r.randint(0, 4))})
        return models.FieldCondition(key=key, match=models.MatchAny(any=vals))
    if kind == "except":
        key = r.choice([k for k, t in MATCH_KEYS.items() if t != "bool"])
        vals = list({rand_value(r, MATCH_KEYS[key]) for _ in range(r.randint(0, 3))})
        return models.FieldCondition(key=key, match=models.MatchExcept(**{"except": vals}))
    if kind == "range":
        key = r.choice(RANGE_KEYS)
        bounds = {}
        for b in r.sample(["gt", "gte", "lt", "lte"], r.randint(1, 2)):
            bounds[b] = r.choice([r.randint(-20, 20), round(r.uniform(-50, 50), 2)])
        return models.FieldCondition(key=key, range=models.Range(**bounds))
    if kind == "is_empty":
        return models.IsEmptyCondition(is_empty=models.PayloadField(key=r.choice(EMPTY_KEYS)))
    if kind == "is_null":
        return models.IsNullCondition(is_null=models.PayloadField(key=r.choice(EMPTY_KEYS)))
    if kind == "has_id":
        some = r.sample(ids, r.randint(0, 40)) + [r.randint(100000, 200000)]
        return models.HasIdCondition(has_id=some)
    if kind == "values_count":
        bounds = {b: r.randint(0, 4) for b in r.sample(["gt", "gte", "lt", "lte"], r.randint(1, 2))}
        return models.FieldCondition(key=r.choice(COUNT_KEYS), values_count=models.ValuesCount(**bounds))
    if kind == "nested":
        inner = models.Filter(must=[
            models.FieldCondition(key="e", match=models.MatchValue(value=r.randint(0, 5))),
            models.FieldCondition(key="g", match=models.MatchAny(any=r.sample(WORDS, 3))),
        ][: r.randint(1, 2)])
        return models.NestedCondition(nested=models.Nested(key=r.choice(["a.d", "a.d[]"]), filter=inner))
    if kind == "has_vector":
        return models.HasVectorCondition(has_vector=r.choice(list(VECTORS)))
    raise ValueError(kind)


def rand_filter(r, ids, depth=0, kind=None):
    def conds(n):
        out = []
        for _ in range(n):
            if depth < 2 and kind is None and r.random() < 0.2:
                out.append(rand_filter(r, ids, depth + 1))
            else:
                out.append(rand_leaf(r, ids, kind))
        return out

    f = {}
    for clause in r.sample(["must", "should", "must_not", "min_should"], r.randint(1, 3)):
        if clause == "min_should":
            cs = conds(r.randint(1, 4))
            f["min_should"] = models.MinShould(conditions=cs, min_count=r.randint(1, len(cs)))
        else:
            cs = conds(r.randint(1, 3))
            f[clause] = cs if len(cs) > 1 or r.random() < 0.5 else cs[0]
    return models.Filter(**f)


# ---- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset():
    return make_data()


@pytest.fixture(scope="module")
def pair(client, dataset):
    ids, points = dataset
    name = f"diff_{uuid.uuid4().hex[:8]}"
    local = QdrantClient(":memory:")
    for c in (client, local):
        c.create_collection(name, vectors_config={k: models.VectorParams(size=d, distance=dist) for k, (d, dist) in VECTORS.items()})
        for i in range(0, len(points), 500):
            c.upsert(name, points[i:i + 500], wait=True)
    yield client, local, name
    client.delete_collection(name)
    local.close()


def run_both(pair, method, *args, **kw):
    q, l, name = pair
    lres = lerr = None
    try:
        lres = getattr(l, method)(name, *args, **kw)
    except Exception as e:  # noqa: BLE001
        lerr = e
    if lerr is not None:
        return None, None, lerr
    return getattr(q, method)(name, *args, **kw), lres, None


# ---- tests ------------------------------------------------------------------------------------------------


def test_contents_identical(pair, dataset):
    ids, _ = dataset
    q, l, name = pair
    assert q.count(name).count == l.count(name).count == N_POINTS
    qa, _ = q.scroll(name, limit=N_POINTS + 10, with_payload=True, with_vectors=True)
    la, _ = l.scroll(name, limit=N_POINTS + 10, with_payload=True, with_vectors=True)
    errs = compare_records(qa, la, "full scroll")
    assert not errs, "\n".join(errs)


FILTER_KINDS = ["match", "any", "except", "range", "is_empty", "is_null", "has_id", "values_count", "nested", "has_vector"]


@pytest.mark.parametrize("kind", FILTER_KINDS)
def test_filter_kind_counts_and_scroll(pair, dataset, kind):
    """Each filter kind alone (and in must/should/must_not/min_should), 25 random filters."""
    ids, _ = dataset
    r = random.Random(f"{SEED}-{kind}")
    errs, skipped = [], []
    for k in range(25):
        flt = rand_filter(r, ids, kind=kind)
        qc, lc, lerr = run_both(pair, "count", count_filter=flt, exact=True)
        if lerr is not None:
            skipped.append(f"{describe(flt)}: {lerr!r}")
            continue
        if qc.count != lc.count:
            errs.append(f"count {qc.count} vs reference {lc.count} for {describe(flt)}")
            continue
        (qp, qn), (lp, ln), _ = run_both(pair, "scroll", scroll_filter=flt, limit=N_POINTS, with_payload=False)
        errs += compare_records(qp, lp, f"scroll {describe(flt)}")
    if skipped:
        print(f"[{kind}] skipped {len(skipped)} filters the reference rejects, e.g. {skipped[0]}")
    if len(skipped) == 25:
        pytest.skip(f"the in-memory reference does not support filter kind {kind}: {skipped[0]}")
    assert not errs, f"{len(errs)} mismatches:\n" + "\n".join(errs[:10])


@pytest.mark.parametrize("chunk", range(6))
def test_random_queries(pair, dataset, chunk):
    ids, points = dataset
    r = random.Random(f"{SEED}-q{chunk}")
    rng = np.random.default_rng(SEED + chunk)
    errs, skipped = [], []
    per_chunk = N_QUERIES // 6
    for k in range(per_chunk):
        using = r.choice(list(VECTORS))
        dim = VECTORS[using][0]
        kw = {"using": using, "limit": r.randint(1, 30)}
        if r.random() < 0.8:
            kw["query_filter"] = rand_filter(r, ids)
        if r.random() < 0.3:
            kw["offset"] = r.randint(1, 20)
        # payload selectors are compared in test_payload_selectors_match_reference
        kw["with_payload"] = r.choice([True, True, False])
        kw["with_vectors"] = r.choice([False, False, True, [using]])
        if r.random() < 0.15:
            # by point id (the point itself is excluded)
            p = r.choice(points)
            if using not in p.vector:
                continue
            query = p.id
        else:
            query = rng.normal(size=dim).astype(np.float32).tolist()
        if r.random() < 0.15:
            kw["score_threshold"] = {"c": 0.3, "d": 2.0, "e": 7.5}[using]
        what = f"query #{chunk}.{k} {using} limit={kw['limit']} offset={kw.get('offset')} filter={describe(kw.get('query_filter'))}"
        qres, lres, lerr = run_both(pair, "query_points", query=query, **kw)
        if lerr is not None:
            skipped.append(f"{what}: {lerr!r}")
            continue
        errs += compare_scored(qres.points, lres.points, what)
    for s in skipped:
        print("skipped (reference rejects):", s[:300])
    assert len(skipped) < per_chunk // 4
    assert not errs, f"{len(errs)} mismatches:\n" + "\n".join(e[:1500] for e in errs[:8])


def test_random_scroll_pages_and_counts(pair, dataset):
    ids, _ = dataset
    r = random.Random(f"{SEED}-scroll")
    errs = []
    for k in range(40):
        flt = rand_filter(r, ids) if r.random() < 0.85 else None
        qc, lc, lerr = run_both(pair, "count", count_filter=flt)
        if lerr is not None:
            print("skipped (reference rejects):", describe(flt), repr(lerr))
            continue
        if qc.count != lc.count:
            errs.append(f"count {qc.count} vs {lc.count} for {describe(flt)}")
            continue
        limit = r.choice([3, 7, 50, 333])
        with_payload = r.choice([True, False, ["a"]])
        with_vectors = r.choice([False, ["e"]])
        offset, pages = None, 0
        while pages < 12:
            (qp, qn), (lp, ln), _ = run_both(pair, "scroll", scroll_filter=flt, limit=limit, offset=offset,
                                              with_payload=with_payload, with_vectors=with_vectors)
            e = compare_records(qp, lp, f"scroll page {pages} limit={limit} offset={offset} {describe(flt)}")
            if qn != ln:
                e.append(f"next_page_offset {qn!r} vs reference {ln!r} (limit={limit} offset={offset} {describe(flt)})")
            if e:
                errs += e
                break
            if ln is None:
                break
            offset, pages = ln, pages + 1
    assert not errs, f"{len(errs)} mismatches:\n" + "\n".join(e[:1500] for e in errs[:8])


def test_query_batch_matches_reference(pair, dataset):
    ids, _ = dataset
    r = random.Random(f"{SEED}-batch")
    rng = np.random.default_rng(SEED + 99)
    reqs = []
    for _ in range(10):
        using = r.choice(list(VECTORS))
        reqs.append(models.QueryRequest(
            query=rng.normal(size=VECTORS[using][0]).astype(np.float32).tolist(), using=using,
            limit=r.randint(1, 15), filter=rand_filter(r, ids) if r.random() < 0.5 else None, with_payload=True,
        ))
    q, l, name = pair
    qres = q.query_batch_points(name, reqs)
    lres = l.query_batch_points(name, reqs)
    errs = []
    for i, (a, b) in enumerate(zip(qres, lres)):
        errs += compare_scored(a.points, b.points, f"batch #{i}")
    assert len(qres) == len(lres) == len(reqs)
    assert not errs, "\n".join(errs)


def test_retrieve_matches_reference(pair, dataset):
    ids, _ = dataset
    r = random.Random(f"{SEED}-retrieve")
    q, l, name = pair
    for _ in range(10):
        some = r.sample(ids, 25) + [999999, str(uuid.UUID(int=12345))]
        vecs = r.choice([True, False, ["c"], ["d", "e"]])
        a = q.retrieve(name, some, with_payload=True, with_vectors=vecs)
        b = l.retrieve(name, some, with_payload=True, with_vectors=vecs)
        errs = compare_records(a, b, f"retrieve with_vectors={vecs}")
        assert not errs, "\n".join(errs)


SELECTORS = [
    ["i", "tags"],
    ["a.b"],
    ["a.c", "arr"],
    ["a.d[].e"],
    ["a.d"],
    ["arr[]"],
    ["nope", "big"],
    models.PayloadSelectorInclude(include=["a.b", "s"]),
    models.PayloadSelectorInclude(include=["a.d[].g"]),
    models.PayloadSelectorExclude(exclude=["a", "s", "f"]),
    models.PayloadSelectorExclude(exclude=["a.b", "tags"]),
    models.PayloadSelectorExclude(exclude=["a.d[].e"]),
    models.PayloadSelectorExclude(exclude=["nope"]),
]


@pytest.mark.parametrize("sel", SELECTORS, ids=[describe(s) for s in SELECTORS])
def test_payload_selectors_match_reference(pair, dataset, sel):
    """include/exclude selectors over every stored payload shape (missing parents,
    null parents, arrays of objects)."""
    q, l, name = pair
    a, _ = q.scroll(name, limit=N_POINTS + 10, with_payload=sel)
    b, _ = l.scroll(name, limit=N_POINTS + 10, with_payload=sel)
    errs = []
    for qp, lp in zip(a, b):
        if not same_payload(qp.payload, lp.payload):
            errs.append(f"{qp.id}: {canon(qp.payload)} vs reference {canon(lp.payload)}")
    assert [p.id for p in a] == [p.id for p in b]
    assert not errs, f"with_payload={describe(sel)}: {len(errs)} payloads differ, e.g.\n" + "\n".join(errs[:5])


def test_payload_edits_then_compare(pair, dataset):
    """Runs the same payload edits on both sides and compares everything after."""
    ids, _ = dataset
    q, l, name = pair
    r = random.Random(f"{SEED}-edits")
    for step in range(24):
        kind = r.choice(["set", "overwrite", "delete", "clear", "set_key", "delete_points", "delete_vectors",
                         "update_vectors"])
        alive = [p.id for p in l.scroll(name, limit=N_POINTS + 10, with_payload=False)[0]]
        # edits by id name existing points (a missing id is a 404 on the server)
        sel = r.sample(alive, 20) if r.random() < 0.5 else rand_filter(r, ids)
        upd = [models.PointVectors(id=pid, vector={"e": np.full(32, step / 7, np.float32).tolist()})
               for pid in r.sample(alive, 10)]
        for c in (q, l):
            if kind == "delete_points":
                sel2 = models.PointIdsList(points=sel) if isinstance(sel, list) else models.FilterSelector(filter=sel)
                c.delete(name, points_selector=sel2, wait=True)
            elif kind == "delete_vectors":
                c.delete_vectors(name, vectors=["c"], points=sel, wait=True)
            elif kind == "update_vectors":
                c.update_vectors(name, points=upd, wait=True)
            elif kind == "set":
                c.set_payload(name, payload={"ed": step, "i": step}, points=sel, wait=True)
            elif kind == "set_key":
                c.set_payload(name, payload={"z": step}, key="a", points=sel, wait=True)
            elif kind == "overwrite":
                c.overwrite_payload(name, payload={"ow": step, "arr": [step]}, points=sel, wait=True)
            elif kind == "delete":
                c.delete_payload(name, keys=["s", "a.c", "tags"], points=sel, wait=True)
            else:
                c.clear_payload(name, points_selector=sel, wait=True)
    qa, _ = q.scroll(name, limit=N_POINTS + 10, with_payload=True, with_vectors=True)
    la, _ = l.scroll(name, limit=N_POINTS + 10, with_payload=True, with_vectors=True)
    assert q.count(name).count == l.count(name).count
    errs = compare_records(qa, la, "after edits")
    assert not errs, "\n".join(errs)
