"""Figures of the studies, built in one place as plain plotly figure specs.

A spec is the plotly JSON schema as Python data, ``{"data": [trace, ...],
"layout": {...}}``, built without importing plotly: the engine imports neither
plotly nor Streamlit. One module per study builds its figures (`size_sweep`,
`baseline`, `transfer`, `multitask`, `supervised`, `published`) on `grid.Subplots`,
which lays subplots out as plotly's `make_subplots` does. `save_figure` writes
``<name>.json`` (the spec) and ``<name>.png`` (drawn by `png.write_png` with
matplotlib). The dashboard shows a spec with ``plotly.graph_objects.Figure(spec)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.atomic import write_json


def save_figure(spec: dict, directory: str | os.PathLike, name: str) -> dict:
    """Write `<name>.json` (the spec) and `<name>.png`; returns their paths.

    When the PNG cannot be drawn its path is None and `png_error` says why: a
    missing picture never fails a study.
    """
    from engine.figures.png import write_png

    directory = Path(directory)
    jpath = directory / f"{name}.json"
    write_json(jpath, spec, indent=None)
    ppath = directory / f"{name}.png"
    out: dict[str, Any] = {"json": str(jpath), "png": str(ppath)}
    try:
        write_png(spec, ppath)
    except Exception as e:  # noqa: BLE001 - a missing picture never fails a study
        out["png"] = None
        out["png_error"] = f"{type(e).__name__}: {e}"
    return out
