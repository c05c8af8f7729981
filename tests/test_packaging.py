"""The package as users install it: a wheel in a fresh virtual environment.

Build the wheel (`pip wheel --no-deps`) from a clean copy of the source, install it
into a new venv (dependencies come from this environment's site-packages), check
that the venv imports the wheel's `engine` and `dashboard` (not this checkout, not
an editable install), then start `hades dashboard` from an unrelated directory and
look at it in headless Chromium: the Demo page lists its three bundled runs, the
shipped theme applies, and the server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

from tests.dashboard.test_browser_e2e import (
    ARGS,
    CHROMIUM,
    _free_port,
    _requirements,
    _wait,
)

# Folders of a checkout that are never part of a build: at its top level only
# (engine/runs is a package, /runs a run store) ...
_NOT_SOURCE_TOP = {"build", "dist", ".venv", "test-output", "runs", ".gl", ".whl",
                   ".pytest_cache", ".ruff_cache", ".git"}  # fmt: skip
# ... and anywhere
_NOT_SOURCE_ANY = shutil.ignore_patterns("__pycache__", "*.egg-info")


def _ignore(folder: str, names: list[str]) -> set[str]:
    out = set(_NOT_SOURCE_ANY(folder, names))
    if Path(folder) == ROOT:
        out |= _NOT_SOURCE_TOP & set(names)
    return out


def _package_files() -> set[str]:
    """Every .py file of the two packages in the source tree."""
    return {
        str(p.relative_to(ROOT))
        for pkg in ("engine", "dashboard")
        for p in (ROOT / pkg).rglob("*.py")
        if "__pycache__" not in p.parts
    }


def _clean_env(**extra) -> dict[str, str]:
    """This environment without PYTHONPATH (which would put the checkout first)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src") / "hades-studio"
    shutil.copytree(ROOT, src, ignore=_ignore)
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
         str(src)],
        capture_output=True, text=True, timeout=600, env=_clean_env(),
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    (whl,) = out.glob("hades_studio-*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    v = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(v)],
        check=True, timeout=300,
    )  # fmt: skip
    r = subprocess.run(
        [str(v / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
         "--no-index", str(wheel)],
        capture_output=True, text=True, timeout=300, env=_clean_env(),
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    return v


def test_wheel_holds_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = _package_files() - names
    assert not missing, sorted(missing)
    for path in (
        "dashboard/streamlit_config.toml",
        "dashboard/static/icon.png",
        "dashboard/assets/demo/manifest.json",
        "dashboard/assets/demo/hopper/rollout.mp4",
        "dashboard/assets/demo/cartpole/metrics.jsonl",
        "dashboard/app_pages/demo.py",
    ):
        assert path in names, path
    dist = "hades_studio-0.1.0.dist-info"
    assert f"{dist}/licenses/LICENSE" in names
    assert f"{dist}/licenses/CITATION.cff" in names
    meta = zipfile.ZipFile(wheel).read(f"{dist}/METADATA").decode()
    assert "Requires-Python: >=3.11" in meta
    assert "Provides-Extra: wandb" in meta and "Provides-Extra: cluster" in meta
    # Nothing from outside the two packages (tests, scripts, benchmarks)
    tops = {n.split("/")[0] for n in names}
    assert tops == {"engine", "dashboard", dist}, tops


def _modules() -> set[str]:
    """Importable modules to check: each package of the tree, and the modules
    that pull in the rest (pages are scripts Streamlit runs, not imported)."""
    pkgs = {
        ".".join(Path(f).parent.parts)
        for f in _package_files()
        if f.endswith("__init__.py")
    }
    return pkgs | {"engine.cli", "engine.runs.cli", "engine.trackers.hub",
                   "dashboard.server", "dashboard.sources"}  # fmt: skip


def test_venv_imports_the_wheel_not_the_checkout(venv, tmp_path):
    code = (
        "import json, importlib, dashboard.sources as s\n"
        f"mods = {sorted(_modules())!r}\n"
        "files = [importlib.import_module(m).__file__ for m in mods]\n"
        "print(json.dumps([files, str(s.demo_dir()),"
        " (s.demo_dir() / 'manifest.json').is_file()]))"
    )
    r = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=_clean_env(),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    files, demo, has_manifest = json.loads(r.stdout.strip().splitlines()[-1])
    site = str(venv.resolve())
    outside = [f for f in [*files, demo] if not str(Path(f).resolve()).startswith(site)]
    assert not outside, outside  # e.g. an editable install's finder filling a gap
    assert has_manifest
    # The console script works from anywhere
    r = subprocess.run(
        [str(venv / "bin" / "hades"), "envs", "--json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=_clean_env(),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "CartPole-v1" in r.stdout


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of sockets listening on `port` (Linux /proc/net/tcp*)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            addr, p = cols[1].split(":")
            if int(p, 16) == port and cols[3] == "0A":  # 0A: LISTEN
                if width == 8:
                    found.add(
                        ".".join(str(int(addr[i : i + 2], 16)) for i in (6, 4, 2, 0))
                    )
                else:
                    found.add("v6:" + addr)
    return found


def _css_rgb(hex_color: str) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgb({r}, {g}, {b})"


@pytest.mark.slow
@pytest.mark.browser
def test_installed_dashboard_from_another_directory(venv, tmp_path):
    _requirements()
    from playwright.sync_api import sync_playwright

    elsewhere = tmp_path / "elsewhere"  # no .streamlit/, no checkout
    elsewhere.mkdir()
    port = _free_port()
    log_path = tmp_path / "dashboard.log"
    env = _clean_env(HADES_RUNS=str(tmp_path / "runs"))
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [str(venv / "bin" / "hades"), "dashboard", "--server.port", str(port)],
            cwd=elsewhere, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        up = _wait(
            lambda: (
                urllib.request.urlopen(url + "/_stcore/health", timeout=2).read()
                == b"ok"
            ),
            90,
        )
        assert up, log_path.read_text()[-3000:]
        # Loopback only (the shipped server.address)
        assert _listening_addresses(port) == {"127.0.0.1"}
        settings = tomllib.loads(
            (ROOT / "dashboard" / "streamlit_config.toml").read_text()
        )
        theme = settings["theme"]
        manifest = json.loads(
            (ROOT / "dashboard" / "assets" / "demo" / "manifest.json").read_text()
        )
        titles = [item["title"] for item in manifest["items"].values()]
        assert len(titles) == 3
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = b.new_page(viewport={"width": 1400, "height": 1200})
            external = []
            page.on(
                "request",
                lambda req: (
                    None
                    if req.url.startswith((url, "data:", "blob:"))
                    else external.append(req.url)
                ),
            )
            page.goto(url + "/demo")
            page.get_by_text("Bundled runs").first.wait_for(timeout=60_000)
            for t in titles:  # the three bundled runs, from the installed assets
                page.get_by_text(t).first.wait_for(timeout=20_000)
            page.locator("[data-testid='stPlotlyChart']").first.wait_for(
                timeout=60_000
            )  # the Curves tab read the shipped metrics
            assert not page.locator("[data-testid='stException']").count()
            sidebar = page.locator("[data-testid='stSidebar']").first
            bg = sidebar.evaluate("e => getComputedStyle(e).backgroundColor")
            assert bg == _css_rgb(theme["secondaryBackgroundColor"]), bg
            h1 = page.locator("h1").first
            color = h1.evaluate("e => getComputedStyle(e).color")
            assert color == _css_rgb(theme["textColor"]), color
            out = ROOT / "test-output" / "packaging"
            out.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out / "installed-demo.png"), full_page=True)
            b.close()
        assert external == [], external
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
