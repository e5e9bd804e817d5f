"""The stacked engine: many models trained at once, each to the numbers `deepsets.train` gives
it alone. Entry points and their contract: `engine/train.py` (`train_many`, `train_on`)."""
