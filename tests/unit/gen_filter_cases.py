#!/usr/bin/env python3
"""Generates tests/unit/filter_cases.inc: the expected result of filter rows,
computed by qdrant-client's local mode (the differential oracle).

    python3 -m venv /tmp/qc && /tmp/qc/bin/pip install qdrant-client==1.20.0
    /tmp/qc/bin/python tests/unit/gen_filter_cases.py > tests/unit/filter_cases.inc

Each row is (point id, payload JSON, filter JSON).  The point has the named
vector "a" only (so has_vector "a" is true, "b" false).  The oracle is a real
local-mode collection: upsert the point, count with the filter.

Rows where Quiver deliberately follows the Qdrant server instead of local mode
carry an override (expected value and the reason); the script prints them to
stderr so the difference stays visible.
"""
import itertools
import json
import sys

from qdrant_client import QdrantClient, models

# ---------------------------------------------------------------------------
# Rows

ROWS = []  # (id, payload, filter, override or None)


def row(payload, flt, pid=1, override=None):
    ROWS.append((pid, payload, flt, override))


def fc(key, **kw):
    return {"key": key, **kw}


# 1. Cross product: edge payloads x field conditions on "a".
PAYLOADS = [
    {}, {"a": None}, {"a": []}, {"a": [None]}, {"a": 1}, {"a": 1.0}, {"a": 1.5},
    {"a": True}, {"a": "x"}, {"a": [1, 2]}, {"a": [[1]]}, {"a": ["x", "y"]},
    {"a": {"b": 1}}, {"a": [{"b": 1}, {"b": [2, 3]}]}, {"a": [1, None]}, {"a": [[]]},
    {"a": 9007199254740993}, {"a": -5}, {"a": "2024-01-15T10:00:00Z"}, {"a": ""},
    {"a": 18446744073709551615}, {"a": [True, "1"]},
]
CONDS = [
    fc("a", match={"value": 1}), fc("a", match={"value": True}), fc("a", match={"value": "x"}),
    fc("a", match={"value": -5}), fc("a", match={"any": [1, 3]}), fc("a", match={"any": []}),
    fc("a", match={"any": ["x", "z"]}), fc("a", match={"except": [1]}),
    fc("a", match={"except": []}), fc("a", match={"except": ["x"]}),
    fc("a", range={"gt": 0}), fc("a", range={"gte": 1, "lte": 1}), fc("a", range={"lt": 1.5}),
    fc("a", range={}), fc("a", range={"gt": 9007199254740992}),
    fc("a", values_count={"gt": 1}), fc("a", values_count={"lt": 1}),
    fc("a", values_count={"gte": 1, "lte": 1}),
    {"is_empty": {"key": "a"}}, {"is_null": {"key": "a"}},
    fc("a", is_empty=False), fc("a", is_null=False), fc("a", is_empty=True),
    fc("a", range={"gt": "2024-01-01T00:00:00Z"}),
    fc("a", match={"prefix": "x"}), fc("a", match={"prefix": ""}),
]
# The server compares a range as f64: 2^53 + 1 reads as 2^53 (Python compares
# int and float exactly).
F64_OVERRIDES = {
    (json.dumps({"a": 9007199254740993}), json.dumps(fc("a", range={"gt": 9007199254740992}))):
        (False, "server compares numbers as f64"),
}
for p, c in itertools.product(PAYLOADS, CONDS):
    row(p, {"must": [c]}, override=F64_OVERRIDES.get((json.dumps(p), json.dumps(c))))

# 2. Key paths over arrays of objects.
PATH_PAYLOADS = [
    {"a": [{"b": 1}, {"b": 2}]}, {"a": [{"b": [1, 5]}, {"c": 1}]}, {"a": {"b": [3]}},
    {"a": [[{"b": 1}]]}, {"a": [{"b": None}, {"b": []}]}, {"a": []}, {"a": [1, {"b": 1}]},
    {"a": {"b": {"c": [7, 8]}}}, {"a.b": 1}, {"a": [{"b": [[1]]}]},
]
PATH_CONDS = [
    fc("a[].b", match={"value": 1}), fc("a.b", match={"value": 1}), fc("a[0].b", match={"value": 1}),
    fc("a[1].b", match={"value": 2}), fc("a[].b", values_count={"gt": 1}),
    fc("a[].b", values_count={"lt": 1}), {"is_empty": {"key": "a[].b"}},
    {"is_null": {"key": "a[].b"}}, fc("a.b.c[1]", match={"value": 8}), fc("a[][].b", match={"value": 1}),
    fc('"a.b"', match={"value": 1}), fc("a[].b[]", match={"value": 1}), fc("a[5]", is_empty=True),
    fc("a.b[0]", match={"value": 3}), fc("a.b.c", values_count={"gte": 2}),
]
for p, c in itertools.product(PATH_PAYLOADS, PATH_CONDS):
    row(p, {"must": [c]})

# 3. Boolean structure.
T = fc("t", match={"value": 1})  # true on BOOL_P
F = fc("t", match={"value": 2})  # false on BOOL_P
BOOL_P = {"t": 1}
for flt in [
    {}, {"must": []}, {"should": []}, {"must_not": []}, {"must": T}, {"must": F}, {"should": T},
    {"should": [F, T]}, {"should": [F, F]}, {"must_not": T}, {"must_not": [F]},
    {"must_not": [F, T]}, {"must": [T], "should": [F]}, {"must": [T], "must_not": [T]},
    {"min_should": {"conditions": [T, F, T], "min_count": 2}},
    {"min_should": {"conditions": [T, F, F], "min_count": 2}},
    {"min_should": {"conditions": [], "min_count": 1}},
    {"min_should": {"conditions": [T], "min_count": 1}, "should": [F]},
    {"must": [{"should": [F, T]}]}, {"must": [{"must_not": [T]}]}, {"must_not": [{"must_not": [T]}]},
    {"must": [{}]}, {"must_not": [{}]}, {"should": [{}]},
    {"should": {"must": [T, {"should": [F]}]}},
    {"must": [{"min_should": {"conditions": [T, T], "min_count": 2}}]},
    {"must": None, "should": None}, {"must": [T], "should": None, "must_not": None},
]:
    row(BOOL_P, flt)

# 4. has_id and has_vector.
U = "550e8400-e29b-41d4-a716-446655440000"
for pid, ids in [
    (1, [1]), (1, [2, 3]), (1, []), (1, [U]), (U, [U]), (U, [U.upper()]), (U, [U.replace("-", "")]),
    (U, ["{" + U + "}"]), (U, ["urn:uuid:" + U]), (U, [1]), (7, [7, U]),
    (18446744073709551615, [18446744073709551615]),
]:
    row({}, {"must": [{"has_id": ids}]}, pid=pid)
row({}, {"must_not": [{"has_id": [1]}]}, pid=1)
row({}, {"must": [{"has_vector": "a"}]})
row({}, {"must": [{"has_vector": "b"}]})
row({}, {"must_not": [{"has_vector": "b"}]})
row({}, {"must": [{"has_vector": ""}]})

# 5. Nested.
NP = {"d": [{"x": 1, "y": "r"}, {"x": 2, "y": "g"}], "o": {"x": 1}, "n": [[{"x": 1}]], "m": [1, {"x": 1}]}
for nk, nf in [
    ("d", {"must": [fc("x", match={"value": 1}), fc("y", match={"value": "r"})]}),
    ("d", {"must": [fc("x", match={"value": 1}), fc("y", match={"value": "g"})]}),
    ("d[]", {"must": [fc("x", match={"value": 2}), fc("y", match={"value": "g"})]}),
    ("d", {"must_not": [fc("x", match={"value": 1})]}),
    ("d", {"must_not": [fc("x", range={"gte": 0})]}),
    ("d", {}), ("o", {}), ("o", {"must": [fc("x", match={"value": 1})]}),
    ("missing", {}), ("n", {}), ("n[]", {"must": [fc("x", match={"value": 1})]}),
    ("m", {"must": [fc("x", match={"value": 1})]}), ("m", {"must": [{"is_empty": {"key": "x"}}]}),
    ("d", {"must": [{"has_id": [1]}]}), ("d", {"must": [{"has_vector": "a"}]}),
    ("d", {"must": [{"nested": {"key": "z", "filter": {}}}]}),
]:
    row(NP, {"must": [{"nested": {"key": nk, "filter": nf}}]})
row(NP, {"must_not": [{"nested": {"key": "d", "filter": {"must": [fc("x", match={"value": 3})]}}}]})
row({"d": [{"z": [{"q": 1}]}]},
    {"must": [{"nested": {"key": "d", "filter": {"must": [{"nested": {"key": "z", "filter": {"must": [fc("q", match={"value": 1})]}}}]}}}]})
row({"d": [{"x": 1}, {"y": 1}]},
    {"must": [{"nested": {"key": "d", "filter": {"must": [{"is_empty": {"key": "y"}}]}}}]})

# 6. Geo.
def gp(lat, lon):
    return {"lat": lat, "lon": lon}

GEO_PTS = [gp(0, 0), gp(10, 10), gp(89.9, 0), gp(-89.9, 179), gp(0, 179.5), gp(0, -179.5),
           gp(0, 180), gp(45, 5), gp(10, 0), gp(5, 5), gp(1, 1)]
GEO_CONDS = [
    fc("g", geo_bounding_box={"top_left": gp(20, -10), "bottom_right": gp(-20, 20)}),
    fc("g", geo_bounding_box={"top_left": gp(10, 170), "bottom_right": gp(-10, -170)}),
    fc("g", geo_bounding_box={"top_left": gp(10, 0), "bottom_right": gp(-10, 10)}),
    fc("g", geo_bounding_box={"top_left": gp(90, -180), "bottom_right": gp(80, 180)}),
    fc("g", geo_radius={"center": gp(0, 0), "radius": 1600000}),
    fc("g", geo_radius={"center": gp(0, 180), "radius": 60000}),
    fc("g", geo_radius={"center": gp(90, 0), "radius": 12000}),
    fc("g", geo_radius={"center": gp(0, 0), "radius": 0}),
    fc("g", geo_polygon={"exterior": {"points": [gp(-20, -20), gp(-20, 20), gp(20, 20), gp(20, -20), gp(-20, -20)]}}),
    fc("g", geo_polygon={"exterior": {"points": [gp(-20, -20), gp(-20, 20), gp(20, 20), gp(20, -20), gp(-20, -20)]},
                         "interiors": [{"points": [gp(0, 0), gp(0, 8), gp(8, 8), gp(8, 0), gp(0, 0)]}]}),
    fc("g", geo_polygon={"exterior": {"points": [gp(0, 0), gp(0, 10), gp(10, 10), gp(10, 0), gp(0, 0)]}}),
]
for p, c in itertools.product(GEO_PTS, GEO_CONDS):
    row({"g": p}, {"must": [c]})
for bad in [{"g": {"lat": 1}}, {"g": {"lat": True, "lon": 1}}, {"g": {"lat": "1", "lon": 1}},
            {"g": [gp(50, 50), gp(1, 1)]}, {"g": [[gp(1, 1)]]}, {"g": None}, {"g": gp(1, 1) | {"x": 0}}]:
    row(bad, {"must": [GEO_CONDS[0]]})

# 7. Datetimes.
DT = ["2024-01-15T10:00:00Z", "2024-01-15T10:00:00+01:00", "2024-01-15 10:00:00", "2024-01-15",
      "2024-01-15T10:00", "2024-01-15T09:00:00.5-01:00", "2024-01-15T10:00:00 +0100",
      "2024-02-30T00:00:00Z", "not a date", "2024-01-15T10:00:00.123456789Z", "  2024-01-15T10:00:00z",
      "2024-01-15 10:00:00 UTC", "2024-01-15T10:00:00+01"]
# The server's formats (DateTimePayloadType::from_str) have no "YYYY-MM-DDTHH:MM"
# (only "YYYY-MM-DD HH:MM"); local mode's strptime list has it.
DT_SERVER_REJECTS = {"2024-01-15T10:00": "not a datetime to the server (no T%H:%M format)"}
for v, r in itertools.product(DT, [{"gte": "2024-01-15T10:00:00Z"}, {"lt": "2024-01-15T10:00:00Z"},
                                   {"gt": "2024-01-15T09:30:00+00:00", "lte": "2024-01-15T10:00:00.3Z"}]):
    why = DT_SERVER_REJECTS.get(v)
    row({"t": v}, {"must": [fc("t", range=r)]}, override=(False, why) if why else None)

# 8. Text (unindexed).  Quiver follows COMPAT-NOTES (substring) where local
#    mode tokenizes; both agree on the rows without an override.
TXT = "Hello, brave new World"
for m, override in [
    ({"text": "brave"}, None), ({"text": "new brave"}, (False, "substring, not tokens")),
    ({"text": "rave"}, (True, "substring, not tokens")), ({"text": "Hello, brave"}, None),
    ({"text": "hello"}, (False, "substring is case-sensitive")), ({"text": ""}, (True, "empty substring")),
    ({"phrase": "brave new"}, None), ({"phrase": "new brave"}, None),
    ({"phrase": "rave ne"}, (True, "substring, not tokens")), ({"text_any": "zzz brave"}, None),
    ({"text_any": "zzz qqq"}, None), ({"text_any": "orl"}, (True, "substring, not tokens")),
    ({"prefix": "Hello"}, None), ({"prefix": "hello"}, None), ({"substring": "o, b"}, None),
]:
    row({"s": TXT}, {"must": [fc("s", match=m)]}, override=override)
row({"s": [1, "new World"]}, {"must": [fc("s", match={"text": "World"})]})


# ---------------------------------------------------------------------------
# Oracle

def oracle(client, pid, payload, flt):
    client.delete_collection("c")
    client.create_collection("c", vectors_config={
        "a": models.VectorParams(size=2, distance=models.Distance.DOT),
        "b": models.VectorParams(size=2, distance=models.Distance.DOT)})
    client.upsert("c", [models.PointStruct(id=pid, vector={"a": [1.0, 0.0]}, payload=payload)])
    f = models.Filter.model_validate(flt)
    return client.count("c", count_filter=f, exact=True).count == 1


def c_str(s):
    out = []
    for ch in s.encode():
        if ch in (0x22, 0x5C):
            out.append("\\" + chr(ch))
        elif 0x20 <= ch < 0x7F:
            out.append(chr(ch))
        else:
            out.append("\\%03o" % ch)
    return '"' + "".join(out) + '"'


def main():
    client = QdrantClient(":memory:")
    print("/* Generated by tests/unit/gen_filter_cases.py from qdrant-client local mode; do not edit. */")
    print("/* {point id, payload, filter, expected} */")
    diffs = 0
    for pid, payload, flt, override in ROWS:
        local = oracle(client, pid, payload, flt)
        expected = local
        note = ""
        if override is not None:
            expected, why = override
            if expected != local:
                diffs += 1
                note = " /* local mode: %s; server: %s */" % (str(local).lower(), why)
                print("override: %s on %s: local=%s quiver=%s (%s)" % (json.dumps(flt), json.dumps(payload),
                      local, expected, why), file=sys.stderr)
        pid_s = json.dumps(pid)
        print("{%s, %s, %s, %s},%s" % (c_str(pid_s), c_str(json.dumps(payload)),
                                      c_str(json.dumps(flt)), "true" if expected else "false", note))
    print("%d rows, %d overrides differ from local mode" % (len(ROWS), diffs), file=sys.stderr)


if __name__ == "__main__":
    main()
