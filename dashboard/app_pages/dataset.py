"""Dataset: the evolved state-action pairs of a run (now or at any checkpoint), an
imported file or a demo asset, as a table, a heatmap, pictures of the states as
the environment shows them, label views, their evolution over generations, and
why they work (Explain); a talk clip of a run to download."""

import streamlit as st

from dashboard import explain_view, widgets
from dashboard import state as app_state

st.title("Dataset")
widgets.sidebar()
src = widgets.source_picker("dataset.src")
if src is None:
    st.stop()
gen = widgets.generation_picker(src, key=f"dataset.gen.{src.key}")
ds = widgets.load_dataset(src, gen)
if ds is None:
    st.stop()
png = None
if src.kind == "demo":
    final = widgets.snapshots(src)
    if ds.spec.family == "brax" and (not final or gen in (None, final[-1])):
        png = widgets.demo_states_png(src)
widgets.dataset_views(
    ds,
    key="dataset",
    src=src,
    generation=gen,
    pictures_png=png,
    explain=explain_view.explain_tab,
)

st.divider()
c1, c2, c3 = st.columns([1, 1, 2])
c1.download_button(
    "Download dataset (.npz)",
    data=widgets.dataset_bytes(ds),
    file_name=widgets.source_stem(src)
    + (f"-g{gen}" if gen is not None else "")
    + ".npz",
    mime="application/octet-stream",
    key="dataset.download",
    icon=":material/download:",
)
with c2:
    app_state.page_link("rollouts", "Train policies on it")
with c3:
    explain_view.talk_clip_button(src, key="dataset")
