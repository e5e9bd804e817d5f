"""The digit-sum study: settings checked first, metrics.json's contract, same seed same numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from deepsets import cli, load_model
from deepsets.studies.digits.evaluate import accuracies
from deepsets.studies.digits.models import build
from deepsets.studies.digits.results import DigitsResults
from deepsets.studies.digits.run import run_digits, save_weights
from deepsets.studies.digits.settings import MODELS, TASKS, DigitsSettings, quick_settings, resolve
from deepsets.studies.digits.train import task_sets, train_task

EXE = Path(sys.executable).with_name("deepsets")
TINY = dict(seeds=1, train_sets=200, steps=4, fine_steps=2, lengths=(5, 30), test_sets=20)


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


def fake_results(acc: dict[str, dict[str, np.ndarray]], lengths: tuple[int, ...]) -> DigitsResults:
    losses = {t: {m: np.ones((2, 10)) for m in MODELS} for t in TASKS}
    return DigitsResults(
        Path("x"), DigitsSettings(lengths=lengths), (0, 1), acc, losses, {"text": 1.0}, 2.0,
        "cpu", 1, {"torch": "x"},
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


def test_same_seed_same_numbers():
    s = DigitsSettings(**TINY)
    a, b = (train_task("text", s, [0], torch.device("cpu"), False) for _ in range(2))
    for m in MODELS:
        np.testing.assert_array_equal(a.losses[m], b.losses[m])
        assert a.losses[m].shape == (1, s.steps + s.fine_steps)  # both phases
    np.testing.assert_array_equal(a.losses["deepset"], b.losses["deepset"])
    acc_a, acc_b = accuracies(a, s, torch.device("cpu")), accuracies(b, s, torch.device("cpu"))
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
    assert "Set Transformer" in done.stdout and "Report:" in done.stdout
    assert "confirmed" in done.stdout  # the verdicts: confirmed or not confirmed
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["results"]) == set(TASKS)
    for t in TASKS:
        assert set(metrics["results"][t]) == set(MODELS)
        for m in MODELS:
            assert set(metrics["results"][t][m]) == {"5", "30"}
            for cell in metrics["results"][t][m].values():
                assert 0 <= cell["min"] <= cell["mean"] <= cell["max"] <= 1
    assert metrics["seeds"] == [0, 1] and metrics["settings"]["quick"] is True
    assert metrics["settings"]["steps"] == 10  # the explicit flag wins over --quick's
    assert metrics["settings"]["test_sets"] == quick_settings().test_sets  # the rest: --quick's
    assert metrics["versions"]["torch"] and metrics["wall_seconds"] > 0
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 2 and "Figure 2" in report
    assert {p.name for p in (out / "figures").iterdir()} == {
        "accuracy_by_length.png", "training_curves.png"
    }  # fmt: skip
    assert len(list((out / "weights").glob("*.safetensors"))) == len(TASKS) * len(MODELS) * 2
    model = build("gru", "image", quick_settings(), 0)  # the weights rebuild the trained model
    model.load_state_dict(load_file(out / "weights" / "image-gru-seed1.safetensors"))


def test_digits_is_a_registered_study():
    study = cli.STUDIES["digits"]
    assert study.settings is DigitsSettings and study.quick() == quick_settings()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Both tasks' models trained for a few steps and written as the study writes them."""
    s = quick_settings(**TINY)
    trained = {t: train_task(t, s, [0], torch.device("cpu"), False) for t in TASKS}
    root = tmp_path_factory.mktemp("digits")
    save_weights(root, (0,), trained)
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
