"""The READMEs' measured numbers are the record's: docs/results.json, written by docs/record.py.

No training here: the blocks are re-rendered from the committed record and compared with the
READMEs' text; the renderers are checked on hand-made numbers on both sides of their choices.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_record_module():
    spec = importlib.util.spec_from_file_location("docs_record", ROOT / "docs" / "record.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


record = load_record_module()
RECORDED = json.loads(record.RECORD.read_text())


def quoted() -> str:
    """Every page of record.DOCS, one after another (each block stands in one of them)."""
    return "\n".join(doc.read_text() for doc in record.DOCS)


@pytest.mark.parametrize("doc", record.DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_readme_numbers_are_the_records(doc):
    stale = record.stale(doc.read_text(), record.blocks(RECORDED))
    assert stale == [], f"{doc.name}: blocks {stale} differ from docs/results.json; run " + (
        "python docs/record.py --render (or record again)"
    )


def test_every_block_is_quoted_once():
    names = [n for doc in record.DOCS for _, n, _, _ in record.BLOCK.findall(doc.read_text())]
    studies = [n for renderers in record.STUDY_RENDERERS.values() for n in renderers]
    assert sorted(names) == sorted([*record.RENDERERS, *studies])


# the pages that quote the exercise's answers and the speed table (and no other benchmark block)
ANSWERS_AND_SPEED = ("docs/studies/exercise.md", "docs/engine.md")


def pages(*paths: str) -> str:
    return "\n".join((ROOT / p).read_text() for p in paths)


def test_an_edited_readme_number_fails_the_check():
    text = pages(*ANSWERS_AND_SPEED)
    rendered = record.blocks(RECORDED)
    edited = text.replace("Matching the 62-parameter", "Matching the 63-parameter", 1)
    assert edited != text
    assert record.stale(edited, rendered) == ["answers"]
    table = text.index("| make_data(100) |")  # a digit in the speed table
    edited = text[:table] + text[table:].replace("x |", "1x |", 1)
    assert record.stale(edited, rendered) == ["speed"]


def test_a_changed_record_fails_the_check():
    changed = copy.deepcopy(RECORDED)
    changed["study"]["invariance"]["deepset"]["max_change"] = 3e-3
    changed["benchmarks"]["rows"][0]["ours"] *= 2
    stale = record.stale(pages(*ANSWERS_AND_SPEED), record.blocks(changed))
    assert stale == ["answers", "speed"]
    assert "bench-table" in record.stale(quoted(), record.blocks(changed))


@pytest.mark.parametrize(
    ("out", "seconds", "summary"),
    [
        ("...\n903 passed, 2 skipped in 74.21s\n", 75.0,
         {"mode": "run", "passed": 903, "failed": 0, "seconds": 75.0}),
        ("F..\n1 failed, 902 passed in 70s\n", 71.0,
         {"mode": "run", "passed": 902, "failed": 1, "seconds": 71.0}),
        ("a.py::t\n\n895 tests collected in 4.48s\n", None, {"mode": "collect", "collected": 895}),
        ("a.py::t\n\n1 test collected in 0.1s\n", None, {"mode": "collect", "collected": 1}),
    ],
)  # fmt: skip
def test_pytest_summary_reads_the_counts(out, seconds, summary):
    assert record.pytest_summary(out, seconds) == summary


def test_render_replaces_only_the_blocks():
    text = "a 1\n<!-- recorded:begin speed -->\nold 2\n<!-- recorded:end -->\nb 3\n"
    out = record.render(text, {"speed": "new 4"})
    assert out == "a 1\n<!-- recorded:begin speed -->\nnew 4\n<!-- recorded:end -->\nb 3\n"
    assert record.stale(out, {"speed": "new 4"}) == []
    with pytest.raises(ValueError, match="unknown recorded block 'nope'"):
        record.render(text.replace("speed", "nope"), {"speed": "x"})


# ---------------------------------------------------------------- hand-made numbers


def score(params: int, loss: float, acc_min: float, acc_mean: float | None = None) -> dict:
    acc = {"min": acc_min, "mean": acc_min if acc_mean is None else acc_mean}
    return {"params": params, "final_loss": {"mean": loss}, "accuracy": acc}


def mlp_row(hidden: tuple[int, ...], act: str, s: dict, matches: bool) -> dict:
    name = f"mlp-{'x'.join(map(str, hidden))}-{act}"
    return {"name": name, "hidden": list(hidden), "depth": len(hidden), "activation": act,
            "score": s, "matches": matches}  # fmt: skip


SWEEP_SENTENCE = (
    "Matching the 62-parameter DeepSet: in final loss, an MLP needs more than 769 and at most "
    "1,219 parameters (12.4x to 19.7x): mlp-64-relu does not match, mlp-29x29-relu does; in "
    "accuracy, an MLP needs more than 301 and at most 385 parameters (4.9x to 6.2x): "
    "mlp-25-relu does not match, mlp-32-relu does."
)


def study(**changes: Any) -> dict:
    """A study's metrics with the default run's numbers as the README quoted them."""
    ln2 = math.log(2)
    m = {
        "settings": {"seeds": 5, "steps": 4000, "mlp_hidden": [20, 20]},
        "models_trained": 175,
        "timing": {"wall_seconds": 51.2},
        "invariance": {"permutations": [[0]] * 3, "deepset": {"max_change": 4.2e-10},
                       "mlp": {"max_change": 0.0123}},
        "data": {"scored_sets": 372},
        "training": {"deepset": score(62, 8.8e-4, 1.0), "mlp": score(661, 1.1e-3, 1.0)},
        "mlp_sweep": {
            "rows": [
                mlp_row((16,), "relu", score(193, 0.05, 0.99), False),
                mlp_row((32,), "relu", score(385, 2e-3, 1.0), False),
                mlp_row((32, 32), "relu", score(1441, 8e-4, 1.0), True),
                mlp_row((128, 128), "tanh", score(18049, 0.02, 0.999), False),
            ],
            "smallest_match": {"name": "mlp-32x32-relu", "params": 1441},
        },
        "findings": {"mlp_sweep": {"sentence": SWEEP_SENTENCE}},
        "linear_phi": {"score": {"final_loss": {"mean": ln2, "values": [ln2] * 5}}},
        "extras": {
            "set_size": {"test_sizes": [5, 10, 20, 50, 100], "trained_on": 10,
                         "mixed_sizes": [5, 20],
                         "sum_pooling": {"mean": [0.5, 1.0, 0.5, 0.5, 0.5]},
                         "sum_pooling_mixed": {"mean": [1.0, 1.0, 1.0, 0.995, 0.8]}},
            "learned_phi": {"max_pooling": {"max_is_phi0": [True] * 5}},
            "affine_pooling": {"max_pooling": {"slope": [-0.1] * 5}},
        },
    }  # fmt: skip
    for path, value in changes.items():
        *keys, last = path.split("__")
        d = m
        for k in keys:
            d = d[k]
        d[last] = value
    return m


def full(m: dict, quick: bool = False) -> dict:
    return {"recorded": {"date": "2026-11-23 13:28 UTC", "cpus": 2, "quick": quick}, "study": m,
            "tests": {"mode": "run", "passed": 510, "failed": 0, "seconds": 45.3}}  # fmt: skip


def flat(text: str) -> str:
    return " ".join(text.split())  # the bullets are wrapped


def test_answers_quote_the_numbers_of_the_record():
    text = flat(record.answers(full(study())))
    for quoted in (
        "(5 seeds, recorded 2026-11-23 13:28 UTC on a 2-core CPU)",
        "under 3 random permutations the DeepSet's output moves by at most 4e-10 (float rounding)",
        "the exercise's MLP's by up to 1e-2",
        f"**Question 7a:** {SWEEP_SENTENCE}",
        "stays at **0.69315 = ln 2** on every seed",
        "sum pooling fails on sets of 5, 20, 50 and 100",
        "trained on 5-20 objects it holds up to 50 (80% at 100)",
        "Max pooling fell into a blind spot on every seed",
    ):
        assert quoted in text
    assert "--quick" not in text


def test_answers_follow_the_numbers_across_their_thresholds():
    m = study(
        invariance__deepset={"max_change": 3e-3},
        linear_phi={"score": {"final_loss": {"mean": 0.5, "values": [0.5, 0.69, 0.5]}}},
    )
    m["findings"]["mlp_sweep"]["sentence"] = "No MLP of the sweep matches it."
    m["extras"]["set_size"]["sum_pooling"]["mean"] = [1.0, 0.9, 1.0, 1.0, 1.0]
    m["extras"]["set_size"]["sum_pooling_mixed"]["mean"] = [1.0] * 5
    m["extras"]["learned_phi"]["max_pooling"]["max_is_phi0"] = [True, True, False, False, False]
    text = flat(record.answers(full(m, quick=True)))
    for quoted in (
        "Numbers from a `--quick` record",
        "moves by at most 3e-3 (more than float rounding (1e-5))",
        "**Question 7a:** No MLP of the sweep matches it.",
        "ends at 0.50000 (ln 2 = 0.69315), within 0.01 of ln 2 on 1 of 3 seeds",
        "sum pooling does not even solve sets of 10 (90%)",
        "trained on 5-20 objects it holds at every size up to 100",
        "on 2 of 5 seeds with a tanh `phi`, and on every seed with an affine one",
    ):
        assert quoted in text
    assert "= ln 2**" not in text and SWEEP_SENTENCE not in text


def test_commands_quote_the_study_time_and_the_test_count():
    text = record.commands(full(study()))
    assert "| 51 s (175 models x 4000 steps)," in text
    assert "pytest's `510 passed` | 45 s," in text


def test_the_speed_table_quotes_every_row():
    rows = [
        {"workload": "make_data(100)", "baseline": 6.74e-4, "ours": 5.679e-5, "unit": "s",
         "ratio": 11.87, "target": ">= 10x", "met": True, "note": ""},
        {"workload": "K = 64 DeepSets (500 steps)", "baseline": 425.0, "ours": 18130.0,
         "unit": "model-steps/s", "ratio": 42.66, "target": ">= 60x", "met": False, "note": ""},
        {"workload": "deepsets run, 175 models x 4000 steps", "baseline": 1256.0,
         "ours": 51.16, "unit": "s", "ratio": 24.55, "target": ">= 30x, <= 60 s", "met": False,
         "note": "baseline est.: training only"},
    ]  # fmt: skip
    conditions = {"load_average_before": [1.3, 1, 1], "load_average_after": [1.4, 1, 1],
                  "cpus": 2, "machine": "x86_64", "torch": "2.13.0+cpu", "threads": 1,
                  "seconds": 150.0}  # fmt: skip
    r = full(study()) | {"benchmarks": {"rows": rows, "conditions": conditions}}
    text = record.speed_table(r)
    assert "| make_data(100) | 0.67 ms | 0.057 ms | 11.9x | >= 10x | yes |" in text
    assert "| K = 64 DeepSets (500 steps) | 425/s | 18,130/s | 42.7x | >= 60x | **no** |" in text
    assert "| 1256 s (est.) | 51 s | 24.6x | >= 30x, <= 60 s | **no** |" in text
    assert "load average 1.3 before, 1.4 after; the rows took 2.5 minutes" in text


def test_an_output_that_never_moved_is_said_so():
    text = flat(record.answers(full(study(invariance__deepset={"max_change": 0.0}))))
    assert "output does not change at all;" in text
    text = flat(record.answers(full(study(invariance__deepset={"max_change": 2e-9}))))
    assert "moves by at most 2e-9 (float rounding)" in text


# levers removed from the code (benchmarks/levers.py's docstring), and FastTanh as it was with
# the hand-written steps: a record made before their removal still lists them, the next does not
REMOVED = ("hand-written training steps", "fused Adam kernel (study", "narrow MLPs padded",
           "one hand-written Adam update", "FastTanh in the stacked forms")  # fmt: skip
NEWER = {"torch's fused Adam kernel", "FastTanh through autograd"}  # than the 2026-12-02 record


def test_the_code_keeps_the_levers_the_record_says_are_worth_it():
    """A lever the record found clearly faster is on in the code, one with no gain is off,
    and the record says truly whether each was on."""
    from deepsets import training
    from deepsets.engine import forked, settings
    from deepsets.engine.families import layers

    in_code = {
        " workers (study models": settings.EVERY_CORE,  # a worker per core (2 recorded)
        "workers as forked processes": forked.FORK,
        "FastTanh through autograd": layers.FAST_TANH,
        "torch's fused Adam kernel": training.FUSED,
        "torch.compile": False,  # nothing in src/ compiles
    }
    levers = json.loads(record.RECORD.read_text())["levers"]
    seen = set()
    for row in levers:
        if row["lever"].startswith(REMOVED):
            continue
        (name,) = [n for n in in_code if n in row["lever"]]
        seen.add(name)
        assert row["in_code"] == in_code[name], row["lever"]
        if row["verdict"] != "noise" and "train_many" not in row["lever"]:
            assert in_code[name] == (row["verdict"] == "keep"), (row["lever"], row["gain"])
        # The engine's Adam is the plain loop's, whatever its speed there (0.98-1.04x): the
        # engine's contract is train's numbers, so the fused row of train_many only informs.
    assert seen >= set(in_code) - NEWER


def test_the_digits_block_follows_its_record():
    changed = copy.deepcopy(RECORDED)
    digits = changed["studies"]["digits"]["metrics"]
    digits["results"]["text"]["lstm"]["100"]["mean"] = 0.5
    assert record.stale(quoted(), record.blocks(changed)) == ["digits"]
    lstm = digits["findings"]["lstm"]  # a claim about lengths the run did not test
    lstm.update({"outcome": "not measured"} if "outcome" in lstm else {"agrees": None})
    text = record.digits(changed["studies"]["digits"])
    assert "**not measured**" in text and "| text | LSTM | " in text and "0.500 (" in text


def test_the_attention_page_follows_its_record():
    """docs/studies/attention.md's tables are the recorded run's; a changed number is noticed."""
    page = (ROOT / "docs" / "studies" / "attention.md").read_text()
    assert record.stale(page, record.blocks(RECORDED)) == []
    changed = copy.deepcopy(RECORDED)
    attention = changed["studies"]["attention"]
    attention["metrics"]["results"]["clustering"]["isab_pma"]["mean"] = -1.2345
    attention["metrics"]["findings"]["oracle"]["outcome"] = "not confirmed"
    assert record.stale(page, record.blocks(changed)) == ["attention"]
    text = record.attention(attention)
    assert "| ISAB + PMA | -1.2345 (" in text
    assert "| oracle (true parameters) | " in text and "| not confirmed |" in text
    for model in ("mean", "sum", "max", "sab_pma"):
        cell = attention["metrics"]["results"]["max_regression"][model]
        assert f"{cell['mean']:.4f} ({cell['min']:.4f}..{cell['max']:.4f})" in text
