"""Smaller behaviours: chunking, objects, windows, rate limit, reuse, repair, lock, CLI."""

import datetime as dt
import json
import os
import random
import subprocess
import sys
import time

import preau_nas
import pytest
from nas_helpers import current, make_tree, mutate_tree, tree_snapshot
from preau_nas.chunks import chunk_id, decode_object, encode_object, iter_buffer_chunks, profile_for
from preau_nas.errors import IntegrityError, LockedError, OutsideWindowError
from preau_nas.fetch import RateLimiter, in_windows


def test_chunking_is_content_defined():
    rnd = random.Random(1)
    data = rnd.randbytes(2_000_000)
    a = [cid for _, cid in iter_buffer_chunks(data)]
    shifted = data[:500_000] + b"inserted" + data[500_000:]
    b = [cid for _, cid in iter_buffer_chunks(shifted)]
    assert len(set(b) - set(a)) <= 2  # an insertion changes one or two chunks, not the rest
    assert b"".join(bytes(d) for d, _ in iter_buffer_chunks(data)) == data


def test_objects_compress_only_when_it_pays():
    text = b"bonjour les enfants " * 1000
    noise = random.Random(2).randbytes(20000)
    assert encode_object(text)[0] == 1 and len(encode_object(text)) < len(text) / 10
    assert encode_object(noise)[0] == 0
    for raw in (text, noise):
        assert decode_object(chunk_id(raw), encode_object(raw)) == raw
    bad = bytearray(encode_object(noise))
    bad[5] ^= 1
    with pytest.raises(IntegrityError, match=chunk_id(noise).hex()):
        decode_object(chunk_id(noise), bytes(bad))


def test_disk_images_get_small_chunks(tmp_path):
    p = tmp_path / "x.img"
    p.write_bytes(b"\0" * 100)
    assert profile_for(str(p), 100) == "block"
    iso = tmp_path / "x.iso"
    iso.write_bytes(b"\0" * 100)
    assert profile_for(str(iso), 100) == "image"
    q = tmp_path / "disk"
    with open(q, "wb") as f:
        f.write(b"\0" * 1080 + b"\x53\xef" + b"\0" * 3000)
        f.truncate(20 << 20)
    assert profile_for(str(q), 20 << 20) == "block"
    r = tmp_path / "doc.pdf"
    r.write_bytes(b"%PDF" * 10)
    assert profile_for(str(r), 40) == "default"


def test_time_windows():
    at = lambda h, m=0: dt.datetime(2026, 12, 4, h, m)  # noqa: E731
    assert in_windows([], at(12))
    assert in_windows(["19:00-07:00"], at(23)) and in_windows(["19:00-07:00"], at(6, 59))
    assert not in_windows(["19:00-07:00"], at(7)) and not in_windows(["19:00-07:00"], at(12))
    assert in_windows(["12:00-13:00", "19:00-07:00"], at(12, 30))


def test_rate_limiter_paces():
    rl = RateLimiter(1_000_000)
    t = time.monotonic()
    for _ in range(10):
        rl.take(50_000)
    assert time.monotonic() - t >= 0.45


def test_pull_outside_window_is_refused_and_resumable(env, counting_server, tmp_path):
    src = make_tree(str(tmp_path / "src"), nfiles=5, big=10000)
    env.publish(src)
    nas = env.nas("nas-w", base_url=counting_server.url)
    now = dt.datetime.now()
    closed = f"{(now.hour + 2) % 24:02d}:00-{(now.hour + 3) % 24:02d}:00"
    with pytest.raises(OutsideWindowError):
        preau_nas.pull(nas.root, windows=[closed])
    assert preau_nas.status(nas.root)["collections"]["contents"]["last_error"]["code"] == "outside_window"
    preau_nas.pull(nas.root, windows=[])
    assert tree_snapshot(current(nas.root)) == tree_snapshot(src)


def test_unchanged_files_are_hardlinked_and_nochange_costs_nothing(env, counting_server, tmp_path):
    src = make_tree(str(tmp_path / "src"), nfiles=20, big=500_000)
    env.publish(src)
    nas = env.nas("nas-h", base_url=counting_server.url)
    preau_nas.pull(nas.root)
    film1 = os.stat(os.path.join(current(nas.root), "videos", "film.bin"))
    with open(os.path.join(src, "lisez-moi.txt"), "a") as f:
        f.write("v2\n")
    env.publish(src)
    preau_nas.pull(nas.root)
    film2 = os.stat(os.path.join(current(nas.root), "videos", "film.bin"))
    assert film1.st_ino == film2.st_ino  # reused, not rewritten
    assert tree_snapshot(current(nas.root)) == tree_snapshot(src)
    # publishing identical content makes no new version; the pull is one small request
    assert env.publish(src)["changed"] is False
    r = preau_nas.pull(nas.root)
    assert r["collections"]["contents"]["status"] == "up_to_date"
    assert r["requests"] == 1 and r["bytes_received"] < 1000


def test_verify_reports_damage_and_pull_repairs(env, counting_server, tmp_path):
    src = make_tree(str(tmp_path / "src"), nfiles=10, big=300_000)
    env.publish(src)
    nas = env.nas("nas-r", base_url=counting_server.url)
    preau_nas.pull(nas.root)
    victim = os.path.join(current(nas.root), "videos", "film.bin")
    data = bytearray(open(victim, "rb").read())
    data[1000] ^= 0xFF
    open(victim, "wb").write(data)
    assert preau_nas.verify(nas.root)["ok"]  # fast mode: sizes only
    full = preau_nas.verify(nas.root, full=True)
    assert not full["ok"]
    assert full["collections"]["contents"]["damaged"][0]["path"] == "videos/film.bin"
    assert preau_nas.status(nas.root)["collections"]["contents"]["damaged"] == ["videos/film.bin"]
    r = preau_nas.pull(nas.root)
    assert r["collections"]["contents"]["status"] == "updated"
    assert tree_snapshot(current(nas.root)) == tree_snapshot(src)
    assert preau_nas.verify(nas.root, full=True)["ok"]


def test_one_agent_at_a_time(env, tmp_path):
    nas = env.nas("nas-l")
    with nas:
        with pytest.raises(LockedError):
            preau_nas.Node(nas.root).lock()


def cli(*args, check=True):
    p = subprocess.run([sys.executable, "-m", "preau_nas", *args], capture_output=True, text=True)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_cli_end_to_end(tmp_path, counting_server, env):
    key = str(tmp_path / "k")
    pub = json.loads(cli("keygen", key).stdout)["public_key"]
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"
    src = make_tree(str(tmp_path / "src"), nfiles=10, big=50_000)
    store = env.store
    out = json.loads(cli("publish", src, "--store", store, "-c", "contents", "--key", key).stdout)
    assert out["version"] == 1
    root = str(tmp_path / "nas")
    cli("init", "--root", root, "--node-id", "ecole-1", "--trust", key + ".pub", "--base-url", counting_server.url,
        "-c", "contents", "--window", "00:00-24:00")
    assert json.loads(cli("pull", "--root", root).stdout)["ok"]
    st = json.loads(cli("status", "--root", root, "--json").stdout)
    assert st["collections"]["contents"]["version"] == 1 and st["public_key"]
    assert json.loads(cli("verify", "--root", root, "--full").stdout)["ok"]
    mutate_tree(src)
    cli("publish", src, "--store", store, "-c", "contents", "--key", key)
    usb = str(tmp_path / "usb")
    cli("bundle", "build", usb, "--store", store, "--key", key, "--from", f"contents={out['manifest']}")
    assert json.loads(cli("bundle", "apply", usb, "--root", root).stdout)["ok"]
    nodes = tmp_path / "nodes.json"
    nodes.write_text(json.dumps({"ecole-1": st["public_key"]}))
    rec = json.loads(cli("bundle", "receipts", usb, "--nodes", str(nodes)).stdout)
    assert rec["nodes"]["ecole-1"]["collections"]["contents"]["version"] == 2
    cli("rollback", "--root", root, "-c", "contents")
    assert json.loads(cli("status", "--root", root, "--json").stdout)["collections"]["contents"]["version"] == 1
    bad = cli("pull", "--root", root, "--base-url", "http://127.0.0.1:9", check=False)
    assert bad.returncode == 1
    err = cli("bundle", "apply", str(tmp_path / "nowhere"), "--root", root, check=False)
    assert err.returncode == 1 and "not a bundle" in err.stderr
    assert pub


def test_scattered_block_writes_cost_one_block_each(env, counting_server, tmp_path):
    """A disk image with scattered 4 KiB rewrites: only those blocks travel; holes stay holes."""
    src = tmp_path / "src"
    src.mkdir()
    img = src / "disk.img"
    rnd = random.Random(3)
    with open(img, "wb") as f:
        for i in range(1024):  # 4 MiB: half data, half zeros (free space)
            f.write(rnd.randbytes(4096) if i % 2 else bytes(4096))
    env.publish(str(src))
    nas = env.nas("nas-img", base_url=counting_server.url)
    preau_nas.pull(nas.root)
    with open(img, "r+b") as f:
        for b in (3, 100, 501, 900):
            f.seek(b * 4096)
            f.write(rnd.randbytes(4096))
    env.publish(str(src))
    r = preau_nas.pull(nas.root)
    c = r["collections"]["contents"]
    assert c["needed_chunks"] == 4 and c["needed_bytes"] == 4 * 4096
    out = os.path.join(current(nas.root), "disk.img")
    assert open(out, "rb").read() == img.read_bytes()
    assert os.stat(out).st_blocks * 512 < 3 * 1024 * 1024  # zero blocks left as holes


def test_zip_archives_resync_at_each_member(tmp_path):
    import zipfile

    from preau_nas.chunks import iter_file_chunks

    rnd = random.Random(4)
    members = [rnd.randbytes(30_000) for _ in range(20)]

    def pack(path, change):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
            for i, m in enumerate(members):
                z.writestr(zipfile.ZipInfo(f"m{i}", (2024, 1, 1, 0, 0, 0)), m + (b"v2" if i == change else b""))

    a, b = str(tmp_path / "a.zip"), str(tmp_path / "b.zip")
    pack(a, None)
    pack(b, 3)
    assert profile_for(a, os.path.getsize(a)) == "zip"
    old = {cid for _, cid in iter_file_chunks(a, "zip")}
    new = sum(len(d) for d, cid in iter_file_chunks(b, "zip") if cid not in old)
    assert new < 3 * 30_000  # the changed member (and the central directory), not the rest
    assert b"".join(bytes(d) for d, _ in iter_file_chunks(b, "zip")) == open(b, "rb").read()
