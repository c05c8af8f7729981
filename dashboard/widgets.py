"""Streamlit building blocks shared by the pages: badges, pickers, dataset views.

Heavy work is cached: datasets by (source, generation, file time), pictures of
states by the same key. Pages stay thin; the logic lives in `metrics`, `charts`,
`tables`, `sources`, `forms` and `uploads`, which tests call directly.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from dashboard import charts, sources, tables
from dashboard import metrics as m
from dashboard import state as app_state

STATUS_ICONS = {
    "queued": ":material/schedule:",
    "compiling": ":material/memory:",
    "running": ":material/play_arrow:",
    "paused": ":material/pause:",
    "stopped": ":material/stop:",
    "finished": ":material/check:",
    "failed": ":material/error:",
}


def status_badge(status: str) -> None:
    st.badge(
        status,
        icon=STATUS_ICONS.get(status),
        color=m.STATUS_COLOURS.get(status, "gray"),
    )


def plotly(fig, key: str) -> None:
    """A plotly chart with a stable key (zoom survives reruns) and no mode bar
    logo; plotly.js ships with Streamlit, nothing loads from the internet."""
    st.plotly_chart(
        fig,
        key=key,
        width="stretch",
        config={
            "displaylogo": False,
            "modeBarButtonsToRemove": ["select2d", "lasso2d"],
        },
    )


# Runs ----------
def run_label(r: dict) -> str:
    """id · name · env N · progress (the status badge beside it says the rest)."""
    name = f" \u00b7 {r['name']}" if r.get("name") else ""
    gen = r.get("generation")
    total = r.get("total_generations")
    done = r.get("status") not in m.ACTIVE
    prog = (
        f" \u00b7 {r.get('status')} at gen {gen}/{total}"
        if done and gen is not None and total
        else ""
    )
    return f"{r['id']}{name} \u00b7 {r.get('env')} N={r.get('size')}{prog}"


def run_picker(rows: list[dict], key: str, label: str = "Run") -> str | None:
    """Select a run (default: the session's run, else the newest active one)."""
    if not rows:
        return None
    ids = [r["id"] for r in rows]
    labels = {r["id"]: run_label(r) for r in rows}
    current = app_state.selected_run()
    if current not in ids:
        active = [r["id"] for r in rows if r.get("status") in m.ACTIVE]
        current = active[0] if active else ids[0]
    if (
        st.session_state.get(key) not in ids
        or st.session_state.get(key + ".follow") != current
    ):
        st.session_state[key] = current
        st.session_state[key + ".follow"] = current
    run_id = st.selectbox(label, ids, key=key, format_func=lambda i: labels[i])
    if run_id != current:
        app_state.select_run(run_id)
        st.session_state[key + ".follow"] = run_id
    return run_id


# Dataset sources ----------
SOURCE_KINDS = {"run": "Runs", "import": "Imported files", "demo": "Demo assets"}


def source_picker(key: str) -> sources.Source | None:
    """Pick a dataset source; defaults to the session's source or selected run."""
    store = app_state.store()
    options = {
        "run": sources.run_sources(store),
        "import": sources.import_sources(app_state.imports_dir()),
        "demo": sources.demo_sources(sources.demo_dir()),
    }
    default = sources.parse_key(st.session_state.get(app_state.SOURCE_KEY))
    if default is None and app_state.selected_run():
        default = sources.Source("run", app_state.selected_run())
    kinds = [k for k in SOURCE_KINDS if options[k]]
    if not kinds:
        st.info(
            "No dataset yet: launch a run, import a file, or generate the demo "
            "assets (scripts/make_demo_assets.py)."
        )
        return None
    kind_default = default.kind if default and default.kind in kinds else kinds[0]
    c1, c2 = st.columns([1, 3])
    kind = c1.radio(
        "Source",
        kinds,
        index=kinds.index(kind_default),
        format_func=SOURCE_KINDS.get,
        key=f"{key}.kind",
    )
    keys = [s.key for s in options[kind]]
    labels = {s.key: s.label or s.ref for s in options[kind]}
    idx = keys.index(default.key) if default and default.key in keys else 0
    chosen = c2.selectbox(
        SOURCE_KINDS[kind][:-1].lower() if kind != "run" else "run",
        keys,
        index=idx,
        format_func=lambda k: labels[k],
        key=f"{key}.{kind}",
    )
    st.session_state[app_state.SOURCE_KEY] = chosen
    src = sources.parse_key(chosen)
    if src is not None and src.kind == "run":
        app_state.select_run(src.ref)
    return src


def _store_for(src: sources.Source):
    """The run store, only for run sources (demo and imports need no engine)."""
    return app_state.store() if src.kind == "run" else None


def _stamp(src: sources.Source, generation: int | None) -> float:
    return sources.stamp(src, generation, _store_for(src))


@st.cache_data(max_entries=128, show_spinner=False)
def _load_dataset(key: str, generation: int | None, stamp: float, root: str):
    src = sources.parse_key(key)
    return sources.load(src, generation, store=_store_for(src))


@st.cache_data(max_entries=16, show_spinner=False)
def _snapshots(key: str, stamp: tuple, root: str) -> list[int]:
    src = sources.parse_key(key)
    return sources.snapshots(src, store=_store_for(src))


def snapshots(src: sources.Source) -> list[int]:
    try:
        return _snapshots(
            src.key,
            sources.listing_stamp(src, _store_for(src)),
            str(app_state.runs_root()),
        )
    except Exception:
        return []


def _cached(src: sources.Source, generation: int | None):
    return _load_dataset(
        src.key, generation, _stamp(src, generation), str(app_state.runs_root())
    )


def load_dataset(src: sources.Source, generation: int | None = None):
    """The dataset (cached), or None after showing the error."""
    from engine.dataset import DatasetError

    errors: tuple = (DatasetError, OSError)
    if src.kind == "run":
        from engine.runs import RunError

        errors += (RunError,)
    try:
        return _cached(src, generation)
    except errors as e:
        st.warning(str(e))
        return None


def generation_picker(src: sources.Source, key: str) -> int | None:
    """A slider over the generations the source has (None when only one)."""
    gens = snapshots(src)
    if len(gens) <= 1:
        return gens[0] if gens else None
    if st.session_state.get(key) not in gens:
        st.session_state.pop(key, None)
    return st.select_slider(
        "Generation (checkpoints)",
        options=gens,
        value=gens[-1],
        key=key,
        help="The ES mean dataset at each kept checkpoint; the last is the current "
        "dataset.",
    )


# Dataset views ----------
@st.cache_data(max_entries=32, show_spinner=False)
def _images(key: str, generation, stamp: float, size: int, estimate: bool):
    from engine.render import raw_states, state_images

    ds = _load_dataset(key, generation, stamp, str(app_state.runs_root()))
    raw, note = raw_states(ds, estimate=estimate)
    return state_images(ds, (size, size), raw=raw), note


def describe(ds) -> None:
    facts = tables.describe(ds)
    st.caption(" \u00b7 ".join(f"**{k}** {v}" for k, v in facts.items()))


TABS = ("Pictures", "Heatmap", "Labels", "Table", "Over generations")
EXPLAIN_TAB = "Explain"


def dataset_views(
    ds,
    key: str,
    src: sources.Source | None = None,
    generation: int | None = None,
    pictures_png: str | os.PathLike | None = None,
    history: bool = True,
    render: bool = True,
    explain=None,
) -> None:
    """Pictures, heatmap, labels, table, (for sources with several checkpoints)
    the states over generations and, with `explain(ds, src, key)`, an Explain tab
    drawn by that function. Only the open tab is computed."""
    describe(ds)
    names = tables.feature_names(ds)
    lnames = tables.label_names(ds)
    multi = src is not None and history and len(snapshots(src)) > 1
    tab_names = list(TABS if multi else TABS[:-1])
    if explain is not None:
        tab_names.append(EXPLAIN_TAB)
    tabs = st.tabs(tab_names, key=f"{key}.tab", on_change="rerun")
    raw_ok = ds.obs_mean is not None or ds.obs_norm == "none"
    with tabs[0]:
        if tabs[0].open:
            _pictures(ds, key, src, generation, pictures_png, render)
    with tabs[1]:
        if tabs[1].open:
            _heatmap(ds, key, names, lnames, raw_ok)
    with tabs[2]:
        if tabs[2].open:
            _labels(ds, key, lnames)
    with tabs[3]:
        if tabs[3].open:
            raw_t = st.toggle(
                "un-normalised", value=False, key=f"{key}.rawt", disabled=not raw_ok
            )
            st.dataframe(
                tables.dataset_table(ds, raw_t and raw_ok),
                hide_index=True,
                width="stretch",
            )
    if multi:
        with tabs[4]:
            if tabs[4].open:
                _history(src, key, names)
    if explain is not None:
        with tabs[-1]:
            if tabs[-1].open:
                explain(ds, src, key=f"{key}.explain")


def _heatmap(ds, key, names, lnames, raw_ok) -> None:
    raw = st.toggle(
        "un-normalised",
        value=False,
        key=f"{key}.raw",
        disabled=not raw_ok,
        help="Show observations in the env's own units (needs stored "
        "normalisation statistics).",
    )
    values, note = tables.state_matrix(ds, raw and raw_ok)
    kind = "action values" if ds.label_kind == "continuous" else "class probabilities"
    st.caption(f"States: {note}. Labels: {kind}.")
    plotly(
        charts.states_heatmap(
            values, names, tables.label_matrix(ds), lnames, uirevision=f"{key}.heat"
        ),
        key=f"{key}.heatmap",
    )


def _labels(ds, key, lnames) -> None:
    spec = ds.spec
    bounds = (spec.action_low, spec.action_high) if not spec.discrete else None
    plotly(
        charts.label_bars(
            tables.label_matrix(ds),
            lnames,
            ds.label_kind,
            uirevision=f"{key}.labels",
            bounds=bounds,
        ),
        key=f"{key}.labelbars",
    )
    if ds.label_kind == "continuous":
        st.caption("Dashed: the executed range (the env clips actions).")
    elif ds.label_kind == "onehot":
        st.caption("Fixed one-hot labels (round robin over the actions).")
    else:
        st.caption("Evolved soft labels: softmax of the label logits.")


def _pictures(ds, key, src, generation, pictures_png, render=True) -> None:
    if pictures_png is not None and Path(pictures_png).is_file():
        st.image(str(pictures_png), caption="pre-rendered states", width="stretch")
        return
    spec = ds.spec
    if not render:
        st.info(
            "Pictures of this generation are not pre-rendered; the Dataset page "
            "draws them (Brax robots need MuJoCo rendering)."
        )
        return
    estimate = False
    if spec.family == "brax" and ds.obs_mean is None and ds.obs_norm != "none":
        estimate = st.toggle(
            "estimate running statistics",
            value=False,
            key=f"{key}.estimate",
            help="The dataset stores no normalisation statistics: without them the "
            "states are drawn as stored. Estimating trains a policy and rolls it "
            "out (seconds on CPU, a minute for the first Brax compile).",
        )
    size = 200 if spec.family != "brax" else 220
    if src is None:
        st.info("Pictures are drawn for datasets from runs, imports and demos.")
        return
    try:
        with st.spinner("Drawing the states..."):
            images, note = _images(
                src.key, generation, _stamp(src, generation), size, estimate
            )
    except Exception as e:  # RenderError, missing GL, ...
        st.warning(f"Could not draw the states: {type(e).__name__}: {e}")
        return
    st.caption(f"States {note}.")
    cols = min(4, len(images)) if spec.family != "minatar" else min(6, len(images))
    grid = st.columns(cols)
    for i, img in enumerate(images):
        grid[i % cols].image(img, width="stretch")
    if spec.family == "minatar":
        from engine.render import minatar

        chans = [c.split("[")[0] for c in spec.feature_names[: spec.obs_shape[-1]]]
        st.image(minatar.legend(chans, 720), width=720)
        st.caption(f"MinAtar grid: {minatar.MAPPING}.")
    elif spec.family == "classic":
        from engine.render.states import CLASSIC_NOTES

        if CLASSIC_NOTES.get(ds.env):
            st.caption(CLASSIC_NOTES[ds.env])


MAX_HISTORY = 40


def _history(src, key, names) -> None:
    gens = snapshots(src)
    if len(gens) > MAX_HISTORY:
        step = (len(gens) - 1) / (MAX_HISTORY - 1)
        gens = sorted({gens[round(i * step)] for i in range(MAX_HISTORY)})
    if src.kind == "run":
        st.caption(
            f"{len(gens)} checkpoints: each is rebuilt from its ES state once (cached)."
        )
    snaps = []
    with st.spinner("Loading the checkpoints..."):
        for g in gens:
            snaps.append((g, tables.state_matrix(_cached(src, g))[0]))
    st.caption("Press play, or drag the slider: the states as the policy sees them.")
    plotly(
        charts.history_animation(snaps, names, uirevision=f"{key}.hist"),
        key=f"{key}.history",
    )


# Misc ----------
def source_stem(src: sources.Source) -> str:
    """A short name for files made from a source."""
    if src.kind == "run":
        return src.ref
    return Path(src.ref).stem if src.kind == "import" else Path(src.ref).name


def demo_states_png(src: sources.Source) -> Path | None:
    p = Path(src.ref) / "states.png"
    return p if p.is_file() else None


def dataset_bytes(ds) -> bytes:
    """The dataset as our .npz format, in memory (for a download button)."""
    import tempfile

    from engine import dataset as ds_lib

    with tempfile.TemporaryDirectory(prefix="hades-dl-") as tmp:
        path = Path(tmp) / "dataset.npz"
        ds_lib.save(ds, path)
        return path.read_bytes()


def sidebar() -> None:
    """Runs root and the jobs computing in this dashboard, in the sidebar."""
    with st.sidebar:
        st.caption(f"Runs: `{app_state.runs_root()}`")
        try:
            jobs = [j for j in app_state.manager().jobs() if not j["done"]]
        except Exception:
            jobs = []
        if jobs:
            st.caption(
                "Computing here: " + ", ".join(f"`{j['run_id']}`" for j in jobs[:3])
            )
