"""Study figures for display: a saved spec (``figures/<name>.json``, written by
`engine.figures.save_figure`) becomes a plotly figure. The engine builds specs
without plotly; only the dashboard turns them into `plotly.graph_objects.Figure`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import plotly.graph_objects as go


def load_figure(path: str | os.PathLike) -> go.Figure:
    """The figure saved at `path`: a spec, or any plotly figure JSON (plotly
    validates it; a bad property raises ValueError)."""
    return go.Figure(json.loads(Path(path).read_text()))
