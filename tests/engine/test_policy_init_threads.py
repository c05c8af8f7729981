"""Policy inits computed by two threads at once do not deadlock XLA's CPU pool.

jaxlib 0.10's batched QR (the orthogonal initializer, vmapped over members or
inits) splits its batch over the CPU thread pool and waits for the pieces on a
pool thread; two such programs at once held both threads of a 2-core pool and
waited forever (the dashboard hung in a Rollouts evaluation while its run
stopped). `engine.policy.orthogonal` runs a batch one matrix after another.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

TWO_THREADS = """
import os, sys, threading
import engine
engine.setup(cpu_devices=2)
import jax, jax.numpy as jnp
from engine import policy

pol = policy.MLPPolicy(2, True, width=64, depth=2)
x = jnp.zeros((4,))
f = jax.jit(jax.vmap(lambda k: pol.init(k, x)))
g = jax.jit(jax.vmap(lambda k: jax.tree.map(lambda a: 2 * a, pol.init(k, x))))
done = []

def work(fn):
    for i in range(200):
        jax.block_until_ready(fn(jax.random.split(jax.random.PRNGKey(i), 64)))
    done.append(1)

threads = [threading.Thread(target=work, args=(fn,), daemon=True) for fn in (f, g)]
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=90)
print("finished" if len(done) == 2 else "hung", flush=True)
os._exit(0)  # a hung thread would keep the interpreter alive
"""


def test_two_threads_initialising_policies_at_once_finish():
    out = subprocess.run(
        [sys.executable, "-c", TWO_THREADS],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HADES_JAX_CACHE": "0"},
    )
    assert out.stdout.strip().splitlines()[-1] == "finished", out.stderr[-2000:]
