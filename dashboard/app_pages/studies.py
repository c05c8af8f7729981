"""Studies: run one of the paper's experiments in the background, follow its
progress, and browse past studies (headline numbers, figures, CSV and PNG files,
the runs they distilled), resuming an interrupted one.

The form is generated from the study's `Params` (`dashboard.study_form`): one
widget per field, its docstring as help. A study runs in a thread of the
process-wide `StudyManager` (`dashboard.state`), one at a time, at the same low
priority as the runs; its latest progress event is drawn by an `st.fragment` every
1.5 s while it runs. Its distillations are runs of the store tagged with the study:
they show on the Live and Runs pages like any run. Past studies are read from
``<runs>/studies/`` (studies started with ``hades study ...`` show too).
"""

from pathlib import Path

import streamlit as st

from dashboard import metrics as m
from dashboard import sources, study_form, widgets
from dashboard import state as app_state
from dashboard import studies as study_lib
from dashboard.figures import load_figure
from engine.envs.registry import SPECS
from engine.studies import STUDY_NAMES, StudyError, list_studies

POLL_SECONDS = 1.5  # progress redraws while a study runs (each costs some CPU)
SELECTED = "studies.selected"  # study id to show (set when one finishes, by tests)
TABLE_REV = "studies.table_rev"  # bumped to re-apply the table's default selection
WAS_RUNNING = "studies.was_running"
RESUMABLE = ("failed", "stopped")  # a study that ended without finishing
# Text inputs whose empty default is better shown filled (what None means)
PREFILL = {"studies.published.folder": study_form.default_published_folder}


def _dataset_options() -> dict[str, str]:
    """{ref: label} of the datasets at hand: runs with a dataset, imported files,
    demo assets."""
    store = app_state.store()
    opts = {}
    for s in sources.run_sources(store):
        if store.paths(s.ref).dataset.is_file():
            opts[s.ref] = f"run: {s.label}"
    for s in sources.import_sources(app_state.imports_dir()):
        opts[s.ref] = f"imported: {s.label}"
    for s in sources.demo_sources(sources.demo_dir()):
        opts[str(Path(s.ref) / "dataset.npz")] = f"demo: {s.label}"
    return opts


def _env_label(name: str) -> str:
    return f"{name}  ({SPECS[name].group})"


def field_input(w: study_form.Widget, col):
    """One widget for one field of the study's `Params` (its kind decides)."""
    f, kw = w.field, {"key": w.key, "help": w.help}
    if w.widget == "select":
        opts = list(f.choices)
        return col.selectbox(w.label, opts, index=opts.index(f.default), **kw)
    if w.widget == "multiselect":
        return col.multiselect(w.label, list(f.choices), default=list(f.default), **kw)
    if w.widget == "checkbox":
        return col.checkbox(w.label, value=bool(f.default), **kw)
    if w.widget == "number" and f.kind == "int":
        # Optional counts: empty is the preset's value, else at least 1
        return col.number_input(
            w.label,
            value=None if f.optional else f.default,
            min_value=1 if f.optional else 0,
            step=1,
            placeholder="preset" if f.optional else None,
            **kw,
        )
    if w.widget == "number":
        return col.number_input(
            w.label,
            value=f.default,
            format="%g",
            placeholder="preset" if f.optional else None,
            **kw,
        )
    if w.widget == "env":
        names = list(SPECS)
        index = names.index(f.default) if f.default in names else 0
        return col.selectbox(w.label, names, index=index, format_func=_env_label, **kw)
    if w.widget == "envs":
        return col.multiselect(
            w.label, list(SPECS), default=list(f.default or ()), **kw
        )
    if w.widget in ("dataset", "datasets"):
        opts = _dataset_options()
        if w.widget == "datasets":
            return col.multiselect(w.label, list(opts), format_func=opts.get, **kw)
        opts = {"": "none: distil a new one for the environment above", **opts}
        return col.selectbox(w.label, list(opts), format_func=opts.get, **kw)
    if w.widget == "lines":
        return col.text_area(
            w.label,
            value="\n".join(f.default or ()),
            height=80,
            placeholder="section.field=value, one per line",
            **kw,
        )
    if w.widget == "list":
        shown = ",".join(map(str, f.default)) if f.default else ""
        return col.text_input(
            w.label, value=shown, placeholder="preset" if f.optional else None, **kw
        )
    prefill = PREFILL.get(w.key)
    value = prefill() if prefill else (f.default or "")
    return col.text_input(
        w.label, value=value, placeholder="preset" if f.optional else None, **kw
    )


WIDE = ("multiselect", "envs", "dataset", "datasets", "lines", "text")


def study_inputs(study: str) -> dict:
    """The inputs of one study (inside the form), generated from its `Params`:
    the common ones on one row, short ones three a row, wide ones full width.
    Returns {field name: raw value}."""
    fields = study_form.form_fields(study)
    common = [w for w in fields if w.field.name in study_form.COMMON]
    short = [w for w in fields if w not in common and w.widget not in WIDE]
    wide = [w for w in fields if w not in common and w.widget in WIDE]
    values = {}
    for w, col in zip(common, st.columns(len(common)), strict=True):
        values[w.field.name] = field_input(w, col)
    for i in range(0, len(short), 3):
        for w, col in zip(short[i : i + 3], st.columns(3), strict=False):
            values[w.field.name] = field_input(w, col)
    for w in wide:
        values[w.field.name] = field_input(w, st)
    return values


def progress_panel() -> None:
    """The study of this dashboard: progress while it runs, then how it ended."""
    mgr = app_state.study_manager()
    info = mgr.info()
    running = info is not None and not info["done"]
    was = st.session_state.get(WAS_RUNNING)
    st.session_state[WAS_RUNNING] = running
    if was and not running:
        # Finished: show it in the list below (and stop polling)
        if info and info.get("study_id"):
            st.session_state[SELECTED] = info["study_id"]
            st.session_state[TABLE_REV] = st.session_state.get(TABLE_REV, 0) + 1
        st.rerun(scope="app")
    if info is None:
        return
    title = (
        f"**{study_lib.TITLES.get(info['study'], info['study'])}** ({info['preset']})"
    )
    if info.get("resume"):
        title += " (resumed)"
    with st.container(border=True, key="studies-progress"):
        if running:
            if info.get("queued"):
                st.markdown(f"{title} is queued in this dashboard")
                ahead = ", ".join(f"`{j}`" for j in info.get("waiting_for") or [])
                st.progress(0.0, text=f"waiting for {ahead or 'a free slot'}")
                st.caption(
                    "Runs and studies of this dashboard share one queue: the study "
                    "starts when the job ahead of it ends."
                )
            else:
                frac, text = study_lib.progress_text(info["event"], info["started"])
                st.markdown(f"{title} is running in this dashboard")
                st.progress(frac, text=text)
            rid = (info["event"] or {}).get("run_id")
            if rid:
                st.caption(
                    f"Current run `{rid}`: it shows on the Live page (pause, stop, "
                    "tune) and in Runs (filter by study) like any run."
                )
            c1, c2 = st.columns([1, 5])
            c1.button(
                "Stop",
                key="studies.stop",
                icon=":material/stop:",
                disabled=info["stopping"],
                on_click=mgr.stop,
            )
            c2.caption(
                "Stopping at its next progress step..."
                if info["stopping"]
                else "One study at a time: the next one can start when this one "
                "ends. It keeps running if you leave this page."
            )
        elif info["error"]:
            st.error(f"{title} failed: {info['error']}")
        else:
            took = m.fmt_seconds((info["finished"] or 0) - info["started"])
            st.success(f"{title} finished in {took}: `{info['study_id']}` (below).")


def run_form(running: bool) -> None:
    st.subheader("Run a study")
    study = st.selectbox(
        "Study",
        STUDY_NAMES,
        format_func=lambda s: study_lib.TITLES.get(s, s),
        key="studies.study",
    )
    st.caption(study_lib.DESCRIPTIONS[study])
    with st.form("studies.form", border=True):
        values = study_inputs(study)
        submitted = st.form_submit_button(
            "Run study",
            type="primary",
            icon=":material/science:",
            key="studies.go",
            disabled=running,
        )
    if running:
        st.caption("A study is running: one at a time.")
    try:
        busy = [j for j in app_state.manager().jobs() if not j["done"]]
    except Exception:  # noqa: BLE001 - only a hint
        busy = []
    if busy:
        st.caption(
            f"{len(busy)} run(s) of this dashboard are queued or computing: a "
            "study joins the same queue and starts when a slot is free."
        )
    if not submitted:
        return
    try:
        params = study_form.to_params(study, values)
        study_form.precheck(study, params, app_state.runs_root())
        app_state.study_manager().start(study, params)
    except (StudyError, ValueError, OSError) as e:  # ConfigError too
        st.error(str(e))
        return
    st.session_state[WAS_RUNNING] = True
    st.rerun()


def _metrics(pairs: list[tuple[str, str]]) -> None:
    for i in range(0, len(pairs), 4):
        row = pairs[i : i + 4]
        for col, (label, value) in zip(st.columns(4), row, strict=False):
            col.metric(label, value)


def resume_button(row: dict) -> None:
    """Continue an interrupted study in the background, like a new one."""
    mgr = app_state.study_manager()
    c1, c2 = st.columns([1, 5])
    clicked = c1.button(
        "Resume",
        key="studies.resume",
        icon=":material/play_arrow:",
        type="primary",
        disabled=mgr.running(),
    )
    c2.caption(
        "Continues this study with the parameters it was started with: its "
        "finished runs are kept, an interrupted run resumes from its checkpoint."
        + (" One study at a time: wait for the running one." if mgr.running() else "")
    )
    if not clicked:
        return
    try:
        mgr.resume(row)
    except (StudyError, ValueError, OSError) as e:
        st.error(str(e))
        return
    st.session_state[WAS_RUNNING] = True
    st.rerun()


def study_runs(sid: str, status: str) -> None:
    """The study's distillations: runs of the store tagged with the study."""
    runs = app_state.store().list(study=sid, sort="created", desc=False)
    if not runs:
        st.caption("This study has no runs in the store (it distils nothing itself).")
        return
    active = [r for r in runs if r.get("status") in m.ACTIVE]
    with st.expander(f"Runs of this study ({len(runs)})", expanded=bool(active)):
        st.dataframe(
            {
                "id": [r["id"] for r in runs],
                "name": [r.get("name") or "" for r in runs],
                "status": [r.get("status") for r in runs],
                "gen": [
                    f"{r.get('generation') or 0}/{r.get('total_generations') or '?'}"
                    for r in runs
                ],
                "mean dataset": [r.get("mean_dataset_return") for r in runs],
                "host": [r.get("host") or "" for r in runs],
            },
            hide_index=True,
            width="stretch",
            key=f"studies.runs.{sid}",
            column_config={
                "mean dataset": st.column_config.NumberColumn(format="%.1f")
            },
        )
        c1, c2, _ = st.columns([1, 1, 2])
        if c1.button(
            "Open in Runs", key="studies.open_runs", icon=":material/table_rows:"
        ):
            st.session_state[app_state.STUDY_FILTER_KEY] = sid
            st.session_state[app_state.COMPARE_KEY] = [r["id"] for r in runs]
            app_state.go("runs")
        if active and c2.button(
            "Watch in Live", key="studies.live", icon=":material/monitoring:"
        ):
            app_state.select_run(active[-1]["id"])
            app_state.go("live")


def show_study(row: dict) -> None:
    """One study: status, headline numbers, figures and files."""
    sid = row["study_id"]
    d = Path(row["dir"])
    status = row.get("status") or {}
    s = status.get("status", "?")
    study = study_lib.canonical(row.get("study"))
    results = row.get("results")
    c1, c2 = st.columns([1, 6])
    with c1.container(key="studies-status"):  # .st-key-studies-status for tests
        widgets.status_badge(s)
    c2.markdown(f"**{study_lib.TITLES.get(study, study)}** `{sid}`")
    if s == "failed":
        st.error(f"This study failed: {status.get('message') or 'no reason given'}")
    elif s == "running":
        st.info("Still running: its numbers and figures appear when it finishes.")
    elif results is None:
        st.warning(
            "results.json is missing or unreadable: no headline numbers. The "
            "figures and files the study left are below."
        )
    _metrics(study_lib.headline(study, results))
    if isinstance(results, dict) and isinstance(results.get("table"), str):
        with st.expander("Table"):
            st.markdown(results["table"])
    if s in RESUMABLE:
        resume_button(row)
    with st.expander("Parameters"):
        st.json(row.get("params") or {}, expanded=1)
    study_runs(sid, s)

    figs = sorted((d / "figures").glob("*.json")) if (d / "figures").is_dir() else []
    for f in figs:
        try:
            fig = load_figure(f)
        except Exception as e:  # noqa: BLE001 - a bad file is reported, not raised
            st.warning(f"Figure {f.stem} cannot be read: {type(e).__name__}: {e}")
            continue
        widgets.plotly(fig, key=f"studies.fig.{sid}.{f.stem}")
        png = f.with_suffix(".png")
        if png.is_file():
            st.download_button(
                f"{f.stem}.png",
                png.read_bytes(),
                file_name=f"{sid}-{f.stem}.png",
                mime="image/png",
                key=f"studies.png.{sid}.{f.stem}",
                icon=":material/download:",
            )
    if not figs and s == "finished":
        st.caption("This study left no figures.")

    main_csv = d / f"{row.get('study')}.csv"
    csvs = sorted(d.glob("*.csv"), key=lambda p: (p != main_csv, p.name))
    files = csvs + ([d / "results.json"] if (d / "results.json").is_file() else [])
    if files:
        st.markdown("**Files**")
        cols = st.columns(min(4, len(files)))
        for i, p in enumerate(files):
            cols[i % len(cols)].download_button(
                p.name,
                p.read_bytes(),
                file_name=f"{sid}-{p.name}",
                mime="text/csv" if p.suffix == ".csv" else "application/json",
                key=f"studies.file.{sid}.{p.name}",
                icon=":material/download:",
            )
    st.caption(f"Folder: `{d}`")


def past_studies() -> None:
    st.subheader("Past studies")
    rows = list_studies(app_state.runs_root())
    if not rows:
        st.info(
            "No studies yet under this runs root. Run one above, or from the "
            "command line with `hades study NAME`."
        )
        return
    kinds = sorted({study_lib.canonical(r.get("study")) for r in rows})
    if len(kinds) > 1:
        pick = st.multiselect("Show", kinds, key="studies.filter")
        if pick:
            rows = [r for r in rows if study_lib.canonical(r.get("study")) in pick]
    ids = [r["study_id"] for r in rows]
    selected = st.session_state.get(SELECTED)
    pre = ids.index(selected) if selected in ids else 0
    rev = st.session_state.get(TABLE_REV, 0)
    event = st.dataframe(
        study_lib.table_rows(rows),
        selection_default={"selection": {"rows": [pre]}} if rows else None,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=f"studies.table.{len(rows)}.{rev}",
        column_config={
            "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )
    picked = [i for i in event.selection.rows if i < len(rows)]
    if not picked:
        st.caption("Select a study in the table to see its numbers and figures.")
        return
    row = rows[picked[0]]
    st.session_state[SELECTED] = row["study_id"]
    show_study(row)


# Page ----------
st.title("Studies")
widgets.sidebar()
st.caption(
    "The paper's experiments (Lupu et al., *Behaviour Distillation*, ICLR 2024) as "
    "one-click studies. Each writes a folder under the runs root with its numbers "
    "(CSV), figures (plotly and PNG) and the datasets it distilled."
)
info = app_state.study_manager().info()
running = info is not None and not info["done"]
st.fragment(run_every=POLL_SECONDS if running else None)(progress_panel)()
run_form(running)
past_studies()
