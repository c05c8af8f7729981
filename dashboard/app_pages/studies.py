"""Studies: run one of the paper's experiments in the background, follow its
progress, and browse past studies (headline numbers, figures, CSV and PNG files).

A study runs in a thread of the process-wide `StudyManager` (`dashboard.state`), one
at a time, at the same low priority as the runs; its latest progress event is drawn
by an `st.fragment` every 1.5 s while it runs. Past studies are read from
``<runs>/studies/`` (studies started with ``hades study ...`` show too).
"""

from pathlib import Path

import streamlit as st

from dashboard import metrics as m
from dashboard import sources, widgets
from dashboard import state as app_state
from dashboard import studies as study_lib
from dashboard.figures import load_figure
from engine.envs.registry import SPECS
from engine.studies import STUDY_NAMES, StudyError, list_studies

POLL_SECONDS = 1.5  # progress redraws while a study runs (each costs some CPU)
SELECTED = "studies.selected"  # study id to show (set when one finishes, by tests)
TABLE_REV = "studies.table_rev"  # bumped to re-apply the table's default selection
WAS_RUNNING = "studies.was_running"
OVERRIDES_HELP = (
    "One section.field=value per line (e.g. outer.population=32), applied to every "
    "HaDES run the study distils; `hades distill --help` lists the fields."
)
PRESET_HELP = (
    "quick: minutes on a CPU (small grids, few generations); paper: the paper's "
    "sizes (a GPU job)."
)


def _env_select(label: str, key: str, default: str = "CartPole-v1", help=None):
    names = list(SPECS)
    return st.selectbox(
        label,
        names,
        index=names.index(default),
        format_func=lambda n: f"{n}  ({SPECS[n].group})",
        key=key,
        help=help,
    )


def _opt_int(label: str, key: str, help: str | None = None, col=None):
    """An optional count: empty means the preset's value."""
    return (col or st).number_input(
        label, value=None, min_value=1, step=1, placeholder="preset", key=key, help=help
    )


def _overrides(key: str) -> str:
    return st.text_area(
        "Config overrides",
        key=key,
        height=80,
        placeholder="outer.population=32\nouter.generations=20",
        help=OVERRIDES_HELP,
    )


def _dataset_options() -> dict[str, str]:
    """{ref: label} of datasets a transfer study can start from ('' distils one)."""
    store = app_state.store()
    opts = {"": "distil a new one (quick preset) for the environment below"}
    for s in sources.run_sources(store):
        if store.paths(s.ref).dataset.is_file():
            opts[s.ref] = f"run: {s.label}"
    for s in sources.import_sources(app_state.imports_dir()):
        opts[s.ref] = f"imported: {s.label}"
    for s in sources.demo_sources(sources.demo_dir()):
        opts[str(Path(s.ref) / "dataset.npz")] = f"demo: {s.label}"
    return opts


def study_inputs(study: str) -> dict:
    """The inputs of one study (inside the form); returns their values."""
    k = f"studies.{study}"
    v: dict = {}
    if study == "transfer":
        opts = _dataset_options()
        v["dataset"] = st.selectbox(
            "Dataset",
            list(opts),
            format_func=opts.get,
            key=f"{k}.dataset",
            help="A run's dataset, an imported file or a demo asset; or distil "
            "a new one first.",
        )
        c1, c2 = st.columns(2)
        with c1:
            v["env"] = _env_select(
                "Environment (when distilling)",
                f"{k}.env",
                help="Ignored when a dataset is picked above.",
            )
        v["inits"] = _opt_int("Inits per setting", f"{k}.inits", col=c2)
        c1, c2, c3 = st.columns(3)
        v["widths"] = c1.text_input(
            "Widths", key=f"{k}.widths", placeholder="preset, e.g. 32,128,512,2048"
        )
        v["steps"] = c2.text_input(
            "Inner steps", key=f"{k}.steps", placeholder="preset, e.g. 100,300,500"
        )
        v["lrs"] = c3.text_input(
            "Inner learning rates", key=f"{k}.lrs", placeholder="preset, e.g. 5e-4,1e-3"
        )
        v["overrides"] = _overrides(f"{k}.overrides")
    elif study in ("baseline", "size-sweep"):
        c1, c2 = st.columns(2)
        with c1:
            v["env"] = _env_select("Environment", f"{k}.env")
        if study == "baseline":
            v["size"] = _opt_int("Dataset size N", f"{k}.size", col=c2)
        else:
            v["sizes"] = c2.text_input(
                "Dataset sizes N",
                key=f"{k}.sizes",
                placeholder="1,2,4,16,64,256",
                help="Comma-separated; empty: 1,2,4,16,64,256.",
            )
        c1, c2, c3 = st.columns(3)
        v["generations"] = _opt_int("Generations", f"{k}.generations", col=c1)
        v["population"] = _opt_int("Population", f"{k}.population", col=c2)
        v["inits"] = _opt_int(
            "Final evaluations" if study == "baseline" else "Inits per dataset",
            f"{k}.inits",
            col=c3,
            help="Fresh policies scoring each final result.",
        )
        if study == "baseline":
            from engine.studies.baseline import LABELS, METHODS

            v["methods"] = st.multiselect(
                "Methods",
                list(METHODS),
                default=list(METHODS),
                format_func=LABELS.get,
                key=f"{k}.methods",
            )
        v["overrides"] = _overrides(f"{k}.overrides")
    elif study == "multitask":
        v["envs"] = st.multiselect(
            "Environments (tasks)",
            list(SPECS),
            default=["CartPole-v1", "Acrobot-v1"],
            key=f"{k}.envs",
            help="Each is distilled with the preset, then the datasets are merged. "
            "All discrete or all continuous.",
        )
        v["inits"] = _opt_int("Policy inits per task", f"{k}.inits")
        v["overrides"] = _overrides(f"{k}.overrides")
    elif study == "supervised":
        c1, c2 = st.columns([1, 2])
        v["sup_dataset"] = c1.radio(
            "Images",
            study_lib.SUPERVISED_DATASETS,
            key=f"{k}.dataset",
            horizontal=True,
            help="digits: scikit-learn's bundled 8x8 digits. MNIST and "
            "FashionMNIST are read from a local folder (nothing is downloaded).",
        )
        v["data_dir"] = c2.text_input(
            "Local data folder (MNIST / FashionMNIST)",
            key=f"{k}.data_dir",
            placeholder="folder with train-images-idx3-ubyte.gz, ...",
        )
        c1, c2, c3, c4 = st.columns(4)
        v["generations"] = _opt_int("Generations", f"{k}.generations", col=c1)
        v["population"] = _opt_int("Population", f"{k}.population", col=c2)
        v["inner_steps"] = _opt_int("Inner steps", f"{k}.inner_steps", col=c3)
        v["eval_inits"] = _opt_int("Final evaluations", f"{k}.eval_inits", col=c4)
        v["settings"] = st.text_area(
            "More settings",
            key=f"{k}.settings",
            height=80,
            placeholder="fitness_batch=128\nchunk=5",
            help="field=value lines of the supervised settings (sigma, lr, "
            "inner_lr, fitness_batch, chunk, eval_every, ...).",
        )
    else:  # published
        v["folder"] = st.text_input(
            "Folder of the paper's .pkl files",
            value=study_lib.default_published_folder(),
            key=f"{k}.folder",
        )
        v["reference"] = st.text_input(
            "Reference CSV (optional)",
            key=f"{k}.reference",
            placeholder="columns file,reference (merged over the built-in numbers)",
        )
        c1, c2, c3 = st.columns(3)
        v["inits"] = _opt_int("Inits per file", f"{k}.inits", col=c1)
        v["minatar_inits"] = _opt_int(
            "Inits per MinAtar file", f"{k}.minatar_inits", col=c2
        )
        v["max_files"] = _opt_int(
            "At most this many files", f"{k}.max_files", col=c3, help="Empty: all."
        )
        v["overrides"] = st.text_area(
            "Evaluation overrides",
            key=f"{k}.overrides",
            height=80,
            placeholder="fitness.num_steps=64",
            help="section.field=value lines for the inner loop and the rollouts.",
        )
    return v


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
    with st.container(border=True, key="studies-progress"):
        if running:
            frac, text = study_lib.progress_text(info["event"], info["started"])
            st.markdown(f"{title} is running in this dashboard")
            st.progress(frac, text=text)
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
        c1, c2 = st.columns(2)
        values = {
            "preset": c1.radio(
                "Preset",
                ("quick", "paper"),
                horizontal=True,
                key="studies.preset",
                help=PRESET_HELP,
            ),
            "seed": c2.number_input(
                "Seed", min_value=0, value=0, step=1, key="studies.seed"
            ),
        }
        values.update(study_inputs(study))
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
            f"{len(busy)} run(s) are computing in this dashboard: a study shares "
            "the CPU with them."
        )
    if not submitted:
        return
    try:
        kwargs = study_lib.study_kwargs(study, values, app_state.runs_root())
        app_state.study_manager().start(study, kwargs, values["preset"])
    except (StudyError, ValueError, KeyError, OSError) as e:  # ConfigError too
        st.error(str(e))
        return
    st.session_state[WAS_RUNNING] = True
    st.rerun()


def _metrics(pairs: list[tuple[str, str]]) -> None:
    for i in range(0, len(pairs), 4):
        row = pairs[i : i + 4]
        for col, (label, value) in zip(st.columns(4), row, strict=False):
            col.metric(label, value)


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
    with st.expander("Parameters"):
        st.json(row.get("params") or {}, expanded=1)

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
