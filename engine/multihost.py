"""Arrays of a run over several processes (`jax.distributed`).

In a distributed run every process runs the same jitted chunks on a global mesh
(`jax.devices()`): the population is sharded over every device of every process and
the ES state is replicated, each process holding its own copy of it. Process 0 (the
leader) writes the run store and tells the others what to do between chunks; the
messages are jax's own collectives (`broadcast`), so no protocol of ours is on the
wire. In a single process every function here is the identity or a no-op.
"""

from __future__ import annotations

import contextlib
import hashlib
import json

import jax
import numpy as np


class PeerLostError(RuntimeError):
    """A process of the distributed run died or lost its connection."""


def count() -> int:
    """Processes in this run (1 without jax.distributed)."""
    return jax.process_count()


def index() -> int:
    return jax.process_index()


def is_leader() -> bool:
    """Whether this process writes the run store (process 0)."""
    return jax.process_index() == 0


def replicate(tree, sharding):
    """`tree` placed replicated on `sharding`.

    Over several processes each one places its own copy on its devices:
    `jax.device_put` would first compare the copies across processes (a collective,
    and NaN, which ES states hold, never compares equal). The copies are the same
    by construction: the leader broadcast the start state and every process applies
    the same changes."""
    if sharding.is_fully_addressable:
        return jax.device_put(tree, sharding)
    devices = sharding.addressable_devices

    def leaf(x):
        if isinstance(x, jax.Array) and x.sharding == sharding:
            return x
        x = local(x)
        return jax.make_array_from_single_device_arrays(
            np.shape(x), sharding, [jax.device_put(x, d) for d in devices]
        )

    return jax.tree.map(leaf, tree)


def local(tree):
    """This process's copy of replicated global arrays (others pass through)."""

    def leaf(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return x.addressable_data(0)
        return x

    return jax.tree.map(leaf, tree)


def broadcast(tree):
    """The leader's `tree` on every process (numpy leaves; every process passes
    the same structure, shapes and dtypes). Bit-exact: the leaves travel as their
    raw bytes in one uint8 buffer (a sum with the others' zeros), so float64,
    -0.0 and NaN payloads arrive as sent."""
    leaves, tdef = jax.tree.flatten(tree)
    arrays = [np.asarray(local(x)) for x in leaves]
    if count() == 1:
        return jax.tree.unflatten(tdef, arrays)
    from jax.experimental import multihost_utils

    raw = [np.ascontiguousarray(a).reshape(-1).view(np.uint8) for a in arrays]
    buf = np.concatenate(raw) if raw else np.zeros(0, np.uint8)
    if not is_leader():
        buf = np.zeros_like(buf)
    with peer_errors():
        got = np.asarray(multihost_utils.broadcast_one_to_all(buf, is_leader()))
    out, at = [], 0
    for a, r in zip(arrays, raw, strict=True):
        out.append(got[at : at + r.size].view(a.dtype).reshape(a.shape))
        at += r.size
    return jax.tree.unflatten(tdef, out)


def broadcast_with_flags(x, flag: bool) -> tuple[np.ndarray, list[bool]]:
    """The leader's array `x` on every process (the others pass one of the same
    shape and dtype), and every process's `flag` in process order: one collective.
    Bit-exact, as `broadcast`."""
    x = np.ascontiguousarray(np.asarray(local(x)))
    if count() == 1:
        return x, [bool(flag)]
    from jax.experimental import multihost_utils

    # The leader's raw bytes (zeros elsewhere, as in `broadcast`), then the flag
    raw = x.reshape(-1).view(np.uint8) if is_leader() else np.zeros(x.nbytes, np.uint8)
    row = np.concatenate([raw, np.asarray([flag], np.uint8)])
    with peer_errors():
        rows = np.asarray(multihost_utils.process_allgather(row)).reshape(count(), -1)
    got = rows[0, :-1].copy().view(x.dtype).reshape(x.shape)
    return got, [bool(f) for f in rows[:, -1]]


def broadcast_json(obj=None):
    """The leader's JSON-able `obj` on every process (the others pass None)."""
    data = json.dumps(obj).encode() if is_leader() else b""
    n = int(broadcast(np.asarray(len(data), np.int64)))
    buf = np.frombuffer(data, np.uint8) if is_leader() else np.zeros(n, np.uint8)
    return json.loads(broadcast(buf).tobytes().decode())


def digest(tree) -> str:
    """sha1 of this process's copy of `tree` (its leaves' bytes)."""
    h = hashlib.sha1()
    for x in jax.tree.leaves(local(tree)):
        h.update(np.ascontiguousarray(np.asarray(x)).tobytes())
    return h.hexdigest()


def all_digests(tree) -> list[str]:
    """Every process's `digest(tree)`, in process order (collective)."""
    mine = np.frombuffer(bytes.fromhex(digest(tree)), np.uint8)
    if count() == 1:
        return [mine.tobytes().hex()]
    from jax.experimental import multihost_utils

    with peer_errors():
        got = np.asarray(multihost_utils.process_allgather(mine))
    return [row.tobytes().hex() for row in got.reshape(count(), -1)]


STATUS_CODES = (
    "UNKNOWN:",
    "INTERNAL:",
    "UNAVAILABLE:",
    "DEADLINE_EXCEEDED:",
    "ABORTED:",
    "CANCELLED:",
    "FAILED_PRECONDITION:",
)
"""How the runtime's error statuses start (absl::Status)."""


@contextlib.contextmanager
def peer_errors():
    """Turn the runtime error of a collective whose peer is gone (gloo: connection
    closed; the coordination service: a task failed) into `PeerLostError`, naming this
    process. Nothing changes in a single process."""
    try:
        yield
    except (jax.errors.JaxRuntimeError, ValueError) as e:
        # A failed collective surfaces as JaxRuntimeError, or at dispatch as a
        # ValueError carrying the runtime's status ("UNKNOWN: Gloo all-reduce...").
        runtime = isinstance(e, jax.errors.JaxRuntimeError) or str(e).startswith(
            STATUS_CODES
        )
        if count() == 1 or not runtime:
            raise
        first = next((ln for ln in str(e).splitlines() if ln.strip()), str(e))
        raise PeerLostError(
            f"process {index()} of {count()} lost another process of the "
            f"distributed run (it died or its connection broke): {first.strip()}"
        ) from e
