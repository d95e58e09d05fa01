"""The acceptance scenario of the issue, end to end with a real static HTTP server."""

import json
import os
import subprocess
import sys

import preau_nas
from nas_helpers import current, make_tree, mutate_tree, tree_snapshot
from preau_nas import bundle


def test_publish_pull_bundle_receipts(env, http_store, tmp_path):
    src = make_tree(str(tmp_path / "src"))
    v1 = env.publish(src)
    snap1 = tree_snapshot(src)
    nas_a = env.nas("nas-a", base_url=http_store)
    nas_b = env.nas("nas-b", base_url=http_store)
    nas_c = env.nas("nas-c")  # offline school, starts empty

    preau_nas.pull(nas_a.root)
    preau_nas.pull(nas_b.root)
    assert tree_snapshot(current(nas_a.root)) == snap1
    assert tree_snapshot(current(nas_b.root)) == snap1

    mutate_tree(src)
    v2 = env.publish(src)
    assert v2["version"] == 2 and v2["changed"]
    snap2 = tree_snapshot(src)
    assert snap2 != snap1

    events = []
    r = preau_nas.pull(nas_a.root, progress=events.append)
    assert r["collections"]["contents"]["status"] == "updated"
    assert r["collections"]["contents"]["via"] == "delta"  # one version behind: the published delta
    assert tree_snapshot(current(nas_a.root)) == snap2
    assert events and events[-1]["phase"] == "done"
    # the delta is small: far less than the tree
    assert r["bytes_received"] < sum(len(v[2]) for v in snap2.values() if v[2]) / 3

    # one bundle for NAS B (at v1) and NAS C (empty)
    usb = str(tmp_path / "usb")
    info = bundle.build(env.store, usb, env.key, from_versions={"contents": [v1["manifest"], None]})
    assert info["collections"]["contents"]["version"] == 2
    rb = bundle.apply(nas_b.root, usb)
    rc = bundle.apply(nas_c.root, usb)
    assert rb["ok"] and rc["ok"]
    for n in (nas_a, nas_b, nas_c):
        assert tree_snapshot(current(n.root)) == snap2
    # B reused what it had: it took far fewer chunks from the disk than C
    assert rb["collections"]["contents"]["needed_bytes"] < rc["collections"]["contents"]["needed_bytes"] / 3

    known = {n.node_id: n.keypair().public for n in (nas_a, nas_b, nas_c)}
    state = preau_nas.read_receipts(usb, known)
    assert state["rejected"] == []
    assert set(state["nodes"]) == {"nas-b", "nas-c"}
    for node_id in ("nas-b", "nas-c"):
        held = state["nodes"][node_id]["collections"]["contents"]
        assert held["version"] == 2 and held["manifest"] == v2["manifest"]
        assert held["status"] == "updated" and held["verified"]["ok"] is True

    # and the CLI says the same thing
    nodes = tmp_path / "nodes.json"
    nodes.write_text(json.dumps(known))
    out = subprocess.run([sys.executable, "-m", "preau_nas", "bundle", "receipts", usb, "--nodes", str(nodes)],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["nodes"]["nas-c"]["collections"]["contents"]["version"] == 2

    for n in (nas_a, nas_b, nas_c):
        assert preau_nas.verify(n.root, full=True)["ok"]
    st = preau_nas.status(nas_b.root)["collections"]["contents"]
    assert st["version"] == 2 and st["previous_version"] == 1 and st["last_error"] is None
    assert os.path.isdir(os.path.join(nas_b.root, "collections", "contents", "previous"))
