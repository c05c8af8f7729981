"""`hades study transfer|baseline|size-sweep|multitask|supervised|published`.

Every study takes ``--preset quick|paper``, ``--runs ROOT``, ``--seed``, ``--quiet``
and ``--json`` (the last line is one JSON object with the headline numbers and the
output paths). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from engine.config import parse_overrides
from engine.progress import Eta, format_duration

_LIST_HELP = "comma-separated"


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def _strs(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


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


def _run(name: str, args, kwargs: dict) -> int:
    from engine.studies import STUDIES
    from engine.studies.common import StudyError

    try:
        res = STUDIES[name](
            preset=args.preset,
            runs_root=args.runs,
            progress_fn=_Progress(args.quiet),
            **kwargs,
        )
    except StudyError as e:
        print(f"hades study {name}: {e}", file=sys.stderr)
        return 2
    if not args.json or args.verbose:
        print("\n".join(_summary_lines(name, res)))
    if args.json:
        print(json.dumps(headline(res), default=float))
    return 0


def cmd_transfer(args) -> int:
    kw = {
        "dataset": args.dataset,
        "env": args.env,
        "seed": args.seed,
        "inits": args.inits,
        "distil_overrides": parse_overrides(args.set) or None,
    }
    if args.widths:
        kw["widths"] = _ints(args.widths)
    if args.steps:
        kw["steps"] = _ints(args.steps)
    if args.lrs:
        kw["lrs"] = _floats(args.lrs)
    return _run("transfer", args, kw)


def cmd_baseline(args) -> int:
    kw = {
        "env": args.env,
        "seed": args.seed,
        "generations": args.generations,
        "population": args.population,
        "size": args.size,
        "final_inits": args.inits,
        "overrides": parse_overrides(args.set) or None,
    }
    if args.methods:
        kw["methods"] = tuple(_strs(args.methods))
    return _run("baseline", args, kw)


def cmd_size_sweep(args) -> int:
    kw = {
        "env": args.env,
        "seed": args.seed,
        "generations": args.generations,
        "population": args.population,
        "eval_inits": args.inits,
        "sizes": _ints(args.sizes) if args.sizes else None,
        "overrides": parse_overrides(args.set) or None,
    }
    return _run("size-sweep", args, kw)


def cmd_multitask(args) -> int:
    kw = {
        "envs": tuple(_strs(args.envs)),
        "seed": args.seed,
        "inits": args.inits,
        "datasets": _strs(args.datasets) if args.datasets else None,
        "distil_overrides": parse_overrides(args.set) or None,
    }
    return _run("multitask", args, kw)


def cmd_supervised(args) -> int:
    kw = {"dataset": args.dataset, "data_dir": args.data_dir, "seed": args.seed}
    for k in ("generations", "population", "inner_steps", "eval_inits"):
        if getattr(args, k) is not None:
            kw[k] = getattr(args, k)
    return _run("supervised", args, kw)


def cmd_published(args) -> int:
    kw = {
        "folder": args.folder,
        "reference": args.reference,
        "inits": args.inits,
        "minatar_inits": args.minatar_inits,
        "seed": args.seed,
        "overrides": parse_overrides(args.set) or None,
    }
    return _run("published", args, kw)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--preset",
        default="quick",
        choices=("quick", "paper"),
        help="quick: minutes on a CPU; paper: the paper's sizes (GPU).",
    )
    p.add_argument(
        "--runs",
        help="Runs root (default $HADES_HOME/runs or "
        "~/.hades/runs); the study is written to <runs>/studies/.",
    )
    p.add_argument("--seed", type=int, default=0, help="Seed of the study.")
    p.add_argument(
        "--json",
        action="store_true",
        help="Last line: one JSON object with the headline numbers.",
    )
    p.add_argument("--verbose", action="store_true", help="Text as well as JSON.")
    p.add_argument("--quiet", action="store_true", help="No progress on stderr.")


def register(sub) -> None:
    """Add `study` and its sub-commands to the `hades` parser's subparsers."""
    study = sub.add_parser(
        "study",
        help="Run one of the paper's experiments "
        "(writes a study directory with CSV and figures).",
    )
    ssub = study.add_subparsers(dest="study", required=True)
    set_help = "Override a HaDES config field of the runs the study distils."

    p = ssub.add_parser(
        "transfer",
        help="Train fresh policies of other widths, "
        "inner steps and learning rates on one dataset.",
    )
    _common(p)
    p.add_argument(
        "--dataset",
        help="A dataset .npz, paper .pkl or run id "
        "(default: distil one for --env with the quick preset).",
    )
    p.add_argument("--env", default="CartPole-v1", help="Env when distilling.")
    p.add_argument("--widths", help=f"Policy widths ({_LIST_HELP}).")
    p.add_argument("--steps", help=f"Inner steps ({_LIST_HELP}).")
    p.add_argument("--lrs", help=f"Inner learning rates ({_LIST_HELP}).")
    p.add_argument("--inits", type=int, help="Random inits per setting.")
    p.add_argument(
        "--set", action="append", metavar="SECTION.FIELD=VALUE", help=set_help
    )
    p.set_defaults(func=cmd_transfer)

    p = ssub.add_parser(
        "baseline",
        help="HaDES-R and HaDES-F against the same ES "
        "on the policy weights (neuroevolution).",
    )
    _common(p)
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--generations", type=int)
    p.add_argument("--population", type=int)
    p.add_argument("--size", type=int, help="Dataset size N.")
    p.add_argument("--inits", type=int, help="Evaluations of each final ES mean.")
    p.add_argument("--methods", help="Subset of hades_r,hades_f,neuroevolution.")
    p.add_argument(
        "--set", action="append", metavar="SECTION.FIELD=VALUE", help=set_help
    )
    p.set_defaults(func=cmd_baseline)

    p = ssub.add_parser("size-sweep", help="Final return against dataset size N.")
    _common(p)
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument(
        "--sizes", help=f"Dataset sizes ({_LIST_HELP}; default 1,2,4,16,64,256)."
    )
    p.add_argument("--generations", type=int)
    p.add_argument("--population", type=int)
    p.add_argument("--inits", type=int, help="Fresh inits scoring each dataset.")
    p.add_argument(
        "--set", action="append", metavar="SECTION.FIELD=VALUE", help=set_help
    )
    p.set_defaults(func=cmd_size_sweep)

    p = ssub.add_parser(
        "multitask", help="One zero-shot policy trained on single-task datasets merged."
    )
    _common(p)
    p.add_argument(
        "--envs",
        default="CartPole-v1,Acrobot-v1",
        help=f"Environments ({_LIST_HELP}) distilled when no datasets.",
    )
    p.add_argument("--datasets", help=f"Datasets, one per task ({_LIST_HELP}).")
    p.add_argument("--inits", type=int, help="Policy inits scored per task.")
    p.add_argument(
        "--set", action="append", metavar="SECTION.FIELD=VALUE", help=set_help
    )
    p.set_defaults(func=cmd_multitask)

    p = ssub.add_parser(
        "supervised",
        help="One synthetic image per class "
        "(digits, MNIST, FashionMNIST); test accuracy.",
    )
    _common(p)
    p.add_argument(
        "--dataset", default="digits", choices=("digits", "mnist", "fashion_mnist")
    )
    p.add_argument(
        "--data-dir",
        help="Folder of MNIST-format IDX files (train-images-idx3-ubyte[.gz], ...).",
    )
    p.add_argument("--generations", type=int)
    p.add_argument("--population", type=int)
    p.add_argument("--inner-steps", type=int)
    p.add_argument("--eval-inits", type=int)
    p.set_defaults(func=cmd_supervised)

    p = ssub.add_parser(
        "published",
        help="Re-evaluate a folder of the paper's pickles against reference numbers.",
    )
    _common(p)
    p.add_argument(
        "--folder",
        help="Folder of .pkl files (default: "
        "../shared/reference/datasets beside the checkout).",
    )
    p.add_argument("--reference", help="CSV with columns file,reference.")
    p.add_argument("--inits", type=int, help="Inits per file (quick 8).")
    p.add_argument(
        "--minatar-inits",
        type=int,
        help="Inits per MinAtar file (quick 16: Breakout has a heavy lower tail).",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="SECTION.FIELD=VALUE",
        help="Override the inner-loop/fitness settings used.",
    )
    p.set_defaults(func=cmd_published)
