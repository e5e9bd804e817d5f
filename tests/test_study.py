"""run_study with the quick settings: outputs, sections, magnitudes, reproducibility."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace

import pytest
import torch

from deepsets import load_model
from deepsets.study.output import staged
from deepsets.study.run import run_study
from deepsets.study.settings import QUICK, StudySettings, resolve, sweep_architectures

QUICK_SETTINGS = StudySettings(quick=True, device="cpu")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "run"
    return run_study(replace(QUICK_SETTINGS, out=str(out)))


def test_every_output_file_exists(study):
    out = study.out
    assert (out / "report.html").is_file() and (out / "metrics.json").is_file()
    figures = {p.stem for p in (out / "figures").glob("*.png")}
    assert {"data", "losses", "sweep", "linear_pooled", "linear_losses"} <= figures
    assert {"set_size", "linear_pooling", "phi", "latent"} <= figures
    weights = sorted(p.name for p in (out / "weights").glob("*.safetensors"))
    seeds = study.metrics["seeds"]
    assert weights == sorted(
        f"{k}-seed{s}.safetensors" for k in ("deepset", "mlp", "deepset-linear") for s in seeds
    )
    assert not list(out.parent.glob(".*partial*")), "the staging directory must be gone"


def test_metrics_json_holds_every_section_and_the_settings(study):
    m = json.loads((study.out / "metrics.json").read_text())
    for key in ("settings", "seeds", "environment", "device", "timing", "training", "params",
                "invariance", "mlp_sweep", "linear_phi", "extras"):  # fmt: skip
        assert key in m, key
    assert m["settings"]["steps"] == QUICK["steps"] and m["settings"]["quick"] is True
    assert m["seeds"] == list(range(QUICK["seeds"]))
    assert {"torch", "numpy", "python", "deepsets"} <= set(m["environment"])
    assert m["params"] == {"deepset": 62, "mlp": 661}
    assert len(m["mlp_sweep"]["rows"]) == len(sweep_architectures(resolve(QUICK_SETTINGS)))
    for row in m["mlp_sweep"]["rows"]:
        assert len(row["accuracy"]["values"]) == QUICK["seeds"]
    assert m == json.loads(json.dumps(study.metrics))  # the file is what run_study returned


def test_invariance_numbers_have_the_right_magnitude(study):
    inv = study.metrics["invariance"]
    assert len(inv["permutations"]) == 3
    for p in inv["permutations"]:
        assert sorted(p) == list(range(10))
    assert inv["max_change"]["DeepSet"] < 1e-5  # float rounding of a reordered sum
    assert inv["max_change"]["MLP"] > 1e-3  # position-sensitive


def test_linear_phi_stays_at_ln2(study):
    lin = study.metrics["linear_phi"]
    assert abs(lin["final_loss"]["mean"] - math.log(2)) < 0.02
    # the pooled value of an affine phi is the same for both classes (every set sums to 1)
    p = lin["pooled"]["DeepSet, affine phi"]
    assert p["class 0"]["mean"] == pytest.approx(p["class 1"]["mean"], abs=1e-4)


def test_sweep_answer_is_consistent_with_its_rows(study):
    sweep, ds = study.metrics["mlp_sweep"], study.metrics["training"]["deepset"]
    for r in sweep["rows"]:
        expected = (
            r["accuracy"]["min"] >= ds["accuracy"]["min"]
            and r["final_loss"]["mean"] <= ds["final_loss"]["mean"]
        )
        assert r["matches"] == expected
    matching = [r for r in sweep["rows"] if r["matches"]]
    if matching:
        best = min(matching, key=lambda r: r["params"])
        assert sweep["smallest_match"]["params"] == best["params"]
    else:
        assert sweep["smallest_match"] is None


def test_report_contains_each_section_and_embeds_its_figures(study):
    html = (study.out / "report.html").read_text()
    for heading in ("1. The data", "2-4. The models", "5. Parameter counts",
                    "6. Permutation invariance", "7a.", "7b.", "Set-size generalisation",
                    "Pooling with an affine phi", "What phi learned", "Latent width"):  # fmt: skip
        assert heading in html, heading
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == len(list((study.out / "figures").glob("*.png")))
    assert not re.search(r"(src|href)=[\"']?(https?:|//)", html)  # self-contained


@torch.no_grad()
def test_saved_weights_restore_the_trained_models(study):
    inv = study.metrics["invariance"]
    example = torch.tensor(inv["example_set"]).reshape(1, -1, 1)  # (1, N, 1)
    # the invariance section ran the first-seed models on this set: same weights, same outputs
    for name, key in (("DeepSet", "deepset"), ("MLP", "mlp")):
        m = load_model(study.out / "weights" / f"{key}-seed0.safetensors")
        assert float(m(example)[0, 0]) == pytest.approx(inv["example_outputs"][name][0], abs=1e-6)


def test_same_settings_give_the_same_numbers(tmp_path):
    s = replace(QUICK_SETTINGS, extras=False, steps=60, final_window=20)
    a = run_study(replace(s, out=str(tmp_path / "a"))).metrics
    b = run_study(replace(s, out=str(tmp_path / "b"))).metrics
    for m in (a, b):
        m.pop("timing")
        m["settings"].pop("out")
    assert a == b


def test_existing_directory_is_not_overwritten_unless_asked(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    s = replace(QUICK_SETTINGS, out=str(out), extras=False, steps=20, final_window=5)
    with pytest.raises(FileExistsError, match="--overwrite"):
        run_study(s)
    assert (out / "notes.txt").read_text() == "precious"
    # --overwrite replaces only an earlier study's output, never a directory of the user's
    with pytest.raises(FileExistsError, match="not an earlier study's output"):
        run_study(replace(s, overwrite=True))
    assert (out / "notes.txt").read_text() == "precious"
    first = run_study(replace(s, out=str(tmp_path / "run"))).out
    (first / "notes.txt").write_text("stale")
    run_study(replace(s, out=str(first), overwrite=True))
    assert (first / "report.html").is_file() and not (first / "notes.txt").exists()


@pytest.mark.parametrize("out", [".", ".."])
def test_out_must_name_a_directory_of_its_own(out):
    with pytest.raises(ValueError, match="directory of its own"):
        run_study(replace(QUICK_SETTINGS, out=out, overwrite=True))


def test_a_directory_that_appears_during_the_run_is_kept_and_so_are_the_results(tmp_path):
    out = tmp_path / "run"
    with (
        pytest.raises(FileExistsError, match="results were kept in") as e,
        staged(out, False) as tmp,
    ):
        (tmp / "metrics.json").write_text("{}")
        out.mkdir()
        (out / "theirs.txt").write_text("theirs")
    assert (out / "theirs.txt").read_text() == "theirs"
    assert (tmp / "metrics.json").is_file() and str(tmp) in str(e.value)


def test_an_interrupted_study_leaves_nothing_behind(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt), staged(out, overwrite=False) as tmp:
        (tmp / "half-written.txt").write_text("...")
        raise KeyboardInterrupt
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_an_interrupted_overwrite_keeps_the_old_results(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "report.html").write_text("old")
    (out / "metrics.json").write_text("{}")
    with pytest.raises(RuntimeError), staged(out, overwrite=True):
        raise RuntimeError("boom")
    assert (out / "report.html").read_text() == "old"


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(seeds=0), "seeds"),
        (dict(steps=-1), "steps"),
        (dict(final_window=500, steps=100), "final_window"),
        (dict(device="tpu"), "device"),
        (dict(sweep_activations=("relu", "swish")), "activation"),
        (dict(sweep_widths=(4, 0)), "sweep_widths"),
        (dict(seed=-1), "seed"),
        (dict(permutations=0), "permutations"),
        (dict(threads=0), "threads"),
        (dict(workers=0), "workers"),
        (dict(lr=float("inf")), "lr"),
        (dict(batch_size=7), "batch_size"),
    ],
)
def test_bad_settings_are_rejected_before_any_work(tmp_path, change, message):
    out = tmp_path / "never"
    with pytest.raises(ValueError, match=message):
        run_study(StudySettings(out=str(out), **change))
    assert not out.exists()


def test_study_runs_on_the_threads_asked_and_restores_the_callers(tmp_path):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        s = replace(QUICK_SETTINGS, out=str(tmp_path / "t"), extras=False, steps=20, final_window=5)
        assert run_study(s).metrics["threads"] == 1  # the default: one thread
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_extras_record_what_max_pooling_saw(study):
    e = study.metrics["extras"]
    for v in e["linear_pooling"].values():
        assert len(v["slope"]) == QUICK["seeds"]
    at = e["phi"]["phi_at_inputs"]["max"]
    for k, blind in enumerate(at["max_is_phi0"]):
        assert blind == (at["0"][k] >= max(at["1/5"][k], at["1/3"][k]))
    # an affine phi with max pooling can only separate the classes with a positive slope
    lp = e["linear_pooling"]["max"]
    for acc, slope in zip(lp["accuracy"], lp["slope"], strict=True):
        if slope <= 0:
            assert acc == 0.5
