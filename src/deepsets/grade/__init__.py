"""`deepsets grade`: a teacher grades a class's solutions of the course exercise in one command.

One concept per module, in the order a grading runs:
settings (the command's flags and their checks) -> submissions (the .py files and notebooks
found, read without running them) -> sandbox (one submission run in its own contained process)
-> harness and probes (inside that process: the student's code is loaded and raw values are
measured) -> checks (in the grader's process: the raw values judged, one verdict per check id)
-> rubric (points per id, hidden ids) -> outputs and pages (grades.csv, feedback.json and .html,
index.html, Gradescope's results.json) -> command (the plain function `grade` and `main`).
"""
