"""Where a sweep's runs execute: Ray, locally or on a cluster (`RaySettings`).

``local`` starts a Ray instance in this process that stops with it. It listens on
127.0.0.1 only: Ray maps a loopback node address to the machine's outward address
unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER is 0 when Ray is imported, so `session`
sets that (and RAY_USAGE_STATS_ENABLED=0) for the import and the start only, and
checks the node address afterwards; it does the same to join a cluster at a
loopback address. No Ray dashboard is started.

Any other address joins an existing cluster: ``ray://HOST:PORT`` (Ray Client, from
outside the cluster), ``HOST:PORT`` (the GCS address, from a node of the cluster)
or ``auto`` (the cluster this node belongs to). A TCP connection to HOST:PORT is
tried first with a short timeout, so an unreachable address is one error line,
before any run is created.
"""

from __future__ import annotations

import contextlib
import os
import socket
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from engine.sweeps.grid import SweepError

CONNECT_TIMEOUT_S = 3.0
LOCAL_OBJECT_STORE_BYTES = 256 * 2**20  # runs return small dicts; data is on disk
LOOPBACK = ("127.0.0.1", "::1", "localhost")
HERE = "none"
"""The address meaning: no Ray, one run after another in this process."""


@dataclass(frozen=True)
class RaySettings:
    """How a sweep's runs execute."""

    address: str = "local"
    """local (a Ray instance on 127.0.0.1 that stops with the command), a cluster:
    ray://HOST:PORT (Ray Client), HOST:PORT (its GCS, from a cluster node) or auto;
    none: one run after another in this process, without Ray."""
    cpus_per_run: float = 1.0
    """CPUs each run claims; also its number of XLA CPU devices (the population is
    sharded over them)."""
    gpus_per_run: float = 0.0
    """GPUs each run claims (a fraction shares a GPU between runs)."""
    max_retries: int = 3
    """Times Ray restarts a run whose worker died; it resumes from its checkpoint."""
    local_cpus: int | None = None
    """CPUs of a local Ray instance (default: every core); unused on a cluster."""

    def __post_init__(self):
        check_address(self.address)
        if not self.cpus_per_run > 0:
            raise SweepError(f"--cpus-per-run {self.cpus_per_run}: must be > 0")
        if not self.gpus_per_run >= 0:
            raise SweepError(f"--gpus-per-run {self.gpus_per_run}: must be >= 0")
        if self.max_retries < 0:
            raise SweepError(f"--max-retries {self.max_retries}: must be >= 0")
        if self.local_cpus is not None and self.local_cpus < 1:
            raise SweepError(f"--local-cpus {self.local_cpus}: must be >= 1")

    @property
    def uses_ray(self) -> bool:
        return self.address != HERE

    @property
    def cpu_devices(self) -> int:
        """XLA CPU devices of each run: one per claimed CPU."""
        return max(1, int(self.cpus_per_run))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None, **changes) -> RaySettings:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        known.update({k: v for k, v in changes.items() if v is not None})
        return cls(**known)

    def describe(self) -> str:
        if not self.uses_ray:
            return "one after another in this process"
        where = "a local Ray instance" if self.address == "local" else self.address
        gpus = f", {self.gpus_per_run:g} GPU" if self.gpus_per_run else ""
        return f"Ray ({where}), {self.cpus_per_run:g} CPU{gpus} per run"


def check_address(address: str) -> tuple[str, int] | None:
    """(host, port) of a cluster address, None for local/auto/none; SweepError
    when it is neither."""
    if address in ("local", "auto", HERE):
        return None
    rest = address[len("ray://") :] if address.startswith("ray://") else address
    host, sep, port = rest.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SweepError(
            f"--ray {address!r}: use local, none, auto, ray://HOST:PORT or HOST:PORT"
        )
    return host, int(port)


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """SweepError unless a TCP connection to the address opens within `timeout`."""
    hp = check_address(address)
    if hp is None:
        return
    try:
        with socket.create_connection(hp, timeout=timeout):
            pass
    except OSError as e:
        why = "timed out" if isinstance(e, TimeoutError) else (e.strerror or str(e))
        raise SweepError(
            f"cannot reach the Ray cluster at {address}: {why} (is `ray start "
            "--head` running there? --ray local runs a Ray instance here)"
        ) from None


@contextlib.contextmanager
def _scoped_env(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, with None, remove) environment variables inside the block only."""
    old = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def session(settings: RaySettings) -> Iterator[dict]:
    """Ray started (local) or joined (a cluster) for the block; yields facts about
    it (address, node_ip, cpus, gpus). SweepError when it cannot be reached."""
    check_reachable(settings.address)
    env = {"RAY_USAGE_STATS_ENABLED": "0"}
    host = (check_address(settings.address) or ("",))[0]
    if settings.address == "local" or host in LOOPBACK:
        # A loopback address stays loopback (see the module docstring), for a
        # local instance and for a cluster bound to 127.0.0.1 alike.
        env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if settings.address == "local":
        env["RAY_ADDRESS"] = None  # it would make ray.init join, not start
    with _scoped_env(env), warnings.catch_warnings():
        # Ray starts its processes with fork+exec; JAX's at-fork warning is about
        # a fork that goes on running Python, which this is not.
        warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
        try:
            import ray
        except ImportError:
            raise SweepError(
                "Ray is not installed: pip install 'hades-studio[cluster]'"
            ) from None
        try:
            if settings.address == "local":
                ray.init(
                    address="local",
                    num_cpus=settings.local_cpus,
                    _node_ip_address="127.0.0.1",
                    include_dashboard=False,
                    object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                    log_to_driver=False,
                    configure_logging=False,
                )
            else:
                ray.init(address=settings.address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            hint = ""
            if settings.address != "local" and not os.environ.get("RAY_AUTH_MODE"):
                hint = (
                    " (a cluster with token authentication, Ray's default, needs "
                    "RAY_AUTH_MODE=token here and its token in ~/.ray/auth_token or "
                    "RAY_AUTH_TOKEN)"
                )
            raise SweepError(
                f"cannot connect to Ray at {settings.address}: "
                + str(e).strip().splitlines()[0]
                + hint
            ) from None
    try:
        resources = ray.cluster_resources()
        info = {
            "address": settings.address,
            "cpus": resources.get("CPU", 0),
            "gpus": resources.get("GPU", 0),
        }
        if settings.address == "local":
            info["node_ip"] = ray.util.get_node_ip_address()
        if info.get("node_ip", "127.0.0.1") not in LOOPBACK:
            raise SweepError(
                f"the local Ray instance took the address {info['node_ip']}, not "
                "127.0.0.1 (Ray was imported before the sweep started it); run the "
                "sweep in a fresh process"
            )
        yield info
    finally:
        ray.shutdown()
