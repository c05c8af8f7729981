"""The `hades` command line: distill, evaluate, import, render, runs, dashboard.

Flag help texts come from the config docstrings (`engine.config.field_docs`).
`--json` makes a command print one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from engine import config as config_lib


def _set_help() -> str:
    docs = config_lib.all_field_docs()
    lines = [f"  {k}: {v}" for k, v in docs.items()]
    return "Any config field as section.field=value. Fields:\n" + "\n".join(lines)


def _print_json(obj) -> None:
    print(json.dumps(obj, default=float))


# distill ------------------------------------------------------------
def build_config(args) -> config_lib.HadesConfig:
    from engine import presets

    cfg = presets.make(args.preset, args.env, args.size, args.seed or 0)
    ov = {}
    if args.generations is not None:
        ov["outer.generations"] = args.generations
    if args.population is not None:
        ov["outer.population"] = args.population
    if args.seed is not None:
        ov["seed"] = args.seed
    if args.strategy is not None:
        ov["outer.strategy"] = args.strategy
    ov.update(config_lib.parse_overrides(args.set))
    return cfg.with_overrides(ov) if ov else cfg


def cmd_distill(args) -> int:
    from engine.runs import Runner
    from engine.runs.cli import check_devices, run_distributed, run_foreground

    cfg = build_config(args)
    if args.distributed:

        def make():
            check_devices(cfg)
            return Runner.create(cfg, root=args.runs, name=args.name or "")

        return run_distributed(args, make)
    runner = Runner.create(cfg, root=args.runs, name=args.name or "")
    return run_foreground(runner, json_out=args.json, quiet=args.quiet)


# evaluate ------------------------------------------------------------
def _load_dataset(ref: str, runs_root: str | None):
    """`engine.dataset_ref.load_dataset_ref`, its import notes on stderr."""
    from engine.dataset_ref import load_dataset_ref

    ds, notes = load_dataset_ref(ref, runs_root)
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    return ds


def cmd_evaluate(args) -> int:
    from engine.evaluate import evaluate_dataset

    ds = _load_dataset(args.dataset, args.runs)
    res = evaluate_dataset(
        ds,
        inits=args.inits,
        seed=args.seed,
        random_inits=args.random_inits,
        overrides=config_lib.parse_overrides(args.set),
    )
    if not args.json or args.verbose:
        kind = "fixed init (HaDES-F)" if res.fixed_init else "fresh random inits"
        print(
            f"{res.env} N={res.size}: mean return {res.mean_return:.2f} "
            f"+- {res.std_return:.2f} over {res.inits} {kind}"
        )
        print("per init: " + ", ".join(f"{r:.2f}" for r in res.per_init))
    if args.json:
        _print_json(res.to_dict())
    return 0


# import ------------------------------------------------------------
def cmd_import(args) -> int:
    from engine.paper_import import import_to_file

    out = args.out or (Path(args.pickle).stem + ".npz")
    path, notes = import_to_file(args.pickle, out)
    for n in notes:
        print(f"note: {n}")
    print(f"wrote {path}")
    if args.json:
        _print_json({"out": str(path), "notes": notes})
    return 0


# render ------------------------------------------------------------
def cmd_render(args) -> int:
    from engine import render

    ds = _load_dataset(args.source, args.runs)
    if args.states == args.rollout:
        raise SystemExit("hades render: give exactly one of --states or --rollout")
    if args.states:
        out = args.out or "dataset.png"
        render.render_states(ds, out)
        info = {"out": str(out)}
    else:
        out = args.out or "rollout.mp4"
        info = render.render_rollout(ds, out, seed=args.seed, frame_cap=args.frame_cap)
        info = {"out": str(out), **info}
    print(f"wrote {out}")
    if args.json:
        _print_json(info)
    return 0


# dashboard ------------------------------------------------------------
def cmd_dashboard(args, extra: list[str]) -> int:
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        *extra,
    ]
    env = dict(os.environ)
    if args.runs:
        env["HADES_RUNS"] = args.runs
    os.chdir(app.parent.parent)  # so .streamlit/config.toml applies
    os.execvpe(cmd[0], cmd, env)
    return 0


def cmd_envs(args) -> int:
    from engine.envs.registry import SPECS

    rows = [
        {
            "name": s.name,
            "family": s.family,
            "obs_shape": list(s.obs_shape),
            "discrete": s.discrete,
            "action_dim": s.action_dim,
        }
        for s in SPECS.values()
    ]
    if args.json:
        _print_json(rows)
    else:
        for r in rows:
            kind = "discrete" if r["discrete"] else "continuous"
            print(
                f"{r['name']:28s} {r['family']:8s} obs {r['obs_shape']} "
                f"{r['action_dim']} {kind}"
            )
    return 0


def cmd_config(args) -> int:
    cfg = build_config(args)
    print(cfg.to_json())
    return 0


# parser ------------------------------------------------------------
def _add_run_flags(p: argparse.ArgumentParser) -> None:
    from engine.envs.registry import ENV_NAMES
    from engine.presets import BENCHMARKS, PRESETS

    docs = config_lib.all_field_docs()
    p.add_argument(
        "--env",
        default="CartPole-v1",
        metavar="ENV",
        help=docs["env.name"] + " Known: " + ", ".join(ENV_NAMES),
    )
    p.add_argument("--size", type=int, default=None, help=docs["dataset.size"])
    p.add_argument(
        "--preset",
        default="quick",
        choices=PRESETS + BENCHMARKS,
        help="Starting config: quick (CPU, seconds to minutes) or paper "
        "(the paper's settings, GPU).",
    )
    p.add_argument("--generations", type=int, help=docs["outer.generations"])
    p.add_argument("--population", type=int, help=docs["outer.population"])
    p.add_argument("--strategy", help=docs["outer.strategy"])
    p.add_argument("--seed", type=int, help=docs["seed"])
    p.add_argument(
        "--set",
        action="append",
        metavar="SECTION.FIELD=VALUE",
        help="Override any config field (see the list below).",
    )


def make_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hades",
        description="HaDES behaviour distillation: evolve tiny datasets that train "
        "good policies.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    fmt = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser(
        "distill",
        help="Distil a dataset (writes a run).",
        epilog=_set_help(),
        formatter_class=fmt,
    )
    _add_run_flags(p)
    p.add_argument(
        "--runs", help="Runs root (default $HADES_HOME/runs or ~/.hades/runs)."
    )
    p.add_argument("--name", help="A label for the run (not used in paths).")
    p.add_argument("--json", action="store_true", help="Last line: one JSON object.")
    p.add_argument("--quiet", action="store_true", help="No progress bar.")
    from engine.runs.cli import add_distributed_flags

    add_distributed_flags(p)
    p.set_defaults(func=cmd_distill)

    p = sub.add_parser(
        "config",
        help="Print the config a distill would use.",
        epilog=_set_help(),
        formatter_class=fmt,
    )
    _add_run_flags(p)
    p.set_defaults(func=cmd_config)

    docs_eval = config_lib.field_docs(config_lib.EvalConfig)
    p = sub.add_parser(
        "evaluate",
        help="Train fresh policies on a dataset, report returns.",
        epilog=_set_help(),
        formatter_class=fmt,
    )
    p.add_argument("dataset", help="A dataset .npz, a paper .pkl, or a run id.")
    p.add_argument("--inits", type=int, default=8, help=docs_eval["inits"])
    p.add_argument("--seed", type=int, default=0, help=docs_eval["seed"])
    p.add_argument(
        "--random-inits", action="store_true", help=docs_eval["random_inits"]
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="SECTION.FIELD=VALUE",
        help="Override the inner-loop/fitness settings used.",
    )
    p.add_argument("--runs", help="Runs root, to find a run id.")
    p.add_argument("--json", action="store_true", help="Last line: one JSON object.")
    p.add_argument("--verbose", action="store_true", help="Text as well as JSON.")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("import", help="Convert a paper pickle safely to our .npz.")
    p.add_argument("pickle", help="A dataset pickle published with the paper.")
    p.add_argument("--out", help="Output .npz (default: <pickle name>.npz).")
    p.add_argument("--json", action="store_true", help="Last line: one JSON object.")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("render", help="Draw a dataset's states or a rollout video.")
    p.add_argument("source", help="A dataset .npz, a paper .pkl, or a run id.")
    p.add_argument("--states", action="store_true", help="PNG of every state.")
    p.add_argument("--rollout", action="store_true", help="Video of a policy.")
    p.add_argument("--out", help="Output file (.png, .mp4 or .gif).")
    p.add_argument("--seed", type=int, default=0, help="Policy init seed.")
    p.add_argument("--frame-cap", type=int, default=300, help="Most frames kept.")
    p.add_argument("--runs", help="Runs root, to find a run id.")
    p.add_argument("--json", action="store_true", help="Last line: one JSON object.")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("envs", help="List the environments.")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_envs)

    p = sub.add_parser(
        "dashboard",
        help="Start the Streamlit dashboard on "
        "127.0.0.1 (extra flags go to streamlit).",
    )
    p.add_argument("--runs", help="Runs root shown by the dashboard.")
    p.set_defaults(func=cmd_dashboard)

    try:
        from engine.runs.cli import register
    except ImportError:  # pragma: no cover - the run store is part of the package
        register = None
    if register is not None:
        register(sub)
    try:
        from engine.studies.cli import register as register_studies
    except ImportError:
        register_studies = None
    if register_studies is not None:
        register_studies(sub, argv)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = make_parser(argv)
    if argv and argv[0] == "dashboard":
        args, extra = parser.parse_known_args(argv)
        return cmd_dashboard(args, extra)
    args = parser.parse_args(argv)
    import engine
    from engine.runs.cli import distributed_spec
    from engine.runtime import DistributedError, exit_now, init_distributed

    try:
        spec = distributed_spec(args)  # checked before anything starts
    except DistributedError as e:
        print(f"hades: {e}", file=sys.stderr)
        return 2
    # The runtime every command runs under (engine.runtime)
    engine.setup(distributed=spec is not None)
    if spec is None:
        return _call(args)
    try:
        init_distributed(spec)
    except DistributedError as e:
        print(f"hades: {e}", file=sys.stderr)
        return 2
    try:
        code = _call(args)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    if code != 0:  # a process is gone or the run failed: no shutdown barrier
        exit_now(code)
    return code


def _call(args) -> int:
    """Run the command; usage, config and store errors as one line (code 2)."""
    try:
        return int(args.func(args) or 0)
    except config_lib.ConfigError as e:
        print(f"hades: invalid config: {e}", file=sys.stderr)
        return 2
    except (ValueError, OSError, KeyError, RuntimeError) as e:  # RunError too
        name = type(e).__name__
        if name in ("DatasetError", "PaperImportError", "RunError", "ConfigError"):
            print(f"hades: {e}", file=sys.stderr)
            return 2
        if isinstance(e, FileNotFoundError):
            print(f"hades: {e}", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        print("hades: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
