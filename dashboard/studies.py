"""Studies in the dashboard: what each one shows, its inputs checked at the door,
its headline numbers, and a manager that runs one study at a time in a thread.

Lupu, Lu, Liesen, Lange, Foerster. "Behaviour Distillation". ICLR 2024.

The studies themselves are `engine.studies` (``run_<name>(..., preset, runs_root,
progress_fn) -> dict``, writing ``<runs>/studies/<id>/``). This module is pure
(no Streamlit): `study_kwargs` turns the page's form values into the keyword
arguments of a study, raising `StudyError` / `ValueError` with a message that names
the input; `headline` picks the numbers a person looks at first; `StudyManager`
runs a study in a background thread that never calls Streamlit and keeps its latest
progress event for the page to read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dashboard import metrics as m
from engine import config as config_lib
from engine.studies import STUDY_NAMES
from engine.studies.cli import _floats, _ints

log = logging.getLogger(__name__)

DESCRIPTIONS = {
    "transfer": "Transfer: fresh policies of other widths, inner steps and learning "
    "rates trained on one distilled dataset (does the dataset generalise beyond "
    "the architecture and hyperparameters it was evolved for?).",
    "baseline": "Baseline: HaDES-R and HaDES-F against the same evolution strategy "
    "searching the policy weights directly (neuroevolution), with the same budget.",
    "size-sweep": "Size sweep: final return against the dataset size N (how few "
    "state-action pairs are enough?).",
    "multitask": "Multi-task: single-task datasets merged into one dataset; one "
    "policy trained on it zero-shot, scored on every task against single-task and "
    "random policies.",
    "supervised": "Supervised: one synthetic image per class distilled with the "
    "same ES (digits, MNIST or FashionMNIST); test accuracy of fresh networks.",
    "published": "Published: the authors' released datasets re-evaluated with fresh "
    "policies, against reference returns.",
}
"""One line per study: what it shows (the page's study picker)."""

TITLES = {
    "transfer": "Transfer",
    "baseline": "Baseline (ES on weights)",
    "size-sweep": "Size sweep",
    "multitask": "Multi-task",
    "supervised": "Supervised (images)",
    "published": "Published datasets",
}
SUPERVISED_DATASETS = ("digits", "mnist", "fashion_mnist")
HADES_STUDIES = ("transfer", "baseline", "size-sweep", "multitask")
"""Studies that distil HaDES datasets (config overrides apply to them)."""


def canonical(name: str | None) -> str:
    """A study name as the registry spells it (directories say size_sweep)."""
    return (name or "").replace("_", "-")


# Inputs ----------
def parse_overrides(text: str | None, where: str = "overrides") -> dict[str, str]:
    """``section.field=value`` lines (blank lines and ``#`` comments skipped)."""
    return config_lib.parse_overrides((text or "").splitlines(), where=where)


def _list(kind: str, text: str | None, parse: Callable, positive: bool = True):
    """A comma-separated list, or None when blank (the preset's values)."""
    if not (text or "").strip():
        return None
    try:
        vals = parse(text)
    except ValueError:
        raise ValueError(
            f"{kind}: {text!r} is not a comma-separated list of numbers"
        ) from None
    if positive and any(v <= 0 for v in vals):
        raise ValueError(f"{kind}: {text!r} must hold positive numbers only")
    return vals


def _env(name: str | None, field: str = "environment") -> str:
    from engine.envs import ENV_NAMES

    if name not in ENV_NAMES:
        raise ValueError(f"{field}: unknown environment {name!r}")
    return name


def _check_config(preset: str, env: str, size, seed: int, overrides: dict) -> None:
    """Build the HaDES config a study would build: a bad override raises
    `ConfigError` naming the field, before any thread starts."""
    from engine import presets

    cfg = presets.make(preset, env, size, seed)
    if overrides:
        cfg.with_overrides(overrides)


def _opt(values: dict, key: str):
    """An optional positive integer input (None or 0: the preset's value)."""
    v = values.get(key)
    if v is None or v == 0:
        return None
    v = int(v)
    if v < 1:
        raise ValueError(f"{key.replace('_', ' ')}: {v} must be at least 1")
    return v


def supervised_settings(text: str | None) -> dict[str, Any]:
    """``field=value`` lines for `SupervisedSettings`, typed like its defaults."""
    from engine.studies.supervised import SupervisedSettings

    defaults = SupervisedSettings()
    names = [f.name for f in dataclasses.fields(SupervisedSettings)]
    out: dict[str, Any] = {}
    for k, v in parse_overrides(text, where="settings").items():
        if k not in names:
            raise ValueError(
                f"settings: unknown field {k!r}; fields: {', '.join(names)}"
            )
        kind = type(getattr(defaults, k))
        try:
            out[k] = kind(v) if kind is not int else int(float(v))
        except ValueError:
            raise ValueError(
                f"settings: {k}={v!r} is not a valid {kind.__name__}"
            ) from None
    return out


def study_kwargs(study: str, values: dict, runs_root=None) -> dict:
    """Keyword arguments of ``engine.studies.STUDIES[study]`` from form values.

    `values` holds the page's inputs (``preset``, ``seed``, ``env``, ``sizes``, ...;
    see the Studies page). Returns everything but ``preset``, ``runs_root`` and
    ``progress_fn``. Raises `StudyError` or `ValueError` (`ConfigError` included)
    with a message naming the input.
    """
    from engine.studies import StudyError

    if study not in STUDY_NAMES:
        raise StudyError(f"unknown study {study!r}; studies: {', '.join(STUDY_NAMES)}")
    preset = values.get("preset", "quick")
    if preset not in ("quick", "paper"):
        raise StudyError(f"preset {preset!r}: use quick or paper")
    seed = int(values.get("seed") or 0)
    if seed < 0:
        raise ValueError(f"seed: {seed} must be 0 or more")
    overrides = parse_overrides(values.get("overrides"))
    if study == "transfer":
        dataset = values.get("dataset") or None
        kw: dict[str, Any] = {
            "dataset": dataset,
            "env": _env(values.get("env")),
            "seed": seed,
            "inits": _opt(values, "inits"),
            "distil_overrides": overrides or None,
        }
        if dataset is None:
            _check_config("quick", kw["env"], None, seed, overrides)
        else:
            p = Path(str(dataset)).expanduser()
            if p.suffix in (".npz", ".pkl") and not p.is_file():
                raise StudyError(f"dataset: {p} does not exist")
            if p.suffix not in (".npz", ".pkl"):
                from engine.runs import RunError, RunStore

                try:
                    d = RunStore(runs_root).resolve(str(dataset))
                except RunError as e:
                    raise StudyError(f"dataset: {e}") from None
                if not (d / "dataset.npz").is_file():
                    raise StudyError(f"dataset: run {dataset} has no dataset yet")
        for axis, parse in (("widths", _ints), ("steps", _ints), ("lrs", _floats)):
            vals = _list(axis, values.get(axis), parse)
            if vals is not None:
                kw[axis] = vals
        return kw
    if study in ("baseline", "size-sweep"):
        env = _env(values.get("env"))
        kw = {
            "env": env,
            "seed": seed,
            "generations": _opt(values, "generations"),
            "population": _opt(values, "population"),
            "overrides": overrides or None,
        }
        ov = dict(overrides)
        for k, f in (
            ("generations", "outer.generations"),
            ("population", "outer.population"),
        ):
            if kw[k] is not None:
                ov[f] = kw[k]
        if study == "baseline":
            from engine.studies.baseline import METHODS

            methods = tuple(values.get("methods") or METHODS)
            bad = [x for x in methods if x not in METHODS]
            if bad or not methods:
                raise StudyError(f"methods {bad}: use {', '.join(METHODS)}")
            kw.update(
                size=_opt(values, "size"),
                final_inits=_opt(values, "inits"),
                methods=methods,
            )
            _check_config(preset, env, kw["size"], seed, ov)
        else:
            sizes = _list("sizes", values.get("sizes"), _ints)
            kw.update(sizes=sizes, eval_inits=_opt(values, "inits"))
            for n in sizes or (None,):
                _check_config(preset, env, n, seed, ov)
        return kw
    if study == "multitask":
        from engine.envs import get_spec

        envs = [_env(e, "environments") for e in values.get("envs") or ()]
        if len(envs) < 2:
            raise StudyError("environments: pick at least two tasks to merge")
        if len(set(envs)) != len(envs):
            raise StudyError("environments: each task once")
        if len({get_spec(e).discrete for e in envs}) != 1:
            raise StudyError(
                "environments: discrete and continuous tasks cannot be merged "
                "(pick only discrete or only continuous ones)"
            )
        for e in envs:
            _check_config(preset, e, None, seed, overrides)
        return {
            "envs": tuple(envs),
            "seed": seed,
            "inits": _opt(values, "inits"),
            "distil_overrides": overrides or None,
        }
    if study == "supervised":
        name = values.get("sup_dataset") or "digits"
        if name not in SUPERVISED_DATASETS:
            raise StudyError(
                f"dataset {name!r}: use one of {', '.join(SUPERVISED_DATASETS)}"
            )
        data_dir = (values.get("data_dir") or "").strip() or None
        if name != "digits":
            if data_dir is None:
                raise StudyError(
                    f"{name} needs a local data folder with the IDX files "
                    "(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
                    "t10k-...): nothing is downloaded"
                )
            if not Path(data_dir).expanduser().is_dir():
                raise StudyError(f"data folder {data_dir}: no such folder")
        kw = {"dataset": name, "data_dir": data_dir, "seed": seed}
        for k in ("generations", "population", "inner_steps", "eval_inits"):
            v = _opt(values, k)
            if v is not None:
                kw[k] = v
        kw.update(supervised_settings(values.get("settings")))
        return kw
    # published
    folder = (values.get("folder") or "").strip()
    if not folder:
        raise StudyError("folder: give a folder of the paper's .pkl datasets")
    fp = Path(folder).expanduser()
    if not fp.is_dir():
        raise StudyError(f"folder {folder}: no such folder")
    if not any(fp.glob("*.pkl")):
        raise StudyError(f"folder {folder}: holds no .pkl files")
    reference = (values.get("reference") or "").strip() or None
    if reference is not None and not Path(reference).expanduser().is_file():
        raise StudyError(f"reference CSV {reference}: no such file")
    return {
        "folder": str(fp),
        "reference": reference,
        "inits": _opt(values, "inits"),
        "minatar_inits": _opt(values, "minatar_inits"),
        "max_files": _opt(values, "max_files"),
        "seed": seed,
        "overrides": overrides or None,
    }


def default_published_folder() -> str:
    """The reference folder beside the checkout, when present, else ''."""
    try:
        from engine.studies.published import default_folder

        d = default_folder()
    except Exception:  # noqa: BLE001 - a default is never worth an error
        return ""
    return str(d) if d is not None else ""


# Headline numbers ----------
def _num(x, digits: int = 4) -> str:
    return m.fmt_num(x, digits)


def headline(study: str | None, results: dict | None) -> list[tuple[str, str]]:
    """(label, value) pairs: the numbers a study is about, formatted."""
    if not isinstance(results, dict):
        return []
    study = canonical(study or results.get("study"))
    try:
        out = _headline(study, results)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        out = []
    if not out:  # unknown or malformed: the top-level numbers
        out = [
            (k.replace("_", " "), _num(v))
            for k, v in results.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        ][:6]
    return out


def _headline(study: str, r: dict) -> list[tuple[str, str]]:
    if study == "supervised":
        return [
            ("test accuracy", _num(r["test_accuracy"], 3)),
            ("train accuracy", _num(r["train_accuracy"], 3)),
            ("class-mean start (test)", _num(r["start_test_accuracy"], 3)),
            ("chance", _num(r["chance"], 3)),
        ]
    if study == "baseline":
        from engine.studies.baseline import LABELS

        return [
            (f"{LABELS.get(k, k)} return", _num(v["final_return"]))
            for k, v in r["methods"].items()
        ]
    if study == "size-sweep":
        pairs = list(zip(r["sizes"], r["final_return"], strict=True))
        out = [("best N", str(r["best_size"]))]
        return out + [(f"N={n} return", _num(v)) for n, v in pairs][:7]
    if study == "multitask":
        out = []
        for env, t in r["tasks"].items():
            out.append(
                (
                    f"{env} multitask / random",
                    f"{_num(t['multitask'])} / {_num(t['random'])}",
                )
            )
        out.append(("beats random", "yes" if r.get("beats_random") else "no"))
        return out
    if study == "transfer":
        return [
            ("in-distribution return", _num(r["in_distribution_return"])),
            ("lowest setting", _num(r["min_setting_return"])),
            ("highest setting", _num(r["max_setting_return"])),
            ("mean over settings", _num(r["mean_return"])),
        ]
    if study == "published":
        deltas = [
            abs(x["delta"])
            for x in r.get("rows", [])
            if isinstance(x, dict) and isinstance(x.get("delta"), int | float)
        ]
        out = [("evaluated", str(r["evaluated"])), ("skipped", str(r["skipped"]))]
        if deltas:
            out.append(("mean |delta| to reference", _num(sum(deltas) / len(deltas))))
        return out
    return []


def headline_text(study: str | None, results: dict | None, n: int = 3) -> str:
    """The first headline numbers on one line (the studies table)."""
    return "; ".join(f"{k} {v}" for k, v in headline(study, results)[:n])


def table_rows(studies: list[dict]) -> dict[str, list]:
    """Columns of the past-studies table from `list_studies` rows."""
    import datetime as dt

    def when(t):
        return dt.datetime.fromtimestamp(t) if isinstance(t, int | float) else None

    def secs(r):
        v = (r.get("results") or {}).get("seconds")
        return m.fmt_seconds(v) if v is not None else ""

    return {
        "study": [canonical(r.get("study")) for r in studies],
        "id": [r["study_id"] for r in studies],
        "status": [(r.get("status") or {}).get("status", "?") for r in studies],
        "created": [when(r.get("created")) for r in studies],
        "time": [secs(r) for r in studies],
        "headline": [headline_text(r.get("study"), r.get("results")) for r in studies],
    }


def progress_text(
    event: dict | None, started: float | None = None
) -> tuple[float, str]:
    """(fraction, text) of the latest progress event for a progress bar."""
    elapsed = f" \u00b7 {m.fmt_seconds(time.time() - started)}" if started else ""
    if not event:
        return 0.0, "starting (loading and compiling)" + elapsed
    done, total = event.get("done") or 0, event.get("total") or 0
    frac = m.progress_fraction(done, total)
    text = str(event.get("stage") or "working")
    if total:
        text += f" {done}/{total}"
    for k in ("mean_dataset_return", "mean_return", "train_loss"):
        if isinstance(event.get(k), int | float):
            text += f" \u00b7 {k.replace('_', ' ')} {_num(event[k])}"
            break
    return frac, text + elapsed


# Background runs ----------
class StudyStoppedError(Exception):
    """Raised inside a study's progress callback once a stop was asked for."""


class StudyManager:
    """Runs one study at a time in a background thread (never calls Streamlit).

    `start` validates nothing itself (see `study_kwargs`); the thread lowers its
    priority with `nice_fn` (called at its start and at each progress event, as the
    job manager's runs do) and keeps the latest progress event. `info` returns a
    copy of the current (or last) study's state for pages to draw. `stop` asks the
    study to stop at its next progress event; the study is then marked failed with
    that reason.
    """

    def __init__(self, root, nice_fn: Callable[..., Any] | None = None):
        self.root = str(root)
        self.nice_fn = nice_fn
        self._lock = threading.Lock()
        self._job: dict | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, study: str, kwargs: dict, preset: str = "quick") -> None:
        """Start `study` with `kwargs`; `StudyError` if one is still running."""
        from engine.studies import STUDIES, StudyError

        if study not in STUDIES:
            raise StudyError(f"unknown study {study!r}")
        fn = STUDIES[study]
        with self._lock:
            if self.running():
                raise StudyError(
                    f"a {self._job['study']} study is still running here: one study "
                    "at a time (wait for it or stop it)"
                )
            self._stop = threading.Event()
            job = {
                "study": study,
                "preset": preset,
                "kwargs": {k: str(v) for k, v in kwargs.items() if v is not None},
                "started": time.time(),
                "finished": None,
                "event": None,
                "done": False,
                "stopping": False,
                "error": None,
                "study_id": None,
                "study_dir": None,
            }
            self._job = job
            self._thread = threading.Thread(
                target=self._work,
                args=(fn, preset, dict(kwargs), job, self._stop),
                name=f"hades-study-{study}",
                daemon=True,
            )
            self._thread.start()

    def _nice(self) -> None:
        if self.nice_fn is not None:
            with contextlib.suppress(Exception):  # priority is a courtesy
                self.nice_fn()

    def _work(self, fn, preset, kwargs, job, stop) -> None:
        self._nice()

        def progress(event: dict) -> None:
            self._nice()
            with self._lock:
                job["event"] = dict(event)
            if stop.is_set():
                raise StudyStoppedError("stopped from the dashboard")

        error = None
        res: dict = {}
        try:
            res = fn(preset=preset, runs_root=self.root, progress_fn=progress, **kwargs)
        except StudyStoppedError:
            error = "Stopped from the dashboard (the study is marked failed)."
        except (ValueError, OSError, KeyError) as e:  # StudyError, ConfigError, ...
            error = str(e) or type(e).__name__
        except Exception as e:  # noqa: BLE001 - reported to the page, not raised
            log.exception("study %s failed", job["study"])
            error = f"{type(e).__name__}: {e}"
        with self._lock:
            job.update(
                done=True,
                finished=time.time(),
                error=error,
                study_id=res.get("study_id") if isinstance(res, dict) else None,
                study_dir=res.get("study_dir") if isinstance(res, dict) else None,
            )

    def info(self) -> dict | None:
        """A copy of the current or last study's state (None before the first)."""
        with self._lock:
            if self._job is None:
                return None
            out = dict(self._job)
            out["event"] = dict(out["event"]) if out["event"] else None
            return out

    def stop(self) -> bool:
        """Ask the running study to stop at its next progress event."""
        with self._lock:
            if not self.running() or self._job is None:
                return False
            self._stop.set()
            self._job["stopping"] = True
            return True

    def wait(self, timeout: float | None = None) -> dict | None:
        """Join the study's thread (for tests and shutdown); returns `info()`."""
        t = self._thread
        if t is not None:
            t.join(timeout)
        return self.info()
