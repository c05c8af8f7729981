"""The latency of one CPU collective between two jax.distributed processes
(gloo over 127.0.0.1): a jitted scan whose every step is a `shard_map` over both
processes' devices followed by a replicated sum (one all-reduce).

    PYTHONPATH=. python benchmarks/bench_collective_latency.py [--steps 200]

Used to tell the collectives' cost apart from the compute in
`bench_distributed.py` (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time


def worker(pid: int, port: int, steps: int) -> None:
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(f"127.0.0.1:{port}", 2, pid)
    mesh = Mesh(np.array(jax.devices()), ("pop",))
    double = jax.shard_map(
        lambda x: x * 2.0, mesh=mesh, in_specs=P("pop"), out_specs=P("pop"),
        check_vma=False,
    )  # fmt: skip

    def step(c, _):
        s = jnp.sum(double(c))  # a sharded value used replicated: a collective
        return c + s * 1e-9, s

    loop = jax.jit(lambda c: jax.lax.scan(step, c, None, length=steps))
    x = jax.device_put(jnp.ones(64), NamedSharding(mesh, P()))
    jax.block_until_ready(loop(x))  # compile
    t0 = time.perf_counter()
    jax.block_until_ready(loop(x))
    ms = (time.perf_counter() - t0) / steps * 1e3
    if pid == 0:
        print(f"{ms:.3f} ms per step (one collective each), {steps} steps")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        worker(args.worker, args.port, args.steps)
        return 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    cmd = [sys.executable, __file__, "--steps", str(args.steps), "--port", str(port)]
    procs = [
        subprocess.Popen([*cmd, "--worker", str(i)], env=env, stderr=subprocess.DEVNULL)
        for i in (0, 1)
    ]
    return max(p.wait(timeout=300) for p in procs)


if __name__ == "__main__":
    sys.exit(main())
