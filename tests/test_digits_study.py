"""The digit-sum study: settings checked first, metrics.json's contract (the ceiling and the
single-object accuracies against hand-computed cases), same seed same numbers, saved models."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from quick import assert_labelled_quick
from safetensors.torch import load_file

from deepsets import cli, load_model
from deepsets.lab.run import seed_weights, write_weights
from deepsets.studies.digits import train as evaluation
from deepsets.studies.digits.ceiling import Ceiling
from deepsets.studies.digits.models import build
from deepsets.studies.digits.results import DigitsResults
from deepsets.studies.digits.run import run_digits
from deepsets.studies.digits.settings import MODELS, TASKS, DigitsSettings, quick_settings, resolve
from deepsets.studies.digits.tasks import image_split
from deepsets.studies.digits.train import (
    TEST_OFFSET,
    evaluate,
    per_token_accuracy,
    schedule,
    task_sets,
    train_task,
)

EXE = Path(sys.executable).with_name("deepsets")
TINY = dict(
    seeds=1, train_sets=200, steps=4, fine_steps=2, image_deepset_steps=3,
    image_deepset_fine_steps=2, lengths=(5, 30), test_sets=20,
)  # fmt: skip


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"seeds": 0}, "seeds"),
        ({"train_sizes": (0, 10)}, "train_sizes"),
        ({"train_sizes": (5, 2)}, "sizes"),
        ({"steps": -1}, "steps"),
        ({"fine_steps": -1}, "fine_steps"),
        ({"lr": 0.0}, "lr"),
        ({"batch_size": 0}, "batch_size"),
        ({"lengths": ()}, "lengths"),
        ({"lengths": (5, 5)}, "lengths"),
        ({"test_sets": 0}, "test_sets"),
        ({"st_dim": 30, "st_heads": 4}, "st_dim"),
        ({"image_deepset_steps": 0}, "image_deepset_steps"),
        ({"image_deepset_lr": -1e-3}, "image_deepset_lr"),
        ({"image_deepset_fine_steps": -2}, "image_deepset_fine_steps"),
        ({"image_deepset_fine_lr": 0.0}, "image_deepset_fine_lr"),
        ({"max_shift": 8}, "max_shift"),
        ({"max_shift": True}, "max_shift"),
        ({"seed": -3}, "seed"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_settings_are_refused_by_name_before_any_work(change, name, tmp_path):
    with pytest.raises(ValueError, match=name):
        run_digits(replace(DigitsSettings(out=str(tmp_path / "out")), **change))
    assert not (tmp_path / "out").exists()


def test_the_defaults_and_the_quick_preset_pass_the_checks():
    assert resolve(DigitsSettings()) == DigitsSettings()
    assert resolve(quick_settings()).quick


def fake_results(
    acc: dict[str, dict[str, np.ndarray]], lengths: tuple[int, ...], **more
) -> DigitsResults:
    losses = {t: {m: np.ones((2, 10)) for m in MODELS} for t in TASKS}
    return DigitsResults(
        DigitsSettings(lengths=lengths), acc, losses, {"text": 1.0}, out=Path("x"), seeds=(0, 1),
        wall_seconds=2.0, device="cpu", threads=1, workers=2, environment={"torch": "x"}, **more,
    )  # fmt: skip


def test_metrics_summarise_each_length_over_runs_as_numpy_does():
    rng = np.random.default_rng(0)
    lengths = (5, 10, 50)
    acc = {t: {m: rng.random((2, 3)) for m in MODELS} for t in TASKS}
    metrics = fake_results(acc, lengths).to_json()
    for t in TASKS:
        for m in MODELS:
            for j, n in enumerate(lengths):
                cell = metrics["results"][t][m][str(n)]
                assert set(cell) == {"mean", "min", "max"}
                a = acc[t][m][:, j]
                assert (cell["mean"], cell["min"], cell["max"]) == (a.mean(), a.min(), a.max())
                assert metrics["per_seed"][t][m][str(n)] == a.tolist()


def test_metrics_hold_the_ceiling_like_a_model_and_each_models_single_object_accuracy():
    lengths = (5, 10)
    acc = {t: {m: np.full((2, 2), 0.5) for m in MODELS} for t in TASKS}
    singles = {t: {m: np.array([0.25, 0.75]) for m in MODELS} for t in TASKS}
    ceiling = Ceiling("stub", 0.9, lengths, (0.8, 0.6))
    metrics = fake_results(acc, lengths, ceiling=ceiling, per_object=singles).to_json()
    assert metrics["results"]["image"]["ceiling"] == {
        "5": {"mean": 0.8, "min": 0.8, "max": 0.8}, "10": {"mean": 0.6, "min": 0.6, "max": 0.6}
    }  # fmt: skip
    assert "ceiling" not in metrics["results"]["text"] and metrics["ceiling"]["per_image"] == 0.9
    per = metrics["per_image_accuracy"]
    assert per["image"]["ceiling"] == {"mean": 0.9, "min": 0.9, "max": 0.9}
    for t in TASKS:
        for m in MODELS:
            assert per[t][m] == {"mean": 0.5, "min": 0.25, "max": 0.75, "per_seed": [0.25, 0.75]}
    assert metrics["paper"]["image"]["deepset"]["50"] == 0.78
    assert metrics["paper"]["image"]["deepset"]["100"] is None  # the paper did not test 100
    assert metrics["findings"]["image_ceiling"]["measured"]["ceiling_5"] == 0.8
    assert metrics["findings"]["image_targets"]["paper"]["paper_5"] == 0.99
    nothing = fake_results(acc, lengths).to_json()  # no ceiling measured: none reported
    assert "ceiling" not in nothing["results"]["image"] and nothing["ceiling"] is None
    assert nothing["findings"]["image_ceiling"]["outcome"] == "not measured"


class NinesAsEights:
    """A stub classifier: every test image's true digit, but 8 for a 9."""

    def __init__(self) -> None:
        pixels, labels = image_split("test")
        self.digit = {tuple(p.tolist()): int(d) for p, d in zip(pixels, labels, strict=True)}

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.array([min(self.digit[tuple(row.tolist())], 8) for row in X], dtype=np.int64)


class Sums(torch.nn.Module):
    """A stub text model: the sum of the tokens, but 0 for a 7."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(()))

    def forward(self, X, mask):
        value = torch.where(X[..., 0] == 7, 0, X[..., 0]).float() * mask  # (B, N)
        return self.w * value.sum(dim=1, keepdim=True)  # (B, 1)


def test_the_study_computes_the_ceiling_on_its_own_test_sets(monkeypatch):
    """The ceiling of a classifier that reads every 9 as an 8 sums a set right exactly when it
    holds no 9: counted here by a plain loop over the study's test sets."""
    monkeypatch.setattr(evaluation, "fit_classifier", NinesAsEights)
    s = DigitsSettings(**{**TINY, "lengths": (2, 7), "test_sets": 40})
    models = {m: [build(m, "image", s, 0)] for m in MODELS}
    trained = evaluation.Trained("image", models, {}, {}, 0.0)
    result = evaluate(trained, s, torch.device("cpu"))
    pixels, labels = image_split("test")
    digit = {tuple(p.tolist()): int(d) for p, d in zip(pixels, labels, strict=True)}
    for j, n in enumerate(s.lengths):
        X, mask, _ = task_sets("image", s.test_sets, (n, n), "test", s.seed + TEST_OFFSET + n)
        no_nine = [all(digit[tuple(X[b, i].tolist())] != 9 for i in range(n)) for b in range(40)]
        assert result.ceiling.exact_sum[j] == sum(no_nine) / 40
    assert result.ceiling.lengths == s.lengths
    assert result.ceiling.per_image == float((labels != 9).double().mean())
    assert set(result.per_object) == set(MODELS)


def test_per_token_accuracy_counts_the_digits_a_model_sums_alone():
    assert per_token_accuracy(Sums()) == 8 / 9  # all but the 7


def test_the_image_deepset_has_its_own_schedule():
    s = DigitsSettings()
    image = schedule("deepset", "image", s)
    assert (image.steps, image.lr, image.fine_steps, image.fine_lr) == (14_000, 2e-3, 2000, 1e-4)
    for m in MODELS:
        assert schedule(m, "text", s) == schedule("lstm", "image", s)
        assert (schedule(m, "text", s).steps, schedule(m, "text", s).lr) == (s.steps, s.lr)


def test_same_seed_same_numbers():
    s = DigitsSettings(**TINY)
    a, b = (train_task("text", s, [0], torch.device("cpu"), False) for _ in range(2))
    for m in MODELS:
        np.testing.assert_array_equal(a.losses[m], b.losses[m])
        assert a.losses[m].shape == (1, s.steps + s.fine_steps)  # both phases
    np.testing.assert_array_equal(a.losses["deepset"], b.losses["deepset"])
    image = train_task("image", s, [0], torch.device("cpu"), False)
    assert image.losses["deepset"].shape == (1, s.image_deepset_steps + s.image_deepset_fine_steps)
    assert image.losses["gru"].shape == (1, s.steps + s.fine_steps)
    cpu = torch.device("cpu")
    acc_a, acc_b = evaluate(a, s, cpu).accuracy, evaluate(b, s, cpu).accuracy
    for m in MODELS:
        np.testing.assert_array_equal(acc_a[m], acc_b[m])
        assert acc_a[m].shape == (1, len(s.lengths))


def test_quick_cli_run_writes_the_metrics_contract_report_figures_and_weights(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    argv = [str(EXE), "run", "digits", "--quick", "--steps", "10", "--lengths", "5", "30"]
    done = subprocess.run(
        [*argv, "--out", "out"], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "counting Set Transformer" in done.stdout and "Report:" in done.stdout
    assert "supervised ceiling" in done.stdout
    assert "not judged (quick run)" in done.stdout  # a quick run's verdicts
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["results"]) == set(TASKS)
    assert set(metrics["results"]["text"]) == set(MODELS)
    assert set(metrics["results"]["image"]) == {*MODELS, "ceiling"}
    for t in TASKS:
        for m in MODELS:
            assert set(metrics["results"][t][m]) == {"5", "30"}
            for cell in metrics["results"][t][m].values():
                assert 0 <= cell["min"] <= cell["mean"] <= cell["max"] <= 1
    assert metrics["seeds"] == [0, 1] and metrics["settings"]["quick"] is True
    assert metrics["settings"]["steps"] == 10  # the explicit flag wins over --quick's
    assert metrics["settings"]["test_sets"] == quick_settings().test_sets  # the rest: --quick's
    assert metrics["versions"]["torch"] and metrics["wall_seconds"] > 0
    assert metrics["cpu_seconds"] > 0 and metrics["schema"] == "digits/3"
    ceiling = metrics["results"]["image"]["ceiling"]  # no seeds: mean = min = max
    assert set(ceiling) == {"5", "30"}
    assert all(c["mean"] == c["min"] == c["max"] for c in ceiling.values())
    assert ceiling["5"]["mean"] >= ceiling["30"]["mean"] > 0  # SVC: 0.94 and 0.70 on 1,000
    per = metrics["per_image_accuracy"]
    assert set(per["text"]) == set(MODELS) and set(per["image"]) == {*MODELS, "ceiling"}
    assert per["image"]["ceiling"]["mean"] == pytest.approx(0.9877, abs=1e-4)  # 480 of 486
    for t in TASKS:
        for m in MODELS:
            assert len(per[t][m]["per_seed"]) == 2 and 0 <= per[t][m]["min"] <= 1
    assert metrics["settings"]["image_deepset_steps"] == quick_settings().image_deepset_steps
    assert {"image_ceiling", "image_targets", "counting"} <= set(metrics["findings"])
    report = (out / "report.html").read_text()
    assert_labelled_quick(report, done.stdout, "digits")
    assert re.search(r"\d\. A set of n images", " ".join(report.split()))  # "0.9877. A set"
    assert report.count("data:image/png;base64,") == 2 and "Figure 2" in report
    assert "supervised ceiling" in report and "stops at 50 digits" in report
    assert {p.name for p in (out / "figures").iterdir()} == {
        "accuracy_by_length.png", "training_curves.png"
    }  # fmt: skip
    assert len(list((out / "weights").glob("*.safetensors"))) == len(TASKS) * len(MODELS) * 2
    model = build("gru", "image", quick_settings(), 0)  # the weights rebuild the trained model
    model.load_state_dict(load_file(out / "weights" / "image-gru-seed1.safetensors"))
    for name in ("image-deepset-seed1", "text-counting_set_transformer-seed0"):
        assert load_model(out / "weights" / f"{name}.safetensors") is not None


def test_digits_is_a_registered_study():
    study = cli.STUDIES["digits"]
    assert study.settings is DigitsSettings and study.quick() == quick_settings()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Both tasks' models trained for a few steps and written as the study writes them."""
    s = quick_settings(**TINY)
    trained = {t: train_task(t, s, [0], torch.device("cpu"), False) for t in TASKS}
    root = tmp_path_factory.mktemp("digits")
    write_weights(root, seed_weights((0,), {t: m.models for t, m in trained.items()}))
    return s, trained, root / "weights"


def digit_sets(task: str) -> tuple[torch.Tensor, torch.Tensor]:
    X, mask, _ = task_sets(task, 6, (1, 12), "test", 11)  # (B, N, 1) or (B, N, F), (B, N)
    return X, mask


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("model", MODELS)
def test_load_model_rebuilds_every_saved_model_with_the_same_outputs(saved, task, model):
    _, trained, weights = saved
    original = trained[task].models[model][0].eval()
    again = load_model(weights / f"{task}-{model}-seed0.safetensors")
    X, mask = digit_sets(task)
    with torch.no_grad():
        torch.testing.assert_close(again(X, mask), original(X, mask), rtol=0, atol=0)


def test_only_the_image_deepset_trains_on_shifted_images():
    s = DigitsSettings(**TINY)
    cpu = torch.device("cpu")
    still, moved = (train_task("image", replace(s, max_shift=k), [0], cpu, False) for k in (0, 1))
    for m in MODELS:
        same = np.array_equal(still.losses[m], moved.losses[m])
        assert same == (m != "deepset"), m
