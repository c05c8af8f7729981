"""The ES algorithms a config may name: `STRATEGIES`, the registry that configs,
the CLI and the dashboard iterate over.

evosax's distribution-based algorithms that run on a dict-of-arrays solution from
the (population_size, solution) constructor. `engine.config` validates
``outer.strategy`` against it; `engine.strategies` builds the algorithm.
"""

from __future__ import annotations

from evosax.algorithms import distribution_based_algorithms

# Algorithms that need more than (population_size, solution) or pretrained weights.
_EXCLUDED = {
    "LES",
    "EvoTF_ES",
    "CMAAnchoredLES",
    "DES",
    "SV_CMA_ES",
    "SV_Open_ES",
    "GuidedES",
    "NoiseReuseES",
    "PersistentES",
    "ASEBO",
    "ESMC",
    "iAMaLGaM_Full",
    "iAMaLGaM_Univariate",
    "GradientlessDescent",
    "RandomSearch",
}
STRATEGIES: tuple[str, ...] = tuple(
    n for n in distribution_based_algorithms if n not in _EXCLUDED
)
