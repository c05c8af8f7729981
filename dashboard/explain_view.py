"""The Explain tab of the Dataset page and the talk clip buttons (Streamlit).

Results are computed in background threads (`explain_tasks.TaskManager`, one per
server process, kept in `st.cache_resource`), cached on disk, and drawn with
`charts_explain`. While a computation runs, an `st.fragment` redraws its progress
bar every second and reruns the page when it ends.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import streamlit as st

from dashboard import charts_explain as cx
from dashboard import explain_tasks as tasks
from dashboard import metrics as m
from dashboard import sources, widgets
from dashboard import state as app_state

POLL_SECONDS = 1.0


@st.cache_resource(show_spinner=False)
def _manager():
    return tasks.TaskManager(nice_fn=app_state.yield_cpu_to_ui)


def manager() -> tasks.TaskManager:
    """The process-wide manager of explain and talk clip computations."""
    return _manager()


def _store(src):
    return app_state.store() if src.kind == "run" else None


# Settings ----------
def settings_form(ds, key: str) -> dict | None:
    """Explain settings, one widget per `ExplainConfig` field (help: its docstring;
    `engine.studies.params.fields_of`, as the Studies page's forms).

    Returns the settings as JSON values, or None after showing why they are invalid.
    """
    from engine.explain import ExplainConfig, ExplainError, check
    from engine.studies.params import StudyError, fields_of, parse_field

    defaults = tasks.default_settings()
    spec = ds.spec
    skip = set()
    if ds.meta.get("fixed_init_seed") is None:
        skip.add("random_inits")
    if spec.discrete:
        skip.add("label_scales")
    if spec.family != "classic":
        skip |= {"dims", "hold", "grid"}
    infos = [f for f in fields_of(ExplainConfig) if f.name not in skip]
    state_key = f"{key}.settings"
    current = st.session_state.get(state_key, defaults)
    with st.expander("Settings", expanded=False):
        if spec.family == "classic":
            st.caption(
                "State dimensions: "
                + ", ".join(f"{j} {spec.feature_name(j)}" for j in range(spec.obs_size))
            )
        with st.form(f"{key}.form", border=False):
            cols = st.columns(4)
            values = {}
            for i, f in enumerate(infos):
                col = cols[i % 4]
                label = f.name.replace("_", " ")
                v = current.get(f.name, defaults[f.name])
                if f.kind == "bool":
                    values[f.name] = col.checkbox(label, value=bool(v), help=f.doc)
                elif f.kind in ("ints", "floats"):
                    values[f.name] = col.text_input(
                        label, value=",".join(str(x) for x in v), help=f.doc
                    )
                else:
                    values[f.name] = col.number_input(
                        label, value=int(v), step=1, help=f.doc
                    )
            apply = st.form_submit_button("Apply settings")
    if apply:
        try:
            new = dict(defaults)
            for f in infos:
                v = parse_field(f, values[f.name])
                new[f.name] = list(v) if isinstance(v, tuple) else v
        except StudyError as e:
            st.error(f"Invalid settings: {e}")
            return None
        st.session_state[state_key] = current = new
    try:
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in current.items()}
        check(ds, ExplainConfig(**kw))
    except ExplainError as e:
        st.error(str(e))
        return None
    return current


# The tab ----------
def explain_tab(ds, src: sources.Source | None, key: str) -> None:
    """Pair importance, label sensitivity, policy map and coverage of `ds`."""
    if src is None:
        st.info("Explain works on datasets from runs, imported files and demos.")
        return
    st.caption(
        "Why does this dataset work? Fresh policies trained on the dataset without "
        "each pair, on each pair alone and with each label changed (all variants in "
        "one batched, compiled call with the same inits), the trained policy's "
        "actions across the state space, and how the synthetic states sit among "
        "the states that policy visits."
    )
    settings = settings_form(ds, key)
    if settings is None:
        return
    store = _store(src)
    path = tasks.bundled_explain(src, ds, settings) or tasks.explain_path(
        src, ds, settings, None, store, app_state.runs_root()
    )
    res = tasks.load_result(path)
    if res is not None:
        draw_result(res, ds, path, src, key)
        return
    mgr = manager()
    info = mgr.info(str(path))
    if info is None or (info["done"] and not info["error"]):
        if st.button(
            "Explain this dataset",
            key=f"{key}.go",
            type="primary",
            icon=":material/insights:",
            help="Computed in the background; the result is cached.",
        ):
            fn = functools.partial(tasks.compute_explain, ds, settings, None, path)
            mgr.start(str(path), fn, label="explain")
            st.rerun()
        return
    if info["error"] and info["done"]:
        st.error(f"Explain failed: {info['error']}")
        if st.button("Try again", key=f"{key}.retry"):
            fn = functools.partial(tasks.compute_explain, ds, settings, None, path)
            mgr.start(str(path), fn, label="explain")
            st.rerun()
        return
    st.fragment(run_every=POLL_SECONDS)(_progress)(str(path), f"{key}.progress")


def _progress(task_key: str, key: str) -> None:
    info = manager().info(task_key)
    if info is None or info["done"]:
        st.rerun(scope="app")
        return
    took = m.fmt_seconds(time.time() - info["started"])
    st.progress(info["fraction"], text=f"{info['message']} ({took})")
    st.caption(
        "Computing in the background: the first run of a config compiles its "
        "program (seconds on CartPole, a minute or two on Brax)."
    )


def draw_result(res: dict, ds, path: Path, src, key: str) -> None:
    t = res.get("timings", {})
    st.markdown(cx.headline(res))
    st.caption(
        f"{res['inits']} "
        + ("fixed-init (HaDES-F)" if res.get("fixed_init") else "fresh")
        + f" policies per variant, {t.get('variant_count', '?')} variants; "
        f"computed in {m.fmt_seconds(t.get('total'))}. Cached: `{path}`."
    )
    for name in ("importance", "label_sensitivity"):
        widgets.plotly(cx.figure(name, res, f"{key}.{name}"), f"{key}.{name}")
    c1, c2 = st.columns(2)
    with c1:
        widgets.plotly(cx.figure("policy_map", res, f"{key}.map"), f"{key}.map")
        st.caption(res["policy_map"].get("note", ""))
    with c2:
        widgets.plotly(cx.figure("coverage", res, f"{key}.cov"), f"{key}.cov")
        cov = res["coverage"]
        st.caption(
            f"{cov['visited_count']} visited states ({cov['space']}); visited "
            f"states lie {cov['typical_spacing']:.3f} apart (median nearest "
            "neighbour)."
        )
    st.dataframe(cx.coverage_table(res), hide_index=True)
    _nearest_pictures(res, ds, path, src, key)
    st.download_button(
        "Download results (.json)",
        data=Path(path).read_bytes(),
        file_name=f"{widgets.source_stem(src)}-explain.json",
        mime="application/json",
        key=f"{key}.dl",
        icon=":material/download:",
    )


def _nearest_pictures(res, ds, path, src, key) -> None:
    """Synthetic states above their nearest visited states (drawn once, cached)."""
    png = tasks.cache_dir(src, _store(src), app_state.runs_root()) / (
        Path(path).stem + "-nearest.png"
    )
    if not png.is_file():
        try:
            from PIL import Image

            from engine.render.nearest import nearest_image

            with st.spinner("Drawing the synthetic and nearest visited states..."):
                img = nearest_image(ds, res, cell=140)
            png.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(png, format="PNG")
        except Exception as e:  # noqa: BLE001 - no GL for Brax, ...
            st.caption(f"No pictures of the nearest states: {type(e).__name__}: {e}")
            return
    st.image(str(png), width="stretch")


# Talk clip ----------
def talk_clip_button(src: sources.Source | None, key: str) -> None:
    """ "Download talk clip": a demo's bundled clip, or a run's clip (made in the
    background on request)."""
    if src is None:
        return
    if src.kind == "import":
        st.caption("Talk clips are made from runs (they show the checkpoints).")
        return
    store = _store(src)
    path = tasks.talk_path(src, store, app_state.runs_root())
    name = f"{widgets.source_stem(src)}-talk.mp4"
    if path.is_file() and (src.kind == "demo" or not _stale(path, src, store)):
        st.download_button(
            "Download talk clip",
            data=path.read_bytes(),
            file_name=name,
            mime="video/mp4",
            key=f"{key}.talk.dl",
            icon=":material/movie:",
        )
        return
    if src.kind == "demo":
        st.caption("This demo item has no bundled talk clip.")
        return
    if not store.checkpoints(src.ref):
        st.caption(
            "No checkpoints yet: the talk clip shows the dataset at the run's "
            "checkpoints."
        )
        return
    mgr = manager()
    info = mgr.info(str(path))
    if info is not None and not info["done"]:
        st.fragment(run_every=POLL_SECONDS)(_progress)(str(path), f"{key}.talkprog")
        return
    if info is not None and info["error"]:
        st.error(f"Talk clip: {info['error']}")
    if st.button("Make talk clip", key=f"{key}.talk.go", icon=":material/movie:"):
        fn = functools.partial(tasks.compute_talk, src, store, path)
        mgr.start(str(path), fn, label="talk clip")
        st.rerun()


def _stale(path: Path, src, store) -> bool:
    """A run's clip older than its newest dataset or checkpoint is redone."""
    try:
        newest = max(x for x in sources.listing_stamp(src, store) if x)
        return path.stat().st_mtime < newest
    except (ValueError, OSError):
        return False
