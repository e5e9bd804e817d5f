"""One verdict type for every study: what was decided, on which numbers, against which threshold.

A `Verdict` holds the outcome (one `Outcome` for every study), the measured numbers the decision
was made on, the thresholds it compared them with, the statement it tests and, where the study
reproduces a paper, the paper's values beside ours. Its sentence is rendered from those fields
by its template (`str.format` over the numbers, thresholds and paper values), so a sentence can
state only what the fields hold. Each study's verdicts.py chooses the outcome and the template
by a pure function of numbers; its tests check each decision on both sides of its threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from typing import Any


class Outcome(Enum):
    """How a measurement stands to the statement it tests."""

    CONFIRMED = "confirmed"
    PARTLY = "confirmed in part"
    REFUTED = "not confirmed"
    UNMEASURED = "not measured"
    """The run measured nothing the statement is about (e.g. no test length that long)."""
    UNJUDGED = "not judged (quick run)"
    """A quick run's: too small a scale to judge the statement (`lab.quick`)."""


@dataclass(frozen=True)
class Verdict:
    """A decision about one statement, and the sentence that states it."""

    outcome: Outcome
    template: str
    """The sentence, with `{name}` (and `{name:spec}`) fields from `measured`, `threshold` and
    `paper`."""
    measured: Mapping[str, Any]
    """What this run measured that the decision was made on (numbers, and the labels, lengths
    and counts they belong to), by name."""
    threshold: Mapping[str, Any] = field(default_factory=dict)
    """The thresholds the numbers were compared with, by name (empty: a count or a comparison
    of two measurements decides)."""
    claim: str = ""
    """The statement tested, in words (the paper's, the exercise's or the theory's)."""
    paper: Mapping[str, Any] | None = None
    """The paper's values beside ours, when the study reproduces a paper's numbers."""
    rule: str = ""
    """The decision rule in words, with fields from `threshold` (the report states it)."""

    @property
    def values(self) -> dict[str, Any]:
        """Every value the template may name."""
        return {**self.threshold, **(self.paper or {}), **self.measured}

    @property
    def sentence(self) -> str:
        """The template filled in from the fields."""
        return self.template.format(**self.values)

    @property
    def rule_text(self) -> str:
        """The decision rule filled in from the thresholds."""
        return self.rule.format(**self.threshold)

    def __str__(self) -> str:  # a template's {{ verdict }} prints the sentence
        return self.sentence

    def to_json(self) -> dict[str, Any]:
        """The verdict in metrics.json: outcome, sentence, claim, measured, threshold, rule,
        paper (JSON types)."""
        return {
            "outcome": self.outcome.value,
            "sentence": self.sentence,
            "claim": self.claim,
            "measured": dict(self.measured),
            "threshold": dict(self.threshold),
            "rule": self.rule_text,
            "paper": None if self.paper is None else dict(self.paper),
        }


def count_outcome(met: int, of: int) -> Outcome:
    """CONFIRMED when all `of` parts of a statement hold, PARTLY when some do, else REFUTED."""
    return Outcome.CONFIRMED if met == of else Outcome.PARTLY if met else Outcome.REFUTED


def jsonable(value: object) -> Any:
    """`value` with every Verdict inside it (dataclasses, dicts, lists) as its `to_json()`."""
    if isinstance(value, Verdict):
        return value.to_json()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
