"""The explicit runtime setup: call `setup()` once, before the first JAX computation.

Importing `engine` changes no environment variable and no JAX setting. Entry points
(the `hades` CLI, the dashboard, the test configuration, benchmarks) call `setup()`;
a library user gets the same speed by calling it too:

- One XLA CPU device per core. The population axis is sharded over local devices,
  and on CPU that is what runs members on all cores at once (a single CPU device
  runs a vmapped generation mostly on one core). `cpu_devices` or
  $HADES_CPU_DEVICES picks the count; 1 turns it off.
- Eigen's intra-op thread pool off when there are several CPU devices: each device
  then runs its program on one core, and the pool would only oversubscribe them.
- XLA's concurrency-optimised CPU scheduler off: it deadlocks (threads parked in
  futex wait) on vmapped train-and-roll-out programs (MinAtar and Brax, 2 cores).
- The persistent compilation cache ($HADES_JAX_CACHE, else
  $XDG_CACHE_HOME/hades/jax; HADES_JAX_CACHE=0 turns it off).

XLA flags the user already set in $XLA_FLAGS stay in charge. The XLA flags only act
if `setup()` runs before JAX starts its CPU client; `RuntimeInfo.late` says when it
did not (the cache still applies).

A run over several processes (`hades distill --distributed`) also calls
`init_distributed(DistributedSpec(...))` before any computation: it starts
`jax.distributed` (the coordination service, CPU collectives over gloo), after
which `jax.devices()` holds every device of every process. `setup(distributed=True)`
keeps a CPU process's devices single-threaded, as with several devices in one
process. Processes of the run that share a host's cores then take a disjoint share
each (`engine.core_share`; `DistributedSpec.share_cores`), and without
$HADES_CPU_DEVICES a CPU process gets one device per core of its share.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass, fields

from engine.jax_setup import enable_compilation_cache

SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler"
DEVICES_FLAG = "--xla_force_host_platform_device_count"
EIGEN_FLAG = "--xla_cpu_multi_thread_eigen"


@dataclass(frozen=True)
class RuntimeInfo:
    """What `setup()` did."""

    cpu_devices: int  # CPU devices asked for (the flag in force)
    xla_flags: str  # $XLA_FLAGS after setup
    compilation_cache: str | None  # cache directory, or None when off
    late: bool  # JAX's backends had already started: the XLA flags did not apply

    def to_dict(self) -> dict:
        return asdict(self)


_INFO: RuntimeInfo | None = None
_AUTO_DEVICES = False  # the CPU device count is ours (one per core), not the user's


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _backends_started() -> bool:
    """True once JAX has created its backends (the XLA flags are read then)."""
    xb = sys.modules.get("jax._src.xla_bridge")
    return bool(xb is not None and getattr(xb, "_backends", None))


def xla_flags_for(
    cpu_devices: int, flags: str = "", single_threaded: bool = False
) -> str:
    """`flags` with ours added where the user set none of the same name.

    `single_threaded`: each CPU device runs on one core even when there is one
    device (the processes of a distributed run share the cores)."""
    want = [(SCHEDULER_FLAG, "false"), (DEVICES_FLAG, cpu_devices)]
    if cpu_devices > 1 or single_threaded:
        want.append((EIGEN_FLAG, "false"))
    for name, value in want:
        if name not in flags:
            flags = f"{flags} {name}={value}".strip()
    return flags


def setup(
    cpu_devices: int | None = None,
    compilation_cache: bool = True,
    distributed: bool = False,
) -> RuntimeInfo:
    """Set the process up for HaDES (idempotent: later calls return the first
    result). Call it before any JAX computation; `distributed`: this process is
    one of a run over several processes (see `init_distributed`)."""
    global _INFO, _AUTO_DEVICES
    if _INFO is not None:
        return _INFO
    n = cpu_devices or int(os.environ.get("HADES_CPU_DEVICES", 0) or cpu_count())
    late = _backends_started()
    _AUTO_DEVICES = not (
        late
        or cpu_devices
        or os.environ.get("HADES_CPU_DEVICES")
        or DEVICES_FLAG in os.environ.get("XLA_FLAGS", "")
    )
    # JAX's own import default (engine/__init__.py undoes it for importers).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    if not late:
        os.environ["XLA_FLAGS"] = xla_flags_for(
            n, os.environ.get("XLA_FLAGS", ""), single_threaded=distributed
        )
    cache = enable_compilation_cache() if compilation_cache else None
    _INFO = RuntimeInfo(n, os.environ.get("XLA_FLAGS", ""), cache, late)
    return _INFO


def info() -> RuntimeInfo | None:
    """The result of `setup()`, or None when it was not called."""
    return _INFO


# A run over several processes ----------
class DistributedError(ValueError):
    """Distributed flags that cannot work, or a coordinator that cannot be reached;
    the message is one line that says what to change."""


@dataclass(frozen=True)
class DistributedSpec:
    """How this process joins a run over several processes (`jax.distributed`).

    Under SLURM or Open MPI, jax detects the fields left None; elsewhere give
    coordinator, num_processes and process_id to every process."""

    coordinator: str | None = None
    """HOST:PORT of the coordination service that process 0 starts (every process
    gives the same one). Default: detected by jax under SLURM or Open MPI."""
    num_processes: int | None = None
    """How many processes the run has. Default: detected by jax."""
    process_id: int | None = None
    """This process's index, 0 to num_processes - 1; process 0 writes the run store.
    Default: detected by jax."""
    heartbeat_timeout: int = 100
    """Seconds without a heartbeat after which jax declares a process dead and stops
    the others (a process that crashes is noticed at once by the next collective)."""
    init_timeout: int = 300
    """Seconds to wait for every process to join before giving up."""
    share_cores: bool = True
    """Processes of the run on one host that share its cores each take an equal,
    disjoint share of them (CPU affinity), so their XLA thread pools do not compete;
    processes a launcher already bound to their own cores keep them."""

    def check(self) -> None:
        """Raise DistributedError when the flags contradict each other."""
        n, i = self.num_processes, self.process_id
        if n is not None and n < 1:
            raise DistributedError(f"--num-processes {n}: needs at least 1")
        if i is not None and i < 0:
            raise DistributedError(f"--process-id {i}: must be 0 or more")
        if n is not None and i is not None and i >= n:
            raise DistributedError(
                f"--process-id {i} with --num-processes {n}: process ids go from "
                f"0 to {n - 1}"
            )
        for name in ("heartbeat_timeout", "init_timeout"):
            if getattr(self, name) < 1:
                raise DistributedError(
                    f"--{name.replace('_', '-')} {getattr(self, name)}: must be at "
                    "least 1 second"
                )
        if self.coordinator is not None:
            host, sep, port = self.coordinator.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise DistributedError(
                    f"--coordinator {self.coordinator!r}: use HOST:PORT (e.g. "
                    "head-node:1234)"
                )
        if n is not None and n > 1 and self.coordinator is None and not _detectable():
            raise DistributedError(
                f"--num-processes {n} needs --coordinator HOST:PORT (or a SLURM or "
                "Open MPI launch, where jax detects it)"
            )
        if (n is None) != (i is None) and not _detectable():
            raise DistributedError(
                "give --num-processes and --process-id together (or launch under "
                "SLURM or Open MPI, where jax detects them)"
            )

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


DETECTED_BY = ("SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE", "OMPI_MCA_orte_hnp_uri")
"""Environment variables of the launchers whose settings jax detects (its
`jax._src.clusters`); checked only to word the error when nothing is given."""


def _detectable() -> bool:
    return any(v in os.environ for v in DETECTED_BY)


def _loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _probe_coordinator(spec: DistributedSpec) -> None:
    """One-line errors for what jax would end with a fatal abort: process 0's port
    taken, or (other processes) no coordinator answering within init_timeout.
    Only with an explicit --coordinator (jax finds a detected one itself)."""
    if spec.coordinator is None or spec.process_id is None:
        return
    host, _, port = spec.coordinator.rpartition(":")
    host, port = host.strip("[]"), int(port)
    if spec.process_id == 0:
        bind = host if _loopback(host) else ""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # As gRPC binds: a port whose old connections linger is free.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((bind, port))
            except OSError as e:
                raise DistributedError(
                    f"--coordinator {spec.coordinator}: process 0 cannot listen on "
                    f"port {port} ({e.strerror}): choose a free port"
                ) from None
        return
    deadline = time.monotonic() + spec.init_timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise DistributedError(
                    f"--coordinator {spec.coordinator}: nothing answered within "
                    f"{spec.init_timeout} s (--init-timeout): start process 0 with "
                    "the same --coordinator, or check the address"
                ) from None
            time.sleep(0.5)


@dataclass(frozen=True)
class DistributedInfo:
    """What `init_distributed` joined."""

    process_id: int
    num_processes: int
    local_devices: int
    devices: int
    cores: tuple[int, ...] | None  # this process's share of its host's cores, if any

    def to_dict(self) -> dict:
        return asdict(self)


def init_distributed(spec: DistributedSpec) -> DistributedInfo:
    """Join the run's processes with `jax.distributed.initialize` (explicit, or
    jax's SLURM / Open MPI detection for the fields left None). Call it after
    `setup(distributed=True)` and before any JAX computation.

    On CPU the processes exchange data over gloo. A coordinator on a loopback
    address binds to that address only. Raises DistributedError (one line) for
    contradicting flags, an undetectable launch or a coordinator that does not
    answer within `spec.init_timeout`."""
    spec.check()
    if _backends_started():
        raise RuntimeError(
            "init_distributed must run before any JAX computation (JAX's backends "
            "have started)"
        )
    _probe_coordinator(spec)
    import jax

    if jax.config.jax_cpu_collectives_implementation is None:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    bind = None
    if spec.coordinator is not None and _loopback(spec.coordinator.rpartition(":")[0]):
        bind = spec.coordinator
    try:
        jax.distributed.initialize(
            coordinator_address=spec.coordinator,
            num_processes=spec.num_processes,
            process_id=spec.process_id,
            initialization_timeout=spec.init_timeout,
            heartbeat_timeout_seconds=spec.heartbeat_timeout,
            coordinator_bind_address=bind,
        )
    except (ValueError, TypeError) as e:  # jax: nothing given and nothing detected
        raise DistributedError(
            f"--distributed: {e} Give --coordinator HOST:PORT --num-processes N "
            "--process-id I, or launch under SLURM or Open MPI"
        ) from None
    except Exception as e:  # the coordinator did not answer in time
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DistributedError(
            f"--distributed: could not join the coordinator "
            f"{spec.coordinator or '(detected)'} within {spec.init_timeout} s: {first}"
        ) from None
    cores = None
    if spec.share_cores:
        from engine import core_share

        # Before jax.devices() starts the CPU client, which sizes its pool then.
        cores = core_share.apply(spec.init_timeout)
        if cores is not None and _AUTO_DEVICES:  # one CPU device per core it kept
            os.environ["XLA_FLAGS"] = _set_flag(
                os.environ.get("XLA_FLAGS", ""), DEVICES_FLAG, len(cores)
            )
    return DistributedInfo(
        jax.process_index(),
        jax.process_count(),
        jax.local_device_count(),
        jax.device_count(),
        None if cores is None else tuple(sorted(cores)),
    )


def _set_flag(flags: str, name: str, value) -> str:
    """`flags` with `name` set to `value` (replaced if present)."""
    kept = [f for f in flags.split() if f.split("=", 1)[0] != name]
    return " ".join([*kept, f"{name}={value}"])


def exit_now(code: int) -> None:
    """End a process of a distributed run that failed, at once.

    Without this, exiting runs jax.distributed's shutdown barrier, which waits for
    every process and, with one of them gone, ends in jax's fatal abort after the
    timeout. The run's status is written before this is called."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
