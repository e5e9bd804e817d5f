"""The engine's workers: as many as the cores by default, overridable, and never a number changed.

The stacks follow a rule of the models alone (engine/parts.py `stacks`), so any number of
workers trains the same stacks to the same bits; the workers only share them out.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from deepsets import cli
from deepsets.engine import parts, settings
from deepsets.engine import train as engine_train
from deepsets.engine.parts import LONE_SPLIT, cost, partition, stacks
from deepsets.engine.settings import WORKERS_VARIABLE, Engine, resolve_workers, using_workers
from deepsets.engine.train import train_many, train_on
from deepsets.models import DeepSet, make_mlp


def weights(models: list[nn.Module]) -> list[torch.Tensor]:
    return [p.detach().clone() for m in models for p in m.parameters()]


def deepsets(k: int) -> list[nn.Module]:
    return [DeepSet(generator=i) for i in range(k)]


def mixed() -> list[nn.Module]:
    """64 DeepSets and MLPs of three widths: six stacks of unequal cost."""
    return [*deepsets(64), *(make_mlp(w, generator=i) for w in (4, 32, 128) for i in range(6))]


@pytest.mark.parametrize("make", [functools.partial(deepsets, 64), mixed], ids=["64", "mixed"])
def test_train_many_gives_the_same_bits_on_1_2_and_3_workers(monkeypatch, make):
    forks = []
    real = parts.run_forked

    def counted(n: int, *args: object, **kwargs: object) -> object:
        forks.append(n)
        return real(n, *args, **kwargs)

    monkeypatch.setattr(parts, "run_forked", counted)
    runs = []
    for workers in (1, 2, 3):
        models = make()
        _, losses = train_many(models, 40, seeds=list(range(len(models))),
            engine=Engine(workers=workers, progress=False))  # fmt: skip
        runs.append((losses, weights(models)))
    for losses, w in runs[1:]:
        np.testing.assert_array_equal(losses, runs[0][0])
        assert all(torch.equal(a, b) for a, b in zip(w, runs[0][1], strict=True))
    assert forks == ([2, 2] if make is not mixed else [2, 3])  # parts forked: the work shared
    other = make()
    train_many(
        other,
        40,
        seeds=[s + 1 for s in range(len(other))],
        engine=Engine(workers=2, progress=False),
    )
    assert not all(torch.equal(a, b) for a, b in zip(weights(other), runs[0][1], strict=True))


CASES = {
    "one DeepSet": lambda: deepsets(1),
    "5 DeepSets": lambda: deepsets(5),
    "64 DeepSets": lambda: deepsets(64),
    "256 DeepSets": lambda: deepsets(256),
    "mixed": mixed,
}


@pytest.mark.parametrize("name", CASES)
def test_the_stacks_are_the_same_on_any_number_of_workers(name):
    models = CASES[name]()
    rule = sorted(index for _, index in stacks(models, 100, 10))
    assert sorted(itertools.chain.from_iterable(rule)) == list(range(len(models)))
    for workers in (1, 2, 3, 4, 7, 64):
        shared = partition(models, 100, 10, workers)
        assert 1 <= len(shared) <= workers and all(shared)
        assert sorted(index for part in shared for _, index in part) == rule, workers


def test_the_largest_stacks_go_first_each_to_the_least_loaded_worker():
    """The parts against a plain list scheduling of the stacks by their cost (an independent
    reference: a queue served largest first, each stack to the worker free first)."""
    models = mixed()
    groups = stacks(models, 100, 10)
    costs = {tuple(g): cost([models[i] for i in g], 100, 10) for _, g in groups}
    for workers in (2, 3, 4):
        free = [(0.0, j) for j in range(workers)]
        expected: list[list[tuple[int, ...]]] = [[] for _ in range(workers)]
        for g in sorted(costs, key=lambda g: -costs[g]):
            t, j = min(free)
            expected[j].append(g)
            free[j] = (t + costs[g], j)
        got = [[tuple(index) for _, index in part] for part in partition(models, 100, 10, workers)]
        assert got == [e for e in expected if e]


def test_a_lone_stack_is_halved_by_the_rule_not_by_the_workers():
    assert LONE_SPLIT == 2  # the engine's old fixed 2 workers: the recorded stacks
    assert sorted(len(g) for _, g in stacks(deepsets(5), 100, 10)) == [2, 3]
    assert sorted(len(g) for _, g in stacks(deepsets(64), 100, 10)) == [32, 32]
    for workers in (1, 3, 8):
        shared = partition(deepsets(5), 100, 10, workers)
        assert sorted(len(g) for p in shared for _, g in p) == [2, 3]


def test_the_default_is_the_cores_over_the_threads(monkeypatch):
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    monkeypatch.setattr(settings, "cores", lambda: 8)
    assert resolve_workers() == 8
    assert resolve_workers(threads=2) == 4 and resolve_workers(threads=16) == 1
    assert resolve_workers(3) == 3
    monkeypatch.setenv(WORKERS_VARIABLE, " 5 ")
    assert resolve_workers() == 5 and resolve_workers(2) == 2  # the argument wins
    with using_workers(6):
        assert resolve_workers() == 6 and resolve_workers(1) == 1  # a study's --workers wins
        with using_workers(None):
            assert resolve_workers() == 6
    assert resolve_workers() == 5
    monkeypatch.setenv(WORKERS_VARIABLE, "")
    assert resolve_workers() == 8  # empty: unset
    monkeypatch.setattr(settings, "EVERY_CORE", False)
    assert resolve_workers() == 1 and resolve_workers(4) == 4


def test_the_cores_are_those_this_process_may_use():
    n = settings.cores()
    assert n >= 1
    if hasattr(os, "sched_getaffinity"):
        assert n == len(os.sched_getaffinity(0))


BAD = [0, -1, 1.5, "2", True]


@pytest.mark.parametrize("bad", BAD, ids=repr)
def test_bad_workers_are_refused_before_any_work(monkeypatch, bad):
    def never(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(engine_train, "run_engine", never)
    X, y = torch.rand(4, 10, 1), torch.tensor([[0.0], [1.0], [0.0], [1.0]])
    for call in (
        lambda: train_many([DeepSet()], 5, seeds=[0], engine=Engine(workers=bad)),
        lambda: train_on([DeepSet()], (X, y), 5, engine=Engine(workers=bad)),
    ):
        with pytest.raises(ValueError, match=r"^workers must be a positive integer, got "):
            call()
    with pytest.raises(ValueError, match=r"^workers must be a positive integer"):
        with using_workers(bad):  # type: ignore[arg-type]
            pass


@pytest.mark.parametrize("bad", ["0", "-2", "two", "1.5", "2 workers", "0x2"])
def test_a_bad_environment_variable_is_refused_naming_it(monkeypatch, bad):
    monkeypatch.setattr(engine_train, "run_engine", lambda *a, **k: pytest.fail("training started"))
    monkeypatch.setenv(WORKERS_VARIABLE, bad)
    with pytest.raises(ValueError, match=rf"{WORKERS_VARIABLE} must be a positive integer.*"):
        train_many([DeepSet()], 5, seeds=[0])


# --- the study: `deepsets run --quick --workers N` ---------------------------------------------


def numbers(metrics: dict) -> dict:
    """metrics.json without what may differ between equal runs: timings, where they ran and on
    how many workers."""
    kept = {k: v for k, v in metrics.items() if k not in ("timing", "cluster", "workers")}
    kept["settings"] = {k: v for k, v in kept["settings"].items() if k not in ("out", "workers")}
    return kept


def test_the_quick_study_writes_the_same_numbers_on_1_to_3_workers(tmp_path, monkeypatch):
    monkeypatch.delenv(WORKERS_VARIABLE, raising=False)
    runs = {}
    argv = ["run", "--quick", "--steps", "60", "--final-window", "20"]
    for workers in (1, 2, 3):  # 3 oversubscribes a 2-core machine: slower, same bits
        out = tmp_path / str(workers)
        assert cli.main([*argv, "--workers", str(workers), "--out", str(out)]) == 0
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["workers"] == metrics["settings"]["workers"] == workers
        weights = {p.name: p.read_bytes() for p in sorted((out / "weights").iterdir())}
        runs[workers] = (numbers(metrics), weights)
    first, first_weights = runs[1]
    assert first_weights and first["training"]
    for workers in (2, 3):
        assert runs[workers][0] == first, workers
        assert runs[workers][1] == first_weights, workers


def test_the_study_records_the_default_workers(tmp_path, monkeypatch):
    monkeypatch.setenv(WORKERS_VARIABLE, "3")
    out = tmp_path / "run"
    argv = ["run", "--quick", "--no-extras", "--steps", "60", "--final-window", "20"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["workers"] == 3 and metrics["settings"]["workers"] is None


@pytest.mark.parametrize("bad", ["0", "x"])
def test_a_study_refuses_a_bad_environment_variable_before_any_work(
    tmp_path, monkeypatch, capsys, bad
):
    monkeypatch.setenv(WORKERS_VARIABLE, bad)
    monkeypatch.setattr(engine_train, "run_engine", lambda *a, **k: pytest.fail("training started"))
    out = tmp_path / "run"
    assert cli.main(["run", "--quick", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"deepsets run: error: the environment variable {WORKERS_VARIABLE}")
    assert "Traceback" not in err and not out.exists()


# --- the record: the CPU named, the workers row, the scale arithmetic ---------------------------


def record_module():
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("docs_record_w", root / "docs" / "record.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_record_names_the_cpu_and_renders_the_workers_row():
    record = record_module()
    r = copy.deepcopy(json.loads(record.RECORD.read_text()))
    c = r["benchmarks"]["conditions"]
    older = {k: v for k, v in c.items() if k not in ("cpu_model", "cores", "l2_per_core")}
    assert record.cpu_named(older) == f"a {c['cpus']}-core {c['machine']} CPU"  # an older record
    c |= {"cpu_model": "AMD EPYC 9R14", "cores": 2, "l2_per_core": "2048K"}
    r["benchmarks"]["rows"].append(
        {"workload": "deepsets run on 2 workers against 1", "baseline": 57.0, "ours": 30.0,
         "unit": "s", "ratio": 1.9, "target": ">= 1.8x", "met": True, "note": "x"}
    )  # fmt: skip
    text = record.speed_table(r)
    assert "on the CPU AMD EPYC 9R14 (2 cores for the run, 2048K of L2 cache each), " in text
    assert "| deepsets run on 2 workers against 1 | 57 s | 30 s | 1.9x | >= 1.8x | yes |" in text


def test_the_scale_arithmetic_follows_the_recorded_one_core_step():
    record = record_module()
    r = json.loads(record.RECORD.read_text())
    (lever,) = [v for v in r["levers"] if " workers (study models" in v["lever"]]
    n_stacks, share = record.study_shares((1, 2, 16, 64))
    assert share[1] == pytest.approx(1.0)
    assert share[64] <= share[16] < share[2] < share[1]
    text = record.scale(r)
    for n in (16, 64):  # the step on n cores: one core's step times the busiest worker's share
        step = lever["off"] * share[n]
        assert f"| {n} (on paper) | {step * 1e3:.2f} ms ({share[n]:.0%}) |" in text
    assert f"its {n_stacks} stacks are fixed by the models" in text.replace("\n", " ")


def test_a_studys_workers_flag_wins_over_the_environment_variable(monkeypatch):
    from deepsets.lab.settings import check_common
    from deepsets.studies.exercise.settings import StudySettings

    monkeypatch.setenv(WORKERS_VARIABLE, "x")
    with pytest.raises(ValueError, match=WORKERS_VARIABLE):
        check_common(StudySettings())
    check_common(StudySettings(workers=2))  # the flag given: the variable is not used
    with pytest.raises(ValueError, match="^workers must be a positive integer, got 0"):
        check_common(StudySettings(workers=0))
