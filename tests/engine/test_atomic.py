"""engine.atomic: the one atomic-write helper (JSON, CSV, figures, datasets,
checkpoints, exports)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from engine.atomic import atomic_write, jsonable, write_json


def test_replaces_whole_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with atomic_write(path) as f:
        f.write(b"new")
        assert path.read_bytes() == b"old"  # readers see the old file until the end
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_error_keeps_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(path, "w") as f:
        f.write("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_text_mode_newline_and_fsync(tmp_path):
    path = tmp_path / "t.csv"
    with atomic_write(path, "w", newline="", fsync=True) as f:
        f.write("a\r\nb\n")
    assert path.read_bytes() == b"a\r\nb\n"
    with pytest.raises(ValueError, match="use 'w' or 'wb'"), atomic_write(path, "a"):
        pass


def test_numpy_savez_through_it(tmp_path):
    path = tmp_path / "a.npz"
    with atomic_write(path) as f:
        np.savez(f, x=np.arange(3))
    with np.load(path) as z:
        assert z["x"].tolist() == [0, 1, 2]


def test_write_json_is_strict_json(tmp_path):
    obj = {"a": np.float32(1.5), "b": [math.nan, np.int64(2)], 3: np.arange(2)}
    assert jsonable(obj) == {"a": 1.5, "b": [None, 2], "3": [0, 1]}
    write_json(tmp_path / "o.json", obj)
    text = (tmp_path / "o.json").read_text()
    assert "NaN" not in text and json.loads(text) == jsonable(obj)
