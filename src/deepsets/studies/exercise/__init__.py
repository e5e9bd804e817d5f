"""The exercise study (`deepsets run`): every step of the exercise and the questions beyond it,
measured over seeds.

settings -> plan (the models) -> sections/ (one per question, each a frozen dataclass) ->
verdicts/findings -> figures -> report, run by `run.py`.
"""
