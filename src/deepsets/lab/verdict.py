"""One verdict type for every study: what was decided, on which numbers, against which threshold.

A `Verdict` holds the outcome (one `Outcome` for every study), the measured numbers the decision
was made on, the thresholds it compared them with, the statement it tests and, where the study
reproduces a paper, the paper's values beside ours. Its sentence is rendered from those fields
by its template (`str.format` over the numbers, thresholds and paper values), so a sentence can
state only what the fields hold. Each study's verdicts.py chooses the outcome and the template
by a pure function of numbers; its tests check each decision on both sides of its threshold.

A quick run (`--quick`) is a smoke test, and says so: `label` is the line at the top of its
report and console summary, and `judged` withholds its verdicts' outcomes (chosen by the same
code as a full run's: at its reduced scale the models have not learned what the claims are
about).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from typing import Any, TypeVar


class Outcome(Enum):
    """How a measurement stands to the statement it tests."""

    CONFIRMED = "confirmed"
    PARTLY = "confirmed in part"
    REFUTED = "not confirmed"
    UNMEASURED = "not measured"
    """The run measured nothing the statement is about (e.g. no test length that long)."""
    UNJUDGED = "not judged (quick run)"
    """A quick run's: too small a scale to judge the statement (`judged`)."""


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


T = TypeVar("T")


def label(study: str, quick: bool) -> str | None:
    """The line at the top of a quick run's report and summary; None for a full run."""
    if not quick:
        return None
    return (
        "Quick run: a smoke test at a reduced scale (fewer seeds, steps and sizes) that checks "
        "the study runs end to end, not what it finds; its verdicts are not judged. "
        f"The full study: deepsets run {study}"
    )


def judged(value: T, quick: bool) -> T:
    """`value` (a Verdict, or dataclasses, mappings, lists and tuples of them) as a run of this
    scale may state it: unchanged for a full run; for a quick run with every Verdict's outcome
    `Outcome.UNJUDGED` (its numbers and sentence kept)."""
    if not quick:
        return value
    return _unjudged(value)


def _unjudged(value: T) -> T:
    out: object
    if isinstance(value, Verdict):
        out = dataclasses.replace(value, outcome=Outcome.UNJUDGED)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _unjudged(getattr(value, f.name)) for f in dataclasses.fields(value)}
        out = dataclasses.replace(value, **changes)
    elif isinstance(value, Mapping):
        out = {k: _unjudged(v) for k, v in value.items()}
    elif isinstance(value, list | tuple):
        out = type(value)(_unjudged(v) for v in value)
    else:
        out = value
    return out  # type: ignore[return-value]  # the same type as `value`, rebuilt
