"""`hades explain RUN_OR_DATASET [--inits 8] [--json] [--out DIR]`.

Flags come from `engine.explain.ExplainConfig` (their help is the field's
docstring). `--json` prints one object last (env, size, full_return, pairs with
index, without_return, alone_return, label_sensitivity); `--out DIR` writes
explain.json (the whole result), the figures (`engine.figures.explain`: each a
plotly spec .json and a .png) and nearest.png (synthetic and nearest visited states).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per `ExplainConfig` field, its help the field's docstring (the
    studies' dataclass-to-flags helper)."""
    from engine.explain import ExplainConfig
    from engine.studies.params import add_flags

    add_flags(p, ExplainConfig)


def config_from_args(args):
    """The `ExplainConfig` given on the command line (the rest stay defaults)."""
    from engine.explain import ExplainConfig
    from engine.studies.params import from_args

    return from_args(ExplainConfig, args)


def format_table(summary: dict) -> str:
    head = f"{summary['env']} N={summary['size']}"
    lines = [
        f"{head}: whole dataset {summary['full_return']:.2f} (mean of "
        f"{summary['inits']} inits)",
        f"{'pair':>4}  {'without':>10}  {'alone':>10}  label changed to",
    ]
    for p in summary["pairs"]:
        labels = ", ".join(f"{k} {v:.2f}" for k, v in p["label_sensitivity"].items())
        lines.append(
            f"{p['index']:>4}  {p['without_return']:>10.2f}  "
            f"{p['alone_return']:>10.2f}  {labels}"
        )
    mi = summary.get("most_important")
    if mi is not None:
        drop = summary["full_return"] - summary["pairs"][mi]["without_return"]
        lines.append(f"most important pair: {mi} (removing it costs {drop:.2f})")
    return "\n".join(lines)


def cmd_explain(args) -> int:
    from engine.config import parse_overrides
    from engine.dataset_ref import load_dataset_ref
    from engine.explain import ExplainError, explain_dataset
    from engine.runs.errors import RunError
    from engine.studies.params import StudyError

    try:
        ecfg = config_from_args(args)
        ds, notes = load_dataset_ref(args.dataset, args.runs)
        for n in notes:
            print(f"note: {n}", file=sys.stderr)
        quiet = args.json and not args.verbose

        def progress(frac, msg):
            if not quiet:
                print(f"[{100 * frac:3.0f}%] {msg}", file=sys.stderr, flush=True)

        res = explain_dataset(ds, ecfg, parse_overrides(args.set), progress)
    except (ExplainError, StudyError, RunError) as e:  # bad flag values too
        print(f"hades explain: {e}", file=sys.stderr)
        return 2
    summary = res.summary()
    if not args.json or args.verbose:
        print(format_table(summary))
    if args.out:
        written = write_outputs(ds, res, args.out)
        print(f"wrote {len(written)} files to {args.out}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, default=float))
    return 0


def write_outputs(ds, res, out_dir) -> list[str]:
    """explain.json, every figure (`engine.figures.explain`: spec JSON + PNG) and
    the pictures of the nearest visited states in `out_dir`; the paths written."""
    from engine.atomic import write_json
    from engine.figures import explain as explain_figures
    from engine.figures import save_figure
    from engine.render.nearest import nearest_pictures

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = res.to_dict()
    write_json(out / "explain.json", data, indent=None)
    paths = [str(out / "explain.json")]
    for name, spec in explain_figures.figures(data).items():
        info = save_figure(spec, out, name)
        if info.get("png_error"):
            print(f"note: no {name}.png: {info['png_error']}", file=sys.stderr)
        paths += [v for k, v in info.items() if k in ("png", "json") and v]
    try:
        paths += list(nearest_pictures(ds, data, out).values())
    except Exception as e:  # noqa: BLE001 - no GL for Brax pictures, ...
        print(f"note: no nearest.png: {type(e).__name__}: {e}", file=sys.stderr)
    return paths


def register(sub) -> None:
    p = sub.add_parser(
        "explain",
        help="Why does a dataset work? Pair importance, label sensitivity, "
        "policy map, coverage.",
    )
    p.add_argument("dataset", help="A dataset .npz, a paper .pkl, or a run id.")
    add_config_flags(p)
    p.add_argument(
        "--set",
        action="append",
        metavar="SECTION.FIELD=VALUE",
        help="Override the inner-loop/fitness settings used.",
    )
    p.add_argument("--out", help="Folder for explain.json and the figures.")
    p.add_argument("--runs", help="Runs root, to find a run id.")
    p.add_argument("--json", action="store_true", help="Last line: one JSON object.")
    p.add_argument("--verbose", action="store_true", help="Text as well as JSON.")
    p.set_defaults(func=cmd_explain)
