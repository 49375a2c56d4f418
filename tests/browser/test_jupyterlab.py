"""The workbench in a real browser: JupyterLab headless on loopback with a token, Debian's
Chromium driven by playwright's Python API (never a browser build of its own).

The demo archive is imported and embedded into the session's database; JupyterLab's
kernels reach it through DOVOS_HOME like any user kernel. The test opens explore.ipynb,
runs all cells, types a query and waits for the three result columns; then judge.ipynb,
grades three messages (two buttons, one key) and reads qrels.trec from disk.
Screenshots go to tests/browser/screenshots/ (git-ignored). The time from starting
JupyterLab to the first rendered result is printed (run with -s to see it).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import text

from tests.tables import TABLES

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("DOVOS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
QUERY = "sourdough starter smells like acetone"
TIMEOUT_MS = 180_000  # a busy 2-core machine: kernel start plus the model's first load


@pytest.fixture
def sync_playwright():  # type: ignore[no-untyped-def]
    """playwright's sync API, or skip (before any set-up) saying why no browser can be had."""
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        pytest.skip(f"playwright is not installed ({error}): pip install -e '.[workbench]'")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def demo_archive(database, embedder):  # type: ignore[no-untyped-def]
    """The demo archive imported and embedded by the real worker; tables emptied after."""
    from dovos.evaluation.pipeline import prepare_dataset

    prepare_dataset("demo", database, embedder=embedder, progress=False)
    yield database
    database.engine.dispose()
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))


@pytest.fixture
def lab(tmp_path: Path, sync_playwright, demo_archive) -> Iterator[dict]:  # type: ignore[no-untyped-def]
    """JupyterLab on a free loopback port with a token, over copies of the notebooks."""
    from dovos.resources import notebooks_dir

    root = tmp_path / "notebooks"
    root.mkdir()
    for name in ("explore", "judge"):
        shutil.copy(notebooks_dir() / f"{name}.ipynb", root / f"{name}.ipynb")
    labels = tmp_path / "labels"
    _set_parameter(root / "judge.ipynb", "queryset_dir", str(labels))
    _quiet_lab(tmp_path / "lab-settings")
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
    }
    started = time.monotonic()
    log = open(tmp_path / "jupyterlab.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            "--ServerApp.terminals_enabled=False",
            *(["--allow-root"] if os.geteuid() == 0 else []),  # CI runs as root
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(f"{base}/api/status?token={token}", process, tmp_path / "jupyterlab.log")
        yield {"base": base, "token": token, "labels": labels, "started": started}
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _quiet_lab(settings: Path) -> None:
    """No 'get notified about Jupyter news?' toast over the results (and no fetch)."""
    path = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    path.parent.mkdir(parents=True)
    path.write_text('{"fetchNews": "false", "checkForUpdates": false}')


def _set_parameter(notebook: Path, name: str, value: str) -> None:
    """Rewrite one assignment of the notebook's parameters cell (what papermill would do)."""
    book = nbformat.read(notebook, as_version=4)
    cell = next(c for c in book.cells if "parameters" in c.metadata.get("tags", []))
    lines = [
        f"{name}: str = {value!r}" if line.startswith(f"{name}:") else line
        for line in cell.source.splitlines()
    ]
    cell.source = "\n".join(lines)
    nbformat.write(book, notebook)


def _wait_for_server(url: str, process: subprocess.Popen, log: Path) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # loopback only
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within 120 s:\n{log.read_text()[-3000:]}")


def _open_and_run(page, lab: dict, name: str) -> None:  # type: ignore[no-untyped-def]
    """Open `name`.ipynb, wait for an idle kernel, run all cells."""
    page.goto(f"{lab['base']}/lab/tree/{name}.ipynb?token={lab['token']}")
    page.wait_for_function(
        """name => {
            const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const kernel = widget && widget.sessionContext && widget.sessionContext.session
                && widget.sessionContext.session.kernel;
            return !!widget && !!widget.context && widget.context.path === name + ".ipynb"
                && kernel && kernel.status === "idle";
        }""",
        arg=name,
        timeout=TIMEOUT_MS,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def test_explore_and_judge_in_jupyterlab(lab: dict, sync_playwright) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1300})
            page.set_default_timeout(TIMEOUT_MS)
            try:
                _explore(page, lab)
                _judge(page, lab)
            except Exception:
                page.screenshot(path=str(SCREENSHOTS / "failure.png"))
                raise
        finally:
            browser.close()


def _explore(page, lab: dict) -> None:  # type: ignore[no-untyped-def]
    _open_and_run(page, lab, "explore")
    box = page.locator(".dovos-explore input[placeholder^='type a query']")
    box.wait_for()
    box.fill(QUERY)
    box.press("Enter")
    for mode in ("lexical", "vector", "hybrid"):
        rows = page.locator(f".dovos-explore-{mode} table tr")
        rows.nth(1).wait_for()  # the header row, then at least one hit
        assert rows.count() > 1, f"{mode} column shows no hit"
    rendered = time.monotonic() - lab["started"]
    hybrid = page.locator(".dovos-explore-hybrid table").inner_text()
    assert "sourdough" in hybrid.lower()
    box.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "explore.png"))
    page.locator(".dovos-explore-hybrid .dovos-open-hit").first.click()
    page.locator(".dovos-explore-context .dovos-turn.hit").wait_for()
    assert page.locator(".dovos-explore-context .dovos-turn").count() >= 2
    page.locator(".dovos-explore-context").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "explore-conversation.png"))
    print(f"\nJupyterLab start to first rendered explore result: {rendered:.1f} s")


def _judge(page, lab: dict) -> None:  # type: ignore[no-untyped-def]
    _open_and_run(page, lab, "judge")
    new_query = page.locator(".dovos-new-query input")
    new_query.wait_for()
    new_query.fill(QUERY)
    new_query.press("Enter")
    counts = page.locator(".dovos-judge-view").get_by_text("pooled messages graded")
    page.locator(".dovos-judge-view h3", has_text=QUERY).wait_for()
    page.locator(".dovos-grade-2").click()
    counts.filter(has_text="1 of").wait_for()
    page.locator(".dovos-grade-0").click()
    counts.filter(has_text="2 of").wait_for()
    keys = page.locator(".dovos-grade-keys input")
    keys.click()
    keys.press_sequentially("1")
    counts.filter(has_text="3 of").wait_for()
    page.locator(".dovos-judge-view").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "judge.png"))
    lines = (lab["labels"] / "qrels.trec").read_text().splitlines()
    assert len(lines) == 3, lines
    assert sorted(line.split()[3] for line in lines) == ["0", "1", "2"]
    assert all(line.startswith("q001 0 ") for line in lines)
