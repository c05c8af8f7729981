"""One run over several processes: process 0 leads, the others follow.

Process 0 (the leader) is an ordinary `Runner`: it holds the run's lock, writes
the store, reads control from it and evaluates the mean dataset. It hands the
run's start to the other processes (`Leader.start`: config, observation
statistics, generation, ES state and parameters) and, before every chunk, its
decision (`Leader.decide`: run, with the live knob changes it applied, wait while
paused, or stop). The followers (`follow`) run the same chunks on their devices
and apply the same changes at the same generation, and never touch the store,
which therefore only process 0 needs to see. At the end every process compares a
digest of its copy of the ES state (`Leader.finish`).

Every message is a jax collective (`engine.multihost.broadcast`). A process that
dies breaks the next collective of the others (`PeerLostError`): the leader marks
the run failed with that reason and every survivor exits; jax's coordination
service stops the survivors in any case after its heartbeat timeout.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine import multihost
from engine.runs.control import KNOBS, RUN, STOP
from engine.runs.errors import RunError


def _leaf_specs(tree) -> list[list]:
    import jax

    return [
        [list(np.shape(x)), np.asarray(x).dtype.str]
        for x in jax.tree.leaves(multihost.local(tree))
    ]


def _receive(specs, treedef):
    """The leader's leaves, received into zeros of the shapes it announced."""
    import jax

    zeros = [np.zeros(shape, np.dtype(dtype)) for shape, dtype in specs]
    return jax.tree.unflatten(treedef, multihost.broadcast(zeros))


class Leader:
    """Process 0's side: what the run does, told to the other processes."""

    def __init__(self):
        self.started = False
        self.info = {"processes": multihost.count()}

    def abort(self, message: str) -> None:
        """Before the start: tell the followers the run will not start, and why."""
        if not self.started:
            self.started = True  # once
            multihost.broadcast_json({"ok": False, "error": message})

    def start(self, run_id: str, d, es_state, es_params, gen: int, total: int):
        """Send the start; returns (state, params) as every process now holds them."""
        import jax

        obs = None if d.obs_mean is None else (d.obs_mean, d.obs_var)
        header = {
            "ok": True,
            "run_id": run_id,
            "config": d.cfg.to_dict(),
            "generation": int(gen),
            "total": int(total),
            "obs_stats": None if obs is None else _leaf_specs(obs),
            "state": _leaf_specs((es_state, es_params)),
        }
        multihost.broadcast_json(header)
        self.started = True
        if obs is not None:
            multihost.broadcast(obs)
        # Everyone, the leader too, runs on the very bits that were sent.
        leaves = multihost.broadcast(jax.tree.leaves((es_state, es_params)))
        return jax.tree.unflatten(jax.tree.structure((es_state, es_params)), leaves)

    def decide(self, kind: int, knobs: dict | None = None) -> list[int]:
        """RUN (with the knob changes applied), WAIT or STOP, before a chunk.

        Returns the processes that were interrupted (Ctrl-C, SIGTERM) and ask the
        run to stop: when there are any, every process stops at this boundary,
        whatever the decision was."""
        knobs = knobs or {}
        msg = [float(kind)] + [float(knobs.get(k, math.nan)) for k in KNOBS]
        _, flags = multihost.broadcast_with_flags(np.asarray(msg, np.float64), False)
        return [i for i, f in enumerate(flags) if f]

    def finish(self, es_state) -> list[str]:
        """Every process's digest of its ES state copy (they must all agree)."""
        return multihost.all_digests(es_state)


def follow(interrupted=lambda: False) -> dict[str, Any]:
    """Run the chunks process 0 leads until it finishes or stops the run.

    `interrupted()`: this process was asked to stop (a signal); it says so at the
    next chunk boundary, and the run stops there on every process.
    Returns {process_id, run_id, generations, total_generations, status,
    state_digest}; raises RunError when the leader did not start the run (its
    reason), PeerLostError when a process died."""
    import jax

    from engine.config import HadesConfig
    from engine.runs.runner import shared_distiller

    header = multihost.broadcast_json()
    if not header.get("ok"):
        raise RunError(
            f"process 0 did not start the run: {header.get('error') or 'unknown'}"
        )
    cfg = HadesConfig.from_dict(header["config"])
    obs = None
    if header["obs_stats"] is not None:
        obs = _receive(header["obs_stats"], jax.tree.structure((0, 0)))
    d = shared_distiller(cfg, obs)
    template = d.init()
    es_state, es_params = _receive(header["state"], jax.tree.structure(template))
    stopped = False

    def control(state, params, gen):
        nonlocal stopped
        while True:
            msg, flags = multihost.broadcast_with_flags(
                np.zeros(1 + len(KNOBS), np.float64), interrupted()
            )
            kind = int(msg[0])
            if kind == RUN:  # the changes the leader applied, applied here too
                knobs = {k: float(v) for k, v in zip(KNOBS, msg[1:]) if not np.isnan(v)}
                if knobs:
                    state, params = multihost.local((state, params))
                    for k, v in knobs.items():
                        state, params = d.strategy.set_knob(state, params, k, v)
            if kind == STOP or any(flags):
                stopped = True
                return state, params, True
            if kind == RUN:
                return state, params, False

    es_state, es_params, gen = d.run(
        es_state,
        es_params,
        header["generation"],
        header["total"],
        control=control,
    )
    digests = multihost.all_digests(es_state)
    return {
        "process_id": multihost.index(),
        "run_id": header["run_id"],
        "generations": gen,
        "total_generations": header["total"],
        "status": "stopped" if stopped else "finished",
        "state_digest": digests[multihost.index()],
        "replicas_agree": len(set(digests)) == 1,
    }
