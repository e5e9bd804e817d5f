"""`deepsets run theory`: settings checked first, a quick run's outputs and metrics.json's
contract (once as a process), and the same seed giving the same numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from quick import assert_labelled_quick

from deepsets import cli, load_model
from deepsets.studies.theory.run import run_theory
from deepsets.studies.theory.settings import QUICK, TheorySettings, check, quick_settings

EXE = Path(sys.executable).with_name("deepsets")
CLAIMS = {
    "latent_width",
    "sum_injective",
    "max_no_average",
    "equivariant_needs_pooling",
    "max_pooling_trap",
}
TINY = dict(seeds=2, set_sizes=(2,), latents=(1, 2), train_sets=64, test_sets=64)


def test_the_theory_study_is_registered_with_its_quick_preset():
    study = cli.STUDIES["theory"]
    assert study.settings is TheorySettings
    assert study.quick() == replace(TheorySettings(), **QUICK, quick=True)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("seeds", 0, "seeds"),
        ("latents", (), "latents"),
        ("set_sizes", (2, 0), "set_sizes"),
        ("lr", -1.0, "lr"),
        ("equivariant_objects", 1, "equivariant_objects"),
        ("trap_sets", 7, "trap_sets"),
        ("spread", 0.0, "spread"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(field, value, named):
    with pytest.raises(ValueError, match=named):
        check(replace(TheorySettings(), **{field: value}))


def test_a_bad_flag_exits_2_before_any_training(tmp_path, capsys):
    assert cli.main(["run", "theory", "--seeds", "0", "--out", str(tmp_path / "o")]) == 2
    assert "seeds" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_the_same_seed_gives_the_same_numbers(tmp_path):
    a = run_theory(quick_settings(out=str(tmp_path / "a"), **TINY))
    b = run_theory(quick_settings(out=str(tmp_path / "b"), **TINY))
    numbers = [{k: c["numbers"] for k, c in r.to_json()["claims"].items()} for r in (a, b)]
    assert numbers[0] == numbers[1]


def test_console_script_quick_run_writes_the_report_and_the_metrics_contract(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    argv = [str(EXE), "run", "theory", "--quick", "--out", "out", "--seeds", "2"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["study"] == "theory" and metrics["seeds"] == [0, 1]
    assert metrics["settings"]["quick"] is True and metrics["wall_seconds"] > 0
    assert {"torch", "numpy", "python"} <= set(metrics["versions"])
    assert set(metrics["claims"]) == CLAIMS
    for claim in metrics["claims"].values():
        verdict = claim["verdict"]
        assert verdict["outcome"] == "not judged (quick run)"  # a quick run judges nothing
        assert claim["numbers"] and verdict["measured"] and verdict["threshold"]
        assert verdict["rule"] and verdict["sentence"]
    html = (out / "report.html").read_text()
    assert_labelled_quick(html, done.stdout, "theory")
    assert html.count("Verdict:") == 5 and html.count("data:image/png;base64,") == 5
    assert len(list((out / "figures").glob("*.png"))) == 5
    for claim in metrics["claims"].values():
        assert claim["verdict"]["outcome"] in done.stdout


def test_every_trained_model_is_saved_and_loads_with_load_model_with_the_same_outputs(tmp_path):
    r = run_theory(quick_settings(out=str(tmp_path / "o"), **TINY))
    weights = r.out / "weights"
    names = {f"{c.key}-{n}" for c in r.claims for n in c.trained}
    assert {p.stem for p in weights.glob("*.safetensors")} == names
    assert sum(c.models for c in r.claims) == len(names)  # every model trained, once
    X = torch.rand(7, 10, 1, generator=torch.Generator().manual_seed(3))  # (B, N, 1)
    mask = torch.rand(7, 10, generator=torch.Generator().manual_seed(4)) > 0.3  # (B, N)
    for c in r.claims:
        for n, model in c.trained.items():
            again = load_model(weights / f"{c.key}-{n}.safetensors")
            model.eval()
            with torch.no_grad():
                if c.key == "equivariant_needs_pooling":  # per-object outputs, no mask
                    torch.testing.assert_close(again(X), model(X), rtol=0, atol=0)
                else:
                    torch.testing.assert_close(again(X, mask), model(X, mask), rtol=0, atol=0)
