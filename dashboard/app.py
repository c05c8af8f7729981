"""HaDES Studio: navigation only.

Pages live in ``dashboard/app_pages/`` (one file each); shared state (the job manager in
``st.cache_resource``, the runs root) in ``dashboard/state.py``. Start it with
``hades dashboard`` or ``python -m dashboard`` (settings in
``dashboard/streamlit_config.toml``, passed as flags by ``dashboard/server.py``).
"""

import sys
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:  # `streamlit run dashboard/app.py` from a checkout
    sys.path.insert(0, _REPO)

import streamlit as st  # noqa: E402

import engine  # noqa: E402

engine.setup()  # the dashboard's runtime (idempotent across reruns): engine.runtime

from dashboard.state import PAGES, SECTIONS  # noqa: E402

# A local icon: a material-icon favicon would be fetched from a font CDN.
_ICON = str(Path(__file__).resolve().parent / "static" / "icon.png")
st.set_page_config(page_title="HaDES Studio", page_icon=_ICON, layout="wide")
navigation = {
    section: [
        st.Page(
            PAGES[k][0],
            title=PAGES[k][1],
            icon=PAGES[k][2],
            url_path=k,
            default=(k == "launch"),
        )
        for k in keys
    ]
    for section, keys in SECTIONS.items()
}
st.navigation(navigation).run()
