"""Sweeps: a grid of HaDES runs in the store, executed on Ray.

- `grid`: `SweepSpec` (environments, sizes, seeds, ``--set`` value lists) and its
  expansion into points with their configs, checked before anything is created.
- `record`: the sweep's ``<root>/sweeps/<id>/sweep.json`` and its runs, one per
  point, tagged ``labels={"sweep": id, "slot": point}``.
- `ray_cluster`: `RaySettings` and a Ray session (a local instance on 127.0.0.1,
  or an existing cluster).
- `task`: what a Ray worker runs for one run (resumes from its checkpoint).
- `execute`: `Executor` runs run ids to their end on Ray or here; studies use it too.
- `progress`, `cli`: ``hades sweep`` and its progress lines.

Ray is the engine (scheduling, resources, retries); this package is the glue
between it and the run store. Ray is imported only when a session starts.
"""
