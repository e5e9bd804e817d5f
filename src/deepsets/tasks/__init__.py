"""Tasks beyond the exercise's `make_data`: plain functions returning sets, masks and targets.

Each takes a generator argument (a torch.Generator or an integer seed), so the same seed gives
the same sets.
"""

from deepsets.tasks.attention import (  # the Set Transformer's benchmarks
    MixtureSets,
    max_regression,
    mixture_nll,
    mixture_sets,
    oracle_log_likelihood,
)
from deepsets.tasks.digits import digit_sum, image_digit_sum, shift_images
from deepsets.tasks.popstats import PopulationSets, population_sets
from deepsets.tasks.theory import (  # the theory study's tasks
    above_mean_sets,
    colliding_pairs,
    exercise_sets,
    mean_sets,
    median_sets,
    multiplicity_sets,
    per_element_ceiling,
)

__all__ = [
    "MixtureSets",
    "above_mean_sets",
    "colliding_pairs",
    "digit_sum",
    "exercise_sets",
    "image_digit_sum",
    "max_regression",
    "mean_sets",
    "median_sets",
    "mixture_nll",
    "mixture_sets",
    "multiplicity_sets",
    "oracle_log_likelihood",
    "per_element_ceiling",
    "population_sets",
    "PopulationSets",
    "shift_images",
]
