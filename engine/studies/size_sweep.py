"""Dataset size sweep: final return of HaDES against the number of pairs N.

Lupu et al., "Behaviour Distillation" (ICLR 2024): four state-action pairs already
train competitive policies; the paper distils N in {4, 16, 64, 256} for Brax. This
study runs one HaDES run per N (the preset's config with `dataset.size` = N, the
same seed), then trains `eval.inits` fresh policies on each final ES-mean dataset.

With fixed one-hot labels (discrete actions) the labels are round-robin, so N below
the number of actions cannot show every action (N = 1 trains a constant policy).
"""

from __future__ import annotations

import jax
import numpy as np

from engine import dataset as ds_lib
from engine import presets
from engine.figures.size_sweep import figure
from engine.studies import common

NAME = "size_sweep"
DEFAULT_SIZES = (1, 2, 4, 16, 64, 256)
PRESET_SIZES = {"quick": DEFAULT_SIZES, "paper": DEFAULT_SIZES}


def run_size_sweep(
    env: str = "CartPole-v1",
    sizes: tuple[int, ...] | list[int] | None = None,
    preset: str = "quick",
    runs_root=None,
    progress_fn: common.ProgressFn | None = None,
    seed: int = 0,
    generations: int | None = None,
    population: int | None = None,
    eval_inits: int | None = None,
    overrides: dict | None = None,
) -> dict:
    """One HaDES run per dataset size; final return vs N.

    Returns ``sizes``, ``final_return`` (mean per size, in order), ``final_std``,
    ``best_size`` and the output paths.
    """
    sizes = tuple(int(n) for n in (sizes or PRESET_SIZES.get(preset, DEFAULT_SIZES)))
    if not sizes or min(sizes) < 1:
        raise common.StudyError(f"sizes {sizes}: need positive integers")
    ov = dict(overrides or {})
    if generations is not None:
        ov["outer.generations"] = generations
    if population is not None:
        ov["outer.population"] = population
    cfgs = {}
    for n in sizes:
        c = presets.make(preset, env, n, seed)
        cfgs[n] = c.with_overrides(ov) if ov else c
    n_eval = eval_inits or cfgs[sizes[0]].eval.inits
    params = {
        "env": env,
        "sizes": list(sizes),
        "preset": preset,
        "seed": seed,
        "eval_inits": n_eval,
        "overrides": ov,
        "config": cfgs[sizes[0]].to_dict(),
    }
    with common.StudyDir(NAME, params, runs_root) as sd:
        table, curves, finals = [], [], {}
        for n in sizes:
            d, es_state, _rows, evals = common.distil(
                cfgs[n], progress_fn, NAME, f"N={n}"
            )
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
                "preset": preset,
                "sizes": list(sizes),
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
