"""Runs: the run table from the store's SQLite index (filter, sort), curves of
several runs overlaid (mean and spread over seeds), config diff, downloads, delete."""

import datetime as dt
import tempfile
from pathlib import Path

import streamlit as st

from dashboard import charts, sweep_panel, widgets
from dashboard import metrics as m
from dashboard import state as app_state
from engine.runs import RunError
from engine.runs.index import SORT_KEYS

METRICS = {
    "mean_dataset_return": "mean-dataset return",
    "fitness_mean": "population mean",
    "fitness_max": "population max",
    "best_fitness": "best so far",
}
MAX_OVERLAY = 16
COMPARE = app_state.COMPARE_KEY  # run ids to preselect (set by other pages, tests)
ANY_STUDY, NO_STUDY = "(any)", "(no study)"  # the study filter's other options


def table_rows(rows: list[dict]) -> dict[str, list]:
    def when(t):
        return dt.datetime.fromtimestamp(t) if t else None

    return {
        "id": [r["id"] for r in rows],
        "name": [r.get("name") or "" for r in rows],
        "env": [r.get("env") for r in rows],
        "N": [r.get("size") for r in rows],
        "strategy": [r.get("strategy") for r in rows],
        "pop.": [r.get("population") for r in rows],
        "seed": [r.get("seed") for r in rows],
        "status": [r.get("status") for r in rows],
        "gen": [
            f"{r.get('generation') or 0}/{r.get('total_generations') or '?'}"
            for r in rows
        ],
        "best": [r.get("best_fitness") for r in rows],
        "mean dataset": [r.get("mean_dataset_return") for r in rows],
        "created": [when(r.get("created")) for r in rows],
        "parent": [r.get("parent") or "" for r in rows],
        "study": [r.get("study") or "" for r in rows],
        "host": [r.get("host") or "" for r in rows],
    }


def study_filter(all_rows: list[dict], col) -> str:
    """A selectbox of the studies whose runs are in the store (plus any / none);
    another page may ask for one study (`app_state.STUDY_FILTER_KEY`)."""
    studies = sorted({r["study"] for r in all_rows if r.get("study")}, reverse=True)
    options = [ANY_STUDY, NO_STUDY, *studies]
    asked = st.session_state.pop(app_state.STUDY_FILTER_KEY, None)
    if asked in options:
        st.session_state["runs.study"] = asked
    elif st.session_state.get("runs.study") not in options:
        st.session_state["runs.study"] = ANY_STUDY
    return col.selectbox(
        "Study",
        options,
        key="runs.study",
        help="Runs a study distilled carry its id (see the Studies page).",
    )


def keep(r: dict, f_study: str) -> bool:
    if f_study == ANY_STUDY:
        return True
    return (r.get("study") or None) == (None if f_study == NO_STUDY else f_study)


def overlay(store, ids: list[str]) -> None:
    c1, c2 = st.columns([2, 1])
    metric = c1.selectbox(
        "Curve", list(METRICS), format_func=METRICS.get, key="runs.metric"
    )
    group = c2.toggle(
        "group seeds (mean and spread)",
        value=True,
        key="runs.group",
        help="Runs whose configs differ only in the seed become one "
        "curve: their mean, with a band from the lowest to the highest.",
    )
    groups: dict[str, tuple[str, list]] = {}
    for rid in ids[:MAX_OVERLAY]:
        try:
            cfg = store.read_config(rid).get("config") or {}
            rows, damage = store.scan_metrics(rid)
        except RunError as e:
            st.warning(str(e), icon=":material/warning:")
            continue
        if damage:
            st.warning(damage, icon=":material/warning:")
        gens, _ = m.split_rows(rows)
        curve = m.series(gens, metric)
        if group:
            k = m.seed_group_key(cfg)
            env = (cfg.get("env") or {}).get("name", "?")
            n = (cfg.get("dataset") or {}).get("size", "?")
            label = groups.get(k, (f"{env} N={n} ({rid[-6:]}...)", []))[0]
            groups.setdefault(k, (label, []))[1].append(curve)
        else:
            groups[rid] = (rid, [curve])
    widgets.plotly(
        charts.overlay_figure(
            list(groups.values()), METRICS[metric], uirevision="runs-overlay"
        ),
        key="runs.overlay",
    )


def config_diff(store, ids: list[str]) -> None:
    only = st.toggle("only differences", value=True, key="runs.only_diff")
    configs = {}
    for rid in ids[:MAX_OVERLAY]:
        try:
            configs[rid] = store.read_config(rid).get("config") or {}
        except RunError:
            continue
    rows = m.config_diff(configs, only_differences=only)
    if not rows:
        st.caption("The configs are identical.")
        return
    st.dataframe(rows, hide_index=True, width="stretch")


def files_and_delete(store, rid: str) -> None:
    paths = store.paths(rid)
    c1, c2, c3, c4 = st.columns(4)
    if paths.dataset.is_file():
        c1.download_button(
            "dataset.npz",
            paths.dataset.read_bytes(),
            file_name=f"{rid}-dataset.npz",
            key="runs.dl_ds",
            icon=":material/download:",
        )
    else:
        c1.caption("no dataset yet")
    if paths.config.is_file():
        c2.download_button(
            "config.json",
            paths.config.read_bytes(),
            file_name=f"{rid}-config.json",
            mime="application/json",
            key="runs.dl_cfg",
            icon=":material/download:",
        )
    else:
        c2.caption("no config.json")
    videos = sorted(paths.media.glob("*.mp4")) if paths.media.is_dir() else []
    if videos:
        v = videos[-1]
        c3.download_button(
            "video (.mp4)",
            v.read_bytes(),
            file_name=f"{rid}-{v.name}",
            mime="video/mp4",
            key="runs.dl_vid",
            icon=":material/download:",
        )
    else:
        c3.caption("no video yet (Rollouts page)")
    zips = st.session_state.setdefault("runs.zips", {})
    if rid in zips:
        c4.download_button(
            "run.zip",
            zips[rid],
            file_name=f"{rid}.zip",
            mime="application/zip",
            key="runs.dl_zip",
            icon=":material/download:",
        )
    elif c4.button("Prepare zip", key="runs.zip", icon=":material/folder_zip:"):
        with tempfile.TemporaryDirectory(prefix="hades-zip-") as tmp:
            out = store.export(rid, Path(tmp) / f"{rid}.zip", checkpoints="last")
            zips.clear()
            zips[rid] = out.read_bytes()
        st.rerun()
    with st.expander("Delete this run"):
        sure = st.checkbox(f"Yes, delete {rid} and all its files", key="runs.sure")
        if st.button(
            "Delete",
            key="runs.delete",
            disabled=not sure,
            type="primary",
            icon=":material/delete:",
        ):
            try:
                store.delete(rid)
            except (RunError, OSError) as e:
                st.error(str(e))
            else:
                if app_state.selected_run() == rid:
                    app_state.select_run(None)
                st.session_state.pop("runs.table", None)
                st.toast(f"Deleted {rid}")
                st.rerun()


# Page ----------
st.title("Runs")
widgets.sidebar()
store = app_state.store()
all_rows = store.list()
if store.index_problem:
    st.warning(store.index_problem, icon=":material/warning:")
damaged = [r for r in all_rows if r.get("status") == "damaged"]
if damaged:
    st.warning(
        f"{len(damaged)} damaged run(s), listed but not resumable:\n"
        + "\n".join(f"- `{r['id']}`: {r.get('message')}" for r in damaged[:10]),
        icon=":material/warning:",
    )
if not all_rows:
    st.info("No runs yet under this runs root.")
    app_state.page_link("launch", "Launch a run")
    st.stop()
f_sweep = sweep_panel.sweep_filter(all_rows)  # a sweep's runs, with seed bands

c1, c2, c3, c4, c5 = st.columns([1.4, 1.4, 1.4, 1.4, 1])
envs = sorted({r.get("env") for r in all_rows if r.get("env")})
statuses = sorted({r.get("status") for r in all_rows if r.get("status")})
f_env = c1.multiselect("Environment", envs, key="runs.env")
f_status = c2.multiselect("Status", statuses, key="runs.status")
f_study = study_filter(all_rows, c3)
f_text = c4.text_input("Name or id contains", key="runs.text")
sort = c5.selectbox("Sort by", SORT_KEYS, key="runs.sort")
desc = c5.toggle("descending", value=True, key="runs.desc")
rows = store.list(sort=sort, desc=desc)
rows = [
    r
    for r in rows
    if (not f_env or r.get("env") in f_env)
    and (not f_status or r.get("status") in f_status)
    and keep(r, f_study)
    and (
        not f_text or f_text.lower() in (r["id"] + " " + (r.get("name") or "")).lower()
    )
]
if f_sweep:
    rows = [r for r in rows if r.get("sweep") == f_sweep]
    sweep_panel.render(store, f_sweep)
st.caption(f"{len(rows)} of {len(all_rows)} runs. Select rows to compare them.")
# Preselect runs another page asked to compare, else the session's run
pre = st.session_state.get(COMPARE) or [app_state.selected_run()]
pre_rows = [i for i, r in enumerate(rows) if r["id"] in pre]
event = st.dataframe(
    table_rows(rows),
    selection_default={"selection": {"rows": pre_rows}} if pre_rows else None,
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="multi-row",
    key="runs.table",
    column_config={
        "best": st.column_config.NumberColumn(format="%.1f"),
        "mean dataset": st.column_config.NumberColumn(format="%.1f"),
        "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
    },
)
picked = [rows[i]["id"] for i in event.selection.rows if i < len(rows)]
if not picked:
    st.stop()

st.subheader(f"{len(picked)} selected")
overlay(store, picked)
with st.expander("Config diff", expanded=len(picked) > 1):
    config_diff(store, picked)
rid = picked[0]
if len(picked) > 1:
    rid = st.selectbox("Files of", picked, key="runs.files_of")
st.markdown(f"**Files of {rid}**")
files_and_delete(store, rid)
c1, c2, c3 = st.columns(3)
if c1.button("Watch in Live", key="runs.live"):
    app_state.select_run(rid)
    app_state.go("live")
if c2.button("Open its dataset", key="runs.dataset"):
    app_state.select_run(rid)
    st.session_state[app_state.SOURCE_KEY] = f"run:{rid}"
    app_state.go("dataset")
if c3.button("Rollouts", key="runs.rollouts"):
    app_state.select_run(rid)
    st.session_state[app_state.SOURCE_KEY] = f"run:{rid}"
    app_state.go("rollouts")
