"""Rollouts: train fresh policies on a dataset (choose inits, width, steps), show
their return distribution, and play a rendered rollout of one of them."""

import hashlib
import json
from pathlib import Path

import streamlit as st

from dashboard import charts, sources, widgets
from dashboard import metrics as m
from dashboard import state as app_state

RESULTS = "rollouts.results"
VIDEOS = "rollouts.videos"
FRAME_CAP = 150
VIDEO_SIZE = (320, 240)


def media_dir(src: sources.Source) -> Path:
    """Where rendered videos go: the run's media/ folder, else beside the runs."""
    if src.kind == "run":
        return app_state.store().paths(src.ref).media
    return app_state.runs_root() / ".media" / widgets.source_stem(src)


def _digest(*parts) -> str:
    return hashlib.sha1(
        json.dumps(parts, sort_keys=True, default=str).encode()
    ).hexdigest()[:10]


def demo_results(src: sources.Source) -> None:
    """A demo item's pre-computed evaluation and video (nothing is computed)."""
    d = Path(src.ref)
    ev = d / "eval.json"
    if ev.is_file():
        res = json.loads(ev.read_text())
        st.markdown(
            f"**Pre-computed:** {res['inits']} fresh policies, mean return "
            f"**{res['mean_return']:.1f}** \u00b1 {res['std_return']:.1f}"
        )
        widgets.plotly(charts.returns_figure(res["per_init"]), key="rollouts.demo_ret")
    vid = d / "rollout.mp4"
    if vid.is_file():
        info = {}
        if (d / "rollout.json").is_file():
            info = json.loads((d / "rollout.json").read_text())
        c, _ = st.columns([1, 1])
        c.video(str(vid), width=480)
        if info:
            c.caption(
                f"episode return {info.get('episode_return', 0):.1f} over "
                f"{info.get('steps')} steps ({info.get('frames')} frames)"
            )


st.title("Rollouts")
widgets.sidebar()
src = widgets.source_picker("rollouts.src")
if src is None:
    st.stop()
gen = widgets.generation_picker(src, key=f"rollouts.gen.{src.key}")
ds = widgets.load_dataset(src, gen)
if ds is None:
    st.stop()
widgets.describe(ds)
if src.kind == "demo":
    with st.expander("Bundled results (no computation)", expanded=True):
        demo_results(src)

from engine.config import ConfigError  # noqa: E402
from engine.evaluate import config_for_dataset  # noqa: E402

try:
    cfg0 = config_for_dataset(ds)
except ConfigError as e:
    st.error(f"This dataset's stored settings are invalid: {e}")
    st.stop()

st.subheader("Train fresh policies on the dataset")
fixed = ds.meta.get("fixed_init_seed") is not None
with st.form("rollouts.form"):
    c1, c2, c3, c4, c5 = st.columns(5)
    inits = c1.number_input(
        "policies (inits)",
        value=8,
        min_value=1,
        max_value=64,
        step=1,
        help="Fresh policy initialisations trained on the dataset and rolled out.",
    )
    width = c2.number_input(
        "width",
        value=int(cfg0.inner.width),
        min_value=1,
        max_value=4096,
        step=16,
        help="Hidden units per layer (transfer: try others).",
    )
    depth = c3.number_input(
        "depth", value=int(cfg0.inner.depth), min_value=1, max_value=8, step=1
    )
    steps = c4.number_input(
        "BC steps",
        value=int(cfg0.inner.steps),
        min_value=1,
        max_value=10000,
        step=10,
        help="Behaviour-cloning gradient steps on the pairs.",
    )
    seed = c5.number_input("seed", value=0, min_value=0, step=1)
    random_inits = st.checkbox(
        "random inits (ignore the HaDES-F fixed init)",
        value=False,
        disabled=not fixed,
        help="A HaDES-F dataset is made for one fixed init; with random inits it "
        "shows how much it depends on it.",
    )
    go = st.form_submit_button("Train and evaluate", type="primary")

overrides = {}
if width != cfg0.inner.width:
    overrides["inner.width"] = int(width)
if depth != cfg0.inner.depth:
    overrides["inner.depth"] = int(depth)
if steps != cfg0.inner.steps:
    overrides["inner.steps"] = int(steps)
run_key = _digest(src.key, gen, int(inits), int(seed), bool(random_inits), overrides)
results = st.session_state.setdefault(RESULTS, {})
if go:
    from engine.evaluate import evaluate_dataset

    with st.spinner(
        f"Training {inits} policies and rolling them out "
        f"({cfg0.fitness.num_envs} envs x {cfg0.fitness.num_steps} steps each)..."
    ):
        try:
            res = evaluate_dataset(
                ds,
                inits=int(inits),
                seed=int(seed),
                random_inits=bool(random_inits),
                overrides=overrides or None,
            )
        except (ConfigError, ValueError) as e:
            st.error(str(e))
        else:
            results[run_key] = res.to_dict()
res = results.get(run_key)
if res is not None:
    kind = "the fixed HaDES-F init" if res["fixed_init"] else "fresh random inits"
    st.markdown(
        f"Mean return **{res['mean_return']:.1f}** \u00b1 {res['std_return']:.1f} "
        f"over {res['inits']} policies ({kind})"
        + (
            f", with {', '.join(f'{k} = {v}' for k, v in overrides.items())}"
            if overrides
            else ""
        )
    )
    widgets.plotly(charts.returns_figure(res["per_init"]), key="rollouts.returns")
    with st.expander("Per policy"):
        st.dataframe(
            {
                "policy": list(range(len(res["per_init"]))),
                "return": res["per_init"],
                "final BC loss": res["bc_loss"],
            },
            hide_index=True,
        )

st.subheader("Watch one policy")
c1, c2 = st.columns([1, 3])
vseed = c1.number_input(
    "policy seed",
    value=0,
    min_value=0,
    step=1,
    key="rollouts.vseed",
    help="Seed of the policy's init and of the episode.",
)
render = c1.button("Render rollout", key="rollouts.render", icon=":material/movie:")
videos = st.session_state.setdefault(VIDEOS, {})
vkey = _digest(src.key, gen, int(vseed), overrides)
if render:
    from engine.render import RenderError, render_rollout

    out = (
        media_dir(src)
        / f"rollout-g{gen if gen is not None else 'x'}-s{vseed}-{vkey}.mp4"
    )
    with st.spinner("Training a policy, rolling out one episode and drawing it..."):
        try:
            info = render_rollout(
                ds,
                out,
                seed=int(vseed),
                frame_cap=FRAME_CAP,
                size=VIDEO_SIZE,
                overrides=overrides or None,
            )
        except (RenderError, ConfigError, OSError, ValueError) as e:
            c2.error(f"Could not render: {e}")
        else:
            videos[vkey] = info
info = videos.get(vkey)
if info is not None and Path(info["path"]).is_file():
    c2.video(info["path"], width=480)
    c2.caption(
        f"episode return {info['episode_return']:.1f} over {info['steps']} steps"
        + ("" if info["episode_ended"] else " (episode cut at the step limit)")
        + f"; {info['frames']} frames at {info['fps']:.0f} fps, rendered in "
        f"{m.fmt_seconds(info['seconds_rollout'] + info['seconds_draw'])}"
    )
else:
    c2.caption(
        "An H.264 video of one freshly trained policy acting in the "
        "environment (first episode, at most 150 frames)."
    )
