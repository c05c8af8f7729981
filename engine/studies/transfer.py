"""Transfer: one dataset trains policies of other widths and hyperparameters.

Lupu et al., "Behaviour Distillation" (ICLR 2024): HaDES-R datasets, distilled with
one architecture and inner loop, train fresh policies of widths 32 to 2048, with 100
to 500 inner steps and learning rates 0.0005 * 2^(i/2), i = 0..9. This study varies
one axis at a time around the dataset's own (in-distribution) setting, trains
`inits` fresh random inits per setting (`engine.evaluate.evaluate_dataset`, so the
fitness rule is the dataset's own) and plots the returns per axis as box plots; the
in-distribution value of each axis is drawn in its own colour.

Random inits are used throughout: a HaDES-F dataset's fixed init cannot be reused
at another width, and its transfer to random inits is part of what is measured.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine import presets
from engine.dataset_ref import load_dataset_ref
from engine.evaluate import config_for_dataset, evaluate_dataset
from engine.figures.transfer import figure
from engine.figures.transfer import value_label as _fmt
from engine.studies import common
from engine.studies.params import StudyParams, make

NAME = "transfer"
PAPER_WIDTHS = (32, 64, 128, 256, 512, 1024, 2048)
PAPER_STEPS = (100, 200, 300, 400, 500)
PAPER_LRS = tuple(0.0005 * 2 ** (i / 2) for i in range(10))
AXES = {"width": "inner.width", "steps": "inner.steps", "lr": "inner.lr"}
PRESETS = {
    "quick": {
        "width": (32, 128, 512, 2048),
        "steps": (100, 300, 500),
        "lr": tuple(PAPER_LRS[i] for i in (0, 2, 4, 6, 8)),
        "inits": 8,
    },
    "paper": {
        "width": PAPER_WIDTHS,
        "steps": PAPER_STEPS,
        "lr": PAPER_LRS,
        "inits": 16,
    },
}


@dataclass(frozen=True)
class Params(StudyParams):
    """The transfer study's parameters."""

    dataset: str | None = None
    """A dataset .npz, a paper .pkl or a run id (default: distil one for env)."""
    env: str = "CartPole-v1"
    """Environment distilled when no dataset is given (the quick preset)."""
    widths: tuple[int, ...] | None = None
    """Policy widths (default: the preset's)."""
    steps: tuple[int, ...] | None = None
    """Inner-loop steps (default: the preset's)."""
    lrs: tuple[float, ...] | None = None
    """Inner-loop learning rates (default: the preset's)."""
    eval_inits: int | None = None
    """Fresh policy inits per setting (default: the preset's)."""

    def grid(self) -> dict:
        grid = dict(PRESETS[self.preset])
        for axis, vals in (("width", self.widths), ("steps", self.steps)):
            if vals is not None:
                grid[axis] = tuple(vals)
        if self.lrs is not None:
            grid["lr"] = tuple(self.lrs)
        return grid


def run_transfer(
    params: Params | dict | None = None,
    *,
    runs_root=None,
    progress_fn: common.ProgressFn | None = None,
    resume: str | None = None,
    **values,
) -> dict:
    """Returns of fresh policies trained on one dataset over a grid of settings.

    `dataset`: an .npz, a paper .pkl or a run id; None distils one for `env` with
    the quick preset (plus `overrides`) first, as a run of the store tagged with
    the study. Returns the in-distribution mean return, per axis {value: mean
    return}, and the paths.
    """
    p = make(Params, params, values)
    with common.StudyDir(NAME, p.to_dict(), runs_root, study_id=resume) as sd:
        return _study(p, sd, progress_fn, runs_root)


def _study(p: Params, sd, progress_fn, runs_root) -> dict:
    grid = p.grid()
    n_inits = p.eval_inits or grid["inits"]
    seed, dataset = p.seed, p.dataset
    if dataset is None:
        cfg = presets.make("quick", p.env, None, seed)
        if p.overrides:
            cfg = cfg.with_overrides(p.override_dict())
        d, es_state, _, _, _ = sd.distil(cfg, progress_fn, p.env)
        ds = d.mean_dataset(es_state, study=sd.study_id)
        from engine import dataset as ds_lib

        ds_lib.save(ds, sd.datasets_dir() / "dataset.npz")
    else:
        ds, _ = load_dataset_ref(dataset, runs_root)
    base = config_for_dataset(ds)
    home = {
        "width": base.inner.width,
        "steps": base.inner.steps,
        "lr": base.inner.lr,
    }
    settings = []
    for axis in AXES:
        vals = sorted(set(grid[axis]) | {home[axis]})
        settings += [(axis, v) for v in vals]
    rows, per_axis = [], {a: {} for a in AXES}
    in_dist = None
    for i, (axis, v) in enumerate(settings):
        common.report(
            progress_fn, NAME, f"evaluate {axis}={_fmt(axis, v)}", i, len(settings)
        )
        is_home = v == home[axis]
        if is_home and in_dist is not None:
            res = in_dist  # one in-distribution evaluation serves every axis
        else:
            res = evaluate_dataset(
                ds,
                inits=n_inits,
                seed=seed,
                random_inits=True,
                overrides={AXES[axis]: v},
            )
            if is_home:
                in_dist = res
        per_axis[axis][_fmt(axis, v)] = res.mean_return
        for j, (r, lo) in enumerate(zip(res.per_init, res.bc_loss, strict=True)):
            rows.append(
                {
                    "axis": axis,
                    "value": v,
                    "init": j,
                    "return": r,
                    "bc_loss": lo,
                    "in_distribution": is_home,
                }
            )
    common.report(progress_fn, NAME, "evaluate", len(settings), len(settings))
    csv_path = common.write_csv(sd.file(f"{NAME}.csv"), rows)
    fig = figure(rows, home, ds.env, ds.size, n_inits)
    figs = {"transfer": common.save_figure(fig, sd.figures, "transfer")}
    all_returns = [r["return"] for r in rows]
    return sd.finish(
        {
            "env": ds.env,
            "dataset_size": ds.size,
            "preset": p.preset,
            "eval_inits": n_inits,
            "in_distribution": {k: (_fmt(k, v)) for k, v in home.items()},
            "in_distribution_return": in_dist.mean_return if in_dist else None,
            "returns": per_axis,
            "min_setting_return": min(min(v.values()) for v in per_axis.values()),
            "max_setting_return": max(max(v.values()) for v in per_axis.values()),
            "mean_return": float(sum(all_returns) / len(all_returns)),
            "csv": csv_path,
            "dataset": str(sd.datasets_dir() / "dataset.npz")
            if dataset is None
            else str(dataset),
            "figures": figs,
        }
    )
