"""Tasks beyond the exercise's `make_data`: plain functions returning sets, masks and targets.

Each takes a generator argument (a torch.Generator or an integer seed), so the same seed gives
the same sets.
"""
