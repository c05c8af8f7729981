"""The Studies page's form, derived from each study's `Params` (no Streamlit).

Every study declares one frozen, documented parameters dataclass
(`engine.studies.params`); this module turns its fields into widget specs
(`form_fields`), the page's raw widget values into a `Params` (`to_params`, which
raises `StudyError` naming the input), and runs the checks that can fail before a
thread starts (`precheck`): the HaDES configs the study will distil are built (a bad
override raises `ConfigError`), dataset references are resolved, folders and files
exist, the multi-task environments can be merged.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any

from engine import config as config_lib
from engine.studies.params import FieldInfo, StudyError, StudyParams, fields_of, make

COMMON = {f.name for f in dataclasses.fields(StudyParams)} - {"overrides"}
"""Fields every study has, shown once above the study's own (keys ``studies.X``)."""
DISTIL_PRESET = {"transfer": "quick"}
"""Studies that distil with a fixed preset, whatever their ``preset`` says."""


@dataclasses.dataclass(frozen=True)
class Widget:
    """One input of the form: the field, the widget that shows it, its key."""

    field: FieldInfo
    widget: (
        str  # select, checkbox, number, env, envs, dataset, datasets, list, lines, text
    )
    key: str
    label: str
    help: str


def params_class(study: str):
    """The `Params` dataclass of a study (``size-sweep`` -> size_sweep.Params)."""
    return importlib.import_module(f"engine.studies.{study.replace('-', '_')}").Params


def _widget(f: FieldInfo) -> str:
    if f.kind == "strs" and f.name.endswith("overrides"):
        return "lines"  # section.field=value, one per line
    if f.choices:
        return "multiselect" if f.kind == "strs" else "select"
    if f.kind == "bool":
        return "checkbox"
    if f.name in ("env", "envs", "dataset", "datasets"):
        return f.name  # pickers over the registry and the datasets at hand
    if f.kind in ("int", "float"):
        return "number"
    if f.kind in ("ints", "floats", "strs"):
        return "list"
    return "text"


ABBREVIATIONS = {"env": "environment", "envs": "environments", "lrs": "learning rates"}


def label(name: str) -> str:
    """A field name as a widget label (eval_inits -> Eval inits)."""
    return ABBREVIATIONS.get(name, name.replace("_", " ")).capitalize()


def form_fields(study: str) -> list[Widget]:
    """The inputs of `study`, in the order its `Params` declares them (the common
    ones first, ``overrides`` last)."""
    infos = fields_of(params_class(study))
    order = [f for f in infos if f.name in COMMON]
    order += [f for f in infos if f.name not in COMMON and f.name != "overrides"]
    order += [f for f in infos if f.name == "overrides"]
    out = []
    for f in order:
        key = f"studies.{f.name}" if f.name in COMMON else f"studies.{study}.{f.name}"
        w = _widget(f)
        out.append(Widget(f, w, key, label(f.name), _help(study, f, w)))
    return out


def _help(study: str, f: FieldInfo, widget: str) -> str:
    """The field's docstring; a study's class docstring may say what a common field
    means for it ("(``overrides``: config fields of the evaluation, ...)")."""
    doc = " ".join((params_class(study).__doc__ or "").split())
    marker = f"(``{f.name}``: "
    text = doc.split(marker, 1)[1].rsplit(")", 1)[0] if marker in doc else f.doc
    if widget == "lines":
        text = text.rstrip(".") + ". One per line; # comments are skipped."
    elif widget == "list":
        text = text.rstrip(".") + ". Comma-separated."
    if f.optional and "default" not in text.lower():
        text += " Empty: the preset's."
    return text[:1].upper() + text[1:]


# Values to Params ----------
def lines(text: str | None, where: str) -> tuple[str, ...]:
    """The non-blank, non-comment lines of a text box, each section.field=value."""
    parse_overrides(text, where)  # names this input in the error
    return tuple(
        s.strip()
        for s in (text or "").splitlines()
        if s.strip() and not s.strip().startswith("#")
    )


def parse_overrides(text: str | None, where: str = "overrides") -> dict[str, str]:
    """``section.field=value`` lines (blank lines and ``#`` comments skipped)."""
    return config_lib.parse_overrides((text or "").splitlines(), where=where)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or v in ((), [])


def to_params(study: str, values: dict[str, Any]):
    """`Params` of `study` from the form's raw values ({field name: value}).

    A blank input keeps the field's default (for an optional field: None, the
    preset's value). Raises `StudyError` (`ConfigError` for a malformed override
    line) with a message naming the input.
    """
    cls = params_class(study)
    typed: dict[str, Any] = {}
    for w in form_fields(study):
        name = w.field.name
        if name not in values:
            continue
        v = values[name]
        if w.widget == "lines":
            typed[name] = lines(v, name)
        elif not _blank(v):
            typed[name] = tuple(v) if isinstance(v, list) else v
    return make(cls, None, typed)


# Checks before starting ----------
def hades_configs(study: str, p) -> list:
    """The HaDES configs the study will distil (built, so a bad override or a value
    out of range raises `ConfigError` naming the field)."""
    from engine import presets

    if hasattr(p, "configs"):
        return list(p.configs().values())
    if hasattr(p, "config"):
        return [p.config()]
    if getattr(p, "dataset", None) or getattr(p, "datasets", None):
        return []  # given datasets: nothing is distilled
    envs = getattr(p, "envs", None) or ((p.env,) if hasattr(p, "env") else ())
    preset = DISTIL_PRESET.get(study, p.preset)
    out = []
    for env in envs:
        cfg = presets.make(preset, env, None, p.seed)
        out.append(cfg.with_overrides(p.override_dict()) if p.overrides else cfg)
    return out


def _dataset_refs(p) -> list[str]:
    fields = {f.name: f for f in fields_of(type(p))}
    refs: list[str] = []
    for name in ("dataset", "datasets"):
        f = fields.get(name)
        v = getattr(p, name, None)
        if f is None or f.choices or v is None:
            continue
        refs += [v] if isinstance(v, str) else list(v)
    return refs


def _folder(value: str | None, where: str) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise StudyError(f"{where} {value}: no such folder")
    return path


def precheck(study: str, p, runs_root=None) -> None:
    """What can fail before the study starts, as `StudyError` / `ConfigError`."""
    from engine.envs import get_spec  # names are checked by `Params` itself

    specs = []
    refs = _dataset_refs(p)
    if refs:
        from engine.dataset_ref import load_dataset_ref
        from engine.runs import RunError

        for ref in refs:
            try:
                ds, _ = load_dataset_ref(ref, runs_root)
            except (ValueError, RunError, OSError) as e:
                raise StudyError(f"dataset {ref}: {e}") from None
            specs.append((ds.env, ds.spec))
    elif hasattr(p, "envs"):
        specs = [(e, get_spec(e)) for e in p.envs]
    hades_configs(study, p)
    if study == "multitask":
        envs = [e for e, _ in specs]
        if len(envs) < 2:
            raise StudyError("envs: pick at least two tasks to merge")
        if len(set(envs)) != len(envs):
            raise StudyError(f"envs: each task once ({', '.join(envs)})")
        if len({s.discrete for _, s in specs}) != 1:
            raise StudyError(
                "envs: discrete and continuous tasks cannot be merged (pick only "
                "discrete or only continuous ones)"
            )
    if hasattr(p, "data_dir"):
        _folder(p.data_dir, "data_dir")
        if p.data_dir is None and getattr(p, "dataset", "digits") != "digits":
            raise StudyError(
                f"{p.dataset} needs data_dir, a local folder of IDX files "
                "(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
                "t10k-...): nothing is downloaded"
            )
    if study == "published":
        from engine.studies.published import default_folder, read_reference_csv

        folder = _folder(p.folder, "folder") or default_folder()
        if folder is None:
            raise StudyError("folder: give a folder of the paper's .pkl datasets")
        if not any(folder.glob("*.pkl")):
            raise StudyError(f"folder {folder}: holds no .pkl files")
        if p.reference is not None:
            try:
                read_reference_csv(Path(p.reference).expanduser())
            except (OSError, ValueError) as e:
                raise StudyError(f"reference {p.reference}: {e}") from None


def default_published_folder() -> str:
    """The reference folder beside the checkout, when present, else ''."""
    try:
        from engine.studies.published import default_folder

        d = default_folder()
    except Exception:  # noqa: BLE001 - a default is never worth an error
        return ""
    return str(d) if d is not None else ""
