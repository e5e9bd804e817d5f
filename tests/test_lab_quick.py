"""lab.verdict's quick runs: labelled, their verdicts not judged; a full run's are judged."""

from __future__ import annotations

from dataclasses import dataclass

from deepsets.lab.verdict import Outcome, Verdict, judged, label


@dataclass(frozen=True)
class Findings:
    one: Verdict
    by_task: dict[str, Verdict]
    listed: tuple[Verdict, ...]
    count: int


def verdict(outcome: Outcome) -> Verdict:
    return Verdict(outcome, "the DeepSet reached {acc:.2f}", {"acc": 0.5}, claim="it learns")


def findings() -> Findings:
    return Findings(
        verdict(Outcome.REFUTED),
        {"a": verdict(Outcome.CONFIRMED)},
        (verdict(Outcome.PARTLY),),
        3,
    )


def test_a_full_run_is_judged_as_its_rules_say():
    f = findings()
    assert judged(f, quick=False) is f
    assert label("digits", quick=False) is None


def test_a_quick_run_judges_nothing_and_keeps_its_numbers():
    f = judged(findings(), quick=True)
    verdicts = [f.one, f.by_task["a"], *f.listed]
    assert all(v.outcome is Outcome.UNJUDGED for v in verdicts)
    assert all(v.sentence == "the DeepSet reached 0.50" for v in verdicts)
    assert f.count == 3 and isinstance(f.listed, tuple)
    assert Outcome.UNJUDGED.value == "not judged (quick run)"


def test_the_label_names_the_full_command():
    text = label("digits", quick=True)
    assert text is not None and text.startswith("Quick run: a smoke test at a reduced scale")
    assert text.endswith("The full study: deepsets run digits")
