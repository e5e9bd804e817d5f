"""The digit-sum study's verdicts: numbers on both sides of every threshold pick the sentence."""

from __future__ import annotations

from deepsets.studies.digits import verdicts as v

LENGTHS = range(5, 101, 5)


def flat(value: float) -> dict[int, float]:
    return {n: value for n in LENGTHS}


def test_text_deepset_agrees_only_when_every_length_reaches_the_threshold():
    ok = v.text_deepset(flat(v.STAYS_ACCURATE))
    assert ok.agrees is True and f"{v.STAYS_ACCURATE:.3f}" in ok.measured
    dip = flat(1.0) | {85: v.STAYS_ACCURATE - 0.01}
    bad = v.text_deepset(dip)
    assert bad.agrees is False and "85 digits" in bad.measured and "0.940" in bad.measured


def test_recurrent_collapse_is_judged_from_collapse_from_on():
    high_early = flat(0.0) | {5: 1.0, 10: 0.9, 25: 0.9}  # 25 < COLLAPSE_FROM: not judged
    ok = v.recurrent("LSTM", high_early)
    assert ok.agrees is True and "though it fits" in ok.measured
    bad = v.recurrent("LSTM", high_early | {v.COLLAPSE_FROM: v.COLLAPSED})
    assert bad.agrees is False and f"{v.COLLAPSED:.3f}" in bad.measured
    unfit = v.recurrent("GRU", flat(0.0) | {5: v.FITS - 0.01})
    assert unfit.agrees is True and "does not fit the training range" in unfit.measured


def test_image_deepset_must_lead_both_recurrent_models_at_every_length_from_image_from():
    lstm, gru = flat(0.1), flat(0.2)
    ok = v.image_deepset(flat(0.21) | {5: 0.0}, lstm, gru)  # 5 < IMAGE_FROM: not judged
    assert ok.agrees is True and "0.010" in ok.measured
    tie = v.image_deepset(flat(0.5) | {v.IMAGE_FROM: 0.2}, lstm, gru)
    assert tie.agrees is False and f"At {v.IMAGE_FROM} digits" in tie.measured


def test_claims_about_lengths_that_were_not_tested_are_not_judged():
    short = {5: 1.0, 10: 1.0}
    assert v.recurrent("LSTM", short).agrees is None
    assert v.image_deepset(short, short, short).agrees is None
    assert "Not measured" in v.recurrent("LSTM", short).measured


def test_set_transformer_sentence_follows_its_worst_length():
    assert "stays at or above" in v.set_transformer(flat(0.99), flat(1.0))
    low = v.set_transformer(flat(0.99) | {40: 0.5, 60: 0.1}, flat(1.0))
    assert "first below 0.95 at 40 digits" in low and "0.500" in low
