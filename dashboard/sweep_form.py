"""The Launch page's sweep form: a grid of runs started in the background on Ray.

The widgets come from the fields of `SweepSpec` and `RaySettings` (their docstrings
are the help texts, as for the ``hades sweep`` flags); the values go through the
same parsers as the flags. Starting creates the sweep and its runs here (they show
at once, queued) and hands it to a background ``hades sweep resume`` process
(`engine.sweeps.background`), local Ray by default.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from dashboard import state as app_state
from engine.config import field_docs
from engine.runs import RunError
from engine.sweeps.grid import SweepError, SweepSpec
from engine.sweeps.ray_cluster import RaySettings

PREFIX = "sweep.f."
LABELS = {
    "envs": "Environments",
    "sizes": "Dataset sizes N",
    "seeds": "Seeds",
    "preset": "Preset",
    "overrides": "Config values (one section.field=v1,v2 per line)",
    "address": "Ray: local, or a cluster address",
    "cpus_per_run": "CPUs per run",
    "gpus_per_run": "GPUs per run",
    "max_retries": "Retries of a dead worker",
    "local_cpus": "CPUs of the local Ray instance (0: every core)",
}
TEXT_DEFAULTS = {"sizes": "", "seeds": "0-2"}  # what a user types for the tuples


def _widget(f: dataclasses.Field, docs: dict, container):
    """One field as a widget, chosen from its type and default."""
    key, label, help_ = PREFIX + f.name, LABELS[f.name], docs.get(f.name)
    choices = f.metadata.get("choices")
    if isinstance(f.default, tuple) and choices:
        return container.multiselect(
            label, list(choices), default=list(f.default), key=key, help=help_
        )
    if f.name == "overrides":
        return container.text_area(label, key=key, help=help_, height=80)
    if isinstance(f.default, tuple):
        return container.text_input(label, TEXT_DEFAULTS[f.name], key=key, help=help_)
    if choices:
        return container.selectbox(label, list(choices), key=key, help=help_)
    if isinstance(f.default, str):
        return container.text_input(label, f.default, key=key, help=help_)
    if isinstance(f.default, float):
        return container.number_input(
            label, value=f.default, min_value=0.0, step=0.5, key=key, help=help_
        )
    return container.number_input(
        label, value=int(f.default or 0), min_value=0, step=1, key=key, help=help_
    )


def _values(cls, columns: int) -> dict:
    docs = field_docs(cls)
    fields = dataclasses.fields(cls)
    cols = st.columns(columns)
    return {f.name: _widget(f, docs, cols[i % columns]) for i, f in enumerate(fields)}


def build(values: dict) -> tuple[SweepSpec, list, RaySettings]:
    """(spec, points, settings) from the form's values; SweepError otherwise."""
    from engine.sweeps.grid import expand

    spec = SweepSpec.from_text(
        tuple(values["envs"]),
        values["sizes"],
        values["seeds"],
        values["preset"],
        (values["overrides"] or "").splitlines(),
    )
    points = expand(spec)
    settings = RaySettings(
        address=values["address"].strip(),
        cpus_per_run=float(values["cpus_per_run"]),
        gpus_per_run=float(values["gpus_per_run"]),
        max_retries=int(values["max_retries"]),
        local_cpus=int(values["local_cpus"]) or None,
    )
    return spec, points, settings


def render() -> None:
    """The form and its Start button."""
    st.caption(
        "Every combination of the values below is one run in the store; the runs "
        "execute as Ray tasks in a background process and show on Live as they "
        "start. The runs root must be a filesystem every Ray node sees."
    )
    values = _values(SweepSpec, 3)
    values.update(_values(RaySettings, 3))
    name = st.text_input("Sweep name (optional)", key=PREFIX + "name", max_chars=80)
    if not st.button("Start sweep", key="sweep.go", icon=":material/grid_on:"):
        return
    from engine.sweeps import background, record
    from engine.sweeps.ray_cluster import check_reachable

    store = app_state.store()
    try:
        spec, points, settings = build(values)
        check_reachable(settings.address)
        sweep = record.create(store, spec, points, settings.to_dict(), name.strip())
        pid = background.start(store, sweep)
    except (SweepError, RunError, OSError) as e:
        st.error(str(e))
        return
    st.session_state["sweep.started"] = sweep.sweep_id
    st.success(
        f"Sweep {sweep.sweep_id}: {len(points)} runs, executing in process {pid} "
        f"({settings.describe()}). Follow them on Live; the Runs page shows the "
        "sweep with its seed bands."
    )
