"""The population-statistics study: settings checked first, the verdicts on both sides of their
decisions, the figures from numbers, metrics.json's contract, weights that reload to the
measured numbers, same seed same numbers."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from quick import assert_labelled_quick

from deepsets import cli, load_model, save_model
from deepsets.lab import run as lab_run
from deepsets.lab.verdict import Outcome
from deepsets.studies.popstats import figures, verdicts
from deepsets.studies.popstats import run as study_run
from deepsets.studies.popstats.models import PopStatsDeepSet
from deepsets.studies.popstats.run import run_popstats
from deepsets.studies.popstats.settings import (
    PAPER,
    PopstatsSettings,
    quick_settings,
    resolve,
)
from deepsets.studies.popstats.tasks import TASKS, TRAIN_SIZES

EXE = Path(sys.executable).with_name("deepsets")
TINY = dict(
    seeds=2, samples=8, sizes=(16, 32), steps=(5, 5), sdm_max=32, test_sets=16, features=16
)  # fmt: skip


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"tasks": ()}, "tasks"),
        ({"tasks": ("rank1", "gauss")}, "tasks"),
        ({"tasks": ("rank1", "rank1")}, "tasks"),
        ({"samples": 1}, "samples"),
        ({"sizes": (256, 128)}, "sizes"),
        ({"sizes": (128, 128), "steps": (1, 1)}, "sizes"),
        ({"sizes": (2, 128), "steps": (1, 1)}, "sizes"),
        ({"steps": (10, 20)}, "steps"),
        ({"steps": (10, 0, 1, 1, 1, 1)}, "steps"),
        ({"sdm_max": 64}, "sdm_max"),
        ({"l1_fraction": -0.5}, "l1_fraction"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": 0.0}, "lr"),
        ({"l1_lr": -1.0}, "l1_lr"),
        ({"test_sets": 0}, "test_sets"),
        ({"features": 0}, "features"),
        ({"scatter_n": 4096}, "scatter_n"),  # SDM stops at 2048
        ({"paper": True, "quick": True}, "paper"),
        ({"paper": "yes"}, "paper"),
        ({"seeds": 0}, "seeds"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_settings_are_refused_by_name_before_any_work(change, name, tmp_path):
    with pytest.raises(ValueError, match=name):
        run_popstats(replace(PopstatsSettings(out=str(tmp_path / "out")), **change))
    assert not (tmp_path / "out").exists()


def test_the_defaults_and_the_quick_preset_pass_the_checks():
    assert resolve(PopstatsSettings()) == PopstatsSettings()
    assert resolve(quick_settings()).quick


def test_paper_switches_to_the_codes_sizes_and_explicit_flags_win():
    # one task at 128 samples: the code's sizes of all four need ~200 GiB (memory_needs)
    s = resolve(PopstatsSettings(paper=True, sdm_max=1024, samples=128, tasks=("rotation",)))
    assert s.sizes == TRAIN_SIZES and s.batch_size == 128 and s.l1_fraction == 1.0
    assert s.steps == tuple(500 * N // 128 for N in TRAIN_SIZES)  # 500 epochs of batch 128
    assert (s.samples, s.sdm_max) == (128, 1024)  # given explicitly: not PAPER's
    assert PAPER["samples"] == 512 and resolve(s) == s  # resolving again changes nothing


# ---------------------------------------------------------------- verdicts, from numbers


def test_the_crossing_is_the_first_common_size_where_the_deepset_is_below():
    ds = {128: 2.0, 256: 1.0, 512: 0.5, 4096: 0.1}
    sdm = {128: 1.0, 256: 1.5, 512: 0.4}  # the DeepSet below at 256, above again at 512
    assert verdicts.crossover_size(ds, sdm) == 256
    v = verdicts.crossover("rank1", ds, sdm)
    assert v.measured["crossover"] == 256 and v.measured["last"] == 512  # 4096: DeepSet only
    assert v.outcome is Outcome.PARTLY  # SDM better at 128, but also at 512, the last common N
    sdm[512] = 0.6
    v = verdicts.crossover("rank1", ds, sdm)
    assert v.outcome is Outcome.CONFIRMED and "first below SDM's at N = 256" in v.sentence


def test_no_crossing_within_the_measured_range():
    ds, sdm = {128: 2.0, 256: 1.0}, {128: 1.0, 256: 0.9}
    assert verdicts.crossover_size(ds, sdm) is None
    v = verdicts.crossover("random", ds, sdm)
    assert v.outcome is Outcome.PARTLY and v.measured["crossover"] is None
    assert "not below SDM's within the measured range (N = 128..256)" in v.sentence
    v = verdicts.crossover("random", {128: 0.5, 256: 2.0}, sdm)  # DeepSet better only first
    assert v.outcome is Outcome.REFUTED and v.measured["crossover"] == 128
    v = verdicts.crossover("random", {128: 0.5, 256: 0.5}, sdm)  # DeepSet better everywhere
    assert v.outcome is Outcome.PARTLY and v.measured["crossover"] == 128
    assert verdicts.crossover("random", {128: 1.0}, {256: 1.0}).outcome is Outcome.UNMEASURED


def test_falls_faster_compares_the_log_log_slopes():
    ds = {128: 1.0, 256: 0.5, 1024: 0.125}  # slope -1
    sdm = {128: 0.5, 256: 0.5 * 2**-0.5, 1024: 0.5 * 8**-0.5}  # slope -1/2
    v = verdicts.falls_faster("rank1", ds, sdm)
    assert v.measured["deepset_slope"] == pytest.approx(-1.0)
    assert v.measured["sdm_slope"] == pytest.approx(-0.5)
    assert v.outcome is Outcome.CONFIRMED  # steeper, and 0.125 < 0.177 at 1024
    slow = {N: 2 * x for N, x in sdm.items()}  # SDM's slope, above it
    assert verdicts.falls_faster("rank1", slow, sdm).outcome is Outcome.REFUTED
    high = {N: 4 * x for N, x in ds.items()}  # steeper but still above at 1024
    v = verdicts.falls_faster("rank1", high, sdm)
    assert v.outcome is Outcome.PARTLY and "is not below" in v.sentence
    assert verdicts.falls_faster("rank1", {128: 1.0}, {128: 2.0}).outcome is Outcome.UNMEASURED


def test_kernel_better_at_the_smallest_size_counts_tasks():
    sdm = {t: {128: 1.0, 256: 1.0} for t in TASKS}
    ds = {t: {128: 2.0 if t in ("rank1", "random") else 0.5, 256: 0.1} for t in TASKS}
    v = verdicts.kernel_better_small(ds, sdm)
    assert v.outcome is Outcome.CONFIRMED and v.measured["count"] == 2
    assert v.measured["better"] == "rank1, random"
    assert verdicts.kernel_better_small(ds, sdm, at_least=3).outcome is Outcome.REFUTED


# ---------------------------------------------------------------- figures, from numbers


def test_the_mse_figure_draws_a_log_log_panel_per_task_with_a_band_per_method():
    mse = {
        t: {"deepset": {128: [1.0, 2.0], 256: [0.5, 0.7], 512: [0.2, 0.3]},
            "sdm": {128: [0.8, 0.9], 256: [0.6, 0.6]}}
        for t in ("rank1", "random")
    }  # fmt: skip
    fig = figures.mse_by_size(mse, {"rank1": 3.0, "random": 2.0})
    axes = fig.axes
    assert len(axes) == 2 and all(ax.get_yscale() == "log" == ax.get_xscale() for ax in axes)
    lines = axes[0].get_lines()
    np.testing.assert_array_equal(lines[0].get_xdata(), [128, 256, 512])
    np.testing.assert_allclose(lines[0].get_ydata(), [1.5, 0.6, 0.25])  # means over runs
    np.testing.assert_allclose(lines[1].get_ydata(), [0.85, 0.6])
    assert lines[2].get_ydata()[0] == 3.0  # Var(y)
    assert len(axes[0].collections) == 2  # the min-max bands


def test_the_prediction_figure_draws_every_test_set():
    t = np.linspace(0, 1, 7)
    fig = figures.predicted_vs_true({"rank1": t}, {"rank1": {"deepset": t, "sdm": 1 - t}}, 256)
    (ax,) = fig.axes
    diagonal, ds, sdm = ax.get_lines()
    np.testing.assert_array_equal(sdm.get_ydata(), 1 - t)
    assert len(ds.get_xdata()) == 7 and "N = 256" in fig._suptitle.get_text()


# ---------------------------------------------------------------- the study, run


def test_quick_cli_run_writes_the_metrics_contract_report_and_weights(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    flags = ["--sizes", "32", "64", "--steps", "10", "10", "--sdm-max", "64", "--test-sets", "64"]
    done = subprocess.run(
        [str(EXE), "run", "popstats", "--quick", *flags, "--out", "out"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Test MSE" in done.stdout and "Report:" in done.stdout and "crossing" in done.stdout
    out = tmp_path / "out"
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["results"]) == set(TASKS)
    for t in TASKS:
        assert set(m["results"][t]) == {"deepset", "sdm"}
        for cells in m["results"][t].values():
            assert set(cells) == {"32", "64"}
            for c in cells.values():
                assert set(c) == {"mean", "min", "max", "values"} and len(c["values"]) == 3
                assert c["min"] == min(c["values"]) and c["max"] == max(c["values"])
                assert c["mean"] == pytest.approx(sum(c["values"]) / 3, rel=1e-12)
        ds, sdm = (
            {int(N): c["mean"] for N, c in m["results"][t][k].items()} for k in ("deepset", "sdm")
        )
        first = next((N for N in (32, 64) if ds[N] < sdm[N]), None)
        assert m["crossover"][t] == first  # the smallest N with the DeepSet below, or null
        assert m["findings"]["crossover"][t]["measured"]["crossover"] == first
    assert m["seeds"] == [0, 1, 2] and m["settings"]["quick"] is True
    assert m["settings"]["samples"] == quick_settings().samples  # --quick's, the rest explicit
    assert m["settings"]["sizes"] == [32, 64] and m["largest_n"] == {"deepset": 64, "sdm": 64}
    assert m["versions"]["torch"] and m["wall_seconds"] > 0 and m["total_cpu_seconds"] > 0
    report = (out / "report.html").read_text()
    assert_labelled_quick(report, done.stdout, "popstats")
    assert report.count("data:image/png;base64,") == 2 and "Figure 1" in report
    assert {p.name for p in (out / "figures").iterdir()} == {
        "mse_by_size.png", "predicted_vs_true.png"
    }  # fmt: skip
    assert len(list((out / "weights").glob("*.safetensors"))) == len(TASKS) * 2 * 3
    # a saved DeepSet reloads to the very test MSE metrics.json holds for it
    s = resolve(quick_settings(sizes=(32, 64), steps=(10, 10), sdm_max=64, test_sets=64))
    for task, seed in (("rank1", 1), ("rotation", 2)):
        model = load_model(out / "weights" / f"{task}-n64-seed{seed}.safetensors")
        test = study_run.test_sets(task, s)
        with torch.no_grad():
            p = model(test.X, test.mask)[:, 0].double().numpy()
        mse = float(np.mean((p - test.y[:, 0].numpy()) ** 2))
        assert mse == pytest.approx(m["results"][task]["deepset"]["64"]["values"][seed], rel=1e-6)


def test_load_model_rebuilds_a_popstats_deepset_with_its_buffers(tmp_path):
    g = torch.Generator().manual_seed(0)
    W = torch.randn(5, 5, generator=g)
    model = PopStatsDeepSet(5, generator=1, whiten=W, y_loc=3.0, y_scale=2.5)
    save_model(model, tmp_path / "m.safetensors")
    back = load_model(tmp_path / "m.safetensors")
    assert isinstance(back, PopStatsDeepSet)
    assert torch.equal(back.whiten, W) and float(back.y_loc) == 3.0 and float(back.y_scale) == 2.5
    X = torch.randn(7, 11, 5, generator=g)
    mask = torch.rand(7, 11, generator=g) < 0.8
    with torch.no_grad():
        assert torch.equal(back(X, mask), model(X, mask))
        # the defaults would give other outputs: the buffers came from the file
        assert not torch.equal(PopStatsDeepSet(5, generator=1)(X, mask), model(X, mask))


def test_same_seed_same_numbers_and_another_seed_others(tmp_path):
    s = quick_settings(**TINY, tasks=("rank1", "rotation"))
    a, b = (run_popstats(replace(s, out=str(tmp_path / name))).to_json() for name in "ab")
    assert a["results"] == b["results"] and a["crossover"] == b["crossover"]
    c = run_popstats(replace(s, seed=5, out=str(tmp_path / "c"))).to_json()
    assert c["results"]["rank1"]["deepset"] != a["results"]["rank1"]["deepset"]
    assert c["seeds"] == [5, 6]
    assert all(math.isfinite(v) for v in a["results"]["rank1"]["sdm"]["32"]["values"])


def test_popstats_is_a_registered_study():
    study = cli.STUDIES["popstats"]
    assert study.settings is PopstatsSettings and study.quick() == quick_settings()


@pytest.mark.parametrize("threads", [1, None])
def test_threads_reach_every_training_call(monkeypatch, tmp_path, threads):
    calls = []
    real = lab_run.train_on

    def recorded(*args, **kwargs):
        calls.append(kwargs["engine"].threads)
        return real(*args, **kwargs)

    monkeypatch.setattr(lab_run, "train_on", recorded)
    run_popstats(quick_settings(**TINY, tasks=("rank1", "rotation"), threads=threads,
                                out=str(tmp_path / "out")))  # fmt: skip
    assert calls == [threads] * 2 * len(TINY["sizes"]) * 2  # 2 phases, 2 sizes, 2 groups by D
