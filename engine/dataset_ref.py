"""A dataset named by the user: the one resolver behind every "dataset" input.

A reference is a `Dataset`, a dataset ``.npz`` file, one of the paper's ``.pkl``
pickles (converted safely by `engine.paper_import`), or a run (id, unique id prefix,
name or directory; its current mean dataset). The CLI (`hades evaluate`, `hades
render`), the studies (``--dataset``) and the dashboard's file imports all resolve
through `load_dataset_ref`.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine import dataset as ds_lib


def load_dataset_ref(
    ref, runs_root: str | os.PathLike | None = None
) -> tuple[ds_lib.Dataset, list[str]]:
    """The dataset `ref` names, and notes on what a paper import changed.

    Raises `DatasetError`, `PaperImportError` or `RunError` with a message that
    names the reference.
    """
    if isinstance(ref, ds_lib.Dataset):
        return ref, []
    text = os.fspath(ref)
    path = Path(text).expanduser()
    suffix = path.suffix.lower()
    if suffix == ".pkl":
        from engine.paper_import import import_paper

        return import_paper(path)
    kinds = "a dataset .npz, a paper .pkl, a run directory or a run id"
    if path.exists() and not path.is_dir():
        return ds_lib.load(path), []  # refuses devices, bombs, other formats
    if not path.exists() and (suffix == ".npz" or os.sep in text):
        raise ds_lib.DatasetError(f"no such file: {path} (give {kinds})")
    from engine.runs import RunStore
    from engine.runs.store import is_run_dir

    if path.is_dir() and not is_run_dir(path):
        raise ds_lib.DatasetError(f"{path} is a directory, not {kinds}")
    return RunStore(runs_root).load_dataset(text), []
