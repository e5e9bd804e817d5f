"""The grader's parts without a sandbox: each judge on values either side of its threshold, the
chi-square statistic against simulated uniform draws, the rubric, reading notebooks, and the
refusals of `deepsets grade` (exit 2, naming the path) before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from grade_submissions import REFERENCE, notebook

from deepsets.grade import checks
from deepsets.grade.command import main
from deepsets.grade.outputs import replace
from deepsets.grade.rubric import DEFAULT_POINTS, load_rubric
from deepsets.grade.sandbox import Run
from deepsets.grade.settings import MARKER
from deepsets.grade.submissions import find, names, read, where

SUBMISSION = read(Path(__file__).parent / "grade_class" / "reference.py", "reference")


def uniform_sets(rng: np.random.Generator, n: int) -> np.ndarray:
    """n sets (n, 10) drawn as the exercise says, half of each class: an independent maker."""
    X = np.zeros((n, 10))
    for i in range(n):
        k = 3 if i < n // 2 else 5
        X[i, rng.permutation(10)[:k]] = 1 / k
    return X


def test_the_chi_square_threshold_is_the_09999_quantile_of_18_degrees():
    from scipy.stats import chi2

    assert checks.CHI2_18_9999 == pytest.approx(chi2.isf(1e-4, 18), abs=1e-3)


def test_the_statistic_is_chi_square_with_18_degrees_on_uniform_draws():
    """Its mean over 200 uniform classes is 18 (the unscaled Pearson sum would be near 11.6)."""
    rng = np.random.default_rng(0)
    T = [checks.chi_square(uniform_sets(rng, 400))[0] for _ in range(200)]
    assert abs(np.mean(T) - 18) < 4 * np.sqrt(36 / 200)  # 4 standard errors
    assert abs(np.var(T) - 36) < 18


def test_the_statistic_sees_a_slot_never_drawn():
    X = uniform_sets(np.random.default_rng(1), 2000)
    X[:, [0, 9]] = X[:, [9, 0]]  # move slot 9's objects to slot 0 ...
    X[:, 9] = 0  # ... and empty slot 9 (the sets stay valid where slot 9 was empty)
    keep = np.array([checks.kind(s) is not None for s in X])
    assert checks.chi_square(X[keep])[0] > checks.CHI2_18_9999


def calls(X: np.ndarray, y: np.ndarray) -> dict:
    N = len(X)
    return {"calls": [{"N": N, "X_type": "Tensor", "y_type": "Tensor", "X_shape": [N, 10, 1],
                       "y_shape": [N, 1], "X": X.reshape(-1).tolist(), "y": y.tolist()}]}


def test_the_data_judges_either_side():
    X = uniform_sets(np.random.default_rng(2), 100)
    y = np.repeat([0.0, 1.0], 50)
    assert checks.data_values(calls(X, y), SUBMISSION).passed
    assert checks.data_labels(calls(X, y), SUBMISSION).passed
    assert checks.data_balanced(calls(X, y), SUBMISSION).passed
    assert not checks.data_labels(calls(X, 1 - y), SUBMISSION).passed
    bad = X.copy()
    bad[0] = 0
    bad[0, :3] = 0.3  # three objects, not at 1/3
    verdict = checks.data_values(calls(bad, y), SUBMISSION)
    assert not verdict.passed and "class 0 sets hold 3 nonzero objects (at 0.3)" in verdict.message
    assert not checks.data_balanced(calls(X, np.repeat([0.0, 1.0], [49, 51])), SUBMISSION).passed


def outputs(move: float) -> dict:
    base = [0.5] * 4
    return {"outputs": [[base, [0.5 + move] * 4]], "single": [base], "doubled": [[0.5 + move] * 4],
            "three": [base], "five": [[0.5 + move] * 4]}  # fmt: skip


@pytest.mark.parametrize(
    ("judge", "threshold", "passes_above"),
    [
        (checks.invariant, checks.INVARIANCE_TOL, False),
        (checks.sum_pooling, checks.MOVE_MIN, True),
        (checks.phi_nonlinear, checks.MOVE_MIN, True),
    ],
)
def test_the_network_judges_either_side_of_their_thresholds(judge, threshold, passes_above):
    assert judge(outputs(threshold * 3), SUBMISSION).passed is passes_above
    assert judge(outputs(threshold / 3), SUBMISSION).passed is not passes_above
    assert not judge(outputs(float("nan")), SUBMISSION).passed


def test_learns_counts_the_372_sets():
    right = [0.0] * 120 + [1.0] * 252
    assert checks.learns({"outputs": right, "steps": 1}, SUBMISSION).passed
    wrong = [1.0] * 372  # everything class 1: 252 of 372
    verdict = checks.learns({"outputs": wrong, "steps": 1}, SUBMISSION)
    assert not verdict.passed and "252 of the 372" in verdict.message


def test_a_rubric_over_the_default_and_its_refusals(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('hidden = ["deepset.learns"]\n[points]\n"data.random" = 4\n"data.shape" = 0\n')
    rubric = load_rubric(path)
    assert rubric.points["data.random"] == 4 and rubric.points["data.shape"] == 0
    assert rubric.max_score == sum(DEFAULT_POINTS.values()) + 2 - 2
    assert rubric.hidden == {"deepset.learns"}
    for text, named in [('[points]\n"data.shap" = 1\n', "'data.shap'"),
                        ('[points]\n"data.shape" = -1\n', "'data.shape'"),
                        ('hidden = ["x"]\n', "'x'"), ("points = [", "TOML")]:  # fmt: skip
        path.write_text(text)
        with pytest.raises(ValueError, match=named):
            load_rubric(path)


def test_a_notebook_is_read_as_its_code_cells(tmp_path):
    path = tmp_path / "a.ipynb"
    path.write_text(json.dumps(notebook(REFERENCE, "Linear phi: every set sums to 1.")))
    s = read(path, "a")
    assert "# %matplotlib inline" in s.code and s.figures == 2
    assert "Step 7" in s.answers and "every set sums to 1" in s.answers
    compile(s.code, "a", "exec")
    line = s.code.splitlines().index("plt.plot(losses)") + 1
    assert where(s, line) == "cell 5, line 1"


def test_names_are_unique_and_safe(tmp_path):
    paths = [tmp_path / "a" / "hw.py", tmp_path / "b" / "hw.py", tmp_path / "x y.ipynb"]
    assert len(set(names(paths))) == 3 and "x_y" in names(paths)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["missing.py"], "missing.py: no such file"),
        (["notes.txt"], "notes.txt: not a .py file"),
        (["empty"], "the folder holds no .py or .ipynb"),
        (["ok.py", "--rubric", "none.toml"], "--rubric none.toml"),
    ],
)
def test_refusals_name_the_path(tmp_path, monkeypatch, capsys, args, named):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "ok.py").write_text("x = 1\n")
    (tmp_path / "empty").mkdir()
    assert main([*args, "--out", "out"]) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_output_folder_is_replaced_only_when_it_is_an_earlier_run(tmp_path, capsys):
    (tmp_path / "ok.py").write_text("x = 1\n")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.md").write_text("mine")
    assert main([str(tmp_path / "ok.py"), "--out", str(theirs)]) == 2
    assert "not a grading run's" in capsys.readouterr().err
    assert (theirs / "notes.md").read_text() == "mine"
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / MARKER).write_text("")
    assert main([str(tmp_path / "ok.py"), "--out", str(earlier)]) == 2
    assert "--overwrite replaces it" in capsys.readouterr().err

    def fails(folder: Path) -> None:
        (folder / "half.csv").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        replace(earlier, fails)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier", "ok.py", "theirs"]
    replace(earlier, lambda folder: (folder / "grades.csv").write_text("new"))
    assert sorted(p.name for p in earlier.iterdir()) == [MARKER, "grades.csv"]


def test_find_takes_folders_recursively_and_skips_hidden(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.py").write_text("")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "y.ipynb").write_text("{}")
    (tmp_path / "z.ipynb").write_text("{}")
    assert [p.name for p in find([str(tmp_path)])] == ["x.py", "z.ipynb"]


def test_a_run_without_values_fails_every_check_with_its_reason():
    from deepsets.grade.grading import judge
    from deepsets.grade.rubric import default_rubric

    g = judge(SUBMISSION, Run("timeout", "it ran longer than 5 s"), default_rubric())
    assert g.score == 0 and all("it ran longer than 5 s" in c.message for c in g.checks)
