"""The training engine: stacked forms of the model families and the one training loop."""
