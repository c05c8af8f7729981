"""Run one HaDES config into the run store from a config JSON file.

    python -m engine.runs.worker CONFIG_JSON ROOT [--name NAME] [--json]

A headless runner for tests and scripts (the `hades distill` command does the same
from flags). Prints ``run <id> in <dir>`` first, a progress line per chunk, and a
final JSON summary line with --json. SIGTERM and Ctrl-C stop the run cleanly.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.runs.worker")
    parser.add_argument("config", help="config JSON file (HadesConfig.to_dict())")
    parser.add_argument("root", help="runs root")
    parser.add_argument("--name", default="")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    from engine.config import ConfigError, HadesConfig
    from engine.runs.cli import run_foreground
    from engine.runs.errors import RunError
    from engine.runs.runner import Runner

    try:
        with open(args.config) as f:
            cfg = HadesConfig.from_dict(json.load(f))
        runner = Runner.create(cfg, root=args.root, name=args.name)
    except (OSError, ValueError, ConfigError, RunError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"run {runner.run_id} in {runner.run_dir}", flush=True)
    return run_foreground(
        runner, args.json, args.quiet, header=False, executor="worker"
    )


if __name__ == "__main__":
    sys.exit(main())
