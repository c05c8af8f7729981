"""Studies: the paper's experiments as one-call functions that write a report.

Lupu, Lu, Liesen, Lange, Foerster. "Behaviour Distillation". ICLR 2024.

Each study is a function ``run_<name>(..., preset="quick", runs_root=None,
progress_fn=None) -> dict`` that writes a study directory under the runs root
(``<root>/studies/<id>/``: config.json, status.json, results.json, a CSV of the
numbers, plotly figures as JSON and PNG; see `engine.studies.common`) and returns
the headline numbers with the output paths. `STUDIES` maps the names used by the CLI
(``hades study <name>``) and the dashboard to those functions:

- ``transfer``: one dataset, fresh policies over widths, inner steps, learning rates.
- ``baseline``: HaDES-R and HaDES-F against the same ES on the policy weights.
- ``size-sweep``: final return against the dataset size N.
- ``multitask``: single-task datasets merged into one zero-shot multi-task policy.
- ``supervised``: one synthetic image per class (digits, MNIST, FashionMNIST).
- ``published``: the paper's published datasets re-evaluated against references.

``progress_fn`` receives dicts {study, stage, done, total, time, ...}.
"""

from engine.studies.baseline import run_baseline
from engine.studies.common import list_studies, load_figure, read_study_status
from engine.studies.multitask import run_multitask
from engine.studies.published import run_published
from engine.studies.size_sweep import run_size_sweep
from engine.studies.supervised import run_supervised
from engine.studies.transfer import run_transfer

STUDIES = {
    "transfer": run_transfer,
    "baseline": run_baseline,
    "size-sweep": run_size_sweep,
    "multitask": run_multitask,
    "supervised": run_supervised,
    "published": run_published,
}
"""Study name (as in `hades study <name>`) -> its run function."""

__all__ = [
    "STUDIES",
    "list_studies",
    "load_figure",
    "read_study_status",
    "run_baseline",
    "run_multitask",
    "run_published",
    "run_size_sweep",
    "run_supervised",
    "run_transfer",
]
