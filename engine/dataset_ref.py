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
    if suffix == ".npz" or path.is_file():
        return ds_lib.load(path), []
    from engine.runs import RunStore

    return RunStore(runs_root).load_dataset(text), []
