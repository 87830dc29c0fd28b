#!/usr/bin/env python3
"""Checks Quiver's gRPC .proto files (proto/) against Qdrant's wire contract.

1. Compiles proto/ with protoc into a FileDescriptorSet (with imports).
2. Compares it with the reference set, ../shared/reference/qdrant-1.19/
   grpc-descriptor-set.pb relative to the repository root: files (package,
   imports), messages (by full name, nested types included), fields (name,
   number, type, type_name, label, json_name, deprecated, oneof membership),
   reserved ranges/names, enums and their values, services and methods
   (input/output types, streaming flags, deprecated).
   A proto3 `optional` field in the reference (synthetic oneof `_x` plus
   proto3_optional) equals an explicit one-field oneof `_x` on our side,
   since protoc-c 1.4.1 does not accept `optional`.
   Declared differences, accepted for exactly the listed names and printed:
   - STRING_AS_BYTES: `string` fields carrying protoc-c's option
     (pb_c_field).string_as_bytes, so the C code gets the length and a NUL
     inside survives.  The descriptor type stays `string` (compared as
     usual); the check is that the option is on exactly these fields, and
     that no field anywhere is `bytes` (the server UTF-8-checks every
     field protobuf-c calls bytes, which is only right while the contract
     has none).
   - EXPLICIT_MAP_ENTRIES: map<string, Value> fields spelled out as their
     entry message (same name, key = 1, value = 2, repeated; identical on
     the wire) because a map key cannot carry the option above.  Only the
     map_entry flag may differ; the entry's fields are compared as usual.
3. Runs protoc-c over every file (imports included) and compiles each
   generated .pb-c.c with `cc -c -Wall`.

Prints every difference and exits 1 if there is any problem, 0 otherwise.
Exits 0 with "SKIP: ..." when the reference descriptors are absent.
Options: --reference PATH (another .pb), --proto-dir DIR, --no-c (skip step 3).
Needs: protoc (protobuf-compiler, libprotobuf-dev for the well-known
imports), protoc-c (protobuf-c-compiler), cc and libprotobuf-c-dev, and the
Python `protobuf` package.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_REF = os.path.join(
    ROOT, "..", "shared", "reference", "qdrant-1.19", "grpc-descriptor-set.pb"
)
# Imports that exist only for code generators (protoc-c's custom options,
# e.g. base_field_name for a field called "base"), with what they pull in.
# They carry no wire facts and are left out of the comparison.
TOOLING_FILES = {"protobuf-c/protobuf-c.proto", "google/protobuf/descriptor.proto"}

# Strings holding user payload data that the generated C carries with their
# length ((pb_c_field).string_as_bytes; see proto/json_with_int.proto).
_MAP_VALUE_FIELDS = [
    ".qdrant.Struct.fields",
    ".qdrant.PointStruct.payload",
    ".qdrant.SetPayloadPoints.payload",
    ".qdrant.PointsUpdateOperation.SetPayload.payload",
    ".qdrant.PointsUpdateOperation.OverwritePayload.payload",
    ".qdrant.ScoredPoint.payload",
    ".qdrant.RetrievedPoint.payload",
    ".qdrant.CreateCollection.metadata",
    ".qdrant.UpdateCollection.metadata",
    ".qdrant.CollectionConfig.metadata",
    ".qdrant.Document.options",
    ".qdrant.Image.options",
    ".qdrant.InferenceObject.options",
    ".qdrant.Formula.defaults",
]


def _entry_of(field):
    msg, name = field.rsplit(".", 1)
    return msg + "." + "".join(p[:1].upper() + p[1:] for p in name.split("_")) + "Entry"


EXPLICIT_MAP_ENTRIES = frozenset(_entry_of(f) for f in _MAP_VALUE_FIELDS)
STRING_AS_BYTES = frozenset(
    [
        ".qdrant.Value.string_value",
        ".qdrant.Match.keyword",
        ".qdrant.Match.text",
        ".qdrant.Match.text_any",
        ".qdrant.Match.phrase",
        ".qdrant.Match.prefix",
        ".qdrant.RepeatedStrings.strings",
    ]
    + [e + ".key" for e in EXPLICIT_MAP_ENTRIES]
)
PB_C_FIELD_EXT = 1019  # protobuf-c.proto: extend FieldOptions { pb_c_field = 1019 }


def load_set(path):
    from google.protobuf import descriptor_pb2

    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        fds.ParseFromString(f.read())
    return fds


def enum_name(enum_cls, value):
    try:
        return enum_cls.Name(value)
    except ValueError:
        return str(value)


class Model:
    """Flattened, comparable view of a FileDescriptorSet."""

    def __init__(self, fds, ignore=frozenset()):
        self.files = {}  # name -> (package, syntax, sorted deps, public deps)
        self.messages = {}  # full name -> DescriptorProto
        self.msg_file = {}
        self.enums = {}  # full name -> EnumDescriptorProto
        self.services = {}  # full name -> ServiceDescriptorProto
        for f in fds.file:
            if f.name in ignore:
                continue
            self.files[f.name] = (
                f.package,
                f.syntax or "proto2",
                tuple(sorted(d for d in f.dependency if d not in ignore)),
                tuple(sorted(f.dependency[i] for i in f.public_dependency)),
            )
            prefix = "." + f.package if f.package else ""
            for m in f.message_type:
                self._add_message(m, prefix, f.name)
            for e in f.enum_type:
                self.enums[prefix + "." + e.name] = e
            for s in f.service:
                self.services[prefix + "." + s.name] = s

    def _add_message(self, m, prefix, fname):
        full = prefix + "." + m.name
        self.messages[full] = m
        self.msg_file[full] = fname
        for n in m.nested_type:
            self._add_message(n, full, fname)
        for e in m.enum_type:
            self.enums[full + "." + e.name] = e


def _varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def _fields_of(buf):
    """(number, wire type, value) of each top-level field of a serialized
    message; length-delimited values as bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        wt = key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v, i = buf[i : i + 8], i + 8
        elif wt == 5:
            v, i = buf[i : i + 4], i + 4
        elif wt == 2:
            n, i = _varint(buf, i)
            v, i = buf[i : i + n], i + n
        else:
            raise ValueError(f"unexpected wire type {wt}")
        yield key >> 3, wt, v


def string_as_bytes(field):
    """True when the field carries (pb_c_field).string_as_bytes = true: an
    extension protobuf does not know here, read from the serialized options."""
    on = False
    for num, wt, v in _fields_of(field.options.SerializeToString()):
        if num == PB_C_FIELD_EXT and wt == 2:
            for n2, w2, v2 in _fields_of(v):
                if n2 == 1 and w2 == 0:
                    on = v2 != 0
    return on


def check_declared(ref, ours, out):
    """The declared differences (STRING_AS_BYTES, EXPLICIT_MAP_ENTRIES) are
    exactly what our descriptors carry; no field is `bytes` on either side."""
    from google.protobuf import descriptor_pb2

    FDP = descriptor_pb2.FieldDescriptorProto
    found = set()
    for model, side in ((ref, "reference"), (ours, "ours")):
        for mname, m in model.messages.items():
            for f in m.field:
                if f.type == FDP.TYPE_BYTES:
                    out.append(f"field {mname}.{f.name}: bytes in {side} (the server UTF-8-checks every bytes field)")
    for mname, m in ours.messages.items():
        for f in m.field:
            if string_as_bytes(f):
                found.add(f"{mname}.{f.name}")
    for n in sorted(found - STRING_AS_BYTES):
        out.append(f"field {n}: string_as_bytes but not declared in STRING_AS_BYTES")
    for n in sorted(STRING_AS_BYTES - found):
        out.append(f"field {n}: declared in STRING_AS_BYTES but lacks (pb_c_field).string_as_bytes")
    for n in sorted(EXPLICIT_MAP_ENTRIES):
        a, b = ref.messages.get(n), ours.messages.get(n)
        if a is None or not a.options.map_entry:
            out.append(f"message {n}: declared in EXPLICIT_MAP_ENTRIES but not a map entry in the reference")
        elif b is not None and b.options.map_entry:
            out.append(f"message {n}: declared in EXPLICIT_MAP_ENTRIES but still a map<> on our side")
    return sorted(found)


def oneof_of(m, field):
    """Oneof name a field belongs to (synthetic proto3-optional oneofs
    included, so `optional x` and `oneof _x { x }` both give "_x")."""
    if field.HasField("oneof_index"):
        return m.oneof_decl[field.oneof_index].name
    return None


def compare_message(name, a, b, out):
    """a = reference, b = ours."""
    from google.protobuf import descriptor_pb2

    FDP = descriptor_pb2.FieldDescriptorProto
    explicit_entry = name in EXPLICIT_MAP_ENTRIES and a.options.map_entry and not b.options.map_entry
    if a.options.map_entry != b.options.map_entry and not explicit_entry:
        out.append(f"message {name}: map_entry {a.options.map_entry} != ours {b.options.map_entry}")
    if a.options.deprecated != b.options.deprecated:
        out.append(f"message {name}: deprecated {a.options.deprecated} != ours {b.options.deprecated}")
    af = {f.name: f for f in a.field}
    bf = {f.name: f for f in b.field}
    for n in af.keys() - bf.keys():
        out.append(f"message {name}: missing field {n} = {af[n].number}")
    for n in bf.keys() - af.keys():
        out.append(f"message {name}: extra field {n} = {bf[n].number}")
    for n in sorted(af.keys() & bf.keys(), key=lambda k: af[k].number):
        x, y = af[n], bf[n]
        where = f"field {name}.{n}"
        if x.number != y.number:
            out.append(f"{where}: number {x.number} != ours {y.number}")
        if x.type != y.type:
            out.append(f"{where}: type {enum_name(FDP.Type, x.type)} != ours {enum_name(FDP.Type, y.type)}")
        if x.type_name != y.type_name:
            out.append(f"{where}: type_name {x.type_name!r} != ours {y.type_name!r}")
        if x.label != y.label:
            out.append(f"{where}: label {enum_name(FDP.Label, x.label)} != ours {enum_name(FDP.Label, y.label)}")
        if x.json_name != y.json_name:
            out.append(f"{where}: json_name {x.json_name!r} != ours {y.json_name!r}")
        if x.default_value != y.default_value:
            out.append(f"{where}: default {x.default_value!r} != ours {y.default_value!r}")
        if x.options.deprecated != y.options.deprecated:
            out.append(f"{where}: deprecated {x.options.deprecated} != ours {y.options.deprecated}")
        if x.options.HasField("packed") != y.options.HasField("packed") or x.options.packed != y.options.packed:
            out.append(f"{where}: packed option differs")
        xo, yo = oneof_of(a, x), oneof_of(b, y)
        if xo != yo:
            out.append(f"{where}: oneof {xo!r} != ours {yo!r}")
        if x.proto3_optional and yo is not None and not yo.startswith("_"):
            out.append(f"{where}: optional field inside a non-synthetic oneof {yo!r}")
    # Oneof groups must have the same members (a proto3 optional in the
    # reference is a one-member group `_x`, as is our explicit oneof).
    def groups(m):
        g = {}
        for f in m.field:
            o = oneof_of(m, f)
            if o is not None:
                g.setdefault(o, set()).add(f.name)
        for o in m.oneof_decl:
            g.setdefault(o.name, set())
        return g

    ag, bg = groups(a), groups(b)
    for o in sorted(ag.keys() | bg.keys()):
        if ag.get(o) != bg.get(o):
            out.append(
                f"message {name}: oneof {o} members {sorted(ag.get(o, ())) if o in ag else 'absent'}"
                f" != ours {sorted(bg.get(o, ())) if o in bg else 'absent'}"
            )
    ar = sorted((r.start, r.end) for r in a.reserved_range)
    br = sorted((r.start, r.end) for r in b.reserved_range)
    if ar != br:
        out.append(f"message {name}: reserved ranges {ar} != ours {br}")
    if sorted(a.reserved_name) != sorted(b.reserved_name):
        out.append(f"message {name}: reserved names {sorted(a.reserved_name)} != ours {sorted(b.reserved_name)}")
    ae = sorted((r.start, r.end) for r in a.extension_range)
    be = sorted((r.start, r.end) for r in b.extension_range)
    if ae != be:
        out.append(f"message {name}: extension ranges {ae} != ours {be}")


def compare_enum(name, a, b, out):
    av = {v.name: v for v in a.value}
    bv = {v.name: v for v in b.value}
    for n in av.keys() - bv.keys():
        out.append(f"enum {name}: missing value {n} = {av[n].number}")
    for n in bv.keys() - av.keys():
        out.append(f"enum {name}: extra value {n} = {bv[n].number}")
    for n in sorted(av.keys() & bv.keys(), key=lambda k: av[k].number):
        if av[n].number != bv[n].number:
            out.append(f"enum {name}.{n}: number {av[n].number} != ours {bv[n].number}")
        if av[n].options.deprecated != bv[n].options.deprecated:
            out.append(f"enum {name}.{n}: deprecated {av[n].options.deprecated} != ours {bv[n].options.deprecated}")
    if a.value and b.value and a.value[0].name != b.value[0].name:
        out.append(f"enum {name}: first value {a.value[0].name} != ours {b.value[0].name}")
    if a.options.allow_alias != b.options.allow_alias:
        out.append(f"enum {name}: allow_alias {a.options.allow_alias} != ours {b.options.allow_alias}")
    ar = sorted((r.start, r.end) for r in a.reserved_range)
    br = sorted((r.start, r.end) for r in b.reserved_range)
    if ar != br or sorted(a.reserved_name) != sorted(b.reserved_name):
        out.append(f"enum {name}: reserved ranges/names differ")


def compare_service(name, a, b, out):
    am = {m.name: m for m in a.method}
    bm = {m.name: m for m in b.method}
    for n in am.keys() - bm.keys():
        out.append(f"service {name}: missing method {n}")
    for n in bm.keys() - am.keys():
        out.append(f"service {name}: extra method {n}")
    for n in sorted(am.keys() & bm.keys()):
        x, y = am[n], bm[n]
        where = f"method {name}/{n}"
        for attr in ("input_type", "output_type", "client_streaming", "server_streaming"):
            if getattr(x, attr) != getattr(y, attr):
                out.append(f"{where}: {attr} {getattr(x, attr)!r} != ours {getattr(y, attr)!r}")
        if x.options.deprecated != y.options.deprecated:
            out.append(f"{where}: deprecated {x.options.deprecated} != ours {y.options.deprecated}")


def compare(ref, ours):
    out = []
    ref_names = {f.name for f in ref.file}
    a, b = Model(ref), Model(ours, TOOLING_FILES - ref_names)
    for n in sorted(a.files.keys() - b.files.keys()):
        out.append(f"file {n}: missing")
    for n in sorted(b.files.keys() - a.files.keys()):
        out.append(f"file {n}: extra")
    for n in sorted(a.files.keys() & b.files.keys()):
        (ap, asx, ad, apd), (bp, bsx, bd, bpd) = a.files[n], b.files[n]
        if ap != bp:
            out.append(f"file {n}: package {ap!r} != ours {bp!r}")
        if asx != bsx:
            out.append(f"file {n}: syntax {asx!r} != ours {bsx!r}")
        if ad != bd:
            out.append(f"file {n}: imports {list(ad)} != ours {list(bd)}")
        if apd != bpd:
            out.append(f"file {n}: public imports {list(apd)} != ours {list(bpd)}")
    for kind, am, bm, fn in (
        ("message", a.messages, b.messages, compare_message),
        ("enum", a.enums, b.enums, compare_enum),
        ("service", a.services, b.services, compare_service),
    ):
        for n in sorted(am.keys() - bm.keys()):
            out.append(f"{kind} {n}: missing")
        for n in sorted(bm.keys() - am.keys()):
            out.append(f"{kind} {n}: extra")
        for n in sorted(am.keys() & bm.keys()):
            fn(n, am[n], bm[n], out)
    for n in sorted(a.msg_file.keys() & b.msg_file.keys()):
        if a.msg_file[n] != b.msg_file[n]:
            out.append(f"message {n}: declared in {a.msg_file[n]} != ours {b.msg_file[n]}")
    declared = check_declared(a, b, out)
    return out, len(a.messages), len(a.enums), len(a.services), declared


def run(cmd, cwd=None):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout


def need(tool, package):
    path = shutil.which(tool)
    if not path:
        print(f"ERROR: {tool} not found (Debian package {package})")
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", default=DEFAULT_REF)
    ap.add_argument("--proto-dir", default=os.path.join(ROOT, "proto"))
    ap.add_argument("--no-c", action="store_true", help="skip the protoc-c / cc step")
    args = ap.parse_args()

    ref_path = os.path.normpath(args.reference)
    if not os.path.isfile(ref_path):
        print(f"SKIP: reference descriptors not found at {ref_path}")
        return 0
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        print("ERROR: the Python 'protobuf' package is required (pip install protobuf)")
        return 1
    protoc = need("protoc", "protobuf-compiler")
    if not protoc:
        return 1

    proto_dir = os.path.abspath(args.proto_dir)
    files = sorted(
        os.path.relpath(os.path.join(d, f), proto_dir)
        for d, _, fs in os.walk(proto_dir)
        for f in fs
        if f.endswith(".proto")
    )
    if not files:
        print(f"ERROR: no .proto files under {proto_dir}")
        return 1
    ref = load_set(ref_path)
    # Well-known types the reference carries (e.g. google/protobuf/empty.proto
    # even where nothing imports it) come with protoc; compile them too.
    own = len(files)
    files += [f.name for f in ref.file if f.name.startswith("google/protobuf/") and f.name not in files]

    problems = 0
    with tempfile.TemporaryDirectory(prefix="quiver-proto-") as tmp:
        desc = os.path.join(tmp, "ours.pb")
        rc, text = run([protoc, "-I", proto_dir, "--include_imports", f"--descriptor_set_out={desc}", *files])
        if rc != 0:
            print(text, end="")
            print("ERROR: protoc failed")
            return 1
        diffs, nm, ne, ns, declared = compare(ref, load_set(desc))
        for d in diffs:
            print("DIFF:", d)
        print(f"declared: {len(declared)} string fields generated as bytes in C (string<->bytes, same wire):")
        for n in declared:
            print(f"  string->bytes {n}")
        print(f"declared: {len(EXPLICIT_MAP_ENTRIES)} map<string, Value> fields spelled out as entry messages:")
        for n in sorted(EXPLICIT_MAP_ENTRIES):
            print(f"  map_entry {n}")
        problems += len(diffs)
        print(
            f"descriptor comparison: {len(diffs)} difference(s) over {nm} messages, "
            f"{ne} enums, {ns} services ({own} files in proto/, {len(files) - own} well-known)"
        )

        if not args.no_c:
            protoc_c = need("protoc-c", "protobuf-c-compiler")
            cc = os.environ.get("CC", "cc")
            if not protoc_c or not need(cc, "gcc"):
                return 1
            # Generate C for our files and for the well-known types they import.
            ours = load_set(desc)
            all_files = [f.name for f in ours.file]
            # protoc-c skips protobuf-c.proto itself (no_generate), and
            # descriptor.proto is only needed by that file.
            expected = [n for n in all_files if n not in TOOLING_FILES]
            cdir = os.path.join(tmp, "c")
            os.mkdir(cdir)
            rc, text = run([protoc_c, "-I", proto_dir, f"--c_out={cdir}", *expected])
            if rc != 0:
                print(text, end="")
                print("ERROR: protoc-c failed")
                return 1
            sources = sorted(
                os.path.join(d, f) for d, _, fs in os.walk(cdir) for f in fs if f.endswith(".pb-c.c")
            )
            if len(sources) != len(expected):
                print(f"ERROR: protoc-c produced {len(sources)} .pb-c.c files for {len(expected)} .proto files")
                problems += 1
            failed = 0
            for src in sources:
                # -Wno-missing-braces: protoc-c initialises a oneof union
                # with `{0}`, which gcc flags when the first member is a
                # struct (a string_as_bytes field); it is valid C.
                cmd = [cc, "-c", "-Wall", "-Werror", "-Wno-missing-braces", "-I", cdir, "-o", os.devnull, src]
                rc, text = run(cmd)
                if rc != 0 or text.strip():
                    print(text, end="")
                    print(f"ERROR: {cc} failed on {os.path.relpath(src, cdir)}")
                    failed += 1
            problems += failed
            print(f"protoc-c: generated and compiled {len(sources) - failed}/{len(sources)} .pb-c.c files")

    if problems:
        print(f"FAIL: {problems} problem(s)")
        return 1
    print("OK: proto/ matches the reference wire contract")
    return 0


if __name__ == "__main__":
    sys.exit(main())
