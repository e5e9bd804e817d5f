"""lab.verdict and lab.console: a verdict's sentence is rendered from its fields; every study's
console summary shows each verdict's outcome and sentence."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from deepsets.lab.console import print_study, table
from deepsets.lab.verdict import Outcome, Verdict, count_outcome, jsonable


def verdict(**changes: object) -> Verdict:
    fields: dict[str, object] = dict(
        outcome=Outcome.CONFIRMED,
        template="Accuracy {accuracy:.3f} at {n} digits, threshold {threshold}; paper {paper_acc}.",
        measured={"accuracy": 0.96789, "n": 40},
        threshold={"threshold": 0.95},
        claim="It stays accurate.",
        paper={"paper_acc": "about 1"},
        rule="at least {threshold}",
    )
    return Verdict(**{**fields, **changes})  # type: ignore[arg-type]


def test_the_sentence_is_rendered_from_the_measured_numbers_threshold_and_paper():
    v = verdict()
    assert v.sentence == "Accuracy 0.968 at 40 digits, threshold 0.95; paper about 1."
    assert str(v) == v.sentence and v.rule_text == "at least 0.95"
    other = verdict(measured={"accuracy": 0.5, "n": 5})
    assert other.sentence.startswith("Accuracy 0.500 at 5 digits")


def test_a_template_naming_a_field_it_does_not_hold_fails():
    with pytest.raises(KeyError, match="missing"):
        _ = verdict(template="{missing}").sentence


def test_to_json_holds_every_field_as_json_types():
    d = json.loads(json.dumps(verdict().to_json()))
    assert d == {
        "outcome": "confirmed",
        "sentence": "Accuracy 0.968 at 40 digits, threshold 0.95; paper about 1.",
        "claim": "It stays accurate.",
        "measured": {"accuracy": 0.96789, "n": 40},
        "threshold": {"threshold": 0.95},
        "rule": "at least 0.95",
        "paper": {"paper_acc": "about 1"},
    }


@pytest.mark.parametrize(
    ("met", "of", "outcome"),
    [(3, 3, Outcome.CONFIRMED), (2, 3, Outcome.PARTLY), (1, 3, Outcome.PARTLY),
     (0, 3, Outcome.REFUTED), (1, 1, Outcome.CONFIRMED), (0, 1, Outcome.REFUTED)],
)  # fmt: skip
def test_count_outcome(met, of, outcome):
    assert count_outcome(met, of) is outcome


@dataclass(frozen=True)
class Findings:
    a: Verdict
    b: list[Verdict]
    c: str | None


def test_jsonable_turns_every_verdict_inside_a_dataclass_into_its_json():
    f = Findings(verdict(), [verdict(outcome=Outcome.REFUTED)], None)
    assert jsonable(f) == {
        "a": verdict().to_json(),
        "b": [verdict(outcome=Outcome.REFUTED).to_json()],
        "c": None,
    }


def test_the_console_summary_shows_tables_every_outcome_and_sentence_and_the_report():
    console = Console(record=True, width=200)
    verdicts = [(o.name.lower(), verdict(outcome=o)) for o in Outcome]
    t = table("Numbers [bold]", ("model", "acc"), [("DeepSet [x]", "0.968")])
    r = SimpleNamespace(out=Path("/r"), cluster=None, settings=SimpleNamespace(quick=False))
    print_study("exercise", r, [t], verdicts, "12 s on cpu", console)
    text = console.export_text()
    assert "Numbers [bold]" in text and "DeepSet [x]" in text  # markup is escaped, not applied
    for label, v in verdicts:
        assert label in text and v.outcome.value in text and v.sentence in text
    assert "12 s on cpu" in text and "Report: /r/report.html" in text
