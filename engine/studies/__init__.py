"""Studies: the paper's experiments as one-call functions that write a report.

Lupu, Lu, Liesen, Lange, Foerster. "Behaviour Distillation". ICLR 2024.

Each study is a function ``run_<name>(..., preset="quick", runs_root=None,
progress_fn=None) -> dict`` that writes a study directory under the runs root
(``<root>/studies/<id>/``: config.json, status.json, results.json, a CSV of the
numbers, figures as plotly JSON specs and PNG; see `engine.studies.common`) and returns
the headline numbers with the output paths. `STUDIES` maps the names used by the CLI
(``hades study <name>``) and the dashboard to those functions (imported on first use):

- ``transfer``: one dataset, fresh policies over widths, inner steps, learning rates.
- ``baseline``: HaDES-R and HaDES-F against the same ES on the policy weights.
- ``size-sweep``: final return against the dataset size N.
- ``multitask``: single-task datasets merged into one zero-shot multi-task policy.
- ``supervised``: one synthetic image per class (digits, MNIST, FashionMNIST).
- ``published``: the paper's published datasets re-evaluated against references.

``progress_fn`` receives dicts {study, stage, done, total, time, ...}.
"""

import importlib

_RUN_FUNCTIONS = {
    "transfer": ("engine.studies.transfer", "run_transfer"),
    "baseline": ("engine.studies.baseline", "run_baseline"),
    "size-sweep": ("engine.studies.size_sweep", "run_size_sweep"),
    "multitask": ("engine.studies.multitask", "run_multitask"),
    "supervised": ("engine.studies.supervised", "run_supervised"),
    "published": ("engine.studies.published", "run_published"),
}
STUDY_NAMES: tuple[str, ...] = tuple(_RUN_FUNCTIONS)
"""The study names, without importing the studies (for parsers and menus)."""
_COMMON = ("list_studies", "read_study_status", "StudyError")


def __getattr__(name: str):
    """Import lazily: `hades --help` does not load the studies (flax, evosax)."""
    if name == "STUDIES":
        studies = {
            k: getattr(importlib.import_module(m), f)
            for k, (m, f) in _RUN_FUNCTIONS.items()
        }
        globals()["STUDIES"] = studies
        return studies
    for mod, fn in _RUN_FUNCTIONS.values():
        if name == fn:
            return getattr(importlib.import_module(mod), fn)
    if name in _COMMON:
        return getattr(importlib.import_module("engine.studies.common"), name)
    raise AttributeError(f"module 'engine.studies' has no attribute {name!r}")


__all__ = [
    "STUDIES",
    "STUDY_NAMES",
    "StudyError",
    "list_studies",
    "read_study_status",
    "run_baseline",
    "run_multitask",
    "run_published",
    "run_size_sweep",
    "run_supervised",
    "run_transfer",
]
