"""The Explain tab in a real browser (Debian's chromium via Playwright) against
`streamlit run dashboard/app.py`: a demo asset (bundled result), a run and an
imported file (each computed in the background with a progress bar, then drawn),
with no exception on the page. Screenshots go to ``test-output/browser-explain/``.
"""

from __future__ import annotations

import shutil

import pytest
from conftest import ROOT, tiny_cartpole
from test_browser_e2e import (
    ARGS,
    CHROMIUM,
    Page,
    _requirements,
    _wait,
    streamlit_server,
)

OUT = ROOT / "test-output" / "browser-explain"
RESULT = "Removing pair"  # the headline above the explain figures

# One Chromium at a time: under `pytest -n 2` the browser tests share one worker.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server on a runs root holding a finished tiny run and an imported file."""
    _requirements()
    from engine import dataset as ds_lib
    from engine.runs import Runner

    runs = tmp_path_factory.mktemp("explain-browser-runs")
    run = Runner.create(tiny_cartpole(), root=runs, name="browser", keep_last=10)
    assert run.run()["status"] == "finished"
    ds = ds_lib.load(runs / run.run_id / "dataset.npz")
    (runs / ".imports").mkdir()
    ds_lib.save(ds.with_meta(file="tiny.npz"), runs / ".imports" / "tiny.npz")
    log_path = tmp_path_factory.mktemp("explain-browser-log") / "streamlit.log"
    with streamlit_server(runs, log_path) as (url, _):
        yield {"url": url, "runs": runs, "run": run.run_id}


@pytest.fixture(scope="module")
def browser():
    _requirements()
    from playwright.sync_api import sync_playwright

    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def _shot(pw, name: str) -> None:
    pw.screenshot(path=str(OUT / f"{name}.png"), full_page=True)


def _no_exception(pw) -> None:
    assert not pw.locator("[data-testid='stException']").count()
    assert "Traceback" not in pw.locator("body").inner_text()


def _explain(p: Page, pw, source: str, name: str, compute: bool) -> None:
    """Pick a source on the Dataset page, open Explain, (compute) and check."""
    pw.locator("[data-testid='stRadio'] label", has_text=source).first.click()
    p.idle(timeout=120)
    tab = pw.get_by_role("tab", name="Explain")
    # The previous source's tabs stay (stale) until the rerun ends: on a busy
    # machine that can take a while.
    assert _wait(lambda: tab.count() == 1, 120), f"{tab.count()} Explain tabs"
    tab.click()
    p.idle()
    if compute:
        # A bound, not a timing: under `pytest -n 2` the tab's first render once
        # took over 30 s
        pw.get_by_role("button", name="Explain this dataset").click(timeout=120_000)
        # The progress bar shows while the background thread computes (or the
        # result, if the computation ended between two reruns)
        progress = pw.locator("[data-testid='stProgress']")
        progress.or_(pw.get_by_text(RESULT)).first.wait_for(timeout=120_000)
        if progress.count():
            _shot(pw, f"{name}-progress")
    pw.get_by_text(RESULT).first.wait_for(timeout=600_000)
    p.idle()
    # importance, label sensitivity, policy map, coverage
    pw.locator("[data-testid='stPlotlyChart']").nth(3).wait_for(timeout=60_000)
    _no_exception(pw)
    _shot(pw, f"{name}-explain")


def test_explain_tab_in_the_browser(server, browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 2200})
    pw = ctx.new_page()
    p = Page(pw, server["url"])
    pw.goto(server["url"] + "/")
    pw.get_by_role("button", name="Launch").wait_for(timeout=60_000)
    p.idle()
    p.nav("Dataset", "Source")
    p.idle()
    _explain(p, pw, "Demo assets", "demo", compute=False)
    _explain(p, pw, "Runs", "run", compute=True)
    _explain(p, pw, "Imported files", "import", compute=True)
    assert list((server["runs"] / server["run"] / "media" / "explain").glob("*.json"))
    assert list((server["runs"] / ".imports" / "tiny.explain").glob("*.json"))
    assert not p.external, p.external[:5]
    ctx.close()
