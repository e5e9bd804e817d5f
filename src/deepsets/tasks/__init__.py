"""Tasks beyond the exercise's `make_data`: plain functions returning sets, masks and targets.

Each takes a generator argument (a torch.Generator or an integer seed), so the same seed gives
the same sets.
"""

from deepsets.tasks.digits import digit_sum, image_digit_sum

__all__ = ["digit_sum", "image_digit_sum"]
