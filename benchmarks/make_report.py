"""Regenerate benchmarks/REPORT.md: our reproduction table.

Runs, one after the other, through the real command line (`hades study ... --json`):

1. ``published``: every published dataset of ``../shared/reference/datasets``
   re-evaluated against the numbers of ``../shared/reference/README.md``;
2. every study at its quick preset: supervised, multitask, baseline, size-sweep,
   transfer.

Each command's last line is the JSON headline; the report quotes the command, its
wall time and the numbers. The studies are written to ``--runs`` (default: a
temporary directory) under ``studies/``; ``--reuse`` rebuilds the report from the
newest finished quick-preset studies already there, without running anything.

    PYTHONPATH=. python benchmarks/make_report.py [--runs ROOT] [--reuse]
        [--only published,supervised,...] [--out benchmarks/REPORT.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("published", "supervised", "multitask", "baseline", "size-sweep", "transfer")
STUDY_DIR_NAME = {"size-sweep": "size_sweep"}


def run_study(name: str, runs: Path) -> tuple[dict, float, str]:
    """Run `hades study <name> --preset quick --json`; (headline, seconds, command)."""
    shown = f"hades study {name} --preset quick --json"
    argv = [sys.executable, "-m", "engine.cli", "study", name, "--preset", "quick"]
    argv += ["--runs", str(runs), "--json", "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    print(f"$ {shown}", flush=True)
    t0 = time.time()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.time() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{shown} failed with exit code {proc.returncode}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {seconds:.0f} s -> {res['study_dir']}", flush=True)
    return res, seconds, shown


def reuse_study(name: str, runs: Path) -> tuple[dict, float, str]:
    """The newest finished quick-preset study `name` under `runs`."""
    sys.path.insert(0, str(ROOT))
    from engine.studies import list_studies

    for s in list_studies(runs, STUDY_DIR_NAME.get(name, name)):
        params = s.get("params") or {}
        if s["status"].get("status") == "finished" and params.get("preset") == "quick":
            res = s["results"]
            return (
                res,
                float(res.get("seconds", 0.0)),
                (f"hades study {name} --preset quick --json"),
            )
    raise SystemExit(f"--reuse: no finished quick {name} study under {runs}")


def _f(v, d: int = 1) -> str:
    return "n/a" if v is None else f"{v:.{d}f}"


def section_published(res: dict) -> list[str]:
    out = [
        "Fresh policies trained on each published dataset with the paper's inner "
        "loop and fitness (read from the file), HaDES-R files with fresh random "
        "inits. Reference: the re-evaluated column of `shared/reference/README.md` "
        "(brax 0.14.2 / gymnax 1.0.1, 8 inits); training log: the final "
        "population-mean fitness stored in the file (members are perturbed, so it "
        "runs lower). Breakout's return has a heavy lower tail (a few inits fail; "
        "32 inits once gave mean 11.89, median 12.5, 2 of 32 below 10): it gets 16 "
        "inits and the median is shown. The MNIST file is a supervised dataset, "
        "refused by the RL importer.",
        "",
        _published_table(res),
    ]
    return out


def _published_table(res: dict) -> str:
    sys.path.insert(0, str(ROOT))
    from engine.studies.published import markdown_table

    return markdown_table(res["rows"])


def section_supervised(res: dict) -> list[str]:
    return [
        f"Dataset `{res['dataset']}` (scikit-learn's 8x8 digits, "
        f"{res['train_size']} train / {res['test_size']} test images), one "
        f"synthetic image per class, OpenES population {res['population']}, "
        f"{res['generations']} generations, {res['inner_steps']} SGD steps (lr 0.1) "
        "of Conv16-Dense128-Dense10 per candidate, fitness = training loss; "
        "accuracies of fresh networks trained on the images (mean over inits).",
        "",
        "| images | test accuracy | train accuracy |",
        "|---|---|---|",
        f"| distilled (ES mean) | {res['test_accuracy']:.3f} "
        f"± {res['test_accuracy_std']:.3f} | {res['train_accuracy']:.3f} |",
        f"| class means (ES start) | {res['start_test_accuracy']:.3f} | "
        f"{res['start_train_accuracy']:.3f} |",
        f"| chance | {res['chance']:.3f} | {res['chance']:.3f} |",
        "",
        "The paper's MNIST dataset (one image per class, population 512, 1000 inner "
        "steps, 1000 generations) reports a train accuracy of 0.896; that is the "
        "`--preset paper --dataset mnist --data-dir DIR` run, a GPU job.",
    ]


def section_multitask(res: dict) -> list[str]:
    out = [
        f"Quick-preset datasets distilled separately for {', '.join(res['envs'])}, "
        f"merged ({res['merged_size']} pairs, input {res['input_size']}: "
        f"observations zero-padded plus a task one-hot; {res['head']}); one policy "
        f"(MLP {res['inner']['depth']}x{res['inner']['width']}, "
        f"{res['inner']['steps']} steps) per init, {res['inits']} inits, scored on "
        "every task.",
        "",
        "| env | one multitask policy | single-task policies | random policy |",
        "|---|---|---|---|",
    ]
    for env, t in res["tasks"].items():
        out.append(
            f"| {env} | {t['multitask']:.1f} ± {t['multitask_std']:.1f} | "
            f"{t['single_task']:.1f} ± {t['single_task_std']:.1f} | "
            f"{t['random']:.1f} ± {t['random_std']:.1f} |"
        )
    out += [
        "",
        f"Beats random on every task: **{res['beats_random']}**. Paper: datasets "
        "distilled for single environments combine into a zero-shot multi-task "
        "agent.",
    ]
    return out


def section_baseline(res: dict) -> list[str]:
    classes = ", ".join(sorted(set(res["strategy_classes"].values())))
    out = [
        f"{res['env']}, the same `{res['strategy']}` (one `engine.strategies."
        f"Strategy`, evosax class {classes}, for all three"
        f"), population {res['population']}, {res['generations']} generations, "
        f"dataset N = {res['dataset_size']}, policy with {res['policy_params']} "
        "parameters. Final return of each ES mean (mean ± std over evaluations).",
        "",
        "| method | search dimensions | final return |",
        "|---|---|---|",
    ]
    names = {
        "hades_r": "HaDES-R",
        "hades_f": "HaDES-F",
        "neuroevolution": "neuroevolution (weights, mean at 0)",
    }
    for m in sorted(res["methods"], key=list(names).index):
        r = res["methods"][m]
        out.append(
            f"| {names[m]} | {r['search_dims']} | {r['final_return']:.1f} ± "
            f"{r['final_return_std']:.1f} |"
        )
    curves = _baseline_curves(res)
    curves = {m: curves[m] for m in names if m in curves}
    if curves:
        gens = sorted({g for c in curves.values() for g in c})
        out += [
            "",
            "ES-mean return during the run:",
            "",
            "| generation | " + " | ".join(names[m] for m in curves) + " |",
            "|---|" + "---|" * len(curves),
        ]
        for g in gens:
            out.append(
                f"| {g} | " + " | ".join(_f(curves[m].get(g)) for m in curves) + " |"
            )
    out += [
        "",
        "Paper: HaDES beats evolving the policy weights directly with the same ES "
        "(mean started at zero), and the dataset has far fewer dimensions than "
        "the weights it trains.",
    ]
    return out


def _baseline_curves(res: dict) -> dict:
    import csv

    path = Path(res["csv"])
    if not path.is_file():
        return {}
    curves: dict[str, dict[int, float]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("mean_return"):
                curves.setdefault(row["method"], {})[int(row["generation"])] = float(
                    row["mean_return"]
                )
    return curves


def section_size_sweep(res: dict) -> list[str]:
    out = [
        f"{res['env']}, quick preset per N (population {res['population']}, "
        f"{res['generations']} generations), final ES-mean dataset trained into "
        f"{res['eval_inits']} fresh policies.",
        "",
        "| N | final return |",
        "|---|---|",
    ]
    for n, r, s in zip(
        res["sizes"], res["final_return"], res["final_std"], strict=True
    ):
        out.append(f"| {n} | {r:.1f} ± {s:.1f} |")
    out += [
        "",
        "With fixed round-robin one-hot labels N = 1 trains a constant "
        f"policy (one action). Best N here: {res['best_size']}. Paper: four "
        "state-action pairs train competitive policies (Brax, N from 4 to 256).",
    ]
    return out


def section_transfer(res: dict) -> list[str]:
    home = res["in_distribution"]
    out = [
        f"A quick-preset {res['env']} dataset (N = {res['dataset_size']}, distilled "
        f"with width {home['width']}, {home['steps']} inner steps, lr {home['lr']}), "
        f"fresh random inits ({res['inits']} per setting), one axis varied at a "
        f"time. In-distribution return: {_f(res['in_distribution_return'])}.",
        "",
    ]
    for axis in ("width", "steps", "lr"):
        vals = res["returns"].get(axis, {})
        vals = dict(sorted(vals.items(), key=lambda kv: float(kv[0])))
        out += [
            f"| {axis} | " + " | ".join(vals) + " |",
            "|---|" + "---|" * len(vals),
            "| return | " + " | ".join(f"{v:.1f}" for v in vals.values()) + " |",
            "",
        ]
    out += [
        "Paper: HaDES-R datasets transfer to policies of widths 32 to 2048, 100 "
        "to 500 inner steps and learning rates 0.0005 * 2^(i/2), i = 0..9 (the "
        "`--preset paper` grid, 16 inits per setting)."
    ]
    return out


SECTIONS = {
    "published": ("Published datasets re-evaluated", section_published),
    "supervised": ("Supervised distillation (digits)", section_supervised),
    "multitask": ("Multi-task zero-shot (CartPole + Acrobot)", section_multitask),
    "baseline": ("Neuroevolution baseline", section_baseline),
    "size-sweep": ("Dataset size sweep", section_size_sweep),
    "transfer": (
        "Transfer to other widths, inner steps, learning rates",
        section_transfer,
    ),
}


def machine() -> str:
    sys.path.insert(0, str(ROOT))
    import jax

    from engine.runs.store import package_versions

    v = package_versions()
    devs = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU "
        f"cores (shared with other jobs), jax devices: {devs}; jax "
        f"{v.get('jax')}, evosax {v.get('evosax')}, gymnax {v.get('gymnax')}, "
        f"brax {v.get('brax')}, python {platform.python_version()}"
    )


def render(results: dict, started: float, runs: Path) -> str:
    lines = [
        "# Reproduction report",
        "",
        "Generated by `PYTHONPATH=. python benchmarks/make_report.py` on "
        f"{time.strftime('%Y-%m-%d', time.localtime(started))}: every number below "
        "comes from the command quoted with it, run on this machine "
        f"({machine()}). Study outputs (CSV, plotly JSON and PNG figures) were "
        f"written under `<runs>/studies/`.",
        "",
        "| study | command | wall time | study id |",
        "|---|---|---|---|",
    ]
    for name in ORDER:
        if name in results:
            res, secs, cmd = results[name]
            lines.append(f"| {name} | `{cmd}` | {secs:.0f} s | {res['study_id']} |")
    for name in ORDER:
        if name not in results:
            continue
        title, fn = SECTIONS[name]
        res, secs, cmd = results[name]
        lines += ["", f"## {title}", "", f"`{cmd}` ({secs:.0f} s)", ""]
        lines += fn(res)
    lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", help="Runs root for the studies (default: a temp dir).")
    p.add_argument(
        "--reuse",
        action="store_true",
        help="Use the newest finished studies under --runs; run nothing.",
    )
    p.add_argument("--only", help="Comma-separated subset of " + ",".join(ORDER))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "REPORT.md"))
    args = p.parse_args(argv)
    if args.reuse and not args.runs:
        p.error("--reuse needs --runs")
    runs = Path(args.runs) if args.runs else Path(tempfile.mkdtemp(prefix="hades-"))
    names = [n for n in ORDER if not args.only or n in args.only.split(",")]
    started = time.time()
    results = {}
    for name in names:
        results[name] = (reuse_study if args.reuse else run_study)(name, runs)
    Path(args.out).write_text(render(results, started, runs))
    print(f"wrote {args.out} ({time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
