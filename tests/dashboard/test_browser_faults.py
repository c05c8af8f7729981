"""The Import page under hostile uploads, in a real browser (Debian's chromium via
Playwright against `streamlit run dashboard/app.py`): a zip bomb (an 8 GiB member
in 8 MB) and a file whose header declares a huge array are refused with an alert,
the dashboard process's peak memory (VmHWM, read from /proc) stays bounded, and
the page still imports a good dataset afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from engine import dataset as ds_lib
from tests.conftest import ROOT
from tests.hostile_files import huge_shape, zip_bomb

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
MARGIN = 256 * 2**20
"""Peak memory the hostile uploads may add (the upload itself is held in memory,
8 MB, a few times over); before the fix the bomb took the process to 21 GB."""

# One Chromium at a time: under `pytest -n 2` the browser tests share one worker.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _requirements():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _peak_rss(pid: int) -> int:
    """The process's high-water resident set size in bytes (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture
def server(tmp_path):
    _requirements()
    port = _free_port()
    log = open(tmp_path / "streamlit.log", "w")  # noqa: SIM115 (closed below)
    env = {
        **os.environ,
        "HADES_RUNS": str(tmp_path / "runs"),
        "PYTHONPATH": str(ROOT),
        "HADES_COMPUTE_NICE": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.terminate()
        pytest.fail("streamlit did not answer /_stcore/health within 60 s")
    yield url, proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_import_page_refuses_hostile_files_in_bounded_memory(server, tmp_path):
    from playwright.sync_api import sync_playwright

    url, proc = server
    bomb = zip_bomb(tmp_path / "bomb.npz", 8 * 2**30)
    huge = huge_shape(tmp_path / "huge.npz")
    good = tmp_path / "good.npz"
    ds_lib.save(
        ds_lib.Dataset(
            "CartPole-v1",
            np.zeros((4, 4), np.float32),
            ds_lib.round_robin_labels(4, 2),
            "onehot",
        ),
        good,
    )
    assert bomb.stat().st_size < 10 * 2**20
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(url + "/")
        page.locator("[data-testid='stSidebarNav'] a", has_text="Import").first.click()
        upload = page.locator("input[type='file']")
        upload.wait_for(state="attached", timeout=60_000)
        time.sleep(1)
        before = _peak_rss(proc.pid)
        for path, text in (
            (bomb, "declares 8192.0 MiB uncompressed"),
            (huge, "declares shape (1000000000000, 4)"),
        ):
            upload.set_input_files(str(path))
            alert = page.locator("[data-testid='stAlert']", has_text=text)
            alert.first.wait_for(timeout=60_000)
            assert "refused before" in alert.first.inner_text()
        peak = _peak_rss(proc.pid)
        assert peak - before < MARGIN, (before / 2**20, peak / 2**20)
        assert proc.poll() is None
        # The page is still usable: a good dataset imports and is drawn
        upload.set_input_files(str(good))
        page.get_by_text("Imported datasets").first.wait_for(timeout=60_000)
        page.locator("[data-testid='stImage'] img").first.wait_for(timeout=60_000)
        assert not page.locator("[data-testid='stException']").count()
        browser.close()
    print(f"\ndashboard peak RSS {before / 2**20:.0f} -> {peak / 2**20:.0f} MiB")
