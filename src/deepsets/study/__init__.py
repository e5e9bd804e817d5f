"""The study: every step of the exercise and the questions beyond it, measured over seeds."""
