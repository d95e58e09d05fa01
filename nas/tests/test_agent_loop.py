"""The agent's service loop in detail (agent.py): what each logged round says about the next try, the backoff
knobs from the environment, the hints on refusals, and stale pull errors forgotten. The loop against a real
Préau server is in tests/contents/test_faults.py; against a fake one in test_enrol_checkin.py."""

from __future__ import annotations

import json
import socket

import pytest
from preau_nas import agent
from preau_nas.node import Node


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def orphan(env):
    """An enrolled NAS whose Préau server is down (nothing listens on its port)."""
    url = f"http://127.0.0.1:{_closed_port()}"
    return Node.init(str(env.tmp / "nas"), "nas-0429901j", [env.public], base_url=url + "/contenus/store/",
                     collections=["contents"], server_url=url, credential="secret")


def test_each_logged_round_carries_the_failures_and_the_next_delay(orphan, monkeypatch):
    monkeypatch.setenv("PREAU_NAS_BACKOFF_BASE", "4")
    monkeypatch.setenv("PREAU_NAS_BACKOFF_CAP", "20")
    logged, sleeps = [], []

    def log(result):  # what the CLI prints: the delay must already be there
        logged.append(json.loads(json.dumps(result)))

    last = agent.run(orphan.root, interval=900, max_rounds=5, sleep=sleeps.append, log=log)
    assert [r["failures"] for r in logged] == [1, 2, 3, 4, 5]
    assert [r.get("next_in") for r in logged[:-1]] == [round(s, 3) for s in sleeps]
    assert "next_in" not in logged[-1] and last is not None
    for i, delay in enumerate(sleeps, start=1):
        step = min(20, 4 * 2 ** (i - 1))
        assert step / 2 <= delay <= step
    st = agent.agent_state(orphan.root)
    assert st["failures"] == 5 and st["next_in"] is None and "server unreachable" in st["last_error"]["message"]


def test_bad_backoff_settings_fall_back_to_the_defaults(orphan, monkeypatch):
    monkeypatch.setenv("PREAU_NAS_BACKOFF_BASE", "soon")
    monkeypatch.setenv("PREAU_NAS_BACKOFF_CAP", "-3")
    sleeps = []
    agent.run(orphan.root, interval=900, max_rounds=3, sleep=sleeps.append)
    assert agent.BACKOFF_BASE / 2 <= sleeps[0] <= agent.BACKOFF_BASE
    assert agent.BACKOFF_BASE <= sleeps[1] <= 2 * agent.BACKOFF_BASE


def test_a_success_resets_the_count(orphan, monkeypatch):
    rounds = iter([{"ok": False, "error": "x"}, {"ok": True, "error": None}, {"ok": False, "error": "y"}])
    monkeypatch.setattr(agent, "run_once", lambda *a, **k: dict(next(rounds)))
    logged = []
    agent.run(orphan.root, interval=100, max_rounds=3, sleep=lambda s: None, log=logged.append,
              backoff_base=10)
    assert [r["failures"] for r in logged] == [1, 0, 1]
    assert 90 <= logged[1]["next_in"] <= 110  # back to the interval after a good round
    assert 5 <= logged[0]["next_in"] <= 10


def test_refusals_of_an_enrolled_node_say_what_to_do():
    for status, words in ((401, "enrol"), (403, "revoked"), (409, "counter")):
        assert words in agent._HINTS[status]


def test_a_stale_pull_error_is_forgotten_once_the_offered_version_is_held(orphan):
    orphan.save_state("contents", last_error={"code": "error", "message": "HTTP 401"})
    assert agent._clear_errors(orphan, ["contents"])
    assert orphan.state("contents").get("last_error") is None
    with orphan:  # another agent working: nothing forgotten now, the next round will
        orphan.save_state("contents", last_error={"code": "error", "message": "HTTP 401"})
        assert not agent._clear_errors(Node(orphan.root), ["contents"])
    assert orphan.state("contents")["last_error"]["message"] == "HTTP 401"
