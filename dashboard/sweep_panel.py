"""The Runs page's sweep view: pick a sweep, see its grid points with seed bands.

Thin: the numbers come from `dashboard.sweeps`, the figures from `dashboard.charts`.
"""

from __future__ import annotations

import streamlit as st

from dashboard import charts, widgets
from dashboard import sweeps as sw
from engine.sweeps import record
from engine.sweeps.grid import SweepError

ALL = "(all runs)"
KEY = "runs.sweep"  # the selected sweep (the Launch page sets it too)


def sweep_filter(rows: list[dict], container=None) -> str | None:
    """A sweep selector when the store has sweeps; the chosen id or None."""
    ids = sorted({r["sweep"] for r in rows if r.get("sweep")}, reverse=True)
    if not ids:
        return None
    if st.session_state.get(KEY) not in (None, ALL, *ids):
        st.session_state[KEY] = ALL
    pick = (container or st).selectbox(
        "Sweep",
        [ALL, *ids],
        key=KEY,
        help="Keep the runs of one sweep (`hades sweep`): its grid points with the "
        "mean and spread over their seeds.",
    )
    return None if pick == ALL else pick


def render(store, sweep_id: str) -> None:
    """Progress, per-point seed bands (last values and curves) and their table."""
    try:
        sweep = record.load(store, sweep_id)
    except SweepError as e:
        st.warning(str(e))
        return
    rows = record.status_rows(store, sweep)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    done = sum(r["progress"] for r in rows) / max(1, len(rows))
    spec = sweep.data.get("spec") or {}
    ex = sweep.data.get("execution") or {}
    st.progress(
        done,
        text=f"Sweep {sweep_id}: {len(rows)} runs ("
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        + f"), preset {spec.get('preset')}, Ray {ex.get('address')}",
    )
    metric = st.selectbox(
        "Sweep metric", list(sw.METRICS), format_func=sw.METRICS.get, key="runs.sw_m"
    )
    curves = sw.point_curves(store, sweep, metric)
    stats = sw.point_stats(curves)
    label = sw.METRICS[metric]
    c1, c2 = st.columns(2)
    with c1:
        widgets.plotly(
            charts.sweep_points_figure(stats, f"last {label}"), key="runs.sw_points"
        )
    with c2:
        widgets.plotly(
            charts.overlay_figure(
                sw.overlay_groups(curves), label, uirevision="sweep-bands"
            ),
            key="runs.sw_bands",
        )
    st.dataframe(sw.stats_table(stats), hide_index=True, width="stretch")
