"""The attention study: settings checked first, the verdicts on both sides of their thresholds,
the figures from numbers, metrics.json's contract from a --quick CLI run, same seed same numbers."""

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
from matplotlib.figure import Figure
from matplotlib.patches import Circle
from quick import assert_labelled_quick

from deepsets import cli, load_model
from deepsets.lab.verdict import Outcome
from deepsets.studies.attention import verdicts
from deepsets.studies.attention.figures import (
    clustering_examples,
    likelihood_by_model,
    mae_by_model,
)
from deepsets.studies.attention.run import measure, run_attention
from deepsets.studies.attention.settings import (
    PAPER,
    AttentionSettings,
    quick_settings,
    resolve,
)
from deepsets.studies.attention.train import (
    CLUSTER_MODELS,
    MAX_MODELS,
    cluster_model,
    cluster_sets,
    max_model,
    max_sets,
    train_task,
)
from deepsets.studies.attention.train import test_log_likelihood as model_log_likelihood
from deepsets.studies.attention.train import test_mae as model_mae

EXE = Path(sys.executable).with_name("deepsets")
TINY = dict(seeds=1, max_steps=4, max_fine_steps=2, cl_steps=3, cl_fine_steps=1,
            max_train_sets=500, max_test_sets=50, cl_train_sets=20, cl_test_sets=6)  # fmt: skip


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"seeds": 0}, "seeds"),
        ({"max_steps": 0}, "max_steps"),
        ({"max_fine_steps": -1}, "max_fine_steps"),
        ({"max_fine_steps": 3000}, "max_fine_steps must be smaller than max_steps"),
        ({"cl_fine_steps": 5000}, "cl_fine_steps must be smaller than cl_steps"),
        ({"cl_batch": 0}, "cl_batch"),
        ({"max_sizes": (0, 10)}, "max_sizes"),
        ({"cl_train_sizes": (50, 10)}, "cl_train_sizes"),
        ({"cl_sizes": (5,)}, "cl_sizes"),
        ({"cl_dim": 30}, "cl_dim must be a multiple of heads"),
        ({"max_dim": 62}, "max_dim must be a multiple of heads"),
        ({"inducing": 0}, "inducing"),
        ({"pool_decoder": -1}, "pool_decoder"),
        ({"lr": 0.0}, "lr"),
        ({"components": 0}, "components"),
        ({"paper": 1}, "paper"),
        ({"paper": True, "quick": True}, "paper and quick"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_settings_are_refused_by_name_before_any_work(change, name, tmp_path):
    with pytest.raises(ValueError, match=name):
        run_attention(replace(AttentionSettings(out=str(tmp_path / "out")), **change))
    assert not (tmp_path / "out").exists()


def test_the_defaults_and_the_quick_preset_pass_the_checks():
    assert resolve(AttentionSettings()) == AttentionSettings()
    assert resolve(quick_settings()).quick


def test_paper_takes_the_papers_schedule_where_no_field_was_given():
    s = resolve(AttentionSettings(paper=True))
    assert (s.max_steps, s.cl_steps, s.cl_fine_steps) == (20_000, 50_000, 15_000)
    assert s.cl_train_sizes == (100, 500) and all(getattr(s, k) == v for k, v in PAPER.items())
    s = resolve(AttentionSettings(paper=True, cl_steps=40_000))  # an explicit field wins
    assert s.cl_steps == 40_000 and s.max_steps == 20_000


# ---------------------------------------------------------------- verdicts

MAX_MEANS = {"mean": 2.1, "sum": 1.9, "max": 0.13, "sab_pma": 0.21}  # the paper's order
CL_MEANS = {"rff_pool": -2.0, "sab_pool": -1.68, "rff_pma": -1.66, "sab_pma": -1.52,
            "isab_pma": -1.50}  # fmt: skip


def test_a_value_within_three_paper_stds_is_confirmed():
    v = verdicts.model_verdict("max_regression", "max", MAX_MEANS | {"max": 0.1355 + 0.022})
    assert v.outcome is Outcome.CONFIRMED and "within 3.0 std" in v.sentence
    v = verdicts.model_verdict("max_regression", "max", MAX_MEANS | {"max": 0.1355 + 0.023})
    assert v.outcome is Outcome.PARTLY  # 3.1 std away, still the best: its rank kept
    assert v.measured["off"] == pytest.approx(0.023 / 0.0074) and "rank 1 of 4" in v.sentence


def test_a_model_out_of_range_and_out_of_rank_is_not_confirmed():
    v = verdicts.model_verdict("max_regression", "max", MAX_MEANS | {"max": 5.0})
    assert v.outcome is Outcome.REFUTED and v.measured["rank"] == 4
    assert v.paper is not None and v.paper["paper_rank"] == 1
    v = verdicts.model_verdict("clustering", "sab_pool", CL_MEANS | {"sab_pool": -1.0})
    assert v.outcome is Outcome.REFUTED and "no std published" in v.sentence
    v = verdicts.model_verdict("clustering", "sab_pool", CL_MEANS | {"sab_pool": -3.0})
    assert v.outcome is Outcome.REFUTED and v.measured["rank"] == 5  # the paper's: 4


def test_rank_without_a_published_std_decides():
    v = verdicts.model_verdict("clustering", "rff_pma", CL_MEANS)
    assert v.outcome is Outcome.PARTLY and v.measured["rank"] == 3 == v.paper["paper_rank"]


def test_the_ordering_counts_pairs_in_the_papers_order():
    assert verdicts.ordering("clustering", CL_MEANS).outcome is Outcome.CONFIRMED
    v = verdicts.ordering("max_regression", MAX_MEANS | {"sum": 2.2})  # sum and mean swapped
    assert v.outcome is Outcome.PARTLY and v.measured["kept"] == 5 and "mean / sum" in v.sentence
    reversed_means = {m: -x for m, x in MAX_MEANS.items()}
    assert verdicts.ordering("max_regression", reversed_means).outcome is Outcome.REFUTED


@pytest.mark.parametrize(
    ("means", "met"),
    [
        ({"max": 0.5, "sab_pma": 0.5, "sum": 1.0, "mean": 1.0}, 4),
        ({"max": 0.51, "sab_pma": 0.5, "sum": 1.0, "mean": 1.0}, 3),
        ({"max": 0.1, "sab_pma": 0.1, "sum": 0.99, "mean": 0.99}, 2),
        ({"max": 2.0, "sab_pma": 2.0, "sum": 0.5, "mean": 0.5}, 0),
    ],
)
def test_max_regression_targets_on_both_sides(means, met):
    v = verdicts.max_targets(means)
    assert v.measured["met"] == met
    expected = {4: Outcome.CONFIRMED, 0: Outcome.REFUTED}.get(met, Outcome.PARTLY)
    assert v.outcome is expected


def test_the_oracle_within_its_tolerance():
    assert verdicts.oracle(-1.4726 + 0.0199).outcome is Outcome.CONFIRMED
    assert verdicts.oracle(-1.4726 - 0.0201).outcome is Outcome.REFUTED


def test_near_the_oracle_on_both_sides():
    near = {"isab_pma": -1.62, "sab_pma": -1.62}
    assert verdicts.near_oracle(near, -1.4726).outcome is Outcome.CONFIRMED  # 0.147 nats
    v = verdicts.near_oracle(near | {"sab_pma": -1.63}, -1.4726)
    assert v.outcome is Outcome.PARTLY and v.measured["met"] == 1
    assert verdicts.near_oracle({"isab_pma": -2, "sab_pma": -2}, -1.47).outcome is Outcome.REFUTED


def test_the_deepset_gap_on_both_sides():
    v = verdicts.deepset_gap(CL_MEANS | {"rff_pool": -1.9}, -1.4)  # 0.5 against 0.1: 5x
    assert v.outcome is Outcome.CONFIRMED and v.measured["best"] == "isab_pma"
    assert v.measured["times"] == pytest.approx(5.0)
    v = verdicts.deepset_gap(CL_MEANS | {"rff_pool": -1.59}, -1.4)  # 0.19 against 0.1
    assert v.outcome is Outcome.REFUTED


# ---------------------------------------------------------------- figures


def test_the_figures_draw_every_run_and_the_papers_band():
    values = {"mean": [2.0, 2.2, 2.1], "max": [0.1, 0.2, 0.15]}
    fig = mae_by_model(values, verdicts.PAPER["max_regression"])
    assert isinstance(fig, Figure) and fig.axes[0].get_yscale() == "log"
    dots = [line for line in fig.axes[0].lines if line.get_marker() == "o"]
    assert sorted(len(d.get_ydata()) for d in dots) == [3, 3]
    fig = likelihood_by_model({"rff_pool": [-2.0, -2.1]}, verdicts.PAPER["clustering"], -1.47)
    assert any(np.allclose(line.get_ydata(), -1.47) for line in fig.axes[0].lines)


def test_the_examples_draw_two_circles_per_component():
    E, K, N = 3, 4, 20
    rng = np.random.default_rng(0)
    points, mask = rng.normal(size=(E, N, 2)), np.ones((E, N), bool)
    pi = np.full((E, K), 0.25)
    mixture = (pi, rng.normal(size=(E, K, 2)), np.full((E, K), 0.3))
    fig = clustering_examples(
        points, mask, rng.normal(size=(E, K, 2)), {"a": mixture, "b": mixture}
    )
    assert len(fig.axes) == 2 * E
    circles = [p for p in fig.axes[0].patches if isinstance(p, Circle)]
    assert sorted(c.radius for c in circles) == pytest.approx([0.3] * K + [0.6] * K)


# ---------------------------------------------------------------- runs


def test_same_seed_same_numbers():
    s = AttentionSettings(**TINY)
    names = {"max_regression": ("max", "sab_pma"), "clustering": ("rff_pool", "isab_pma")}
    runs = [
        {t: train_task(t, s, names[t], [0], torch.device("cpu"), False) for t in names}
        for _ in range(2)
    ]
    for t in names:
        for m in names[t]:
            np.testing.assert_array_equal(runs[0][t].losses[m], runs[1][t].losses[m])
            steps = 4 if t == "max_regression" else 3  # both phases
            assert runs[0][t].losses[m].shape == (1, steps)
    a, b = (measure(s, trained, torch.device("cpu"))[:2] for trained in runs)
    assert a[1] == b[1]  # the oracle
    for t in names:
        for m in names[t]:
            np.testing.assert_array_equal(a[0][t][m], b[0][t][m])


def test_quick_cli_run_writes_the_metrics_contract_report_figures_and_weights(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    argv = [str(EXE), "run", "attention", "--quick", "--max-steps", "20", "--out", "out"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "Max regression: test MAE" in done.stdout and "Report:" in done.stdout
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["results"]["max_regression"]) == set(MAX_MODELS)
    assert set(metrics["results"]["clustering"]) == set(CLUSTER_MODELS) | {"oracle"}
    for task in ("max_regression", "clustering"):
        for model, cell in metrics["results"][task].items():
            assert set(cell) == {"mean", "min", "max", "values"}
            assert cell["min"] <= cell["mean"] <= cell["max"]
            assert len(cell["values"]) == (1 if model == "oracle" else 2)
            assert metrics["paper"][task][model]["mean"] == verdicts.PAPER[task][model][0]
    assert metrics["paper"]["clustering"]["isab_pma"] == {"mean": -1.5009, "std": 0.0068}
    assert metrics["settings"]["max_steps"] == 20  # the explicit flag wins over --quick's
    assert metrics["settings"]["cl_steps"] == quick_settings().cl_steps
    assert metrics["seeds"] == [0, 1] and metrics["versions"]["torch"]
    assert metrics["wall_seconds"] > 0 and metrics["device"] == "cpu"
    assert metrics["findings"]["oracle"]["outcome"] in {o.value for o in Outcome}
    report = (out / "report.html").read_text()
    assert_labelled_quick(report, done.stdout, "attention")
    assert report.count("data:image/png;base64,") == 3 and "Table 1" in report
    assert {p.name for p in (out / "figures").iterdir()} == {
        "max_regression.png", "clustering.png", "clustering_examples.png"
    }  # fmt: skip
    assert len(list((out / "weights").glob("*.safetensors"))) == 2 * (4 + 5)
    # load_model rebuilds the trained models: their test numbers are the recorded ones
    s = replace(quick_settings(), max_steps=20)
    model = load_model(out / "weights" / "max_regression-sab_pma-seed1.safetensors")
    assert str(model) == str(max_model("sab_pma", s, 7))
    X, mask, y = max_sets(s, "test")
    assert model_mae(model, X, mask, y) == pytest.approx(
        metrics["results"]["max_regression"]["sab_pma"]["values"][1], rel=1e-6
    )
    model = load_model(out / "weights" / "clustering-isab_pma-seed0.safetensors")
    assert str(model) == str(cluster_model("isab_pma", s, 7))
    ll = model_log_likelihood(model, cluster_sets(s, "test"), s.components).mean()
    assert ll == pytest.approx(metrics["results"]["clustering"]["isab_pma"]["values"][0], rel=1e-6)


def test_attention_is_a_registered_study():
    study = cli.STUDIES["attention"]
    assert study.settings is AttentionSettings and study.quick() == quick_settings()


@pytest.mark.parametrize("threads", [1, None])
def test_threads_reach_every_training_call(monkeypatch, threads):
    from deepsets.engine import train as engine
    from deepsets.lab import run as lab_run

    calls = []

    def recorded(*args, **kwargs):
        calls.append(kwargs["engine"].threads)
        return engine.train_on(*args, **kwargs)

    monkeypatch.setattr(lab_run, "train_on", recorded)
    s = AttentionSettings(**TINY, threads=threads)
    for task, names in (("max_regression", ("max",)), ("clustering", ("rff_pool",))):
        train_task(task, s, names, [0], torch.device("cpu"), False)
    assert calls == [threads] * 4  # two phases per task
