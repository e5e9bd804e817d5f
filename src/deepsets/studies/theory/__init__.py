"""`deepsets run theory`: five claims of the theory of set functions, each measured over seeds.

settings.py (what to run) -> claims/*.py (one module per claim: train with the engine, measure,
judge) -> verdicts.py (the thresholds) -> run.py (all claims, the outputs) -> report.py.
"""
