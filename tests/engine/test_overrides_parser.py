"""engine.config.parse_overrides: the one parser of ``section.field=value``, used by
`hades distill/config/evaluate --set`, `hades fork --set`, `hades study --set` and the
dashboard's override boxes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.config import ConfigError, parse_overrides
from tests.conftest import ROOT


def test_pairs_comments_and_blanks():
    items = ["outer.population=32", "  inner.lr = 0.01 ", "", "# a comment", "x.y=a=b"]
    assert parse_overrides(items) == {
        "outer.population": "32",
        "inner.lr": "0.01",
        "x.y": "a=b",
    }
    assert parse_overrides(None) == {} and parse_overrides([]) == {}


@pytest.mark.parametrize("bad", ["outer.population", "=3", "  = 3"])
def test_malformed_item_names_the_input(bad):
    with pytest.raises(ConfigError, match="not section.field=value") as e:
        parse_overrides(["seed=1", bad], where="--set")
    assert e.value.field == "--set" and e.value.value == bad.strip()


def test_dashboard_lines_use_the_same_parser():
    from dashboard.study_form import parse_overrides as dashboard_parse

    assert dashboard_parse("outer.population=8\n\n# x\nseed=2") == {
        "outer.population": "8",
        "seed": "2",
    }
    with pytest.raises(ValueError, match="overrides='oops' is invalid"):
        dashboard_parse("outer.population=8\noops")


@pytest.mark.parametrize(
    "argv,prefix",
    [
        (["config", "--set", "outer.population"], "hades: invalid config: --set="),
        (["study", "size-sweep", "--set", "=3"], "hades study size-sweep: --set="),
        (["fork", "some-run", "--set", "bad"], "hades: invalid config: --set="),
    ],
    ids=["config", "study", "fork"],
)
def test_cli_rejects_in_one_line(argv, prefix, tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "engine.cli", *argv, "--runs", str(tmp_path)]
        if argv[0] != "config"
        else [sys.executable, "-m", "engine.cli", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), res.stderr
    assert "not section.field=value" in lines[0]
    assert not list(tmp_path.iterdir())  # nothing written
