"""Demo: the bundled runs in ``sources.demo_dir()`` (dashboard/assets/demo: a
CartPole run with two seeds, a Breakout run, a hopper dataset with its pre-rendered
video) shown with the same views as live runs, and each run's talk clip (played and
downloaded), without computing anything: no JAX, no network. Regenerate them with
``scripts/make_demo_assets.py``."""

import json
from pathlib import Path

import streamlit as st

from dashboard import charts, sources, widgets
from dashboard import metrics as m

DEMO_DIR = sources.demo_dir()


def _json(path: Path) -> dict:
    # Not engine.runs.store.read_json: importing engine.runs imports JAX, and this
    # page computes nothing (tests/dashboard/test_pages.py).
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def curves(item: dict, d: Path) -> None:
    rows = m.read_jsonl(d / "metrics.jsonl")
    gens, events = m.split_rows(rows)
    status = _json(d / "status.json")
    s = m.summary(status, gens)
    cols = st.columns(6)
    for col, (label, value) in zip(
        cols,
        [
            ("generations", f"{s['generation']}"),
            ("pop. mean", m.fmt_num(s["fitness_mean"], 4)),
            ("best so far", m.fmt_num(s["best_fitness"], 4)),
            ("mean dataset", m.fmt_num(s["mean_dataset_return"], 4)),
            ("s / gen (CPU)", m.fmt_seconds(s["seconds_per_generation"])),
            ("compile", m.fmt_seconds(s["compile_seconds"])),
        ],
        strict=True,
    ):
        col.metric(label, value)
    widgets.plotly(
        charts.fitness_figure(gens, events, uirevision=f"demo-{d.name}"),
        key="demo.fitness",
    )
    widgets.plotly(
        charts.diagnostics_figure(gens, events, uirevision=f"demo-diag-{d.name}"),
        key="demo.diag",
    )
    seeds = item.get("seeds") or []
    if len(seeds) > 1:
        st.markdown(f"**{len(seeds)} seeds compared** (mean and spread)")
        labels = {
            "mean_dataset_return": "mean-dataset return",
            "fitness_mean": "population mean",
        }
        metric = st.segmented_control(
            "curve",
            list(labels),
            default="fitness_mean",
            format_func=labels.get,
            key="demo.metric",
        )
        metric = metric or "fitness_mean"
        curves_ = []
        for sub in seeds:
            g, _ = m.split_rows(m.read_jsonl(DEMO_DIR / sub / "metrics.jsonl"))
            curves_.append(m.series(g, metric))
        widgets.plotly(
            charts.overlay_figure(
                [(item["env"], curves_)],
                labels[metric],
                uirevision=f"demo-seeds-{d.name}",
                height=320,
            ),
            key="demo.seeds",
        )
        cfgs = {
            sub: _json(DEMO_DIR / sub / "config.json").get("config", {})
            for sub in seeds
        }
        diff = m.config_diff(cfgs, only_differences=True)
        if diff:
            st.caption("Config diff (only differences):")
            st.dataframe(diff, hide_index=True)


def dataset(item: dict, d: Path) -> None:
    src = sources.Source("demo", str(d), item.get("title", d.name))
    gen = widgets.generation_picker(src, key=f"demo.gen.{d.name}")
    ds = widgets.load_dataset(src, gen)
    if ds is None:
        return
    gens = widgets.snapshots(src)
    final = not gens or gen in (None, gens[-1])
    png = widgets.demo_states_png(src) if final else None
    brax = ds.spec.family == "brax"
    widgets.dataset_views(
        ds, key="demo.ds", src=src, generation=gen, pictures_png=png, render=not brax
    )


def rollout(d: Path) -> None:
    ev = _json(d / "eval.json")
    if ev:
        kind = "fixed init" if ev.get("fixed_init") else "fresh random inits"
        st.markdown(
            f"**{ev['inits']} policies** trained on the final dataset ({kind}): mean "
            f"return **{ev['mean_return']:.1f}** \u00b1 {ev['std_return']:.1f}"
        )
        widgets.plotly(charts.returns_figure(ev["per_init"]), key="demo.returns")
    vid = d / "rollout.mp4"
    if vid.is_file():
        info = _json(d / "rollout.json")
        c, t = st.columns([1, 1])
        c.video(str(vid), width=480)
        if info:
            t.markdown(
                f"One policy trained on the dataset, first episode: return "
                f"**{info.get('episode_return', 0):.1f}** over {info.get('steps')} "
                f"steps ({info.get('frames')} frames at {info.get('fps', 0):.0f} "
                "fps, H.264)."
            )


def talk(item: dict, d: Path) -> None:
    """The bundled talk clip: the dataset over the run beside its fitness curve,
    then a trained policy acting (made by scripts/make_demo_assets.py)."""
    vid = d / "talk.mp4"
    if not vid.is_file():
        st.info("No talk clip bundled for this item (scripts/make_demo_assets.py).")
        return
    info = _json(d / "talk.json")
    st.video(str(vid))
    if info:
        gens = ", ".join(map(str, info.get("generations", [])))
        st.caption(
            f"{info.get('frames')} frames at {info.get('fps', 0):.0f} fps (H.264): "
            f"the dataset at generations {gens}, then a policy trained on it "
            f"(episode return {info.get('episode_return', 0):.1f})."
        )


def talk_download(item: dict, d: Path) -> None:
    vid = d / "talk.mp4"
    if vid.is_file():
        st.download_button(
            "Download talk clip",
            data=vid.read_bytes(),
            file_name=f"hades-demo-{d.name}-talk.mp4",
            mime="video/mp4",
            key="demo.talk.dl",
            icon=":material/movie:",
        )


st.title("Demo")
manifest = sources.demo_manifest(DEMO_DIR)
items = manifest.get("items") or {}
if not items:
    st.info(
        f"No demo assets in {DEMO_DIR}. Generate them with "
        "`PYTHONPATH=. python scripts/make_demo_assets.py` (a few minutes on a CPU)."
    )
    st.stop()
st.caption(
    "Bundled runs that show every view offline, without computing anything. "
    "The Dataset and Rollouts pages open them too (source: Demo assets)."
)
keys = list(items)
choice = (
    st.segmented_control(
        "Demo",
        keys,
        default=keys[0],
        format_func=lambda k: items[k]["title"],
        key="demo.item",
    )
    or keys[0]
)
item = items[choice]
d = DEMO_DIR / item["dir"]
st.markdown(item.get("description", ""))
talk_download(item, d)
# Only the open tab is computed (tabs with on_change="rerun" report `.open`)
t_curves, t_data, t_roll, t_talk = st.tabs(
    ["Curves", "Dataset", "Rollout", "Talk clip"], key="demo.tab", on_change="rerun"
)
with t_curves:
    if t_curves.open:
        curves(item, d)
with t_data:
    if t_data.open:
        dataset(item, d)
with t_roll:
    if t_roll.open:
        rollout(d)
with t_talk:
    if t_talk.open:
        talk(item, d)
