"""HaDES engine: behaviour distillation in pure JAX (no UI code here).

Lupu, Lu, Liesen, Lange, Foerster. "Behaviour Distillation". ICLR 2024.
"""

import os as _os

# XLA's concurrency-optimised CPU scheduler deadlocks (threads parked in futex wait)
# on vmapped train-and-roll-out programs (seen with MinAtar and Brax on 2 cores).
# Turn it off before the CPU client starts; a user's own XLA_FLAGS stay in charge.
_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler"
if _FLAG not in _os.environ.get("XLA_FLAGS", ""):
    _os.environ["XLA_FLAGS"] = (
        _os.environ.get("XLA_FLAGS", "") + f" {_FLAG}=false"
    ).strip()

__version__ = "0.1.0"
