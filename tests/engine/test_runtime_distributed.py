"""The distributed part of the runtime setup, without starting jax.distributed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from engine import core_share, multihost
from engine.runtime import (
    EIGEN_FLAG,
    DistributedError,
    DistributedSpec,
    xla_flags_for,
)
from tests.conftest import ROOT


def test_importing_the_distributed_modules_changes_no_setting():
    code = (
        "import os, jax; a=dict(os.environ); c=dict(jax.config.values); "
        "import engine.runtime, engine.multihost, engine.runs.distributed; "
        "print(a == dict(os.environ), c == jax.config.values, "
        "jax.distributed.is_initialized())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT
    )
    assert out.stdout.strip() == "True True False", out.stderr


def test_processes_of_a_distributed_run_keep_one_thread_per_device():
    assert EIGEN_FLAG not in xla_flags_for(1)  # one device alone uses every core
    assert f"{EIGEN_FLAG}=false" in xla_flags_for(1, single_threaded=True)
    assert f"{EIGEN_FLAG}=false" in xla_flags_for(2)
    assert xla_flags_for(1, f"{EIGEN_FLAG}=true", True).count(EIGEN_FLAG) == 1


@pytest.mark.parametrize(
    "spec, message",
    [
        (DistributedSpec("h:1", 2, 2), "process ids go from 0 to 1"),
        (DistributedSpec("h:1", 0, 0), "needs at least 1"),
        (DistributedSpec("h:1", 2, -1), "must be 0 or more"),
        (DistributedSpec("h", 2, 0), "use HOST:PORT"),
        (DistributedSpec("h:99999", 2, 0), "use HOST:PORT"),
        (DistributedSpec(None, 2, 1), "needs --coordinator HOST:PORT"),
        (DistributedSpec("h:1", 2, None), "together"),
        (DistributedSpec("h:1", 2, 0, heartbeat_timeout=0), "at least 1 second"),
    ],
)
def test_contradicting_specs_are_refused(monkeypatch, spec, message):
    for var in ("SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE", "OMPI_MCA_orte_hnp_uri"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(DistributedError, match=message):
        spec.check()


def test_specs_that_work():
    DistributedSpec("head-node:1234", 2, 1).check()
    DistributedSpec("[::1]:1234", 1, 0).check()
    DistributedSpec().check()  # everything detected (SLURM, Open MPI)


def test_broadcast_in_one_process_keeps_the_bits():
    tree = {
        "a": np.array([-0.0, np.nan, 1.5], np.float32),
        "k": np.arange(3, dtype=np.uint32),
        "s": np.asarray(7, np.int64),
    }
    out = multihost.broadcast(tree)
    for k in tree:
        assert out[k].dtype == tree[k].dtype and out[k].shape == tree[k].shape
        assert out[k].tobytes() == tree[k].tobytes()
    assert multihost.broadcast_json({"x": [1, 2]}) == {"x": [1, 2]}
    assert multihost.all_digests(tree) == [multihost.digest(tree)]


# Cores shared out among the processes of a run on one host ----------
def test_processes_on_the_same_cores_split_them_in_process_order():
    same = [core_share.announcement("h", {0, 1, 2, 3})] * 2
    assert core_share.share(0, same) == {0, 1}
    assert core_share.share(1, same) == {2, 3}
    three = [core_share.announcement("h", {4, 5, 6, 7, 8})] * 3
    assert [core_share.share(i, three) for i in range(3)] == [{4}, {5, 6}, {7, 8}]
    crowd = [core_share.announcement("h", {0, 1})] * 3  # more processes than cores
    assert [core_share.share(i, crowd) for i in range(3)] == [{0}, {1}, {0}]


def test_processes_alone_or_already_bound_keep_their_cores():
    other_hosts = [core_share.announcement(h, {0, 1}) for h in ("a", "b")]
    assert core_share.share(0, other_hosts) is None
    bound = [core_share.announcement("h", {i}) for i in (0, 1)]  # SLURM --cpu-bind
    assert core_share.share(0, bound) is None and core_share.share(1, bound) is None
    # Two on one host's cores, a third elsewhere: the two split, the third keeps
    mixed = [core_share.announcement(h, {0, 1}) for h in ("a", "b", "a")]
    assert [core_share.share(i, mixed) for i in range(3)] == [{0}, None, {1}]
    assert core_share.parse("node-1.example|0,1,7") == ("node-1.example", {0, 1, 7})


JOIN = """
import json, os, sys
if sys.argv[4]:  # as a launcher that binds its tasks would have started it
    os.sched_setaffinity(0, {int(c) for c in sys.argv[4].split(",")})
import engine
from engine.runtime import DistributedSpec, init_distributed
engine.setup(distributed=True)
info = init_distributed(DistributedSpec(sys.argv[1], 2, int(sys.argv[2]),
                                        share_cores=sys.argv[3] == "1"))
import jax
print(json.dumps({"cores": sorted(os.sched_getaffinity(0)), "info": info.to_dict(),
                  "local_devices": jax.local_device_count()}))
"""


def _join_two(share: bool, pin=None) -> list[dict]:
    """Two real processes join a run on 127.0.0.1 and say what cores they kept."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS",)}
    env.pop("HADES_CPU_DEVICES", None)  # one CPU device per core kept
    env.update(PYTHONPATH=str(ROOT), HADES_JAX_CACHE="0")
    procs = []
    for i in (0, 1):
        bind = "" if pin is None else ",".join(map(str, pin[i]))
        cmd = [sys.executable, "-c", JOIN, f"127.0.0.1:{port}", str(i)]
        procs.append(
            subprocess.Popen(
                [*cmd, str(int(share)), bind],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]


CORES = sorted(os.sched_getaffinity(0))


@pytest.mark.skipif(len(CORES) < 2, reason="needs at least 2 cores to share out")
def test_two_processes_on_one_host_take_a_disjoint_share_of_its_cores():
    a, b = _join_two(share=True)
    assert a["cores"] and b["cores"] and not set(a["cores"]) & set(b["cores"])
    assert sorted(a["cores"] + b["cores"]) == CORES
    assert a["info"]["cores"] == a["cores"] and b["info"]["cores"] == b["cores"]
    # one CPU device per core kept, every device in the run
    assert a["local_devices"] == len(a["cores"])
    assert a["info"]["devices"] == len(CORES)


@pytest.mark.skipif(len(CORES) < 2, reason="needs at least 2 cores to share out")
def test_no_share_cores_and_processes_already_bound_keep_their_cores():
    a, b = _join_two(share=False)
    assert a["cores"] == b["cores"] == CORES and a["info"]["cores"] is None
    bound = [{CORES[0]}, {CORES[1]}]
    a, b = _join_two(share=True, pin=bound)
    assert (a["cores"], b["cores"]) == ([CORES[0]], [CORES[1]])
    assert a["info"]["cores"] is None and b["info"]["cores"] is None
