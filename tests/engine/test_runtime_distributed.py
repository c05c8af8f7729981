"""The distributed part of the runtime setup, without starting jax.distributed."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from engine import multihost
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
