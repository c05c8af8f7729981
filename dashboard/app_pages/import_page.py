"""Import: load a published HaDES pickle (through the engine's safe importer) or
one of our `.npz` datasets, then view and evaluate it like any run."""

from pathlib import Path

import streamlit as st

from dashboard import sources, uploads, widgets
from dashboard import state as app_state

CURRENT = "import.current"  # {"source": key, "notes": [...], "name": str}
DONE = "import.done"
PICK = "import.pick"  # upload file ids already handled -> result or error


def _accept(ds, notes, name: str, digest: str) -> None:
    path = uploads.save_import(ds, app_state.imports_dir(), name, digest=digest)
    src = sources.Source("import", str(path))
    st.session_state[CURRENT] = {"source": src.key, "notes": notes, "name": name}
    st.session_state[PICK] = src.key  # show the file just imported
    st.session_state[app_state.SOURCE_KEY] = src.key


st.title("Import")
widgets.sidebar()
st.caption(
    f"Load a dataset published with the paper (`.pkl`, read by a restricted "
    f"unpickler that refuses anything but arrays and evosax records) or one of "
    f"ours (`.npz`, never unpickled). Files up to {uploads.MAX_UPLOAD_BYTES >> 20} "
    "MB. Imported datasets are kept in the runs root's `.imports` folder."
)
up_col, path_col = st.columns([1.2, 1])
with up_col:
    up = st.file_uploader("Upload a dataset", type=["npz", "pkl"], key="import.upload")
    done = st.session_state.setdefault(DONE, {})
    if up is not None:
        fid = getattr(up, "file_id", None) or f"{up.name}:{up.size}"
        if fid not in done:
            data = up.getvalue()
            try:
                ds, notes = uploads.load_bytes(up.name, data)
            except uploads.UploadError as e:
                done[fid] = str(e)
            else:
                _accept(ds, notes, up.name, uploads.digest(data))
                done[fid] = None
        if done.get(fid):
            st.error(done[fid], icon=":material/block:")
with path_col:
    with st.form("import.path_form", border=False):
        path = st.text_input(
            "...or a path on this machine",
            placeholder="/path/to/brax-hopper-D4-...-seed0.pkl",
        )
        load = st.form_submit_button("Load")
    if load and path.strip():
        try:
            p = Path(path.strip()).expanduser()
            ds, notes = uploads.load_path(p)
            _accept(ds, notes, p.name, uploads.digest(p.read_bytes()))
        except uploads.UploadError as e:
            st.error(str(e), icon=":material/block:")
        except OSError as e:
            st.error(f"{path!r} cannot be read: {e.strerror or e}")

saved = sources.import_sources(app_state.imports_dir())
cur = st.session_state.get(CURRENT)
if cur is None and not saved:
    st.stop()
st.divider()
keys = [s.key for s in saved]
if not keys:
    st.stop()
if st.session_state.get(PICK) not in keys:
    st.session_state[PICK] = cur["source"] if cur and cur["source"] in keys else keys[0]
chosen = st.selectbox(
    "Imported datasets",
    keys,
    format_func=lambda k: Path(k.split(":", 1)[1]).stem,
    key=PICK,
)
src = sources.parse_key(chosen)
st.session_state[app_state.SOURCE_KEY] = chosen
if cur is not None and cur["source"] == chosen and cur["notes"]:
    with st.expander(f"Notes from the importer ({len(cur['notes'])})", expanded=True):
        for n in cur["notes"]:
            st.markdown(f"- {n}")
ds = widgets.load_dataset(src)
if ds is None:
    st.stop()
widgets.dataset_views(ds, key="import", src=src)
st.divider()
c1, c2, c3 = st.columns(3)
with c1:
    app_state.page_link("rollouts", "Evaluate: train policies on it")
with c2:
    app_state.page_link("dataset", "Open in the Dataset page")
if c3.button("Remove from imports", key="import.remove", icon=":material/delete:"):
    Path(src.ref).unlink(missing_ok=True)
    st.session_state.pop(CURRENT, None)
    st.session_state.pop(app_state.SOURCE_KEY, None)
    st.rerun()
