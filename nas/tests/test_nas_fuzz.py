"""Fuzz the parsers of untrusted input: only clean NasError, never a crash."""

import base64
import json
import struct
from array import array

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from preau_nas.bundle import ENTRY, INDEX_MAGIC, parse_bundle_payload, parse_index
from preau_nas.errors import NasError
from preau_nas.keys import Keypair, open_envelope, seal
from preau_nas.manifest import DirEntry, FileEntry, encode_body, parse_body, parse_manifest
from preau_nas.receipt import parse_receipt

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEY = Keypair.generate()


def valid_body():
    ids = bytes(range(32)) * 2
    return encode_body([DirEntry("a", 0o755), FileEntry("a/b.txt", 0o644, 30, 0, ids, array("I", [10, 20])),
                        FileEntry("c", 0o600, 0, 1, b"", array("I"))])


def clean(fn, *a):
    try:
        fn(*a)
    except NasError:
        pass


@FUZZ
@given(st.binary(max_size=400))
def test_body_random_bytes(data):
    clean(parse_body, data)
    clean(parse_body, b"PNB1" + data)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=8))
def test_body_mutations(flips):
    body = bytearray(valid_body())
    for pos, val in flips:
        body[pos % len(body)] = val
    clean(parse_body, bytes(body))


def test_body_roundtrip():
    entries = parse_body(valid_body())
    assert [e.path for e in entries] == ["a", "a/b.txt", "c"]
    assert list(entries[1].lens) == [10, 20]


manifest_fields = st.fixed_dictionaries({
    "format": st.sampled_from(["preau-manifest/1", "x"]),
    "collection": st.one_of(st.sampled_from(["contents", "../x", ""]), st.text(max_size=5)),
    "version": st.one_of(st.integers(-2, 5), st.text(max_size=2), st.none(), st.booleans()),
    "created": st.sampled_from(["2026-12-04T16:00:00Z", "yesterday", 5]),
    "expires": st.sampled_from(["2027-12-04T16:00:00Z", "2026-13-45T99:00:00Z"]),
    "previous": st.one_of(st.none(), st.sampled_from(["a" * 64, "zz"])),
    "total_size": st.one_of(st.integers(-1, 10), st.floats(allow_nan=True)),
    "files": st.integers(-1, 3), "dirs": st.integers(-1, 3),
    "body": st.one_of(st.none(), st.fixed_dictionaries({
        "id": st.sampled_from(["b" * 64, "nothex"]), "size": st.integers(-1, 100),
        "chunks": st.one_of(st.lists(st.lists(st.one_of(st.sampled_from(["c" * 64]), st.integers(-5, 100)),
                                              max_size=3), max_size=3), st.text(max_size=3))})),
})


@FUZZ
@given(manifest_fields, st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
def test_manifest_payloads(fields, extra):
    payload = dict(fields, **extra)
    data, _ = seal(payload, KEY)
    clean(parse_manifest, data, [KEY.public])


@FUZZ
@given(st.binary(max_size=300), st.text(max_size=50))
def test_envelopes(blob, text):
    clean(open_envelope, blob, None, "x")
    clean(open_envelope, text.encode(), [KEY.public], "x")
    env = {"signed": base64.b64encode(blob).decode(), "key": KEY.public,
           "sig": base64.b64encode(KEY.sign(blob)).decode()}
    clean(parse_manifest, json.dumps(env).encode(), None)
    clean(parse_receipt, json.dumps(env).encode(), {"n": KEY.public})
    env["sig"] = text
    clean(open_envelope, json.dumps(env).encode(), None, "x")


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                           max_leaves=12)


@FUZZ
@given(json_values, st.sampled_from(["format", "collections", "packs", "index", "created"]))
def test_bundle_payload(value, field):
    good = {"format": "preau-bundle/1", "created": "2026-12-04T16:00:00Z",
            "collections": {"contents": {"manifest": "a" * 64, "version": 2, "from": [None]}},
            "packs": [{"name": "pack-0000.zst", "kind": "zst", "size": 1, "raw_size": 1}],
            "index": {"size": 8, "blake3": "b" * 64, "count": 0}}
    parse_bundle_payload(dict(good))
    clean(parse_bundle_payload, dict(good, **{field: value}))
    clean(parse_bundle_payload, value)


@FUZZ
@given(st.binary(max_size=200), st.integers(0, 3))
def test_index(data, npacks):
    clean(parse_index, data, npacks)
    clean(parse_index, INDEX_MAGIC + struct.pack("<I", len(data) // ENTRY.size) + data, npacks)


@FUZZ
@given(json_values, st.sampled_from(["node_id", "collections", "time", "bundle", "format"]))
def test_receipt(value, field):
    good = {"format": "preau-receipt/1", "node_id": "n", "bundle": "x", "time": "2026-12-04T16:00:00Z",
            "collections": {"contents": {"status": "updated", "version": 2}}}
    data, _ = seal(good, KEY)
    assert parse_receipt(data, {"n": KEY.public})["node_id"] == "n"
    bad = dict(good, **{field: value})
    data, _ = seal(bad, KEY)
    clean(parse_receipt, data, {"n": KEY.public})
    if isinstance(value, dict):
        data, _ = seal(dict(good, collections=value), KEY)
        clean(parse_receipt, data, {"n": KEY.public})


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300), st.integers(0, 2))
def test_bundle_opening_and_streamed_index(tmp_path, index_tail, npacks):
    """The real reader: a validly signed bundle whose index is garbage."""
    import os

    import blake3
    from preau_nas.bundle import BUNDLE_FILE, Bundle

    d = tmp_path / "b"
    os.makedirs(d, exist_ok=True)
    idx = INDEX_MAGIC + struct.pack("<I", len(index_tail) // ENTRY.size) + index_tail
    (d / "index.bin").write_bytes(idx)
    payload = {"format": "preau-bundle/1", "created": "2026-12-04T16:00:00Z", "collections": {},
               "packs": [{"name": f"pack-{i:04d}.raw", "kind": "raw", "size": 0, "raw_size": 0} for i in range(npacks)],
               "index": {"size": len(idx), "blake3": blake3.blake3(idx).hexdigest(), "count": 0}}
    data, _ = seal(payload, KEY)
    (d / BUNDLE_FILE).write_bytes(data)
    try:
        b = Bundle(str(d), [KEY.public])
        for _ in b.iter_index():
            pass
    except NasError:
        pass
