"""SIGKILL of a real agent process at random points: the NAS serves the old or the new
version, complete and verified, never a mix; the next run completes without
downloading again what had already arrived."""

import collections
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import preau_nas
import pytest
from nas_helpers import current, make_tree, mutate_tree, tree_snapshot
from preau_nas import bundle

SEED = int(os.environ.get("PREAU_NAS_KILL_SEED", time.time_ns() % 100000))


@pytest.fixture
def scenario(env, counting_server, tmp_path):
    src = make_tree(str(tmp_path / "src"), nfiles=60, big=4_000_000)
    v1 = env.publish(src)
    snap1 = tree_snapshot(src)
    template = env.nas("template", base_url=counting_server.url)
    preau_nas.pull(template.root)
    mutate_tree(src)
    with open(os.path.join(src, "videos", "second.bin"), "wb") as f:
        f.write(random.Random(5).randbytes(3_000_000))
    v2 = env.publish(src)
    return {"template": template.root, "snap1": snap1, "snap2": tree_snapshot(src), "v1": v1, "v2": v2}


def agent(args):
    return subprocess.Popen([sys.executable, "-m", "preau_nas", "--progress", "never", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def run_to_end(args):
    p = agent(args)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err.decode()


def check_invariant(root, snaps):
    """Old or new, complete and verified."""
    tree = current(root)
    snap = tree_snapshot(tree)
    assert snap in snaps, "the NAS serves a mix of versions"
    assert preau_nas.verify(root, full=True)["ok"]
    return snaps.index(snap)


def fresh_copy(template, dst):
    shutil.copytree(template, dst, symlinks=True)
    return dst


def timed(args) -> float:
    t = time.monotonic()
    run_to_end(args)
    return time.monotonic() - t


def kill_at_random(args_for, template, tmp_path, snaps, rounds, label):
    rnd = random.Random(SEED)
    probe = fresh_copy(template, str(tmp_path / f"{label}-probe"))
    full = timed(args_for(probe))
    print(f"{label}: a full run takes {full:.2f}s")
    outcomes = collections.Counter()
    for i in range(rounds):
        root = fresh_copy(template, str(tmp_path / f"{label}-{i}"))
        p = agent(args_for(root))
        time.sleep(rnd.uniform(0.0, full * 1.1))
        p.send_signal(signal.SIGKILL)
        p.wait()
        outcomes[check_invariant(root, snaps)] += 1
        run_to_end(args_for(root))  # the next run completes
        assert check_invariant(root, snaps) == 1
        shutil.rmtree(root)
    return outcomes


@pytest.mark.parametrize("mode", ["chunks", "delta"])
def test_sigkill_during_pull(scenario, tmp_path, mode):
    snaps = [scenario["snap1"], scenario["snap2"]]
    extra = ["--no-delta"] if mode == "chunks" else []
    outcomes = kill_at_random(lambda r: ["pull", "--root", r, "--limit-rate", "20M", *extra], scenario["template"],
                              tmp_path, snaps, rounds=6, label=f"pull-{mode}")
    print(f"seed={SEED} outcomes(old=0,new=1)={dict(outcomes)}")
    assert sum(outcomes.values()) == 6


def test_sigkill_during_bundle_apply(scenario, env, tmp_path):
    usb = str(tmp_path / "usb")
    bundle.build(env.store, usb, env.key, from_versions={"contents": [scenario["v1"]["manifest"], None]})
    snaps = [scenario["snap1"], scenario["snap2"]]
    outcomes = kill_at_random(lambda r: ["bundle", "apply", usb, "--root", r], scenario["template"],
                              tmp_path, snaps, rounds=8, label="apply")
    print(f"seed={SEED} outcomes(old=0,new=1)={dict(outcomes)}")
    # every successful apply left a valid receipt
    nodes = {"template": preau_nas.Node(scenario["template"]).keypair().public}
    state = preau_nas.read_receipts(usb, nodes)
    assert state["rejected"] == [] and state["nodes"]["template"]["collections"]["contents"]["version"] == 2


def test_repeated_kills_resume_without_refetching(scenario, counting_server, tmp_path):
    root = fresh_copy(scenario["template"], str(tmp_path / "resume"))
    rnd = random.Random(SEED + 1)
    counting_server.paths.clear()
    kills = 0
    for _ in range(30):
        p = agent(["pull", "--root", root, "--limit-rate", "2M", "--jobs", "4", "--no-delta"])
        time.sleep(rnd.uniform(0.3, 0.6))
        if p.poll() is not None:
            break
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += 1
        check_invariant(root, [scenario["snap1"], scenario["snap2"]])
    run_to_end(["pull", "--root", root])
    assert tree_snapshot(current(root)) == scenario["snap2"]
    assert kills >= 2
    objs = collections.Counter(p for p in counting_server.paths if p.startswith("/objects/"))
    repeated = sum(n - 1 for n in objs.values())
    # only the chunks in flight at the instant of each kill (4 workers) may come twice
    assert repeated <= 4 * kills, (repeated, kills)
