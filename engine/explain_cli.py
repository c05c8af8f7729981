"""`hades explain RUN_OR_DATASET [--inits 8] [--json] [--out DIR]`.

Flags come from `engine.explain.ExplainConfig` (their help is the field's
docstring). `--json` prints one object last (env, size, full_return, pairs with
index, without_return, alone_return, label_sensitivity); `--out DIR` writes
explain.json (the whole result) and the figures (PNG + the JSON of their numbers).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing
from pathlib import Path

from engine.config import field_docs


def _tuple_of(kind):
    def parse(text: str):
        try:
            return tuple(kind(x) for x in text.split(",") if x.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a comma-separated list of {kind.__name__}s"
            ) from None

    return parse


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per `ExplainConfig` field (bool: a switch; tuple: comma list)."""
    from engine.explain import ExplainConfig

    docs = field_docs(ExplainConfig)
    hints = typing.get_type_hints(ExplainConfig)
    for f in dataclasses.fields(ExplainConfig):
        flag = "--" + f.name.replace("_", "-")
        hint = hints[f.name]
        if hint is bool:
            p.add_argument(flag, action="store_true", help=docs.get(f.name))
        elif typing.get_origin(hint) is tuple:
            kind = typing.get_args(hint)[0]
            p.add_argument(
                flag,
                type=_tuple_of(kind),
                default=f.default,
                metavar="A,B",
                help=docs.get(f.name),
            )
        else:
            p.add_argument(flag, type=hint, default=f.default, help=docs.get(f.name))


def config_from_args(args):
    from engine.explain import ExplainConfig

    return ExplainConfig(
        **{f.name: getattr(args, f.name) for f in dataclasses.fields(ExplainConfig)}
    )


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
    from engine.cli import _overrides, _print_json, _setup_jax, load_any_dataset
    from engine.explain import ExplainError, explain_dataset
    from engine.runs.errors import RunError

    try:
        ecfg = config_from_args(args)
        ds = load_any_dataset(args.dataset, args.runs)
        _setup_jax()
        quiet = args.json and not args.verbose

        def progress(frac, msg):
            if not quiet:
                print(f"[{100 * frac:3.0f}%] {msg}", file=sys.stderr, flush=True)

        res = explain_dataset(ds, ecfg, _overrides(args.set), progress)
    except (ExplainError, RunError) as e:  # RunError: not a ValueError
        print(f"hades explain: {e}", file=sys.stderr)
        return 2
    summary = res.summary()
    if not args.json or args.verbose:
        print(format_table(summary))
    if args.out:
        written = write_outputs(ds, res, args.out)
        print(f"wrote {len(written)} files to {args.out}", file=sys.stderr)
    if args.json:
        _print_json(summary)
    return 0


def write_outputs(ds, res, out_dir) -> list[str]:
    """explain.json and the figures in `out_dir`; the paths written."""
    from engine.render import explain_figures

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = res.to_dict()
    (out / "explain.json").write_text(json.dumps(data))
    figs = explain_figures.write_all(data, out, ds)
    paths = [str(out / "explain.json")]
    for name, info in figs.items():
        if "error" in info:
            print(f"note: no {name} figure: {info['error']}", file=sys.stderr)
        paths += [v for k, v in info.items() if k in ("png", "json")]
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
