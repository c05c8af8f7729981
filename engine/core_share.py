"""The cores of one host, shared out among the processes of a distributed run on it.

Each process of a run over several processes starts its own XLA CPU client, which
sizes its thread pool to every core the process may use. When several processes of
the run share a host and the same cores (`hades distill --distributed` started N
times on one machine, or a launcher that does not bind its tasks), N pools compete
for the cores, and at each collective jax's gloo event loop waits for a core too.
Measured on 2 cores (benchmarks/README.md, "A run over two processes"): two
processes run at 0.64 of one process with two devices, and at 0.94 with a core each.

So, once `jax.distributed` is up and before JAX starts its CPU client, the processes
tell each other their host and their CPU affinity (through jax's coordination
service), and each takes an equal, disjoint share of the cores it shares with others
(`os.sched_setaffinity`): the threads XLA starts later inherit it, and XLA sizes its
pool to it. Processes that a launcher already bound to disjoint cores (SLURM's
`--cpu-bind`, Open MPI's `--bind-to core`) keep what they have.
"""

from __future__ import annotations

import os
import socket

KEY = "hades/core_share/{}"
"""Coordination-service key under which process i announces 'host|cpu,cpu,...'."""


def announcement(host: str, cores: set[int]) -> str:
    return f"{host}|{','.join(str(c) for c in sorted(cores))}"


def parse(text: str) -> tuple[str, frozenset[int]]:
    host, _, cpus = text.rpartition("|")
    return host, frozenset(int(c) for c in cpus.split(",") if c)


def share(process_id: int, everyone: list[str]) -> set[int] | None:
    """The cores process `process_id` should keep, or None to keep its affinity.

    `everyone[i]` is process i's `announcement`. The processes on this process's
    host whose affinity is the same as its own split those cores into equal
    contiguous blocks, in process order; with more processes than cores, each gets
    one core, round robin."""
    host, mine = parse(everyone[process_id])
    peers = [i for i, text in enumerate(everyone) if parse(text) == (host, mine)]
    if len(peers) < 2 or not mine:
        return None
    cores, n = sorted(mine), len(peers)
    rank = peers.index(process_id)
    if len(cores) < n:
        return {cores[rank % len(cores)]}
    lo, hi = rank * len(cores) // n, (rank + 1) * len(cores) // n
    return set(cores[lo:hi])


def apply(timeout_s: int) -> set[int] | None:
    """Exchange affinities over jax's coordination service and pin this process to
    its share (see `share`). Call it after `jax.distributed.initialize` and before
    anything starts JAX's backends (`jax.process_index()` does). Returns the cores
    kept, or None when nothing changed (alone on its cores, not on Linux, or no
    coordination client)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:  # what jax.distributed.initialize set up (no public accessor)
        from jax._src import distributed

        state = distributed.global_state
        client, process_id = state.client, state.process_id
        num_processes = state.num_processes
    except (ImportError, AttributeError):
        return None
    if client is None or not num_processes or num_processes < 2:
        return None
    mine = announcement(socket.gethostname(), os.sched_getaffinity(0))
    client.key_value_set(KEY.format(process_id), mine)
    everyone = [
        mine
        if i == process_id
        else client.blocking_key_value_get(KEY.format(i), timeout_s * 1000)
        for i in range(num_processes)
    ]
    cores = share(process_id, everyone)
    if cores is not None:
        # This thread's affinity; the threads started from now on inherit it.
        os.sched_setaffinity(0, cores)
    return cores
