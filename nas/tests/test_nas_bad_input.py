"""Corrupt, missing, forged, replayed or expired input: clear error naming the object, nothing applied."""

import base64
import glob
import json
import os
import shutil
import subprocess

import preau_nas
import pytest
from nas_helpers import current, make_tree, mutate_tree, tree_snapshot
from preau_nas import bundle
from preau_nas.errors import (
    BundleReadError,
    DiskFullError,
    ExpiredError,
    FormatError,
    IntegrityError,
    MissingObjectError,
    RollbackError,
    SignatureError,
    UnknownKeyError,
)
from preau_nas.keys import Keypair, seal


@pytest.fixture
def two_versions(env, counting_server, tmp_path):
    """v1 installed on NAS A by pull; v2 published, not yet pulled."""
    src = make_tree(str(tmp_path / "src"))
    v1 = env.publish(src)
    snap1 = tree_snapshot(src)
    nas = env.nas("nas-a", base_url=counting_server.url)
    preau_nas.pull(nas.root)
    mutate_tree(src)
    v2 = env.publish(src)
    return nas, v1, v2, snap1, tree_snapshot(src), src


def new_objects(env, v1, v2):
    """Object files that v2 introduced (what a pull to v2 must download)."""
    st = preau_nas.store.Store(env.store)
    old = set()
    for v in (v1,):
        m = st.load_manifest("contents", v["manifest"])
        for e in st.load_body(m):
            if hasattr(e, "ids"):
                old.update(e.ids[i:i + 32].hex() for i in range(0, len(e.ids), 32))
    m2 = st.load_manifest("contents", v2["manifest"])
    new = []
    for e in st.load_body(m2):
        if hasattr(e, "ids"):
            for i in range(0, len(e.ids), 32):
                h = e.ids[i:i + 32].hex()
                if h not in old:
                    new.append(os.path.join(env.store, "objects", h[:2], h))
    assert new
    return new


def assert_intact(nas, snap1):
    assert tree_snapshot(current(nas.root)) == snap1
    assert preau_nas.verify(nas.root, full=True)["ok"]


@pytest.mark.parametrize("damage", ["bitflip", "truncate", "delete"])
def test_damaged_chunk_is_named_and_nothing_applied(env, two_versions, damage):
    nas, v1, v2, snap1, snap2, _ = two_versions
    victim = new_objects(env, v1, v2)[0]
    cid = os.path.basename(victim)
    data = bytearray(open(victim, "rb").read())
    if damage == "bitflip":
        data[len(data) // 2] ^= 0x10
        open(victim, "wb").write(data)
    elif damage == "truncate":
        open(victim, "wb").write(data[: len(data) // 2])
    else:
        os.unlink(victim)
    with pytest.raises((IntegrityError, MissingObjectError)) as ei:
        preau_nas.pull(nas.root, delta=False)  # chunk by chunk (the delta path is tested below)
    assert cid in str(ei.value)
    assert_intact(nas, snap1)
    st = preau_nas.status(nas.root)["collections"]["contents"]
    assert st["version"] == 1 and cid in st["last_error"]["message"]
    # the publisher repairs the store: the next pull completes
    shutil.rmtree(os.path.join(env.store, "objects"))
    env.publish(os.path.join(os.path.dirname(nas.root), "src"), force=True)
    preau_nas.pull(nas.root)
    assert tree_snapshot(current(nas.root)) == snap2


def test_corrupt_delta_bundle_names_the_chunk(env, two_versions):
    nas, v1, v2, snap1, snap2, _ = two_versions
    packs = glob.glob(os.path.join(env.store, "deltas", "contents", v2["manifest"], "packs", "*.raw"))
    assert packs
    data = bytearray(open(packs[0], "rb").read())
    data[len(data) // 2] ^= 0x01
    open(packs[0], "wb").write(data)
    with pytest.raises(IntegrityError, match="chunk [0-9a-f]{64} in .*pack-"):
        preau_nas.pull(nas.root)
    assert_intact(nas, snap1)
    r = preau_nas.pull(nas.root, delta=False)  # chunk by chunk still works
    assert r["collections"]["contents"]["via"] == "chunks"
    assert tree_snapshot(current(nas.root)) == snap2


def _resign(path, mutate, key=None):
    env = json.loads(open(path, "rb").read())
    payload = json.loads(base64.b64decode(env["signed"]))
    mutate(payload)
    if key is None:  # tamper without re-signing
        env["signed"] = base64.b64encode(json.dumps(payload).encode()).decode()
        open(path, "w").write(json.dumps(env))
    else:
        data, _ = seal(payload, key)
        open(path, "wb").write(data)


def _latest_manifest_file(env, v):
    return os.path.join(env.store, "manifests", "contents", v["manifest"] + ".json")


def test_manifest_bad_signature(env, two_versions):
    nas, v1, v2, snap1, _, _ = two_versions
    _resign(_latest_manifest_file(env, v2), lambda p: p.update(expires="2099-01-01T00:00:00Z"))
    with pytest.raises(SignatureError, match="bad signature"):
        preau_nas.pull(nas.root)
    assert_intact(nas, snap1)


def test_manifest_signed_by_unknown_key(env, two_versions, tmp_path):
    nas, v1, v2, snap1, _, _ = two_versions
    rogue = Keypair.generate()
    path = _latest_manifest_file(env, v2)
    _resign(path, lambda p: None, key=rogue)
    # the pointer names the manifest by hash: point it at the rogue one
    data = open(path, "rb").read()
    from preau_nas.keys import open_envelope
    _, mid, _ = open_envelope(data, None, "x")
    os.rename(path, _latest_manifest_file(env, {"manifest": mid}))
    json.dump({"collection": "contents", "version": 2, "manifest": mid},
              open(os.path.join(env.store, "collections", "contents", "latest.json"), "w"))
    with pytest.raises(UnknownKeyError, match="unknown key"):
        preau_nas.pull(nas.root)
    assert_intact(nas, snap1)


def test_replayed_older_manifest_is_refused(env, two_versions):
    nas, v1, v2, snap1, snap2, _ = two_versions
    preau_nas.pull(nas.root)
    assert tree_snapshot(current(nas.root)) == snap2
    json.dump({"collection": "contents", "version": 1, "manifest": v1["manifest"]},
              open(os.path.join(env.store, "collections", "contents", "latest.json"), "w"))
    with pytest.raises(RollbackError, match="older"):
        preau_nas.pull(nas.root)
    assert tree_snapshot(current(nas.root)) == snap2
    # also after a local rollback to v1, the high-water mark stays at v2
    preau_nas.Node(nas.root).rollback("contents")
    assert tree_snapshot(current(nas.root)) == snap1
    with pytest.raises(RollbackError):
        preau_nas.pull(nas.root)


def test_expired_manifest_refused_online_accepted_offline(env, counting_server, tmp_path):
    src = make_tree(str(tmp_path / "src"), nfiles=5, big=1000)
    env.publish(src, expires_days=-1)
    nas = env.nas("nas-x", base_url=counting_server.url)
    with pytest.raises(ExpiredError, match="expired"):
        preau_nas.pull(nas.root)
    assert not os.path.exists(current(nas.root))
    usb = str(tmp_path / "usb")
    bundle.build(env.store, usb, env.key)
    assert bundle.apply(nas.root, usb)["ok"]  # offline visits may come after expiry
    assert tree_snapshot(current(nas.root)) == tree_snapshot(src)


@pytest.fixture
def built_bundle(env, two_versions, tmp_path):
    nas, v1, v2, snap1, snap2, _ = two_versions
    usb = str(tmp_path / "usb")
    bundle.build(env.store, usb, env.key, from_versions={"contents": [v1["manifest"]]})
    return nas, usb, snap1, snap2


def test_bundle_bad_signature(env, built_bundle):
    nas, usb, snap1, _ = built_bundle
    _resign(os.path.join(usb, "preau-bundle.json"), lambda p: p.update(created="2030-01-01T00:00:00Z"))
    with pytest.raises(SignatureError):
        bundle.apply(nas.root, usb)
    assert_intact(nas, snap1)


def test_bundle_signed_by_unknown_key(env, built_bundle):
    nas, usb, snap1, _ = built_bundle
    _resign(os.path.join(usb, "preau-bundle.json"), lambda p: None, key=Keypair.generate())
    with pytest.raises(UnknownKeyError):
        bundle.apply(nas.root, usb)
    assert_intact(nas, snap1)


def test_bundle_tampered_pack_names_the_chunk(env, built_bundle):
    nas, usb, snap1, snap2 = built_bundle
    raw = [p for p in glob.glob(os.path.join(usb, "packs", "*.raw"))]
    assert raw
    data = bytearray(open(raw[0], "rb").read())
    data[10] ^= 1
    open(raw[0], "wb").write(data)
    with pytest.raises(IntegrityError, match="chunk [0-9a-f]{64} in .*pack-"):
        bundle.apply(nas.root, usb)
    assert_intact(nas, snap1)


def test_bundle_tampered_index(env, built_bundle):
    nas, usb, snap1, _ = built_bundle
    p = os.path.join(usb, "index.bin")
    data = bytearray(open(p, "rb").read())
    data[-1] ^= 1
    open(p, "wb").write(data)
    with pytest.raises(IntegrityError, match="index.bin"):
        bundle.apply(nas.root, usb)
    assert_intact(nas, snap1)


def test_bundle_for_other_starting_version_refused_cleanly(env, two_versions, tmp_path):
    nas, v1, v2, snap1, _, _ = two_versions
    usb = str(tmp_path / "usb-thin")
    bundle.build(env.store, usb, env.key, from_versions={"contents": [v2["manifest"]]})  # nothing inside
    fresh = env.nas("nas-empty")
    with pytest.raises(MissingObjectError, match="lacks chunk"):
        bundle.apply(fresh.root, usb)
    assert not os.path.exists(current(fresh.root))


def test_usb_removed_mid_apply(env, built_bundle):
    nas, usb, snap1, snap2 = built_bundle
    pulled = []

    def yank(ev):
        if ev["op"] == "fetch" and not pulled:
            pulled.append(ev)
            for p in glob.glob(os.path.join(usb, "packs", "*")):
                os.truncate(p, 0)
            shutil.rmtree(usb)

    with pytest.raises(BundleReadError, match="removed"):
        bundle.apply(nas.root, usb, progress=yank)
    assert pulled
    assert_intact(nas, snap1)
    assert not os.path.exists(usb)  # we never recreate a vanished bundle folder


def _tamper_receipt(path, mutate):
    _resign(path, mutate)


def test_receipts_forged_or_altered_are_rejected(env, built_bundle, tmp_path):
    nas, usb, _, _ = built_bundle
    r = bundle.apply(nas.root, usb)
    known = {nas.node_id: nas.keypair().public}
    good = preau_nas.read_receipts(usb, known)
    assert good["nodes"]["nas-a"]["collections"]["contents"]["version"] == 2 and not good["rejected"]
    # altered after signing
    altered = os.path.join(usb, "receipts", "nas-a-altered.json")
    shutil.copy(r["receipt"], altered)
    _tamper_receipt(altered, lambda p: p["collections"]["contents"].update(version=3))
    # forged: signed by another key claiming to be nas-a
    forged = os.path.join(usb, "receipts", "nas-a-forged.json")
    shutil.copy(r["receipt"], forged)
    _resign(forged, lambda p: p.update(time="2099-01-01T00:00:00Z"), key=Keypair.generate())
    # unknown node
    other = env.nas("nas-z")
    unknown = os.path.join(usb, "receipts", "nas-z.json")
    shutil.copy(r["receipt"], unknown)
    _resign(unknown, lambda p: p.update(node_id="nas-z"), key=other.keypair())
    out = preau_nas.read_receipts(usb, known)
    reasons = {x["file"]: x["error"] for x in out["rejected"]}
    assert set(reasons) == {"nas-a-altered.json", "nas-a-forged.json", "nas-z.json"}
    assert "bad signature" in reasons["nas-a-altered.json"]
    assert "forged" in reasons["nas-a-forged.json"]
    assert "unknown node" in reasons["nas-z.json"]
    assert out["nodes"]["nas-a"]["collections"]["contents"]["version"] == 2
    assert out["nodes"]["nas-a"]["time"] < "2099"


def _can_mount():
    if os.geteuid() != 0:
        return False
    d = "/tmp/preau-nas-mount-probe"
    os.makedirs(d, exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", d], capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", d])
    return ok


@pytest.mark.skipif(not _can_mount(), reason="needs root and tmpfs mounts to make a really full disk")
def test_full_disk(env, counting_server, tmp_path):
    src = make_tree(str(tmp_path / "src"), nfiles=10, big=1_000_000)
    env.publish(src)
    snap1 = tree_snapshot(src)
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(mnt)], check=True)
    try:
        nas = preau_nas.init_node(str(mnt / "nas"), "nas-small", [env.public], base_url=counting_server.url,
                                  collections=["contents"])
        preau_nas.pull(nas.root)
        with open(os.path.join(src, "videos", "big2.bin"), "wb") as f:
            f.write(os.urandom(4_000_000))
        env.publish(src)
        with pytest.raises(DiskFullError, match="disk full.*nothing downloaded"):
            preau_nas.pull(nas.root)  # refused up front: not enough room
        assert_intact(nas, snap1)
        assert preau_nas.status(nas.root)["collections"]["contents"]["last_error"]["code"] == "disk_full"
        os.unlink(os.path.join(src, "videos", "big2.bin"))
        with open(os.path.join(src, "videos", "big3.bin"), "wb") as f:
            f.write(os.urandom(600_000))
        env.publish(src)
        filled = []

        def fill_the_disk(ev):  # someone else fills the disk while we download
            if ev["op"] == "fetch" and not filled:
                filled.append(1)
                try:
                    with open(mnt / "filler", "wb") as f:
                        while True:
                            f.write(b"x" * 65536)
                except OSError:
                    pass

        with pytest.raises(DiskFullError, match="disk full"):
            preau_nas.pull(nas.root, progress=fill_the_disk)
        assert filled
        assert_intact(nas, snap1)
        os.unlink(mnt / "filler")
        preau_nas.pull(nas.root)
        assert tree_snapshot(current(nas.root)) == tree_snapshot(src)
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def test_unsafe_paths_in_a_signed_body_are_refused(env, counting_server, tmp_path):
    """Even a trusted publisher cannot make a NAS write outside its tree."""
    from array import array

    from preau_nas.manifest import FileEntry, encode_body, parse_body
    body = encode_body([FileEntry("../evil", 0o644, 0, 0, b"", array("I"))])
    with pytest.raises(FormatError, match="unsafe path"):
        parse_body(body)
