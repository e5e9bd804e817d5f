"""The digit-sum study's verdicts: numbers on both sides of every threshold pick the sentence."""

from __future__ import annotations

import pytest

from deepsets.lab.verdict import Outcome
from deepsets.studies.digits import verdicts as v

LENGTHS = range(5, 101, 5)


def flat(value: float) -> dict[int, float]:
    return {n: value for n in LENGTHS}


def test_text_deepset_agrees_only_when_every_length_reaches_the_threshold():
    ok = v.text_deepset(flat(v.STAYS_ACCURATE))
    assert ok.outcome is Outcome.CONFIRMED and f"{v.STAYS_ACCURATE:.3f}" in ok.sentence
    dip = flat(1.0) | {85: v.STAYS_ACCURATE - 0.01}
    bad = v.text_deepset(dip)
    assert (
        bad.outcome is Outcome.REFUTED and "85 digits" in bad.sentence and "0.940" in bad.sentence
    )
    assert bad.measured["worst"] == v.STAYS_ACCURATE - 0.01 and bad.measured["at"] == 85
    assert bad.threshold == {"threshold": v.STAYS_ACCURATE}


def test_recurrent_collapse_is_judged_from_collapse_from_on():
    high_early = flat(0.0) | {5: 1.0, 10: 0.9, 25: 0.9}  # 25 < COLLAPSE_FROM: not judged
    ok = v.recurrent("LSTM", high_early)
    assert ok.outcome is Outcome.CONFIRMED and "though it fits" in ok.sentence
    bad = v.recurrent("LSTM", high_early | {v.COLLAPSE_FROM: v.COLLAPSED})
    assert bad.outcome is Outcome.REFUTED and f"{v.COLLAPSED:.3f}" in bad.sentence
    unfit = v.recurrent("GRU", flat(0.0) | {5: v.FITS - 0.01})
    assert (
        unfit.outcome is Outcome.CONFIRMED and "does not fit the training range" in unfit.sentence
    )


def test_image_deepset_must_lead_both_recurrent_models_at_every_length_from_image_from():
    lstm, gru = flat(0.1), flat(0.2)
    ok = v.image_deepset(flat(0.21) | {5: 0.0}, lstm, gru)  # 5 < IMAGE_FROM: not judged
    assert ok.outcome is Outcome.CONFIRMED and "0.010" in ok.sentence
    tie = v.image_deepset(flat(0.5) | {v.IMAGE_FROM: 0.2}, lstm, gru)
    assert tie.outcome is Outcome.REFUTED and f"At {v.IMAGE_FROM} digits" in tie.sentence


def test_claims_about_lengths_that_were_not_tested_are_not_judged():
    short = {5: 1.0}
    assert v.recurrent("LSTM", short).outcome is Outcome.UNMEASURED
    assert v.image_deepset(short, short, short).outcome is Outcome.UNMEASURED
    assert "Not measured" in v.recurrent("LSTM", short).sentence
    assert v.image_targets({20: 1.0}).outcome is Outcome.UNMEASURED
    assert v.image_ceiling(flat(1.0), None).outcome is Outcome.UNMEASURED
    assert v.image_ceiling({20: 1.0}, {20: 1.0}).outcome is Outcome.UNMEASURED
    assert v.counting({20: 1.0}).outcome is Outcome.UNMEASURED


def test_set_transformer_sentence_follows_its_worst_length():
    high = v.set_transformer(flat(v.STAYS_ACCURATE), flat(1.0))
    assert high.outcome is Outcome.CONFIRMED and "stays at or above" in high.sentence
    low = v.set_transformer(flat(0.99) | {40: 0.5, 60: 0.1}, flat(1.0))
    assert low.outcome is Outcome.REFUTED and low.measured["fails"] == 40
    assert "first below 0.95 at 40 digits" in low.sentence and "0.500" in low.sentence
    just = v.set_transformer(flat(0.99) | {40: v.STAYS_ACCURATE - 1e-6}, flat(1.0))
    assert just.outcome is Outcome.REFUTED


def test_image_targets_count_each_length_on_both_sides_of_its_target():
    at = dict(v.IMAGE_TARGETS)  # exactly each target: met
    ok = v.image_targets(flat(0.0) | at)
    assert ok.outcome is Outcome.CONFIRMED and "3 of 3 targets met" in ok.sentence
    assert ok.paper["paper_5"] == 0.99 and "the paper 0.78" in ok.sentence  # the paper beside
    for n in v.IMAGE_TARGETS:
        below = v.image_targets(flat(0.0) | at | {n: at[n] - 0.001})
        assert below.outcome is Outcome.PARTLY and "2 of 3" in below.sentence
    none = v.image_targets(flat(0.0))
    assert none.outcome is Outcome.REFUTED and none.measured["met"] == 0


def test_the_ceiling_gap_is_judged_at_5_and_10_digits():
    ceiling = flat(0.5) | {5: 0.94, 10: 0.89}
    ok = v.image_ceiling(flat(0.0) | {5: 0.84, 10: 0.79 + 1e-9}, ceiling)  # exactly 0.10 below
    assert ok.outcome is Outcome.CONFIRMED and "the ceiling 0.940" in ok.sentence
    part = v.image_ceiling(flat(0.0) | {5: 0.84, 10: 0.78}, ceiling)
    assert part.outcome is Outcome.PARTLY and part.measured["worst"] == pytest.approx(0.11)
    assert v.image_ceiling(flat(0.0), ceiling).outcome is Outcome.REFUTED
    above = v.image_ceiling(flat(1.0), ceiling)  # above the ceiling is within it too
    assert above.outcome is Outcome.CONFIRMED


def test_counting_set_transformer_is_judged_at_5_and_10_and_its_reach_stated():
    ok = v.counting(flat(0.0) | {5: 0.95, 10: 0.99, 15: 0.96})
    assert ok.outcome is Outcome.CONFIRMED and ok.measured["reach"] == 15
    assert "up to 15 digits and is first below it at 20 (0.000)" in ok.sentence
    assert v.counting(flat(0.0) | {5: 0.99, 10: 0.9499}).outcome is Outcome.PARTLY
    low = v.counting(flat(0.1))
    assert low.outcome is Outcome.REFUTED and "already at 5 digits" in low.sentence
    everywhere = v.counting(flat(0.97))
    assert "every length tested, to 100 digits" in everywhere.sentence
    assert everywhere.measured["fails"] is None
