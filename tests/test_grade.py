"""`deepsets grade` on a class built in tests/grade_submissions.py, graded once: the reference
gets full marks, each fault loses exactly its check's points (a check can be seen turning red),
the hostile submissions get their status, and the class folder is left as it was."""

from __future__ import annotations

import csv
import html
import json
import subprocess
import sys
from pathlib import Path

import pytest
from grade_submissions import ALSO_LOST, FAULTS, HOSTILE_OUTCOMES, LOOPS, build_class

from deepsets.grade.checks import IDS
from deepsets.grade.command import ClassGraded, grade
from deepsets.grade.grading import Graded
from deepsets.grade.rubric import DEFAULT_POINTS
from deepsets.grade.settings import GradeSettings

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results.json"
LOOP_TIMEOUT = 25.0  # loading and measuring all but train take 5-15 s on a 2-core machine


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> tuple[ClassGraded, Path, dict]:
    root = tmp_path_factory.mktemp("grade")
    folder, out = root / "class", root / "out"
    build_class(folder, [root / "class", root / "out"])
    before = snapshot(folder)
    # deepset.learns trains 1000 steps here (the reference classifies all 372 sets by then on
    # seeds 0-5); seed 1, in the test of a second seed, is graded with the default 4000
    settings = GradeSettings(submissions=(str(folder),), out=str(out), seed=0, jobs=2,
                             answers=str(RESULTS), steps=1000)  # fmt: skip
    done = grade(settings)
    assert snapshot(folder) == before  # the class folder is never touched
    return done, out, {g.submission: g for g in done.graded}


def lost(g: Graded) -> set[str]:
    return {c.id for c in g.checks if not c.passed}


@pytest.mark.parametrize("name", ["reference", "reference_nb"])
def test_the_reference_gets_full_marks(graded_class, name):
    g = graded_class[2][name]
    assert (g.status, g.message, lost(g)) == ("graded", "", set())
    assert g.score == g.max_score == sum(DEFAULT_POINTS.values())
    assert [c.id for c in g.checks] == list(IDS)
    assert all(c.message for c in g.checks)


@pytest.mark.parametrize("check", FAULTS)
def test_each_fault_loses_exactly_its_checks_points(graded_class, check):
    g = graded_class[2][f"fault_{check.replace('.', '_')}"]
    assert g.status == "graded"
    assert lost(g) == {check} | ALSO_LOST.get(check, set()), [
        (c.id, c.message) for c in g.checks if not c.passed
    ]
    failed = next(c for c in g.checks if c.id == check)
    assert failed.points == 0 and failed.max_points == DEFAULT_POINTS[check]
    assert g.score == g.max_score - sum(DEFAULT_POINTS[i] for i in lost(g))
    print(f"{check}: {failed.message}")  # the closing note's red checks (pytest -s)


def test_messages_say_what_was_measured_and_what_is_asked(graded_class):
    by = graded_class[2]

    def message(name: str, check: str) -> str:
        return next(c.message for c in by[name].checks if c.id == check)

    assert message("fault_data_shape", "data.shape") == (
        "X has shape (2, 10); the exercise asks for (2, 10, 1) for make_data(2)"
    )
    assert "class 1 sets hold 4 nonzero objects (at 0.25)" in message(
        "fault_data_values", "data.values"
    )
    assert "its steps were taken by SGD" in message("fault_train_adam", "train.adam")
    assert "train called make_data 1 times" in message("fault_train_fresh_data", "train.fresh_data")
    assert "pooled by mean or max" in message("fault_deepset_sum_pooling", "deepset.sum_pooling")
    assert "phi is affine" in message("fault_deepset_phi_nonlinear", "deepset.phi_nonlinear")


@pytest.mark.parametrize("name", HOSTILE_OUTCOMES)
def test_hostile_submissions_are_contained(graded_class, name):
    g = graded_class[2][name]
    status, part = HOSTILE_OUTCOMES[name]
    assert g.status == status and part in g.message, (g.status, g.message)
    assert g.score == 0
    if status != "graded":
        assert all(c.message.startswith("not measured") for c in g.checks)


def test_the_outputs(graded_class):
    done, out, by = graded_class
    rows = list(csv.DictReader((out / "grades.csv").read_text(encoding="utf-8").splitlines()))
    assert list(rows[0]) == ["submission", "status", "score", "max_score", *IDS]
    assert {r["submission"] for r in rows} == set(by)
    for row in rows:
        g = by[row["submission"]]
        data = json.loads((out / g.submission / "feedback.json").read_text(encoding="utf-8"))
        assert (row["status"], float(row["score"])) == (data["status"], data["score"])
        assert sum(float(row[i]) for i in IDS) == data["score"]
        assert {"submission", "status", "score", "max_score", "checks"} <= set(data)
        assert {"id", "points", "max_points", "passed", "message"} <= set(data["checks"][0])
    index = (out / "index.html").read_text(encoding="utf-8")
    assert all(f'href="{name}/feedback.html"' in index for name in by)
    assert (out / "scores.png").stat().st_size > 10_000
    page = (out / "reference_nb" / "feedback.html").read_text(encoding="utf-8")
    assert "An MLP needs about 1400 parameters" in page  # the student's Step 7 answer
    sweep = json.loads(RESULTS.read_text(encoding="utf-8"))["study"]["findings"]["mlp_sweep"]
    assert html.escape(sweep["sentence"][:60]) in page  # beside the measured one, as recorded
    assert "&lt;" not in page or "<script" not in page
    assert (out / ".deepsets-grade").is_file()


def test_a_second_seed_a_hidden_check_and_gradescope(graded_class, tmp_path):
    """The reference, graded from the command line with seed 0 again (the same messages) in
    Gradescope's mode with a rubric that hides a check and reweighs another; and with seeds 1, 2."""
    by = graded_class[2]
    rubric = tmp_path / "rubric.toml"
    rubric.write_text('hidden = ["deepset.learns"]\n[points]\n"data.random" = 4\n')
    reference = Path(by["reference"].path)
    command = [sys.executable, "-m", "deepsets.cli", "grade", str(reference), "--out",
               str(tmp_path / "gs"), "--gradescope", "--rubric", str(rubric),
               "--steps", "1000"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "gs" / "results.json").read_text(encoding="utf-8"))
    tests = {t["name"].split(":")[0]: t for t in results["tests"]}
    assert tests["deepset.learns"]["visibility"] == "after_published"
    assert tests["data.random"]["max_score"] == tests["data.random"]["score"] == 4
    assert results["score"] == sum(DEFAULT_POINTS.values()) + 2
    assert {i: t["output"] for i, t in tests.items()} == {
        c.id: c.message for c in by["reference"].checks
    }  # same seed, same measurements
    for seed in (1, 2):  # other seeds, the default 4000 steps: full marks too
        again = grade(GradeSettings(submissions=(str(reference),), out=str(tmp_path / str(seed)),
                                    seed=seed))  # fmt: skip
        assert again.graded[0].score == again.graded[0].max_score, again.graded[0].checks


def test_a_time_limit_stops_a_loop_and_keeps_what_was_measured(tmp_path):
    (tmp_path / "class").mkdir()
    for name, code in LOOPS.items():
        (tmp_path / "class" / f"{name}.py").write_text(code, encoding="utf-8")
    done = grade(GradeSettings(submissions=(str(tmp_path / "class"),), out=str(tmp_path / "out"),
                               timeout=LOOP_TIMEOUT, jobs=2))  # fmt: skip
    by = {g.submission: g for g in done.graded}
    assert by["loop"].status == "timeout" and "while it was loaded" in by["loop"].message
    partial = by["loop_in_train"]
    assert partial.status == "timeout"
    assert "while train was measured, after 7 measurements" in partial.message
    passed = {c.id for c in partial.checks if c.passed}
    assert {"data.shape", "deepset.invariant", "count_params.exact"} <= passed
    train = next(c for c in partial.checks if c.id == "train.returns")
    limit = f"not measured: it ran longer than the time limit of {LOOP_TIMEOUT:g} s"
    assert train.message.startswith(limit)
    assert all(g.seconds < LOOP_TIMEOUT + 5 for g in done.graded)
