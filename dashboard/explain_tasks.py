"""Explain results and talk clips in the dashboard: where they are cached, and a
manager that computes them in background threads. Pure (no Streamlit).

Cache places (the result of the same dataset and settings is computed once):
- a run: ``<run>/media/explain/g<generation>-<settings digest>.json`` and
  ``<run>/media/talk.mp4``;
- an imported file: a folder beside it, ``<name>.explain/g0-<digest>.json``;
- a demo item: its bundled ``explain.json`` (default settings, final dataset) and
  ``talk.mp4``; anything else under ``<runs>/.media/demo-<item>/``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dashboard import sources
from engine.atomic import write_json

log = logging.getLogger(__name__)

BUNDLED_EXPLAIN = "explain.json"
BUNDLED_TALK = "talk.mp4"


def settings_digest(settings: dict, overrides: dict | None = None) -> str:
    blob = json.dumps([settings, overrides or {}], sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:10]


def default_settings() -> dict:
    from engine.explain import ExplainConfig

    return _jsonable(dataclasses.asdict(ExplainConfig()))


def _jsonable(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _dataset_generation(ds) -> int:
    g = ds.meta.get("generation")
    return int(g) if isinstance(g, int | float) else 0


def cache_dir(src: sources.Source, store=None, runs_root: Path | None = None) -> Path:
    """Where computed results of `src` go (writable)."""
    if src.kind == "run":
        return store.paths(src.ref).media / "explain"
    if src.kind == "import":
        p = Path(src.ref)
        return p.with_name(p.stem + ".explain")
    return Path(runs_root) / ".media" / f"demo-{Path(src.ref).name}" / "explain"


def explain_path(
    src: sources.Source,
    ds,
    settings: dict,
    overrides: dict | None = None,
    store=None,
    runs_root: Path | None = None,
) -> Path:
    """The cache file of `ds` (from `src`) explained with `settings`."""
    name = f"g{_dataset_generation(ds)}-{settings_digest(settings, overrides)}.json"
    return cache_dir(src, store, runs_root) / name


def bundled_explain(src: sources.Source, ds, settings: dict) -> Path | None:
    """A demo item's bundled result, when it answers these settings for `ds`."""
    if src.kind != "demo" or settings != default_settings():
        return None
    p = Path(src.ref) / BUNDLED_EXPLAIN
    final = sources.dataset_generation(Path(src.ref) / "dataset.npz")
    if not p.is_file() or _dataset_generation(ds) != (final or 0):
        return None
    return p


def load_result(path: Path) -> dict | None:
    """A cached result (a dict), or None when missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != "hades-explain":
        return None
    if not {"env", "size", "full_return", "pairs"} <= set(data):
        return None
    return data


def talk_path(src: sources.Source, store=None, runs_root: Path | None = None) -> Path:
    """Where the talk clip of `src` is (bundled for demos) or will be written."""
    if src.kind == "demo":
        return Path(src.ref) / BUNDLED_TALK
    if src.kind == "run":
        return store.paths(src.ref).media / BUNDLED_TALK
    return cache_dir(src, store, runs_root).parent / BUNDLED_TALK


# Computations (run in the manager's threads) --------------------------------------
def compute_explain(ds, settings: dict, overrides: dict | None, path: Path, progress):
    """Explain `ds` and write the result to `path`; returns the path."""
    from engine.explain import ExplainConfig, explain_dataset

    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}
    res = explain_dataset(ds, ExplainConfig(**kw), overrides or None, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, res.to_dict(), indent=None)
    return path


def talk_inputs(src: sources.Source, store=None, limit: int | None = None):
    """(snapshots, metrics rows) of a run or demo item for the talk clip."""
    from dashboard import metrics as m
    from engine.render.talk import MAX_SNAPSHOTS, TalkError, select_generations

    if src.kind == "import":
        raise TalkError(
            "an imported file has no checkpoints: the talk clip shows a run's "
            "dataset over its checkpoints"
        )
    gens = sources.snapshots(src, store)
    if src.kind == "run" and not store.checkpoints(src.ref):
        raise TalkError(
            f"run {src.ref} has no checkpoints yet: the talk clip shows the dataset "
            "at the run's checkpoints"
        )
    if not gens:
        raise TalkError("no snapshots of this dataset to show")
    snaps = [
        (g, sources.load(src, g, store))
        for g in select_generations(gens, limit or MAX_SNAPSHOTS)
    ]
    if src.kind == "run":
        rows = store.read_metrics(src.ref)
    else:
        rows = m.read_jsonl(Path(src.ref) / "metrics.jsonl")
    return snaps, rows


def compute_talk(src: sources.Source, store, path: Path, progress, seed: int = 0):
    from engine.render.talk import render_talk

    snaps, rows = talk_inputs(src, store)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    info = render_talk(snaps, rows, tmp, seed=seed, progress_fn=progress)
    os.replace(info["path"], path)
    info["path"] = str(path)
    write_json(path.with_suffix(".json"), info)
    return path


# Background threads --------------------------------------------------------------
class TaskManager:
    """Computes named tasks in daemon threads that never call Streamlit.

    A task is `fn(progress) -> result` under a key (e.g. the cache path it writes);
    starting a key that is running does nothing. `info(key)` returns a copy of its
    state (fraction, message, done, error, result) for pages to draw.
    """

    def __init__(self, nice_fn: Callable[..., Any] | None = None):
        self.nice_fn = nice_fn
        self._lock = threading.Lock()
        self._tasks: dict[str, dict] = {}

    def start(self, key: str, fn: Callable, label: str = "") -> bool:
        """Start `fn` under `key`; False when that key is already running."""
        with self._lock:
            cur = self._tasks.get(key)
            if cur is not None and not cur["done"]:
                return False
            task = {
                "key": key,
                "label": label,
                "fraction": 0.0,
                "message": "starting",
                "started": time.time(),
                "finished": None,
                "done": False,
                "error": None,
                "result": None,
            }
            self._tasks[key] = task
        threading.Thread(
            target=self._work, args=(fn, task), name="hades-explain", daemon=True
        ).start()
        return True

    def _work(self, fn, task) -> None:
        if self.nice_fn is not None:
            with contextlib.suppress(Exception):  # priority is a courtesy
                self.nice_fn()

        def progress(fraction: float, message: str) -> None:
            with self._lock:
                task["fraction"] = float(min(1.0, max(0.0, fraction)))
                task["message"] = str(message)

        result, error = None, None
        try:
            result = fn(progress)
        except (ValueError, OSError, KeyError) as e:  # ExplainError, TalkError, ...
            error = str(e) or type(e).__name__
        except Exception as e:  # noqa: BLE001 - reported to the page, not raised
            log.exception("task %s failed", task["key"])
            error = f"{type(e).__name__}: {e}"
        with self._lock:
            task.update(
                done=True,
                finished=time.time(),
                error=error,
                result=None if result is None else str(result),
                fraction=1.0 if error is None else task["fraction"],
            )

    def info(self, key: str) -> dict | None:
        with self._lock:
            t = self._tasks.get(key)
            return dict(t) if t is not None else None

    def running(self) -> list[str]:
        with self._lock:
            return [k for k, t in self._tasks.items() if not t["done"]]

    def wait(self, key: str, timeout: float = 600.0) -> dict | None:
        """Block until `key` is done (tests and scripts); its final info."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.info(key)
            if info is None or info["done"]:
                return info
            time.sleep(0.1)
        return self.info(key)
