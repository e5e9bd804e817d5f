"""The digit-sum study (`deepsets run digits`): the DeepSets paper's Figure 2, reproduced.

settings -> models -> train -> evaluate -> verdicts -> figures -> report, run by `run.py`.
"""
