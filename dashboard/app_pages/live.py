"""Live: a run's fitness curves and diagnostics as it computes, with pause, resume,
stop, live ES learning rate and sigma, and "fork with changes".

The view reads the run store on disk (so runs started from the CLI show too) in an
`st.fragment` that reruns about once per chunk of generations (2 to 5 s) while
the run is active; the curves redraw every 5 s and the diagnostics panels every
15 s (each redraw costs a CPU-bound run on 2 cores some speed).
Controls act on every active run in the store, whichever process executes it (this
dashboard, a `hades distill` in a terminal, a worker on another machine that shares
the runs folder): they are written to the run's control file and applied at its
next chunk boundary. The page says who executes the run.
"""

import os
import socket
import time

import streamlit as st

from dashboard import charts, forms, widgets
from dashboard import metrics as m
from dashboard import state as app_state
from engine.config import ConfigError
from engine.runs import RunError

# Each redraw costs a CPU-bound run on 2 cores some speed (measured with the
# browser on the same machine: numbers every 1 s and curves every 3 s slowed a
# CartPole run by 20-35 %; these intervals by 0-15 %).
POLL_MIN_SECONDS = 2.0  # status, numbers, controls: about once per chunk, >= 2 s
CHART_MIN_SECONDS = 5.0  # the fitness curves
DIAG_MIN_SECONDS = 15.0  # the three diagnostics panels
HOST = socket.gethostname()
POLL = "live.poll"  # the polling interval this page was drawn with
FIG_CACHE = "live.figs"


def _figures(run_id: str, rows: list[dict]):
    """Fitness and diagnostics figures, rebuilt only when new rows arrived."""
    cache = st.session_state.setdefault(FIG_CACHE, {})
    sig = (run_id, len(rows), rows[-1].get("time") if rows else None)
    hit = cache.get(run_id)
    if hit is not None and hit[0] == sig:
        return hit[1], hit[2]
    gens, events = m.split_rows(rows)
    # A figure first drawn empty (while compiling) would keep plotly's empty-axis
    # ranges under a fixed uirevision: start a new revision once data arrives.
    rev = f"{run_id}-{'data' if gens else 'empty'}"
    fit = charts.fitness_figure(gens, events, uirevision=f"fit-{rev}")
    diag = charts.diagnostics_figure(gens, events, uirevision=f"diag-{rev}")
    cache.clear()
    cache[run_id] = (sig, fit, diag)
    return fit, diag


def _act(action: str, run_id: str) -> None:
    """Steer any run in the store: pause, continue and stop go through the run's
    control file (whichever process executes it); resume restarts a stopped or
    failed run in this dashboard."""
    from engine.runs.control import send

    try:
        if action == "resume":
            app_state.manager().resume(run_id, progress_fn=app_state.yield_cpu_to_ui)
            return
        job = app_state.job_here(run_id)
        if action == "stop" and job is not None and job["status"] == "queued":
            app_state.manager().stop(run_id)  # never started: cancel it here
            return
        send(app_state.store().resolve(run_id), action, sender="dashboard")
    except (RunError, ValueError, OSError) as e:
        st.session_state["live.error"] = str(e)


def pending_command(run_id: str, status: dict) -> str | None:
    """A command sent to the run that it has not acknowledged yet."""
    from engine.runs.control import read_commands

    try:
        rec = read_commands(app_state.store().resolve(run_id))
    except RunError:
        return None
    acked = int((status.get("control") or {}).get("seq") or 0)
    return rec.get("command") if int(rec.get("seq") or 0) > acked else None


def executor_caption(status: dict, job: dict | None) -> str:
    """Who executes the run: this dashboard (a job, or a study's thread), a CLI or
    a worker, with host and pid."""
    here = status.get("pid") == os.getpid() and status.get("host") == HOST
    who = status.get("executor", "a process")
    if job is not None or here:
        who = "this dashboard"
    if who == "cli":
        who = "a CLI (`hades distill` / `hades resume`)"
    return f"Executed by {who}: pid {status.get('pid')} on {status.get('host')}."


def controls(run_id: str, status: dict, job: dict | None) -> None:
    """Pause / continue / stop for every active run in the store (any process),
    resume for a stopped or failed one (it then runs in this dashboard)."""
    s = status.get("status")
    alive = bool(status.get("alive"))
    pending = pending_command(run_id, status) if alive else None
    c1, c2, c3, c4 = st.columns([1, 1, 1, 3])
    paused = s == "paused" or pending == "pause"
    can_continue = alive and paused and pending != "continue"
    can_restart = not alive and s in ("stopped", "failed")
    # Callbacks run before the next (fragment) run, so it shows the new state
    c1.button(
        "Pause",
        key="live.pause",
        icon=":material/pause:",
        disabled=not alive or paused or pending == "stop",
        width="stretch",
        on_click=_act,
        args=("pause", run_id),
    )
    c2.button(
        "Resume",
        key="live.resume",
        icon=":material/play_arrow:",
        disabled=not (can_continue or can_restart),
        width="stretch",
        on_click=_act,
        args=("continue" if alive else "resume", run_id),
    )
    c3.button(
        "Stop",
        key="live.stop",
        icon=":material/stop:",
        disabled=not alive or pending == "stop",
        width="stretch",
        on_click=_act,
        args=("stop", run_id),
    )
    err = st.session_state.pop("live.error", None)
    if err:
        c4.error(err)
    if alive:
        c4.caption(executor_caption(status, job))
    if pending == "pause":
        c4.caption("Pausing after the current chunk...")
    elif pending == "stop":
        c4.caption("Stopping after the current chunk (a checkpoint is written)...")
    elif pending == "continue":
        c4.caption("Continuing at the next check (within a second)...")
    elif s == "paused":
        c4.caption("Paused between chunks; nothing computes until you resume.")


def header(summary: dict, status: dict) -> None:
    s = summary["status"]
    c1, c2 = st.columns([1, 5])
    with c1.container(key="live-status"):  # .st-key-live-status for tests
        widgets.status_badge(s)
    total = summary["total_generations"] or 0
    gen = summary["generation"]
    c2.progress(m.progress_fraction(gen, total), text=f"generation {gen} / {total}")
    if s == "compiling":
        st.info(
            "Compiling: JAX is tracing and compiling the jitted chunk of "
            "generations (once per config and process; later chunks reuse it).",
            icon=":material/memory:",
        )
    elif s == "queued":
        st.info(
            "Queued: waiting for the run ahead of it to finish.",
            icon=":material/schedule:",
        )
    if summary["message"] and s in ("failed", "stopped", "finished"):
        (st.error if s == "failed" else st.caption)(summary["message"])
    top = [
        ("population mean", m.fmt_num(summary["fitness_mean"], 4)),
        ("population max", m.fmt_num(summary["fitness_max"], 4)),
        ("best so far", m.fmt_num(summary["best_fitness"], 4)),
        ("mean dataset", m.fmt_num(summary["mean_dataset_return"], 4)),
    ]
    side = [
        ("sigma", m.fmt_num(summary["sigma"], 3)),
        ("ES lr", m.fmt_num(summary["lr"], 3)),
        ("inner loss", m.fmt_num(summary["bc_loss"], 2)),
        ("s / gen", m.fmt_seconds(summary["seconds_per_generation"])),
        ("ETA", m.fmt_seconds(summary["eta_seconds"]) if s in m.ACTIVE else "\u2014"),
    ]
    for col, (label, value) in zip(st.columns(len(top)), top, strict=True):
        col.metric(label, value)
    for col, (label, value) in zip(st.columns(len(side)), side, strict=True):
        col.metric(label, value)
    if summary.get("compile_seconds"):
        st.caption(
            f"compilation so far: {m.fmt_seconds(summary['compile_seconds'])} "
            "(kept out of s / gen)"
        )


def _chunk(run_id: str) -> int:
    try:
        return int(app_state.store().read_config(run_id)["config"]["outer"]["chunk"])
    except (RunError, KeyError, TypeError, ValueError):
        return 1


def _poll(status: dict) -> float:
    return m.poll_seconds(status, _chunk(status.get("run_id", "")), lo=POLL_MIN_SECONDS)


def live_header(run_id: str) -> None:
    """Status, numbers and controls: refreshed every second while active."""
    store = app_state.store()
    try:
        status = store.read_status(run_id)
        gens = [r for r in store.scan_metrics(run_id)[0] if "event" not in r]
    except RunError as e:
        st.warning(str(e))
        return
    summary = m.summary(status, gens)
    header(summary, status)
    controls(run_id, status, app_state.job_here(run_id))
    was = st.session_state.get("live.was_active")
    now_active = summary["status"] in m.ACTIVE
    st.session_state["live.was_active"] = now_active
    if was is not None and was != now_active:
        # Started (resume) or ended: rerun the page to start or stop polling
        st.rerun(scope="app")
    poll = st.session_state.get(POLL)
    if now_active and poll and abs(_poll(status) - poll) > 0.5:
        st.rerun(scope="app")  # the chunk time is known now: adapt the polling
    seen = st.session_state.get("live.status_seen")
    st.session_state["live.status_seen"] = summary["status"]
    if seen in ("queued", "compiling") and summary["status"] == "running":
        st.rerun(scope="app")  # the first rows: draw every chart now, not later


def _rows(run_id: str) -> list[dict] | None:
    try:
        rows, damage = app_state.store().scan_metrics(run_id)
    except RunError as e:
        st.warning(str(e))
        return None
    if damage:
        st.warning(damage, icon=":material/warning:")
    return rows


def live_fitness(run_id: str) -> None:
    """The fitness curves: redrawn every few seconds (a redraw costs CPU)."""
    rows = _rows(run_id)
    if rows is None:
        return
    fit, _ = _figures(run_id, rows)
    widgets.plotly(fit, key="live.fitness")
    poll = st.session_state.get(POLL)
    st.caption(
        f"Updated {time.strftime('%H:%M:%S')} from the run's files"
        + (
            f": curves every {max(CHART_MIN_SECONDS, poll):.0f} s, diagnostics every "
            f"{max(DIAG_MIN_SECONDS, poll):.0f} s, numbers every {poll:.1f} s "
            "(about once per chunk of generations)"
            if poll
            else ""
        )
        + ". Dashed red lines: live lr / sigma changes; dotted grey: pauses and "
        "resumes. Zoom is kept across updates."
    )


def live_diagnostics(run_id: str) -> None:
    """Sigma and ES lr, inner-loop loss, seconds per generation."""
    rows = _rows(run_id)
    if rows is None:
        return
    _, diag = _figures(run_id, rows)
    widgets.plotly(diag, key="live.diag")


def tune_form(run_id: str, status: dict, job: dict | None, cfg) -> None:
    """Live ES learning rate and sigma (values only: no recompilation), for any
    active run in the store: sent through its control file."""
    if not status.get("alive"):
        st.caption("Live tuning acts on active runs (running, compiling or paused).")
        return
    strategy = cfg.outer.strategy if cfg else ""
    with st.form("live.tune", border=False):
        c1, c2, c3, c4 = st.columns([1, 1, 1, 1.2])
        # float32 values from the ES state, shown as people typed them
        lr0 = float(f"{status.get('lr') or (cfg.outer.lr if cfg else 0.05):.6g}")
        sg0 = float(f"{status.get('sigma') or (cfg.outer.sigma if cfg else 0.1):.6g}")
        lr = c1.number_input(
            "ES learning rate",
            value=lr0,
            format="%g",
            step=forms.float_step(lr0),
            help=forms.help_text("outer.lr"),
        )
        sigma = c2.number_input(
            "sigma",
            value=sg0,
            format="%g",
            step=forms.float_step(sg0),
            help=forms.help_text("outer.sigma"),
        )
        temp = None
        if strategy == "SNES":
            t0 = float(status.get("temperature") or cfg.outer.temperature)
            temp = c3.number_input(
                "temperature",
                value=t0,
                format="%g",
                help=forms.help_text("outer.temperature"),
            )
        c4.write("")
        applied = c4.form_submit_button(
            "Apply",
            type="primary",
            width="stretch",
            help="Applied between chunks, without recompiling; marked on the curves.",
        )
    if applied:
        knobs = {}
        if lr != lr0:
            knobs["lr"] = lr
        if sigma != sg0:
            knobs["sigma"] = sigma
        if temp is not None and temp != float(status.get("temperature") or 0):
            knobs["temperature"] = temp
        if not knobs:
            st.info("Nothing changed.")
        else:
            from engine.runs.control import send

            try:
                rec = send(
                    app_state.store().resolve(run_id), "set", knobs, sender="dashboard"
                )
            except (ValueError, RunError, OSError) as e:
                st.error(str(e))
            else:
                st.success(
                    "Queued for the next chunk: "
                    + ", ".join(f"{k} = {m.fmt_num(v)}" for k, v in rec["set"].items())
                    + " (marked on the curves when applied)."
                )


def fork_form(run_id: str, cfg) -> None:
    """A new run from this run's checkpoint with changed settings."""
    store = app_state.store()
    ckpts = [g for g, _ in store.checkpoints(run_id)]
    st.caption(
        "Settings that change shapes (population, network, rollout length) need a "
        "new run. The fork starts from a checkpoint of this run: with the same ES "
        "state shapes it inherits the whole ES state, else only the ES mean."
    )
    with st.form("live.fork", border=False):
        values, slots = {}, {}
        cols = st.columns(4)
        for i, f in enumerate(forms.FORK_FIELDS):
            col = cols[i % 4]
            cur = forms.get_value(cfg, f.path)
            if f.kind == "choice":
                opts = list(forms.choices(f))
                values[f.path] = col.selectbox(
                    f.label, opts, index=opts.index(cur), help=forms.help_text(f.path)
                )
            elif f.kind == "int":
                values[f.path] = col.number_input(
                    f.label, value=int(cur), step=1, help=forms.help_text(f.path)
                )
            else:
                values[f.path] = col.number_input(
                    f.label,
                    value=float(cur),
                    format="%g",
                    step=forms.float_step(float(cur)),
                    help=forms.help_text(f.path),
                )
            slots[f.path] = col.empty()
        c1, c2, c3 = st.columns([1, 1.5, 1])
        gen = c1.selectbox(
            "from checkpoint",
            ckpts or [None],
            index=max(0, len(ckpts) - 1),
            format_func=lambda g: "none (scratch)" if g is None else f"generation {g}",
        )
        name = c2.text_input("name of the fork", value="", max_chars=80)
        c3.write("")
        submitted = c3.form_submit_button("Fork", width="stretch")
    if not submitted:
        return
    overrides = forms.changed(cfg, values)
    new_cfg, errors = forms.validate(cfg, values)
    for path, msg in errors.items():
        slots.get(path, st).error(msg)
    if new_cfg is None:
        return
    if not overrides:
        st.info("Change at least one setting to fork (or use Resume).")
        return
    try:
        new_id = app_state.manager().fork(
            run_id,
            overrides,
            name=name.strip(),
            generation=gen,
            progress_fn=app_state.yield_cpu_to_ui,
        )
    except (RunError, ConfigError) as e:
        st.error(str(e))
        return
    app_state.select_run(new_id)
    st.rerun()


# Page ----------
st.title("Live")
widgets.sidebar()
store = app_state.store()
rows = [r for r in store.list() if r.get("status") != "damaged"]  # no config
if not rows:
    st.info("No runs yet.")
    app_state.page_link("launch", "Launch a run")
    st.stop()
run_id = widgets.run_picker(rows, key="live.run")
study_id = next((r.get("study") for r in rows if r["id"] == run_id), None)
if study_id:
    st.caption(
        f"A run of study `{study_id}`: steer it like any run; the study's progress "
        "and results are on the Studies page."
    )
status = store.read_status(run_id)
active = status.get("status") in m.ACTIVE
st.session_state["live.was_active"] = active
auto = st.toggle(
    "auto-refresh",
    value=True,
    key="live.auto",
    help="Redraw while the run computes (about once per chunk of generations). "
    "Each redraw costs the run some CPU time on a small machine.",
)
poll = _poll(status) if active and auto else None
st.session_state[POLL] = poll
st.fragment(run_every=poll)(live_header)(run_id)
st.fragment(run_every=max(CHART_MIN_SECONDS, poll) if poll else None)(live_fitness)(
    run_id
)
st.fragment(run_every=max(DIAG_MIN_SECONDS, poll) if poll else None)(live_diagnostics)(
    run_id
)
if active and not auto:
    st.button("Refresh", key="live.refresh", icon=":material/refresh:")

job = app_state.job_here(run_id)
try:
    cfg = store.hades_config(run_id)
except (RunError, ConfigError) as e:
    cfg = None
    st.warning(f"The run's config cannot be read: {e}")
c_tune, c_more = st.columns([1, 1])
with c_tune.expander("Tune live: ES learning rate, sigma", expanded=active):
    tune_form(run_id, status, job, cfg)
with c_more.expander("Fork with changes"):
    if cfg is not None:
        fork_form(run_id, cfg)
if not active and not status.get("alive"):
    with st.expander("Continue this run for more generations"):
        total = int(status.get("total_generations") or 0)
        more = st.number_input(
            "new total generations",
            value=total + 20,
            step=10,
            min_value=total + 1,
            key="live.more",
        )
        if st.button("Continue", key="live.continue"):
            try:
                app_state.manager().resume(
                    run_id,
                    generations=int(more),
                    progress_fn=app_state.yield_cpu_to_ui,
                )
            except RunError as e:
                st.error(str(e))
            else:
                st.rerun()
c1, c2 = st.columns(2)
with c1:
    app_state.page_link("dataset", "Open its dataset")
with c2:
    app_state.page_link("rollouts", "Train fresh policies on it")
