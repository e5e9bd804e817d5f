"""Each theory verdict on both sides of its thresholds."""

from __future__ import annotations

import pytest

from deepsets.studies.theory import verdicts as v


def test_stopping_width_is_the_smallest_width_within_tolerance_of_the_best():
    errors = {1: 1.0, 2: 0.5, 4: 0.2, 8: 0.19, 16: 0.18}
    assert v.stopping_width(errors, tol=0.25) == 4  # 0.2 <= 1.25 * 0.18
    assert v.stopping_width(errors, tol=0.06) == 8  # 0.2 > 1.06 * 0.18 >= 0.19
    assert v.stopping_width(errors, tol=0.0) == 16
    assert v.stopping_width(errors, tol=0.0, floor=0.5) == 2  # 0.5 is 'solved'
    assert v.stopping_width(errors, tol=0.0, floor=0.49) == 4


def curve(stop: int) -> dict[int, float]:
    """Errors over L = 1..32 that halve until `stop`, then stay flat."""
    return {L: 2.0 ** -min(L, stop).bit_length() for L in (1, 2, 4, 8, 16, 32)}  # >= 1/64


@pytest.mark.parametrize(
    ("stops", "verdict"),
    [
        ({2: 2, 4: 4, 8: 8}, v.CONFIRMED),
        ({2: 2, 4: 4, 8: 4}, v.IN_PART),  # N suffices everywhere, needed only up to 4
        ({2: 1, 4: 2, 8: 4}, v.IN_PART),  # N suffices everywhere
        ({2: 4, 4: 4, 8: 16}, v.IN_PART),  # exactly at N only for N = 4
        ({2: 4, 4: 8, 8: 16}, v.NOT_CONFIRMED),
        ({2: 1, 4: 8, 8: 4}, v.NOT_CONFIRMED),  # never at N, and too late for N = 4
    ],
)
def test_width_verdict(stops, verdict):
    j = v.width_verdict({N: curve(L) for N, L in stops.items()})
    assert j.outcome == verdict
    assert all(f"N = {N}: L = {L}" in j.sentence for N, L in stops.items())
    after = [N for N, L in stops.items() if L > N]
    assert ("after L = N for N = " + ", ".join(map(str, after)) in j.sentence) == bool(after)
    assert "25%" in j.rule_text and "0.1%" in j.rule_text
    assert j.measured["stops_at"] == stops and j.threshold == {
        "tol": v.WIDTH_TOL,
        "floor": v.WIDTH_FLOOR,
    }


@pytest.mark.parametrize(
    ("acc", "verdict"),
    [
        ({"sum": 0.95, "mean": 0.60, "max": 0.55}, v.CONFIRMED),
        ({"sum": 0.949, "mean": 0.60, "max": 0.55}, v.IN_PART),
        ({"sum": 0.99, "mean": 0.61, "max": 0.55}, v.IN_PART),
        ({"sum": 0.99, "mean": 0.61, "max": 0.62}, v.IN_PART),
        ({"sum": 0.90, "mean": 0.61, "max": 0.62}, v.NOT_CONFIRMED),
    ],
)
def test_injectivity_verdict_at_its_thresholds(acc, verdict):
    j = v.injectivity_verdict(acc, ceiling=0.5)
    assert j.outcome == verdict
    assert j.measured["accuracy"] == acc and j.threshold["ceiling"] == 0.5
    assert "95%" in j.rule_text and "50.0%" in j.rule_text


@pytest.mark.parametrize(
    ("mse", "verdict"),
    [
        ({"sum": 1e-4, "mean": 1e-5, "max": 1e-3}, v.CONFIRMED),
        ({"sum": 1e-4, "mean": 1e-5, "max": 0.99e-3}, v.IN_PART),
        ({"sum": 1e-4, "mean": 1e-5, "max": 1e-4}, v.NOT_CONFIRMED),
        ({"sum": 0.0, "mean": 0.0, "max": 1e-9}, v.CONFIRMED),
    ],
)
def test_floor_verdict_at_ten_times(mse, verdict):
    assert v.floor_verdict(mse).outcome == verdict


@pytest.mark.parametrize(
    ("per_element", "equivariant", "verdict"),
    [
        (0.65, 0.95, v.CONFIRMED),
        (0.651, 0.95, v.IN_PART),
        (0.65, 0.949, v.IN_PART),
        (0.70, 0.90, v.NOT_CONFIRMED),
    ],
)
def test_equivariance_verdict_at_ceiling_plus_slack_and_95(per_element, equivariant, verdict):
    j = v.equivariance_verdict(per_element, equivariant, ceiling=0.64)
    assert j.outcome == verdict
    assert f"{per_element:.1%}" in j.sentence


@pytest.mark.parametrize(
    ("learned", "verdict"),
    [
        ({"a": 4, "b": 4, "c": 5, "d": 0}, v.CONFIRMED),
        ({"a": 4, "b": 3, "c": 5, "d": 0}, v.IN_PART),
        ({"a": 3, "b": 3, "c": 3}, v.NOT_CONFIRMED),
    ],
)
def test_remedies_verdict_needs_four_of_five_seeds_and_three_remedies(learned, verdict):
    j = v.remedies_verdict(learned, seeds=5)
    assert j.outcome == verdict
    assert j.threshold["enough"] == 4 and j.measured["learned"] == learned
    assert "4 of 5" in j.rule_text


def test_remedies_need_80_percent_of_any_number_of_seeds():
    assert v.remedies_verdict({"a": 2, "b": 2, "c": 2}, seeds=2).outcome == v.CONFIRMED
    assert v.remedies_verdict({"a": 7, "b": 8, "c": 8}, seeds=10).outcome == v.IN_PART
