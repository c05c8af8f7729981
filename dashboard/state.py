"""Process-wide dashboard state: the runs root, the job and study managers, the page
registry.

The `JobManager` lives in `st.cache_resource` here, in a module the pages import
(never in a page file): every session, browser tab and page reload of this server
process shares one manager and its background threads, and editing a page does not
start a second worker. Background jobs never call Streamlit; pages read the run
store on disk (what a run started from the CLI writes too) and steer jobs of this
process through the manager. The `StudyManager` (`dashboard/studies.py`, one study
at a time) is kept the same way and queues its study in the same `JobManager`, so
runs and studies share one queue and its slots.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import streamlit as st

# Page files, relative to dashboard/app.py (st.switch_page and st.page_link take these).
# The folder is not called `pages/`: Streamlit treats a `pages/` folder beside the
# main script as the old automatic navigation until app.py has run once in the
# process, so a first request for e.g. /live on a fresh server would bypass
# st.navigation.
PAGES = {
    "launch": ("app_pages/launch.py", "Launch", ":material/rocket_launch:"),
    "live": ("app_pages/live.py", "Live", ":material/monitoring:"),
    "dataset": ("app_pages/dataset.py", "Dataset", ":material/grid_view:"),
    "rollouts": ("app_pages/rollouts.py", "Rollouts", ":material/movie:"),
    "runs": ("app_pages/runs.py", "Runs", ":material/table_rows:"),
    "import": ("app_pages/import_page.py", "Import", ":material/upload_file:"),
    "studies": ("app_pages/studies.py", "Studies", ":material/science:"),
    "demo": ("app_pages/demo.py", "Demo", ":material/slideshow:"),
}
SECTIONS = {
    "Distil": ("launch", "live"),
    "Explore": ("dataset", "rollouts", "runs", "import", "studies"),
    "Present": ("demo",),
}

# Session keys shared between pages (plain keys, not widget keys)
RUN_KEY = "hades.run"
SOURCE_KEY = "hades.source"
COMPARE_KEY = "runs.compare"  # run ids the Runs page preselects
STUDY_FILTER_KEY = "hades.runs_study"  # a study id the Runs page filters on


def runs_root() -> Path:
    """``$HADES_RUNS`` (set by ``hades dashboard --runs``), else the engine default."""
    env = os.environ.get("HADES_RUNS")
    if env:
        return Path(env).expanduser()
    from engine.runs import default_root

    return default_root()


def imports_dir() -> Path:
    """Imported datasets are kept beside the runs (a dot folder the store skips)."""
    return runs_root() / ".imports"


@st.cache_resource(show_spinner=False)
def _job_manager(root: str):
    from engine.runs import JobManager

    return JobManager(root)


def manager():
    """The process-wide `JobManager` for the current runs root."""
    return _job_manager(str(runs_root()))


COMPUTE_NICE = 10
"""Nice value of background compute threads: the UI threads (and the browser on
the same machine) get the CPU first, so pages stay responsive while a run uses
every core; the run takes what is left. ``HADES_COMPUTE_NICE`` changes it (0: the
dashboard's compute keeps its priority, e.g. beside other busy processes that would
otherwise take the cores first)."""


def compute_nice() -> int:
    try:
        return int(os.environ.get("HADES_COMPUTE_NICE", COMPUTE_NICE))
    except ValueError:
        return COMPUTE_NICE


def chain(*fns):
    """One progress_fn calling each of `fns` (None entries skipped) in order."""
    fns = [f for f in fns if f is not None]

    def progress(event: dict) -> None:
        for f in fns:
            f(event)

    return progress


def yield_cpu_to_ui(event: dict | None = None) -> None:
    """Lower the priority of this thread and of XLA's compute threads (Linux).

    Used as the jobs' `progress_fn`: it runs in the job's thread, before the
    first chunk compiles. Lowering a priority needs no privileges; failures
    (other systems, containers that forbid it) are ignored.
    """
    nice = compute_nice()
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    tids = {threading.get_native_id()}
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().startswith("tf_XLA"):  # XLA's CPU thread pool
                    tids.add(int(tid))
    except OSError:
        pass
    for tid in tids:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
        except OSError:
            pass


@st.cache_resource(show_spinner=False)
def _study_manager(root: str):
    from dashboard.studies import StudyManager

    return StudyManager(root, nice_fn=yield_cpu_to_ui, jobs=_job_manager(root))


def study_manager():
    """The process-wide `StudyManager` (one study at a time, a task of the one
    `JobManager`, at the jobs' priority) for the current runs root."""
    return _study_manager(str(runs_root()))


def store():
    """The `RunStore` of the manager (same root, same index)."""
    return manager().store


def selected_run() -> str | None:
    return st.session_state.get(RUN_KEY)


def select_run(run_id: str | None) -> None:
    st.session_state[RUN_KEY] = run_id


def job_here(run_id: str | None) -> dict | None:
    """Info of a job of this process's manager, or None (e.g. a CLI run)."""
    if not run_id:
        return None
    for j in manager().jobs():
        if j["run_id"] == run_id:
            return j
    return None


def go(page: str) -> None:
    """Switch to a page; outside `st.navigation` (a single-page test) show a link."""
    path = PAGES[page][0]
    try:
        st.switch_page(path)
    except st.errors.StreamlitAPIException:
        st.info(f"Open the {PAGES[page][1]} page to continue.")


def page_link(page: str, label: str | None = None) -> None:
    path, title, icon = PAGES[page]
    try:
        st.page_link(path, label=label or title, icon=icon)
    except (st.errors.StreamlitAPIException, KeyError):
        st.caption(f"\u2192 {label or title}")
