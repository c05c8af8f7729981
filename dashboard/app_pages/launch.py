"""Launch: environment, dataset size, preset, ES and inner-loop settings; start a
background run and move to Live."""

import json

import streamlit as st

from dashboard import forms, widgets
from dashboard import metrics as m
from dashboard import state as app_state
from engine import estimate as est
from engine import presets
from engine.config import ConfigError, HadesConfig, all_field_docs
from engine.envs.registry import SPECS
from engine.memory_estimate import MemoryEstimate, MemoryEstimateError, memory_estimate
from engine.trackers import KNOWN as KNOWN_TRACKERS

PREFIX = "launch.f."
VALUES = "launch.values"  # survives page switches (widget keys do not)
GROUPS = ("Classic control", "MinAtar", "Brax")


@st.cache_data(show_spinner="Estimating memory...", max_entries=64)
def _memory(cfg_json: str) -> MemoryEstimate:
    """The memory estimate of a config (cached: it traces the ES and env init)."""
    return memory_estimate(HadesConfig.from_dict(json.loads(cfg_json)))


def _restore(key: str, default) -> None:
    saved = st.session_state.setdefault(VALUES, {})
    if key not in st.session_state:
        st.session_state[key] = saved.get(key, default)


def _remember(key: str) -> None:
    st.session_state.setdefault(VALUES, {})[key] = st.session_state.get(key)


def field_widget(field: forms.Field, base, container, disabled: bool = False):
    """One config field as a widget (default from `base`), with an error slot."""
    key = PREFIX + field.path
    default = forms.get_value(base, field.path)
    _restore(key, default)
    help_text = forms.help_text(field.path)
    with container:
        if field.kind == "choice":
            opts = list(forms.choices(field))
            if st.session_state[key] not in opts:
                st.session_state[key] = default
            v = st.selectbox(
                field.label, opts, key=key, help=help_text, disabled=disabled
            )
        elif field.kind == "bool":
            v = st.checkbox(field.label, key=key, help=help_text, disabled=disabled)
        elif field.kind == "int":
            v = st.number_input(
                field.label, step=1, key=key, help=help_text, disabled=disabled
            )
        else:
            if not isinstance(st.session_state[key], float):
                st.session_state[key] = float(st.session_state[key])
            v = st.number_input(
                field.label,
                step=forms.float_step(float(default)),
                format="%g",
                key=key,
                help=help_text,
                disabled=disabled,
            )
        slot = st.empty()
    _remember(key)
    return v, slot


def reset_fields() -> None:
    for k in list(st.session_state):
        if isinstance(k, str) and k.startswith(PREFIX):
            del st.session_state[k]
    saved = st.session_state.get(VALUES, {})
    for k in list(saved):
        if k.startswith(PREFIX):
            del saved[k]


@st.cache_data(ttl=30, show_spinner=False)
def _past(root: str, env: str, backend: str):
    return est.past_runs(app_state.store(), env, backend)


@st.cache_resource(show_spinner=False)
def _backend() -> str:
    import jax

    return jax.default_backend()


st.title("Launch a run")
widgets.sidebar()
st.caption(
    "Distil a tiny dataset of synthetic state-action pairs with an evolution "
    "strategy. The default (CartPole, N = 4, quick) learns within a minute on a CPU."
)
with st.expander("Launch a sweep instead: a grid of runs on Ray"):
    from dashboard import sweep_form

    sweep_form.render()
docs = all_field_docs()

# Environment, size, preset ----------
c_group, c_env, c_size, c_preset, c_seed = st.columns([1.3, 1.6, 0.8, 1.1, 0.8])
_restore("launch.group", "Classic control")
group = c_group.radio("Family", GROUPS, key="launch.group", horizontal=False)
_remember("launch.group")
names = [n for n, s in SPECS.items() if s.group == group]
_restore("launch.env", names[0])
if st.session_state["launch.env"] not in names:
    st.session_state["launch.env"] = names[0]
env = c_env.selectbox("Environment", names, key="launch.env", help=docs["env.name"])
_remember("launch.env")
spec = SPECS[env]
c_env.caption(
    f"obs {'x'.join(map(str, spec.obs_shape))}, "
    + (
        f"{spec.action_dim} discrete actions"
        if spec.discrete
        else f"{spec.action_dim}-d continuous actions"
    )
)
default_n = presets.make("quick", env).dataset.size
if st.session_state.get("launch.env_prev") not in (None, env):
    st.session_state["launch.size"] = default_n  # the new env's usual N
st.session_state["launch.env_prev"] = env
_restore("launch.size", default_n)
size = c_size.number_input(
    "Dataset size N", step=1, key="launch.size", help=docs["dataset.size"]
)
_remember("launch.size")
size_slot = c_size.empty()
_restore("launch.preset", "quick")
preset = c_preset.radio(
    "Preset",
    presets.PRESETS,
    key="launch.preset",
    help="quick: small settings that show learning on a CPU. paper: the paper's "
    "settings (a GPU job: hours on 2 CPU cores).",
)
_remember("launch.preset")
_restore("launch.seed", 0)
seed = c_seed.number_input("Seed", step=1, key="launch.seed", help=docs["seed"])
_remember("launch.seed")
seed_slot = c_seed.empty()

base = None
try:
    base = presets.make(
        preset, env, int(size) if size is not None else None, int(seed or 0)
    )
    if seed is not None and int(seed) != seed:
        raise ConfigError("seed", seed, "must be an integer >= 0")
except ConfigError as e:
    (seed_slot if e.field == "seed" else size_slot).error(str(e))

sig = (env, preset)  # a new env or preset restarts from its values
if st.session_state.get("launch.sig") != sig:
    if "launch.sig" in st.session_state:
        reset_fields()
    st.session_state["launch.sig"] = sig

if base is None:
    st.stop()

# ES settings ----------
st.subheader("Evolution strategy (outer loop)")
values: dict = {}
slots: dict = {}
cols = st.columns(len(forms.ES_FIELDS))
for f, c in zip(forms.ES_FIELDS, cols, strict=True):
    values[f.path], slots[f.path] = field_widget(f, base, c)

c_var, c_k, c_fix, _ = st.columns([1.6, 1, 1, 1.4])
_restore(PREFIX + "variant", "HaDES-F" if base.fitness.fixed_init else "HaDES-R")
variant = c_var.radio(
    "Variant",
    ("HaDES-R", "HaDES-F"),
    key=PREFIX + "variant",
    horizontal=True,
    help="HaDES-R: fresh random policy inits every generation (datasets transfer "
    "to new inits and architectures). HaDES-F: one fixed init (the dataset encodes "
    "one policy; neuroevolution).",
)
_remember(PREFIX + "variant")
if variant == "HaDES-R":
    values["fitness.fixed_init"] = False
    values["fitness.inits"], slots["fitness.inits"] = field_widget(
        forms.Field("fitness.inits", "init seeds per candidate", "int"), base, c_k
    )
else:
    values["fitness.fixed_init"] = True
    values["fitness.inits"] = 1
    c_k.number_input(
        "init seeds per candidate",
        value=1,
        disabled=True,
        help=docs["fitness.inits"],
        key="launch.k_fixed",
    )
    values["fitness.fixed_init_seed"], slots["fitness.fixed_init_seed"] = field_widget(
        forms.Field("fitness.fixed_init_seed", "fixed init seed", "int"), base, c_fix
    )

# Inner loop ----------
st.subheader("Inner loop (behaviour cloning)")
cols = st.columns(len(forms.INNER_FIELDS))
for f, c in zip(forms.INNER_FIELDS, cols, strict=True):
    values[f.path], slots[f.path] = field_widget(f, base, c)

with st.expander("Advanced: fitness rollouts, sampling, chunks"):
    adv = list(forms.ADVANCED_FIELDS)
    if spec.family == "brax":
        adv += list(forms.BRAX_FIELDS)
    cols = st.columns(4)
    for i, f in enumerate(adv):
        values[f.path], slots[f.path] = field_widget(f, base, cols[i % 4])

cfg, errors = forms.validate(base, values)
for path, msg in errors.items():
    slot = slots.get(path)
    if slot is not None:
        slot.error(msg)
    else:
        st.error(msg)

# Estimate and launch ----------
st.divider()
c_est, c_go = st.columns([2.2, 1])
if cfg is not None:
    backend = _backend()
    e = est.estimate(cfg, _past(str(app_state.runs_root()), env, backend), backend)
    c_est.markdown(
        f"**Estimate on this device ({backend}):** about "
        f"**{m.fmt_seconds(e.seconds_per_generation)} per generation**, "
        f"{cfg.outer.generations} generations \u2248 "
        f"{m.fmt_seconds(e.total_seconds)} including about "
        f"{m.fmt_seconds(e.compile_seconds)} of compilation."
    )
    c_est.caption(f"An estimate ({e.basis}); Live shows the measured time.")
    mem = _memory(cfg.to_json())
    if mem.available_bytes is not None:
        c_est.markdown(
            f"**Memory:** about {mem.needed_bytes / 2**30:.1f} GiB of the "
            f"{mem.available_bytes / 2**30:.1f} GiB of {mem.where}."
        )
    if not mem.fits:
        c_est.error(
            "This config does not fit in memory: lower the population, the member "
            "groups, the dataset size or the policy width.",
            icon=":material/memory:",
        )
else:
    c_est.warning("Fix the settings marked above to launch.")

running = [j for j in app_state.manager().jobs() if j["status"] in m.ACTIVE]
name = c_go.text_input("Run name (optional)", key="launch.name", max_chars=80)
log_to = c_go.multiselect(
    "Log to",
    list(KNOWN_TRACKERS),
    key="launch.log",
    help="Also stream the run to experiment trackers: metrics per generation, the "
    "config, dataset pictures and rollout videos at evaluation points. W&B "
    "honours WANDB_MODE and WANDB_PROJECT; TensorBoard writes to the run folder's "
    "tensorboard/. Needs pip install 'hades-studio[wandb]' / '[tensorboard]'.",
)
if running:
    c_go.caption(
        f"{len(running)} run(s) active in this dashboard; a new one queues behind "
        "them (one at a time on a CPU)."
    )
if c_go.button(
    "Launch", type="primary", disabled=cfg is None, width="stretch", key="launch.go"
):
    from engine.runs import RunError
    from engine.trackers import TrackerError, check_trackers, trackers_on_first_event

    try:
        check_trackers(log_to)  # a missing extra: say so before anything starts
        trackers = trackers_on_first_event(log_to, app_state.runs_root())
        run_id = app_state.manager().submit(
            cfg,
            name=name.strip(),
            progress_fn=app_state.chain(app_state.yield_cpu_to_ui, trackers),
        )
    except (RunError, ConfigError, MemoryEstimateError, OSError, TrackerError) as e:
        c_go.error(str(e))
    else:
        app_state.select_run(run_id)
        st.session_state["live.launched"] = run_id
        app_state.go("live")

with st.expander("Config as JSON"):
    if cfg is not None:
        st.code(cfg.to_json(), language="json")
