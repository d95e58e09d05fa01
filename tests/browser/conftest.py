"""Browser tests: a real `preau runserver` process on 127.0.0.1 with the demo territory, driven by
Debian's headless Chromium through Playwright. Without Chromium they skip with a visible message,
except under CI=true, where .ci/run installs it and they must run."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PREAU_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def chromium_path():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no Chromium at {CHROMIUM}: .ci/run must install chromium")
        pytest.skip(f"BROWSER TESTS SKIPPED: no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.fail("playwright is not installed (pip install -e '.[dev]')")
    return CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")


@pytest.fixture(scope="session")
def server(tmp_path_factory, chromium_path):
    """A real server process on its own SQLite database, loaded with `preau demo`."""
    data = tmp_path_factory.mktemp("server")
    env = {**os.environ, "PREAU_DATA_DIR": str(data), "DATABASE_URL": f"sqlite:///{data / 'e2e.sqlite3'}",
           "DJANGO_SETTINGS_MODULE": "preau.settings", "PYTHONUNBUFFERED": "1",
           # Production settings (DEBUG off, WhiteNoise static files, French error pages), on plain http.
           "DEBUG": "0", "PREAU_SECRET_KEY": "browser-tests", "SECURE_COOKIES": "0"}
    cli = [sys.executable, "-m", "preau.cli"]
    subprocess.run([*cli, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*cli, "demo"], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    subprocess.run([*cli, "collectstatic", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
    port = _free_port()
    log = open(data / "server.log", "w")
    proc = subprocess.Popen([*cli, "runserver", f"127.0.0.1:{port}", "--noreload", "--insecure"], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/comptes/login/", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((data / "server.log").read_text()) from None
            time.sleep(0.2)
    yield {"url": url, "env": env, "cli": cli}
    proc.terminate()
    proc.wait(10)
    log.close()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    yield page
    context.close()


def login(page, server, username: str, password: str = "demo") -> None:
    page.goto(server["url"] + "/comptes/login/")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(server["url"] + "/")
