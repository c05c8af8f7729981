"""Runs: background jobs with live control, a run store that loses nothing, resume
and fork. The layer between the engine and the dashboard (no Streamlit here).

- `RunStore`: one directory per run under `default_root()` plus an SQLite index.
- `Runner`: runs one run into the store (checkpoints, metrics, dataset, status).
- `Control`: pause / resume / stop / live lr, sigma, temperature between chunks.
- `JobManager`: runs in background threads of this process, queued and steered.
"""

from engine.runs.control import Control
from engine.runs.errors import RunError
from engine.runs.jobs import JobManager
from engine.runs.runner import Runner
from engine.runs.store import RunStore, default_root

__all__ = ["Control", "JobManager", "RunError", "RunStore", "Runner", "default_root"]
