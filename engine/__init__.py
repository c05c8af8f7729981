"""HaDES engine: behaviour distillation in pure JAX (no UI code here).

Lupu, Lu, Liesen, Lange, Foerster. "Behaviour Distillation". ICLR 2024.
"""

__version__ = "0.1.0"
