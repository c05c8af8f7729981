"""A study's ``env`` / ``envs`` are checked when its `Params` is made: a typo is a
one-line error, and no study directory or run is left behind."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.parametrize(
    "module,values",
    [
        ("size_sweep", {"env": "CartPol"}),
        ("transfer", {"env": "CartPol"}),
        ("baseline", {"env": "CartPol"}),
        ("multitask", {"envs": ("CartPole-v1", "Acrobat")}),
    ],
)
def test_unknown_environment_is_a_study_error(module, values):
    import importlib

    from engine.studies.params import StudyError, make

    cls = importlib.import_module(f"engine.studies.{module}").Params
    bad = next(iter(values.values()))
    bad = bad if isinstance(bad, str) else bad[-1]
    with pytest.raises(StudyError, match=f"unknown environment {bad!r}; known: "):
        make(cls, None, values)
    assert make(cls).preset == "quick"  # the defaults are valid


def test_cli_unknown_env_one_line_nothing_written(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli", "study", "transfer", "--env", "nowhere",
         "--runs", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    lines = [x for x in out.stderr.splitlines() if "mujoco_warp" not in x]
    assert out.returncode == 2, out.stderr
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("hades study transfer: env: unknown environment")
    assert not (tmp_path / "studies").exists() and not list(tmp_path.glob("2*"))


def test_multitask_tasks_that_cannot_share_a_policy_are_refused_before_running(
    tmp_path,
):
    out = subprocess.run(
        [sys.executable, "-m", "engine.cli", "study", "multitask",
         "--envs", "CartPole-v1,hopper", "--runs", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    lines = [x for x in out.stderr.splitlines() if "mujoco_warp" not in x]
    assert out.returncode == 2, out.stderr
    assert lines == [
        "hades study multitask: multitask: discrete and continuous tasks cannot be "
        "merged: CartPole-v1 (discrete), hopper (continuous)"
    ], out.stderr
    assert not (tmp_path / "studies").exists() and not list(tmp_path.glob("2*"))


@pytest.mark.parametrize("value", [{"4": 1}, {4, 16}, 4])
def test_a_list_parameter_takes_a_list_or_text_not_a_mapping_or_a_number(value):
    from engine.studies.params import StudyError, make
    from engine.studies.size_sweep import Params

    with pytest.raises(StudyError, match="sizes=.*: not ints"):
        make(Params, None, {"sizes": value})
    assert make(Params, None, {"sizes": [4, 16]}).sizes == (4, 16)
    assert make(Params, None, {"sizes": "4, 16"}).sizes == (4, 16)


def test_a_list_parameter_with_choices_is_a_multiselect_and_a_comma_flag():
    import argparse

    from dashboard.study_form import form_fields
    from engine.studies.baseline import Params
    from engine.studies.params import add_flags

    widgets = {w.field.name: w.widget for w in form_fields("baseline")}
    assert widgets["methods"] == "multiselect" and widgets["preset"] == "select"
    parser = argparse.ArgumentParser()
    add_flags(parser, Params)
    args = parser.parse_args(["--methods", "hades_r,neuroevolution"])
    assert args.methods == "hades_r,neuroevolution"  # checked by Params itself
    with pytest.raises(SystemExit):  # a scalar with choices: argparse checks it
        parser.parse_args(["--preset", "fast"])
