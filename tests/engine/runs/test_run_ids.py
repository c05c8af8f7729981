"""engine.runs.ids: the one maker of run and study ids."""

from __future__ import annotations

import re

import pytest

from engine.runs import RunError
from engine.runs import ids as ids_lib

ID = r"\d{8}-\d{6}-[0-9a-f]{6}"


def test_id_format_and_prefix():
    assert re.fullmatch(ID, ids_lib.new_run_id())
    assert re.fullmatch("size-sweep-" + ID, ids_lib.new_run_id("size-sweep"))


def test_new_run_dir_creates_unique_directories(tmp_path):
    made = [ids_lib.new_run_dir(tmp_path / "a" / "b") for _ in range(20)]
    assert len({rid for rid, _ in made}) == 20
    assert all(p.is_dir() and p.name == rid for rid, p in made)


def test_collisions_give_up_with_a_run_error(tmp_path, monkeypatch):
    monkeypatch.setattr(ids_lib, "new_run_id", lambda prefix="": "same")
    assert ids_lib.new_run_dir(tmp_path)[0] == "same"
    with pytest.raises(RunError, match="unique run directory"):
        ids_lib.new_run_dir(tmp_path)


def test_store_and_studies_use_it(tmp_path, tiny_cfg):
    from engine.runs import RunStore
    from engine.studies.common import StudyDir

    info = RunStore(tmp_path).create(tiny_cfg, check=False)
    assert re.fullmatch(ID, info.run_id)
    with StudyDir("transfer", {}, tmp_path) as sd:
        assert re.fullmatch("transfer-" + ID, sd.study_id)
        assert sd.path == tmp_path / "studies" / sd.study_id
