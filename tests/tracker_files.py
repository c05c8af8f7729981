"""Reading back what the trackers wrote, with the trackers' own formats: TensorBoard's
event reader, and W&B's offline run file (its transaction log of `Record` protos)."""

from __future__ import annotations

import json
import struct
from pathlib import Path


def tensorboard_run(logdir: Path):
    """An `EventAccumulator` (TensorBoard's reader) loaded with everything."""
    from tensorboard.backend.event_processing import event_accumulator as ea

    acc = ea.EventAccumulator(str(logdir), size_guidance={ea.SCALARS: 0, ea.IMAGES: 0,
                                                         ea.TENSORS: 0})  # fmt: skip
    acc.Reload()
    return acc


def tensorboard_series(logdir: Path, tag: str) -> dict[int, float]:
    return {e.step: e.value for e in tensorboard_run(logdir).Scalars(tag)}


# W&B's .wandb file: a ":W&B" header (magic 0xBEE1, version 0), then LevelDB-log
# records in 32 KiB blocks (crc32, length, type: full / first / middle / last).
_HEADER = 7
_BLOCK = 32768


def _chunks(data: bytes):
    assert data[:4] == b":W&B", "not a W&B transaction log"
    pos, buf = _HEADER, b""
    while pos + 7 <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < 7:  # block trailer
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 1:
            yield chunk
        elif kind == 2:
            buf = chunk
        elif kind == 3:
            buf += chunk
        elif kind == 4:
            yield buf + chunk


def wandb_records(run_dir: Path) -> list:
    """The `Record` protos of an offline W&B run directory (offline-run-*)."""
    from wandb.proto import wandb_internal_pb2 as pb

    (path,) = Path(run_dir).glob("run-*.wandb")
    out = []
    for data in _chunks(path.read_bytes()):
        r = pb.Record()
        r.ParseFromString(data)
        out.append(r)
    return out


def wandb_offline_runs(root: Path) -> list[Path]:
    return sorted(Path(root).rglob("offline-run-*"))


def wandb_history(run_dir: Path) -> dict[int, dict]:
    """{step: {key: value}} of the history rows (nested keys joined by '/')."""
    rows: dict[int, dict] = {}
    for r in wandb_records(run_dir):
        if r.WhichOneof("record_type") != "history":
            continue
        row = {(i.key or "/".join(i.nested_key)): json.loads(i.value_json)
               for i in r.history.item}  # fmt: skip
        rows.setdefault(int(row["_step"]), {}).update(row)
    return rows


def wandb_run_record(run_dir: Path):
    """The run record (id, project, config, branch point)."""
    for r in wandb_records(run_dir):
        if r.WhichOneof("record_type") == "run":
            return r.run
    raise AssertionError(f"no run record in {run_dir}")


def wandb_config(run_dir: Path) -> dict:
    """The run's config ({key: value}) from its run and config records."""
    cfg = {}
    for r in wandb_records(run_dir):
        kind = r.WhichOneof("record_type")
        items = (
            r.run.config.update if kind == "run" else
            r.config.update if kind == "config" else []
        )  # fmt: skip
        for i in items:
            cfg[i.key] = json.loads(i.value_json)
    return cfg
