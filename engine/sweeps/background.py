"""Execute a created sweep in the background: a detached ``hades sweep resume``.

The dashboard's Launch page creates the sweep (its runs appear at once, queued)
and hands it to this process, which starts Ray (or joins the cluster) with the
settings recorded in sweep.json, so nothing of Ray runs in the dashboard's own
process. Its output goes to ``<sweep dir>/driver.log``; it records itself in
``driver.json`` as the sweep's one driver. The runs are ordinary runs of the
store: the Live page lists and steers them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from engine.runs.store import RunStore
from engine.sweeps.record import Sweep

LOG_NAME = "driver.log"


def start(store: RunStore, sweep: Sweep) -> int:
    """Start ``hades sweep resume`` for `sweep` detached from this process (its own
    session: closing the dashboard does not stop it); returns its pid."""
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (package_root, env.get("PYTHONPATH")) if p
    )
    cmd = [sys.executable, "-m", "engine.cli", "sweep", "resume", sweep.sweep_id]
    cmd += ["--runs", str(store.root.resolve())]
    with open(sweep.path / LOG_NAME, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=package_root,
            start_new_session=True,
        )
    # Reap it when it ends (no zombie left behind in a long-lived dashboard)
    threading.Thread(target=proc.wait, name="sweep-reaper", daemon=True).start()
    return proc.pid
