"""End to end in a real browser: Debian's chromium driven by Playwright against
`python -m dashboard` (what `hades dashboard` runs) on a free port.

Launch a CartPole quick run from the Launch page, watch the Live curve grow, pause
and resume, measure how responsive page switches and widget changes stay while the
run computes, open Dataset and Rollouts (train policies, render a video), stop the
run. Screenshots and timings go to ``test-output/browser/`` (gitignored).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
OUT = ROOT / "test-output" / "browser"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
GENERATIONS = 400  # long enough to measure while it runs; stopped at the end

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


@contextlib.contextmanager
def _streamlit(runs: Path, log_path: Path, cwd: Path = ROOT):
    """`streamlit run dashboard/app.py` (of `cwd`) on a free port over the runs
    root `runs`; yields {url, runs, proc} once /_stcore/health answers."""
    port = _free_port()
    log = open(log_path, "w")  # noqa: SIM115 (closed at exit)
    # The dashboard's compute keeps its priority: under `pytest -n 2` the other
    # worker's tests (at nice 0) would take the cores before its nice-10 threads.
    env = {**os.environ, "HADES_RUNS": str(runs), "PYTHONPATH": str(ROOT),
           "HADES_COMPUTE_NICE": "0"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "--server.port", str(port)],
        cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("streamlit did not answer /_stcore/health within 60 s")
        yield {"url": url, "runs": runs, "proc": proc}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def streamlit_server(runs, log_path):
    """`_streamlit` for the explain tests: yields (url, process)."""
    with _streamlit(runs, log_path) as srv:
        yield srv["url"], srv["proc"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _requirements()
    runs = tmp_path_factory.mktemp("browser-runs")
    log_path = tmp_path_factory.mktemp("browser-log") / "streamlit.log"
    with _streamlit(runs, log_path) as srv:
        yield srv


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


class Page:
    """A Streamlit page in the browser with helpers that wait for reruns."""

    def __init__(self, page, url):
        self.page = page
        self.url = url
        self.external: list[str] = []
        page.on("request", self._request)

    def _request(self, req):
        u = req.url
        if not (
            u.startswith(self.url) or u.startswith("data:") or u.startswith("blob:")
        ):
            self.external.append(u)

    def idle(self, timeout=30.0):
        """Wait until the script run indicator is gone."""
        deadline = time.monotonic() + timeout
        time.sleep(0.05)
        while time.monotonic() < deadline:
            if not self.page.locator("[data-testid='stStatusWidget']").count():
                return
            time.sleep(0.05)

    def title(self) -> str:
        h = self.page.locator("h1")
        return h.first.inner_text() if h.count() else ""

    def nav(self, label: str, expect: str, timeout=30.0) -> float:
        """Click a sidebar link; seconds until `expect` (a text) is shown."""
        t0 = time.perf_counter()
        self.page.locator(
            "[data-testid='stSidebarNav'] a", has_text=label
        ).first.click()
        self.page.get_by_text(expect, exact=False).first.wait_for(
            timeout=timeout * 1000
        )
        return time.perf_counter() - t0

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)

    def generation(self) -> int:
        txt = self.page.get_by_text(re.compile(r"generation \d+ / \d+")).first
        return int(re.search(r"generation (\d+) /", txt.inner_text()).group(1))

    def badge(self) -> str:
        """The Live page's status badge (its text is icon name + status)."""
        loc = self.page.locator(".st-key-live-status")
        if not loc.count():
            return ""
        words = loc.first.inner_text().split()
        return words[-1] if words else ""


def _wait(pred, timeout, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return True
        except Exception:
            pass
        time.sleep(step)
    return False


def RunStoreRows(root) -> list[str]:
    from engine.runs import RunStore

    return [r["id"] for r in RunStore(root).list()]


def _set_number(page, label: str, value) -> None:
    box = page.get_by_label(label, exact=True).first
    box.fill(str(value))
    box.press("Enter")


def test_launch_watch_pause_resume_explore(server, browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1700})
    pw = ctx.new_page()
    p = Page(pw, server["url"])
    timings: dict[str, list[float] | float] = {}
    # Launch page (the default): CartPole, N = 4, quick
    t0 = time.perf_counter()
    pw.goto(server["url"] + "/")
    pw.get_by_role("button", name="Launch").wait_for(timeout=60_000)
    p.idle()
    timings["first_load"] = time.perf_counter() - t0
    p.shot("00-first-load")
    pw.get_by_text("obs 4, 2 discrete actions").first.wait_for(timeout=10_000)
    _set_number(pw, "generations", GENERATIONS)
    p.idle()
    # An invalid value shows the engine's message next to the widget
    _set_number(pw, "population", 63)
    pw.get_by_text("must be even with antithetic sampling").first.wait_for(
        timeout=20_000
    )
    p.shot("01-launch-invalid")
    _set_number(pw, "population", 64)
    pw.get_by_text("must be even with antithetic sampling").first.wait_for(
        state="detached", timeout=20_000
    )
    p.idle()
    p.shot("02-launch")
    pw.get_by_role("button", name="Launch").click()
    pw.locator("h1", has_text="Live").wait_for(timeout=30_000)
    assert _wait(lambda: p.badge() in ("compiling", "running"), 60)
    if p.badge() == "compiling":
        p.shot("03-live-compiling")
    # The curve grows
    # Compute waits are long: the dashboard computes at nice 10 (the UI first), so
    # under `pytest -n 2` the other worker's tests take the cores before it.
    assert _wait(lambda: p.generation() >= 5, 600), "no generation after 600 s"
    g1 = p.generation()
    assert _wait(lambda: p.generation() > g1 + 2, 60), "the Live view stopped"
    p.shot("04-live-running")
    # Pause: the run holds between chunks
    pw.get_by_role("button", name="Pause").click()
    assert _wait(lambda: p.badge() == "paused", 30), p.badge()
    # The badge can be drawn a rerun before the generation line: wait for the
    # line to show the generation the run paused at (its status.json)
    from engine.runs import RunStore

    store = RunStore(server["runs"])
    (run,) = RunStoreRows(server["runs"])
    gp = store.read_status(run)["generation"]
    assert _wait(lambda: p.generation() == gp, 30), (p.generation(), gp)
    time.sleep(3)
    assert p.generation() == gp == store.read_status(run)["generation"]
    p.shot("05-live-paused")
    pw.get_by_role("button", name="Resume").click()
    assert _wait(lambda: p.badge() == "running", 30)
    assert _wait(lambda: p.generation() > gp, 30)
    # A second tab and a reload show the same running job (one manager)
    other = Page(ctx.new_page(), server["url"])
    other.page.goto(server["url"] + "/live")
    other.page.locator("h1", has_text="Live").wait_for(timeout=30_000)
    assert _wait(lambda: other.badge() == "running", 30)
    assert _wait(lambda: other.generation() >= gp, 30)
    other.shot("05b-second-tab")
    other.page.close()
    pw.reload()
    pw.locator("h1", has_text="Live").wait_for(timeout=30_000)
    assert _wait(lambda: p.badge() == "running", 30)
    g2 = p.generation()
    assert _wait(lambda: p.generation() > g2, 30)
    # Responsiveness while the run computes: page switches and widget changes
    switches = []
    for label, expect in [
        ("Runs", "Select rows to compare"),
        ("Launch", "Evolution strategy (outer loop)"),
        ("Dataset", "Generation (checkpoints)"),
        ("Demo", "Bundled runs that show every view"),
        ("Runs", "Select rows to compare"),
        ("Live", "population mean"),
    ]:
        switches.append(p.nav(label, expect))
        p.idle()
    widget = []
    p.nav("Launch", "Evolution strategy (outer loop)")
    p.idle()
    for v in (32, 64, 16):
        before = pw.get_by_text("per generation").first.inner_text()
        t0 = time.perf_counter()
        _set_number(pw, "population", v)
        assert _wait(
            lambda b=before: pw.get_by_text("per generation").first.inner_text() != b,
            10,
            step=0.02,
        )
        widget.append(time.perf_counter() - t0)
    p.nav("Demo", "Bundled runs")
    p.idle()
    for name, expect in (
        ("Breakout", "Sixteen 10x10x4"),
        ("Brax hopper", "Four evolved (pose, torque)"),
        ("CartPole", "Four synthetic states teach"),
    ):
        t0 = time.perf_counter()
        pw.get_by_role("radio", name=re.compile(name)).first.click()
        pw.get_by_text(expect).first.wait_for(timeout=10_000)
        widget.append(time.perf_counter() - t0)
        p.idle()
    timings["page_switch_s"] = switches
    timings["widget_change_s"] = widget
    # Dataset page: the running run's dataset
    p.nav("Dataset", "Generation (checkpoints)")
    p.idle()
    pw.locator("[data-testid='stImage'] img").first.wait_for(timeout=30_000)
    p.shot("06-dataset-pictures")
    pw.get_by_role("tab", name="Heatmap").click()
    time.sleep(1)
    p.shot("07-dataset-heatmap")
    pw.get_by_role("tab", name="Labels").click()
    time.sleep(1)
    p.shot("08-dataset-labels")
    # Speed of the run with the Live page open vs. on another page
    p.nav("Live", "population mean")
    p.idle()
    pw.get_by_role("button", name="Stop").click()
    assert _wait(lambda: p.badge() == "stopped", 60), p.badge()
    p.shot("09-live-stopped")
    # Rollouts: train fresh policies and play one
    p.nav("Rollouts", "Train fresh policies on the dataset")
    p.idle()
    _set_number(pw, "policies (inits)", 4)
    pw.get_by_role("button", name="Train and evaluate").click()
    pw.get_by_text("Mean return").first.wait_for(timeout=600_000)
    p.idle()
    pw.get_by_role("button", name="Render rollout").click()
    pw.locator("video").first.wait_for(timeout=600_000)
    p.idle()
    time.sleep(1)
    p.shot("10-rollouts")
    # Demo page: the Brax item with its pre-rendered video
    p.nav("Demo", "Bundled runs")
    pw.get_by_role("radio", name=re.compile("Brax hopper")).first.click()
    p.idle()
    pw.get_by_role("tab", name="Rollout").click()
    pw.locator("video").first.wait_for(timeout=20_000)
    time.sleep(1)
    p.shot("11-demo-hopper")
    # Runs page (the session's run is preselected: its curve, files, delete)
    p.nav("Runs", "Select rows to compare")
    p.idle()
    pw.get_by_text("1 selected").first.wait_for(timeout=20_000)
    time.sleep(1)
    p.shot("12-runs")
    # Import: a hostile upload is refused and the app stays up; a dataset loads
    p.nav("Import", "Upload a dataset")
    p.idle()
    evil = OUT / "evil.pkl"
    evil.write_bytes(
        b"\x80\x04\x95\x1e\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94"
        b"\x8c\x06system\x94\x93\x94\x8c\x04true\x94\x85\x94R\x94."
    )  # pickle of os.system("true")
    pw.locator("input[type='file']").set_input_files(str(evil))
    pw.get_by_text("posix.system").first.wait_for(timeout=30_000)
    p.idle()
    p.shot("13-import-hostile")
    run_id = RunStoreRows(server["runs"])[0]
    ds_file = Path(server["runs"]) / run_id / "dataset.npz"
    pw.locator("input[type='file']").set_input_files(str(ds_file))
    pw.get_by_text("Imported datasets").first.wait_for(timeout=30_000)
    p.idle()
    pw.locator("[data-testid='stImage'] img").first.wait_for(timeout=30_000)
    p.shot("14-import-dataset")
    evil.unlink()
    # Studies: the page renders its form and the (empty) list of past studies
    p.nav("Studies", "Run a study")
    p.idle()
    pw.get_by_text("Past studies").first.wait_for(timeout=20_000)
    assert not pw.locator("[data-testid='stException']").count()
    p.shot("15-studies")
    # Nothing reached outside the machine
    assert p.external == [], p.external
    (OUT / "timings.json").write_text(json.dumps(timings, indent=1))
    print("\nresponsiveness (s):", json.dumps(timings))
    assert statistics.median(switches) < 3.0, switches
    assert statistics.median(widget) < 3.0, widget
    ctx.close()


def test_editing_a_page_keeps_the_one_worker(tmp_path, browser):
    """Edit a page and a shared module of a running server (a copy of the
    dashboard): the job started before the edit is still steered by the page
    afterwards (the same cached manager), and no second run appears."""
    _requirements()
    app = tmp_path / "app"
    shutil.copytree(
        ROOT / "dashboard",
        app / "dashboard",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    runs = tmp_path / "runs"
    with _streamlit(runs, tmp_path / "streamlit.log", cwd=app) as srv:
        url = srv["url"]
        ctx = browser.new_context(viewport={"width": 1400, "height": 1400})
        pw = ctx.new_page()
        p = Page(pw, url)
        pw.goto(url + "/")
        pw.get_by_role("button", name="Launch").wait_for(timeout=60_000)
        p.idle()
        _set_number(pw, "generations", 100000)
        p.idle()
        pw.get_by_role("button", name="Launch").click()
        pw.locator("h1", has_text="Live").wait_for(timeout=30_000)
        # Past the first compile ("running" is also shown while starting)
        assert _wait(lambda: p.badge() == "running" and p.generation() >= 1, 240)
        # Edit a page and the shared widgets module while the job runs
        for rel in ("dashboard/app_pages/live.py", "dashboard/widgets.py"):
            f = app / rel
            f.write_text(f.read_text() + "\n# edited while running\n")
        time.sleep(2)
        pw.reload()
        pw.locator("h1", has_text="Live").wait_for(timeout=60_000)
        if not _wait(lambda: p.badge() == "running", 60):
            p.shot("15-after-edit-not-running")
            raise AssertionError(f"badge after the edit: {p.badge()!r}")
        pause = pw.get_by_role("button", name="Pause")
        assert _wait(lambda: pause.is_enabled(), 20), "the job is no longer steerable"
        pause.click()
        assert _wait(lambda: p.badge() == "paused", 60)
        p.shot("15-after-edit-paused")
        # The sidebar lists the job of this process's (single) manager
        assert pw.get_by_text("Computing here").count()
        assert len(RunStoreRows(runs)) == 1
        pw.get_by_role("button", name="Stop").click()
        assert _wait(lambda: p.badge() == "stopped", 60)
        ctx.close()


def test_live_steers_a_run_the_dashboard_did_not_start(server, browser, tmp_path):
    """A run executed by another process (the worker CLI), steered from the Live
    page in the browser: pause, a new lr, resume, stop."""
    from engine.runs import RunStore
    from engine.runs.runner import write_config_file
    from tests.conftest import tiny_cartpole

    cfg = tmp_path / "cfg.json"
    write_config_file(tiny_cartpole(**{"outer.generations": 100000}), cfg)
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.runs.worker", str(cfg), str(server["runs"]),
         "--quiet"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        run_id = proc.stdout.readline().split()[1]
        store = RunStore(server["runs"])
        assert _wait(lambda: store.read_status(run_id)["generation"] >= 2, 120)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1500})
        pw = ctx.new_page()
        p = Page(pw, server["url"])
        pw.goto(server["url"] + "/live")
        pw.locator("h1", has_text="Live").wait_for(timeout=30_000)
        pw.get_by_text(f"pid {proc.pid}", exact=False).first.wait_for(timeout=30_000)
        assert "worker" in pw.get_by_text(f"pid {proc.pid}").first.inner_text()
        pw.get_by_role("button", name="Pause").click()
        assert _wait(lambda: store.read_status(run_id)["status"] == "paused", 60)
        assert _wait(lambda: p.badge() == "paused", 30), p.badge()
        p.shot("20-live-cli-run-paused")
        _set_number(pw, "ES learning rate", 0.3)
        p.idle()
        pw.get_by_role("button", name="Apply").click()
        pw.get_by_text("Queued for the next chunk").first.wait_for(timeout=30_000)
        pw.get_by_role("button", name="Resume").click()
        assert _wait(lambda: store.read_status(run_id)["status"] == "running", 60)
        assert _wait(
            lambda: any(
                abs(r.get("lr", 0) - 0.3) < 1e-6
                for r in store.read_metrics(run_id)
                if "event" not in r
            ),
            60,
        )
        p.idle()
        pw.get_by_role("button", name="Stop").click()
        assert proc.wait(timeout=120) == 0
        st = store.read_status(run_id)
        assert st["status"] == "stopped" and st["control"]["sender"] == "dashboard"
        assert not p.external, p.external
        ctx.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


STUDY_FLAGS = [
    "--sizes", "1,4", "--generations", "40", "--population", "8",
    "--eval-inits", "2", "--set", "outer.chunk=2", "--set", "outer.eval_every=10",
    "--set", "inner.width=16", "--set", "inner.steps=10",
    "--set", "fitness.num_envs=2", "--set", "fitness.num_steps=50",
]  # fmt: skip


def test_studies_resume_a_killed_cli_study_in_the_browser(tmp_path, browser):
    """Kill -9 a `hades study size-sweep` during its second run; the Studies page
    shows it failed with its runs and resumes it (the finished run is kept, the
    killed one continues from its checkpoint); "Open in Runs" filters the Runs
    page by the study; a bad form value shows the parameter's message."""
    _requirements()
    from engine.runs import RunStore
    from engine.studies import list_studies

    runs = tmp_path / "runs"
    cli = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "study", "size-sweep", *STUDY_FLAGS,
         "--runs", str(runs), "--quiet"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    store = RunStore(runs)

    def second_run(min_gen: int):
        studies = list_studies(runs)
        if not studies:
            return None
        rows = {r["name"]: r for r in store.list(study=studies[0]["study_id"])}
        r = rows.get("size_sweep N=4")
        return r if r and (r.get("generation") or 0) >= min_gen else None

    try:
        assert _wait(lambda: second_run(2) is not None, 300, step=0.05)
    finally:
        cli.kill()  # SIGKILL: no handler runs
        cli.wait(timeout=30)
    sid = list_studies(runs)[0]["study_id"]
    killed_at = second_run(2)["generation"]
    assert killed_at < 40
    n1 = {r["name"]: r for r in store.list(study=sid)}["size_sweep N=1"]
    assert n1["status"] == "finished"
    n1_rows = len(store.read_metrics(n1["id"]))

    with _streamlit(runs, tmp_path / "streamlit.log") as srv:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1600})
        pw = ctx.new_page()
        p = Page(pw, srv["url"])
        pw.goto(srv["url"] + "/studies")
        pw.get_by_text("Past studies").first.wait_for(timeout=60_000)
        p.idle()
        pw.get_by_text("process died").first.wait_for(timeout=20_000)
        pw.get_by_text("Runs of this study (2)").first.wait_for(timeout=20_000)
        p.shot("30-studies-killed")
        pw.get_by_role("button", name="Resume").click()
        pw.get_by_text("is running in this dashboard").first.wait_for(timeout=30_000)
        p.shot("31-studies-resuming")
        pw.get_by_text(re.compile(r"finished in .*" + sid)).first.wait_for(
            timeout=300_000
        )
        p.idle()
        p.shot("32-studies-resumed")
        assert not pw.locator("[data-testid='stException']").count()
        after = {r["name"]: r for r in store.list(study=sid)}
        assert [after[k]["status"] for k in sorted(after)] == ["finished"] * 2
        assert after["size_sweep N=1"]["id"] == n1["id"]
        assert len(store.read_metrics(n1["id"])) == n1_rows  # not redone
        n4 = store.read_metrics(after["size_sweep N=4"]["id"])
        assert [r["event"] for r in n4 if r.get("event") == "resume"] == ["resume"]
        assert after["size_sweep N=4"]["generation"] == 40
        status = json.loads((runs / "studies" / sid / "status.json").read_text())
        assert status["status"] == "finished"
        # Open the study's runs in the Runs page: filtered and selected
        pw.get_by_text("Runs of this study (2)").first.click()
        p.idle()  # a click during a rerun can be lost
        pw.get_by_role("button", name="Open in Runs").click()
        p.idle()
        # Bounds, not timings: the Runs page's first render, next to the other
        # test worker's compute, once took over 30 s
        pw.get_by_text("2 of 2 runs").first.wait_for(timeout=120_000)
        pw.get_by_text("2 selected").first.wait_for(timeout=60_000)
        p.idle()
        p.shot("33-runs-of-study")
        # A bad value in the generated form: the parameter's message, nothing runs
        p.nav("Studies", "Run a study")
        p.idle()
        box = pw.get_by_label("Widths", exact=True).first
        box.fill("8,wide")
        box.press("Tab")
        pw.get_by_role("button", name="Run study").click()
        pw.get_by_text("widths='8,wide': not ints").first.wait_for(timeout=20_000)
        p.shot("34-studies-bad-value")
        assert len(list_studies(runs)) == 1
        assert p.external == [], p.external
        ctx.close()
