"""Dataset size sweep: final return of HaDES against the number of pairs N.

Lupu et al., "Behaviour Distillation" (ICLR 2024): four state-action pairs already
train competitive policies; the paper distils N in {4, 16, 64, 256} for Brax. This
study runs one HaDES run per N (the preset's config with `dataset.size` = N, the
same seed), then trains `eval.inits` fresh policies on each final ES-mean dataset.

With fixed one-hot labels (discrete actions) the labels are round-robin, so N below
the number of actions cannot show every action (N = 1 trains a constant policy).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np

from engine import dataset as ds_lib
from engine import presets
from engine.figures.size_sweep import figure
from engine.studies import common
from engine.studies.params import StudyParams, make

NAME = "size_sweep"
DEFAULT_SIZES = (1, 2, 4, 16, 64, 256)


@dataclass(frozen=True)
class Params(StudyParams):
    """The size sweep's parameters."""

    env: str = "CartPole-v1"
    """Environment distilled at every size."""
    sizes: tuple[int, ...] = DEFAULT_SIZES
    """Dataset sizes N, one HaDES run each."""
    generations: int | None = None
    """ES generations of each run (default: the preset's)."""
    population: int | None = None
    """ES population of each run (default: the preset's)."""
    eval_inits: int | None = None
    """Fresh policy inits scoring each final dataset (default: the preset's)."""

    def __post_init__(self):
        super().__post_init__()
        if not self.sizes or min(self.sizes) < 1:
            raise common.StudyError(f"sizes {self.sizes}: need positive integers")

    def configs(self) -> dict:
        """The HaDES config of every size."""
        ov = self.override_dict()
        if self.generations is not None:
            ov["outer.generations"] = self.generations
        if self.population is not None:
            ov["outer.population"] = self.population
        out = {}
        for n in self.sizes:
            c = presets.make(self.preset, self.env, n, self.seed)
            out[n] = c.with_overrides(ov) if ov else c
        return out


def run_size_sweep(
    params: Params | dict | None = None,
    *,
    runs_root=None,
    progress_fn: common.ProgressFn | None = None,
    resume: str | None = None,
    **values,
) -> dict:
    """One HaDES run per dataset size (runs of the store, tagged with the study);
    final return vs N. `values` set fields of `Params`; `resume` continues the study
    of that id (its finished runs are not redone).

    Returns ``sizes``, ``final_return`` (mean per size, in order), ``final_std``,
    ``best_size``, ``runs`` and the output paths.
    """
    p = make(Params, params, values)
    cfgs = p.configs()
    with common.StudyDir(NAME, p.to_dict(), runs_root, study_id=resume) as sd:
        return _study(p, cfgs, sd, progress_fn)


def _study(p: Params, cfgs: dict, sd, progress_fn) -> dict:
    sizes, env, seed = p.sizes, p.env, p.seed
    n_eval = p.eval_inits or cfgs[sizes[0]].eval.inits
    table, curves, finals, runs = [], [], {}, {}
    sd.prepare({f"N={n}": cfgs[n] for n in sizes}, progress_fn)
    for n in sizes:
        d, es_state, _rows, evals, run_id = sd.distil(cfgs[n], progress_fn, f"N={n}")
        runs[n] = run_id
        for g, v in evals:
            curves.append({"size": n, "generation": g, "mean_return": v})
        key = jax.random.PRNGKey(seed + 40_000)
        k_init, k_roll = jax.random.split(key)
        init_keys = d.eval_init_keys(k_init, n_eval)
        rets, losses = d.problem.dataset_returns_jit(
            k_roll, d.mean_solution(es_state), init_keys
        )
        rets, losses = np.asarray(rets), np.asarray(losses)
        finals[n] = rets
        for i, (r, lo) in enumerate(zip(rets, losses, strict=True)):
            table.append(
                {"size": n, "init": i, "return": float(r), "bc_loss": float(lo)}
            )
        ds = d.mean_dataset(es_state, study=sd.study_id)
        ds_lib.save(ds, sd.datasets_dir() / f"N{n}.npz")
    csv_path = common.write_csv(sd.file(f"{NAME}.csv"), table)
    curve_path = common.write_csv(sd.file(f"{NAME}_curve.csv"), curves)
    figs = {
        "size_sweep": common.save_figure(
            figure(finals, curves, env), sd.figures, "size_sweep"
        )
    }
    means = [float(finals[n].mean()) for n in sizes]
    return sd.finish(
        {
            "env": env,
            "preset": p.preset,
            "sizes": list(sizes),
            "runs": [runs[n] for n in sizes],
            "final_return": means,
            "final_std": [float(finals[n].std()) for n in sizes],
            "best_size": sizes[int(np.argmax(means))],
            "generations": cfgs[sizes[0]].outer.generations,
            "population": cfgs[sizes[0]].outer.population,
            "eval_inits": n_eval,
            "csv": csv_path,
            "curve_csv": curve_path,
            "datasets": str(sd.datasets_dir()),
            "figures": figs,
        }
    )
