"""Run the real `hades` CLI in a subprocess and measure it from outside; mount a
small filesystem for disk faults."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY_DISTILL = [
    "distill", "--env", "CartPole-v1", "--size", "4", "--generations", "4",
    "--set", "outer.population=8", "--set", "outer.chunk=2",
    "--set", "outer.eval_every=2", "--set", "inner.width=16",
    "--set", "inner.steps=10", "--set", "fitness.num_envs=2",
    "--set", "fitness.num_steps=50", "--quiet", "--json",
]  # fmt: skip
"""`hades distill` of a tiny CartPole run (4 generations; --generations N later
on the line overrides it)."""


@dataclass
class Result:
    code: int
    out: str
    err: str
    max_rss: int
    """Peak resident set size of the process in bytes (from wait4's rusage)."""

    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def command(args, full_disk: tuple[Path, Path] | None = None) -> list[str]:
    """The command line of `hades ARGS`; with `full_disk` = (root, flag) under
    the simulated full disk of `enospc_shim`."""
    args = [str(a) for a in args]
    if full_disk is None:
        return [sys.executable, "-m", "engine.cli", *args]
    root, flag = full_disk
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r}); import "
        f"enospc_shim; enospc_shim.run({str(root)!r}, {str(flag)!r}, sys.argv[1:])"
    )
    return [sys.executable, "-c", code, *args]


def environment(env: dict | None = None) -> dict:
    full_env = {k: v for k, v in os.environ.items() if k != "HADES_DEBUG"}
    full_env.update(PYTHONPATH=str(ROOT), **(env or {}))
    return full_env


def start(*args, full_disk=None, **popen) -> subprocess.Popen:
    """`hades ARGS` in the background."""
    return subprocess.Popen(
        command(args, full_disk), env=environment(), cwd=ROOT, **popen
    )


def hades(
    *args, env: dict | None = None, timeout: float = 600, full_disk=None
) -> Result:
    """`python -m engine.cli ARGS` with this checkout first on the path."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            command(args, full_disk),
            stdout=out,
            stderr=err,
            env=environment(env),
            cwd=ROOT,
        )
        try:
            _, status, usage = _wait4(proc, timeout)
        finally:
            if proc.returncode is None and proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        err.seek(0)
        return Result(
            os.waitstatus_to_exitcode(status),
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
            usage.ru_maxrss * 1024,
        )


def _wait4(proc: subprocess.Popen, timeout: float):
    import signal
    import time

    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return pid, status, usage
        if time.monotonic() > deadline:
            os.kill(proc.pid, signal.SIGKILL)
            raise TimeoutError(f"hades did not finish within {timeout} s")
        time.sleep(0.05)


def assert_one_line_error(res: Result, *fragments: str, code: int = 2) -> str:
    """A non-zero exit, no traceback, one `hades:` line naming `fragments`."""
    assert "Traceback" not in res.err, res.err
    assert res.code == code, (res.code, res.err)
    lines = [x for x in res.error_lines() if not x.startswith("hades: warning:")]
    assert len(lines) == 1, res.err
    assert lines[0].startswith("hades"), lines
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


@contextlib.contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False):
    """A tmpfs of `size` mounted at `path` (yields None where mounting is not
    allowed, e.g. without root); unmounted at the end."""
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if read_only else "")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if r.returncode != 0:
        yield None
        return
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path, leave: int = 0) -> Path:
    """Fill the filesystem of `directory` up to `leave` free bytes."""
    import shutil

    big = directory / "filler.bin"
    with open(big, "wb", buffering=0) as f:
        block = bytes(2**20)
        with contextlib.suppress(OSError):
            while shutil.disk_usage(directory).free > leave + len(block):
                f.write(block)
        with contextlib.suppress(OSError):
            f.write(bytes(max(0, shutil.disk_usage(directory).free - leave)))
    return big
