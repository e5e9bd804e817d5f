"""run_study with the quick settings: outputs, sections, magnitudes, reproducibility."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from markupsafe import escape

from deepsets import load_model
from deepsets.lab.output import staged
from deepsets.lab.run import embedded_figures, render
from deepsets.lab.verdict import Outcome
from deepsets.studies.exercise import verdicts
from deepsets.studies.exercise.run import run_study
from deepsets.studies.exercise.settings import QUICK, StudySettings

QUICK_SETTINGS = StudySettings(**QUICK, quick=True, device="cpu")
SWEEP_SIZE = len(QUICK["sweep_widths"]) * len(QUICK["sweep_depths"])
SWEEP_SIZE *= len(QUICK["sweep_activations"])


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
    assert {"sample_efficiency", "speed"} <= figures
    weights = sorted(p.name for p in (out / "weights").glob("*.safetensors"))
    seeds = study.run.seeds
    assert weights == sorted(
        f"{k}-seed{s}.safetensors" for k in ("deepset", "mlp", "deepset-linear") for s in seeds
    )
    assert not list(out.parent.glob(".*partial*")), "the staging directory must be gone"


def test_metrics_json_holds_every_section_and_the_settings(study):
    m = json.loads((study.out / "metrics.json").read_text())
    for key in ("settings", "seeds", "environment", "device", "timing", "training", "params",
                "invariance", "mlp_sweep", "linear_phi", "sample_efficiency", "learning_speed",
                "extras", "findings"):  # fmt: skip
        assert key in m, key
    assert m["settings"]["steps"] == QUICK["steps"] and m["settings"]["quick"] is True
    assert m["seeds"] == list(range(QUICK["seeds"]))
    assert {"torch", "numpy", "python", "deepsets"} <= set(m["environment"])
    assert m["params"] == {"deepset": 62, "mlp": 661}
    assert m["training"]["deepset"]["params"] == 62
    # the sweep, the exercise's (20, 20) ReLU MLP (of its two-layer ReLU family), the refinement
    assert len(m["mlp_sweep"]["rows"]) == SWEEP_SIZE + 1 + len(m["mlp_sweep"]["refined"])
    assert "mlp-20x20-relu (step 2's)" in [r["name"] for r in m["mlp_sweep"]["rows"]]
    for row in m["mlp_sweep"]["rows"]:
        assert len(row["score"]["accuracy"]["values"]) == QUICK["seeds"]
    assert m == study.metrics  # the file is what run_study returned
    assert m["findings"]["invariance"] == study.findings.invariance.to_json()
    assert m["findings"]["invariance"]["outcome"] in {o.value for o in Outcome}
    # the typed results and the file hold the same numbers
    assert m["training"]["mlp"]["accuracy"]["values"] == list(study.training.mlp.accuracy.values)
    assert m["extras"]["latent"]["widths"][1]["latent"] == 2


def test_invariance_numbers_have_the_right_magnitude(study):
    inv = study.invariance
    assert len(inv.permutations) == 3
    for p in inv.permutations:
        assert sorted(p) == list(range(10))
    assert inv.deepset.max_change < 1e-5  # float rounding of a reordered sum
    assert inv.mlp.max_change > 1e-3  # position-sensitive
    assert "float rounding" in study.findings.invariance.sentence


def test_linear_phi_stays_at_ln2(study):
    lin = study.linear_phi
    assert abs(lin.score.final_loss.mean - math.log(2)) < 0.02
    # the pooled value of an affine phi is the same for both classes (every set sums to 1)
    p = lin.pooled_affine_phi
    assert p.class_0.mean == pytest.approx(p.class_1.mean, abs=1e-4)
    assert "cannot tell the classes apart" in study.findings.linear_phi.sentence


def test_scores_are_over_all_372_sets_and_say_they_were_seen(study):
    assert study.run.data.scored_sets == 372
    html = (study.out / "report.html").read_text()
    assert "these are training\naccuracies, not held-out ones" in html


def test_sample_efficiency_trains_on_m_per_class_and_scores_the_rest(study):
    from deepsets.studies.exercise.sections import symmetry
    from deepsets.studies.exercise.sections.symmetry import QUICK_M_VALUES

    se = study.sample_efficiency
    assert se.per_class == QUICK_M_VALUES
    assert se.unseen_per_class == tuple((120 - M, 252 - M) for M in QUICK_M_VALUES)
    assert [c.label for c in se.models][:2] == ["DeepSet", "MLP (20, 20) relu"]
    # 7a's model is a third, unless it is the exercise's MLP (trained once)
    third = symmetry.third_model(study.mlp_sweep)[0]
    if (third.hidden, third.activation) == ((20, 20), "relu"):
        assert len(se.models) == 2
    else:
        assert len(se.models) == 3 and se.models[2].label.startswith("mlp-")
    for c in se.models:
        assert len(c.unseen_accuracy) == len(QUICK_M_VALUES)
        assert all(len(a.values) == QUICK["seeds"] for a in c.unseen_accuracy)
    # the DeepSet gives every arrangement of a class one output: it is right on all of a class
    # or on none, so its balanced accuracy is 0, 1/2 or 1 whatever it learned
    for a in se.models[0].unseen_accuracy:
        assert set(a.values) <= {0.0, 0.5, 1.0}
    m = study.metrics["sample_efficiency"]
    assert m["models"][1]["unseen_accuracy"][0]["values"] == list(
        se.models[1].unseen_accuracy[0].values
    )


def test_learning_speed_reads_the_main_runs_losses(study):
    sp = study.learning_speed
    assert sp.checkpoints[-1] == QUICK["steps"] and len(sp.checkpoints) == 5
    assert len(sp.deepset.accuracy) == 5 and len(sp.deepset.accuracy[0]) == QUICK["seeds"]
    # the last checkpoint is the main run: its accuracy is the training section's score
    assert sp.deepset.accuracy[-1] == study.training.deepset.accuracy.values
    assert sp.mlp.accuracy[-1] == study.training.mlp.accuracy.values
    for speed in (sp.deepset, sp.mlp):
        by_seed = list(zip(*speed.accuracy, strict=True))  # (S, C)
        for steps, acc in zip(speed.steps_to_all_correct, by_seed, strict=True):
            assert steps is None or acc[sp.checkpoints.index(steps)] == 1.0
    assert study.metrics["learning_speed"]["deepset"]["steps_to_loss"] == list(
        sp.deepset.steps_to_loss
    )
    # the area under a mean BCE loss curve: positive
    assert 0 < sp.deepset.loss_area and 0 < sp.mlp.loss_area
    # the sentences are the verdict functions' answers to these numbers (a quick run's: not
    # judged, the rest kept)
    loss = (sp.deepset.steps_to_loss, sp.mlp.steps_to_loss)
    area = (sp.deepset.loss_area, sp.mlp.loss_area)
    expected = verdicts.learning_speed_verdict(loss, area, sp.loss_threshold, QUICK["steps"])
    assert study.findings.learning_speed == replace(expected, outcome=Outcome.UNJUDGED)
    worst = {c.label: [a.min for a in c.unseen_accuracy] for c in study.sample_efficiency.models}
    assert study.findings.sample_efficiency == replace(
        verdicts.sample_efficiency_verdict(study.sample_efficiency.per_class, worst),
        outcome=Outcome.UNJUDGED,
    )


def test_sweep_answer_is_consistent_with_its_rows(study):
    sweep, ds = study.mlp_sweep, study.training.deepset
    for r in sweep.rows:
        loss, acc = r.score.final_loss, r.score.accuracy
        mean = sum(loss.values) / len(loss.values)
        assert r.matches_loss == (min(loss.values) <= ds.final_loss.mean
                                  and mean <= max(ds.final_loss.values))  # fmt: skip
        mean = sum(acc.values) / len(acc.values)
        assert r.matches_accuracy == (max(acc.values) >= ds.accuracy.mean
                                      and mean >= min(ds.accuracy.values))  # fmt: skip
    for bracket, matched in ((sweep.loss, "matches_loss"), (sweep.accuracy, "matches_accuracy")):
        matching = [r for r in sweep.rows if getattr(r, matched)]
        if not matching:
            assert bracket.match is None
            continue
        best = min(matching, key=lambda r: r.score.params)
        assert bracket.match.params == best.score.params
        assert f"at most {best.score.params:,}" in study.findings.mlp_sweep.sentence or (
            bracket.below is None and best.name in study.findings.mlp_sweep.sentence
        )


def test_report_contains_each_section_and_embeds_its_figures(study):
    html = (study.out / "report.html").read_text()
    for heading in ("1. The data", "2-4. The models", "5. Parameter counts",
                    "6. Permutation invariance", "7a.", "7b.", "Set-size generalisation",
                    "Pooling with an affine phi", "What phi learned", "Latent width",
                    "8. What the symmetry buys", "8a.", "8b."):  # fmt: skip
        assert heading in html, heading
    assert str(escape(study.findings.headline.sentence)) in html
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == len(list((study.out / "figures").glob("*.png")))
    assert not re.search(r"(src|href)=[\"']?(https?:|//)", html)  # self-contained


@torch.no_grad()
def test_saved_weights_restore_the_trained_models(study):
    inv = study.invariance
    example = torch.tensor(inv.example_set).reshape(1, -1, 1)  # (1, N, 1)
    # the invariance section ran the first-seed models on this set: same weights, same outputs
    for key, model in (("deepset", inv.deepset), ("mlp", inv.mlp)):
        m = load_model(study.out / "weights" / f"{key}-seed0.safetensors")
        assert float(m(example)[0, 0]) == pytest.approx(model.example_outputs[0], abs=1e-6)


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
    # replacing an earlier run, and refusing one with files it did not write: test_output.py


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
    with staged(out, overwrite=False) as tmp:
        (tmp / "report.html").write_text("old")
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
        assert run_study(s).run.threads == 1  # the default: one thread
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_extras_record_what_max_pooling_saw(study):
    e = study.extras
    pools = (e.affine_pooling.sum_pooling, e.affine_pooling.mean_pooling)
    for v in (*pools, e.affine_pooling.max_pooling):
        assert len(v.slope) == QUICK["seeds"]
    at = e.learned_phi.max_pooling
    for k, blind in enumerate(at.max_is_phi0):
        assert blind == (at.phi_0[k] >= max(at.phi_fifth[k], at.phi_third[k]))
    # an affine phi with max pooling can only separate the classes with a positive slope
    lp = e.affine_pooling.max_pooling
    for acc, slope in zip(lp.score.accuracy.values, lp.slope, strict=True):
        if slope <= 0:
            assert acc == 0.5


README = Path(__file__).resolve().parents[1] / "docs" / "studies" / "exercise.md"


def documented_metrics_keys() -> set[str]:
    """The top-level keys in the exercise page's metrics.json table."""
    section = README.read_text().split("## metrics.json", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(\w+)` \|", section, flags=re.M))


def test_the_readme_documents_every_top_level_key_of_metrics_json(study):
    written = set(json.loads((study.out / "metrics.json").read_text()))
    assert documented_metrics_keys() == written


def test_report_escapes_every_value(study):
    evil = "<script>alert(1)</script>"
    run = replace(study.run, environment={"torch": evil})
    r = replace(study, run=run)
    figures = embedded_figures(study.out)
    page = render("exercise", figures, "report.html.j2", r=r, s=r.run.settings, f=r.findings)
    assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page


def test_report_states_the_computed_findings(study):
    html = (study.out / "report.html").read_text()
    f = study.findings
    for sentence in (f.invariance, f.mlp_sweep, f.linear_phi, f.extras.latent, f.extras.set_size):
        assert str(escape(sentence.sentence)) in html  # as Jinja2 escapes it


def test_a_quick_report_and_summary_say_so_and_judge_nothing(study):
    from rich.console import Console

    from deepsets.lab.verdict import label
    from deepsets.studies.exercise.run import print_summary

    html = (study.out / "report.html").read_text()
    text = label("exercise", True)
    assert text is not None and str(escape(text)) in html
    assert html.index("Quick run: a smoke test") < html.index("<h2>")  # at the top
    assert "deepsets run exercise" in text
    assert "not confirmed" not in html  # (the page states sentences; the outcomes are below)
    console = Console(record=True, width=120)
    print_summary(study, console)
    printed = console.export_text()
    assert printed.lstrip().startswith("Quick run: a smoke test")
    assert "not confirmed" not in printed and "not judged (quick run)" in printed
    outcomes = {v["outcome"] for v in study.metrics["findings"].values() if isinstance(v, dict)
                and "outcome" in v}  # fmt: skip
    assert outcomes == {"not judged (quick run)"}
