"""Browser tests: a real `preau runserver` process on 127.0.0.1 with the demo territory, driven by
Debian's headless Chromium through Playwright. Without Chromium they skip with a visible message,
except under CI=true, where .ci/run installs it and they must run."""

import os
import shutil

import pytest

from tests.servers import running_server

CHROMIUM = os.environ.get("PREAU_CHROMIUM", "/usr/bin/chromium")


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
    """A real server process on its own SQLite database, loaded with `preau demo`, static files collected
    (production settings: DEBUG off, WhiteNoise, French error pages)."""
    with running_server(tmp_path_factory.mktemp("server"), setup=[["demo"], ["collectstatic", "--noinput", "-v", "0"]],
                        runserver_args=("--insecure",)) as srv:
        yield srv


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
