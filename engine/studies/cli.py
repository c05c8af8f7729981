"""`hades study transfer|baseline|size-sweep|multitask|supervised|published`.

Each study's flags are generated from its `Params` dataclass (its docstrings are
the help texts); every study takes ``--preset quick|paper``, ``--seed`` and
``--set SECTION.FIELD=VALUE``, plus ``--runs ROOT``, ``--quiet`` and ``--json``
(the last line is one JSON object with the headline numbers and the output paths).
``hades study resume STUDY`` continues an interrupted study. Progress goes to
stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time

from engine.progress import Eta, format_duration


class _Progress:
    """One stderr line per study event: elapsed time, stage, done/total and the
    stage's ETA (from its steps after the first, which compiles)."""

    def __init__(self, quiet: bool, clock=time.monotonic, out=None):
        self.quiet = quiet
        self.clock = clock
        self.out = out
        self.t0 = clock()
        self.stage: str | None = None
        self.eta: Eta | None = None

    def __call__(self, event: dict) -> None:
        if self.quiet:
            return
        extra = ""
        for k in ("mean_dataset_return", "mean_return", "train_loss"):
            if event.get(k) is not None:
                extra = f" {k.replace('_', ' ')} {event[k]:.4g}"
        total = int(event.get("total") or 0)
        done = int(event.get("done") or 0)
        if event["stage"] != self.stage:
            self.stage, self.eta = event["stage"], Eta(total, clock=self.clock)
        left = self.eta.update(done) if total else None
        count = f"{done}/{total} | ETA {format_duration(left)}" if total else str(done)
        print(
            f"[{event['study']} {self.clock() - self.t0:6.1f}s] {event['stage']} "
            f"{count}{' |' + extra if extra else ''}",
            file=self.out or sys.stderr,
            flush=True,
        )


def headline(res: dict) -> dict:
    """The JSON line: everything but the long Markdown table."""
    return {k: v for k, v in res.items() if k != "table"}


def _summary_lines(name: str, res: dict) -> list[str]:
    lines = [f"study {res['study_id']} -> {res['study_dir']} ({res['seconds']} s)"]
    if name == "supervised":
        lines.append(
            f"{res['dataset']}: test accuracy {res['test_accuracy']:.3f}, "
            f"train accuracy {res['train_accuracy']:.3f} (class-mean start: "
            f"test {res['start_test_accuracy']:.3f}; chance "
            f"{res['chance']:.2f})"
        )
    elif name == "baseline":
        for m, r in res["methods"].items():
            lines.append(
                f"{m}: final return {r['final_return']:.2f} +- "
                f"{r['final_return_std']:.2f}, {r['search_dims']} search "
                "dimensions"
            )
    elif name == "size-sweep":
        for n, r, s in zip(
            res["sizes"], res["final_return"], res["final_std"], strict=True
        ):
            lines.append(f"N={n}: final return {r:.2f} +- {s:.2f}")
    elif name == "multitask":
        for env, t in res["tasks"].items():
            lines.append(
                f"{env}: multitask {t['multitask']:.2f}, single-task "
                f"{t['single_task']:.2f}, random {t['random']:.2f}"
            )
    elif name == "transfer":
        lines.append(f"in-distribution return {res['in_distribution_return']:.2f}")
        for axis, vals in res["returns"].items():
            lines.append(
                f"{axis}: " + ", ".join(f"{k}: {v:.1f}" for k, v in vals.items())
            )
    elif name == "published":
        lines.append(res["table"])
    for fig in res.get("figures", {}).values():
        lines.append(
            f"figure: {fig['json']}" + (f", {fig['png']}" if fig.get("png") else "")
        )
    return lines


@contextlib.contextmanager
def _runs_on_ray(args, progress: _Progress):
    """With --ray, the study's runs execute on Ray (`engine.sweeps`): all created
    first, then run as Ray tasks, then the study's analysis reads them."""
    if getattr(args, "address", None) is None:
        yield
        return
    from engine.runs.store import RunStore
    from engine.studies.common import runs_executed_by
    from engine.sweeps.cli import RAY_FLAGS
    from engine.sweeps.execute import Executor
    from engine.sweeps.ray_cluster import RaySettings, session

    settings = RaySettings.from_dict(None, **{k: getattr(args, k) for k in RAY_FLAGS})

    def on_event(ev: dict) -> None:
        if ev.get("kind") == "done":
            progress(
                {
                    "study": args.study,
                    "stage": f"run {ev['run_id']} {ev['status']} on Ray",
                    "mean_dataset_return": ev.get("mean_dataset_return"),
                }
            )

    executor = Executor(RunStore(args.runs), settings, on_event)
    with session(settings), runs_executed_by(executor):
        yield


def _module(name: str):
    import importlib

    from engine.studies import _RUN_FUNCTIONS

    return importlib.import_module(_RUN_FUNCTIONS[name][0])


def _finish(name: str, args, res: dict) -> int:
    if not args.json or args.verbose:
        print("\n".join(_summary_lines(name, res)))
    if args.json:
        print(json.dumps(headline(res), default=float))
    return 0


def cmd_study(args) -> int:
    """Run one study with the parameters its flags give (`Params` of the study)."""
    from engine.studies import STUDIES
    from engine.studies.params import StudyError, from_args
    from engine.sweeps.grid import SweepError

    name = args.study
    progress = _Progress(args.quiet)
    try:
        params = from_args(_module(name).Params, args)
        with _runs_on_ray(args, progress):
            res = STUDIES[name](params, runs_root=args.runs, progress_fn=progress)
    except (StudyError, SweepError) as e:
        print(f"hades study {name}: {e}", file=sys.stderr)
        return 2
    return _finish(name, args, res)


def cmd_resume(args) -> int:
    """Continue an interrupted study: its finished runs are kept, an interrupted
    run resumes from its checkpoint, then the analysis runs again."""
    from engine.runs.store import read_json
    from engine.studies import STUDIES
    from engine.studies.common import studies_root
    from engine.studies.params import StudyError, from_dict

    root = studies_root(args.runs)
    meta = read_json(root / args.study_id / "config.json")
    if not meta or meta.get("kind") != "study":
        print(
            f"hades study resume: no study {args.study_id!r} under {root} "
            "(see the Studies page or hades runs list --study ...)",
            file=sys.stderr,
        )
        return 2
    from engine.sweeps.grid import SweepError

    name = str(meta.get("study", "")).replace("_", "-")
    progress = _Progress(args.quiet)
    try:
        params = from_dict(_module(name).Params, meta.get("params") or {})
        with _runs_on_ray(args, progress):
            res = STUDIES[name](
                params, runs_root=args.runs, progress_fn=progress, resume=args.study_id
            )
    except (StudyError, SweepError, KeyError) as e:
        print(f"hades study resume: {e}", file=sys.stderr)
        return 2
    return _finish(name, args, res)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--runs",
        help="Runs root (default $HADES_HOME/runs or ~/.hades/runs): the study's "
        "runs go to the store, its analysis to <runs>/studies/<id>/.",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="Last line: one JSON object with the headline numbers.",
    )
    p.add_argument("--verbose", action="store_true", help="Text as well as JSON.")
    p.add_argument("--quiet", action="store_true", help="No progress on stderr.")
    from engine.sweeps.cli import add_ray_flags

    add_ray_flags(p, "study")


HELP = {
    "transfer": "Train fresh policies of other widths, inner steps and learning "
    "rates on one dataset.",
    "baseline": "HaDES-R and HaDES-F against the same ES on the policy weights "
    "(neuroevolution).",
    "size-sweep": "Final return against dataset size N.",
    "multitask": "One zero-shot policy trained on single-task datasets merged.",
    "supervised": "One synthetic image per class (digits, MNIST, FashionMNIST); "
    "test accuracy.",
    "published": "Re-evaluate a folder of the paper's pickles against reference "
    "numbers.",
}


def register(sub, argv: list[str] | None = None) -> None:
    """Add `study` and its sub-commands to the `hades` parser's subparsers.

    The flags of a study come from its `Params` dataclass; they are built only
    when the command line is a `study` command (importing the studies loads
    flax and evosax, which `hades --help` does not need)."""
    from engine.studies import STUDY_NAMES

    study = sub.add_parser(
        "study",
        help="Run one of the paper's experiments (its runs go to the store; its "
        "analysis, CSV and figures to a study directory); resume one.",
    )
    ssub = study.add_subparsers(dest="study", required=True)
    full = argv is None or (bool(argv) and argv[0] == "study")
    for name in STUDY_NAMES:
        p = ssub.add_parser(name, help=HELP[name])
        _common(p)
        if full:
            from engine.studies.params import add_flags

            add_flags(p, _module(name).Params)
        p.set_defaults(func=cmd_study)
    p = ssub.add_parser(
        "resume",
        help="Continue an interrupted study (finished runs are not redone).",
    )
    p.add_argument("study_id", help="the study id (a folder under <runs>/studies)")
    _common(p)
    p.set_defaults(func=cmd_resume)
