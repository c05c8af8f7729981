"""One writer per run: a lock file holding the writer's pid.

The lock is created with O_CREAT | O_EXCL, so two writers can never both create it.
It records the pid, the host and the process start time (from /proc, to tell a
reused pid from the original). A lock whose process is gone (or a zombie) is stale;
so is the lock of a process on another host (sharing the runs folder) whose
heartbeat in status.json is older than `STALE_CHUNKS` chunk times (and at least
`STALE_MIN_SECONDS`). `acquire` reports a stale lock, moves it aside and takes the
run over. A lock held by a live
process, this one included (another thread), refuses the second writer.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path

from engine.runs.errors import RunError

LOCK_NAME = "lock"


def _proc_start_time(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (Linux), else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 overall
    except (IndexError, ValueError):
        return None


def _proc_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[0] if fields else None


def pid_alive(pid: int, start_time: int | None = None) -> bool:
    """Whether process `pid` runs (not a zombie, and started at `start_time`)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    if _proc_state(pid) in ("Z", "X"):
        return False
    if start_time is not None:
        now = _proc_start_time(pid)
        if now is not None and now != start_time:
            return False  # the pid was reused by another process
    return True


STALE_CHUNKS = 10
"""A heartbeat older than this many chunk times (and than `stale_min`) is stale."""
STALE_MIN_SECONDS = 300.0
"""The least age of a stale heartbeat (a first chunk's compile writes none)."""


def heartbeat_age_limit(status: dict) -> float:
    """Seconds after which a run's heartbeat counts as stale."""
    chunk = float(status.get("chunk_seconds") or 0.0)
    floor = float(status.get("stale_min") or STALE_MIN_SECONDS)
    return max(STALE_CHUNKS * chunk, floor)


def heartbeat_fresh(status: dict | None, now: float | None = None) -> bool:
    """Whether a run's status heartbeat (written between chunks) is recent. A
    status without a heartbeat (an older run) cannot be judged: it counts as fresh."""
    if not status or status.get("heartbeat") is None:
        return True
    now = time.time() if now is None else now
    return now - float(status["heartbeat"]) <= heartbeat_age_limit(status)


def holder_alive(info: dict | None, status: dict | None = None) -> bool:
    """Whether the process described by a lock (or status) record still runs.

    A process on this host is checked by its pid. One on another host (a machine
    that shares the runs folder) is alive while the run's heartbeat in `status`
    is fresh (`heartbeat_fresh`).
    """
    if not info:
        return False
    if info.get("host") not in (None, socket.gethostname()):
        return heartbeat_fresh(status if status is not None else info)
    return pid_alive(info.get("pid", -1), info.get("start_time"))


def read_lock(run_dir: Path) -> dict | None:
    """The lock record of a run, or None when unlocked (or unreadable)."""
    path = Path(run_dir) / LOCK_NAME
    try:
        text = path.read_text()
    except OSError:
        return None
    try:
        info = json.loads(text)
    except json.JSONDecodeError:
        # Created but not written yet (a writer between open and write): a
        # writer exists; an old empty file means it died in between.
        try:
            age = time.time() - path.stat().st_mtime
        except OSError:
            return None
        return {
            "pid": -1,
            "host": socket.gethostname(),
            "partial": True,
            "fresh": age < 5.0,
        }
    return info if isinstance(info, dict) else None


def lock_alive(info: dict | None, status: dict | None = None) -> bool:
    if info and info.get("partial"):
        return bool(info.get("fresh"))
    return holder_alive(info, status)


def _read_status(run_dir: Path) -> dict | None:
    try:
        obj = json.loads((Path(run_dir) / "status.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return obj if isinstance(obj, dict) else None


def process_record() -> dict:
    pid = os.getpid()
    return {
        "pid": pid,
        "host": socket.gethostname(),
        "start_time": _proc_start_time(pid),
    }


class RunLock:
    """Exclusive write access to one run directory (see the module docstring)."""

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self.held = False
        self.stale: dict | None = None  # the dead holder replaced by `acquire`

    def acquire(self) -> RunLock:
        """Take the lock or raise RunError naming the live holder."""
        record = {**process_record(), "acquired": time.time()}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                info = read_lock(self.run_dir)
                if info is None:
                    continue  # released meanwhile: try again
                status = _read_status(self.run_dir)
                if lock_alive(info, status):
                    raise RunError(
                        f"run {self.run_dir.name} is being written by pid "
                        f"{info.get('pid')} on {info.get('host')}: a second writer "
                        "is refused (stop that process or wait for it)"
                    ) from None
                # Stale: move it aside; only one contender wins the rename.
                aside = self.path.with_name(f"{LOCK_NAME}.stale.{os.getpid()}")
                try:
                    os.replace(self.path, aside)
                except FileNotFoundError:
                    continue
                with contextlib.suppress(OSError):
                    aside.unlink()
                self.stale = dict(info)
                if info.get("host") not in (None, socket.gethostname()):
                    age = time.time() - float((status or {}).get("heartbeat") or 0)
                    self.stale["heartbeat_age"] = round(age, 1)
                    self.stale["stale_after"] = heartbeat_age_limit(status or {})
                continue
            except FileNotFoundError:
                raise RunError(f"run directory {self.run_dir} does not exist") from None
            with os.fdopen(fd, "w") as f:
                json.dump(record, f)
            self.held = True
            return self
        raise RunError(
            f"could not lock run {self.run_dir.name}: the lock file keeps "
            "changing (another writer is starting)"
        )

    def release(self) -> None:
        if not self.held:
            return
        info = read_lock(self.run_dir)
        if info and info.get("pid") == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        self.held = False

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
