"""Every finding the report states is chosen from the numbers: each verdict function is fed
numbers on both sides of its threshold, and must change its outcome (and, where two branches
share an outcome, its sentence)."""

from __future__ import annotations

import math

import pytest

from deepsets.lab.verdict import Outcome
from deepsets.studies.exercise import extra_verdicts as ev
from deepsets.studies.exercise import verdicts as v
from deepsets.studies.exercise.scores import Score, Summary


def score(params: int, losses: list[float], accs: list[float]) -> Score:
    return Score(params, Summary.of(losses), Summary.of(accs), Summary.of(losses))


def test_invariance_rounding_or_broken():
    tol = v.ROUNDING
    assert v.invariance_verdict(tol, tol * 1.01).outcome is Outcome.CONFIRMED
    assert v.invariance_verdict(tol * 1.01, tol * 1.01).outcome is Outcome.PARTLY
    assert v.invariance_verdict(tol, tol).outcome is Outcome.PARTLY
    assert v.invariance_verdict(tol * 1.01, tol).outcome is Outcome.REFUTED
    assert "float rounding" in v.invariance_verdict(tol / 2, 0.1).sentence
    assert "did not change at all" in v.invariance_verdict(0.0, 0.1).sentence
    broken = v.invariance_verdict(tol * 2, 0.1).sentence
    assert "broken" in broken and "float rounding" not in broken.split("more than")[0]
    assert "sees positions" in v.invariance_verdict(0.0, tol * 2).sentence
    assert "ignored the order" in v.invariance_verdict(0.0, tol / 2).sentence
    j = v.invariance_verdict(3e-7, 0.1)
    assert j.measured == {"deepset_change": 3e-7, "mlp_change": 0.1} and j.threshold == {"tol": tol}


def test_the_match_criterion_of_7a_by_loss_on_both_sides_of_each_end():
    deepset = Summary.of([1.0, 2.0, 3.0])  # mean 2, worst seed 3 (numbers exact in binary)
    assert v.as_good(Summary.of([2.0, 3.0, 4.0]), deepset, lower_is_better=True)  # ends met
    # the best seed above the DeepSet's mean: clearly worse
    assert not v.as_good(Summary.of([2.125, 2.5, 3.375]), deepset, lower_is_better=True)
    # the mean above the DeepSet's worst seed: clearly worse
    assert not v.as_good(Summary.of([1.0, 4.5, 4.5]), deepset, lower_is_better=True)
    assert v.as_good(Summary.of([0.5] * 3), deepset, lower_is_better=True)  # better: matches


def test_the_match_criterion_of_7a_by_accuracy_on_both_sides_of_each_end():
    deepset = Summary.of([0.5, 0.75, 1.0])  # mean 0.75, worst seed 0.5
    assert v.as_good(Summary.of([0.25, 0.5, 0.75]), deepset, lower_is_better=False)  # ends met
    assert not v.as_good(Summary.of([0.5, 0.5, 0.625]), deepset, lower_is_better=False)
    assert not v.as_good(Summary.of([0.0, 0.25, 1.0]), deepset, lower_is_better=False)
    assert v.as_good(Summary.of([1.0] * 3), deepset, lower_is_better=False)


def test_the_answer_of_7a_gives_the_range_by_each_measure():
    loss = (("mlp-20x20-relu", 661), ("mlp-25x25-relu", 951))
    accuracy = (None, ("mlp-4-relu", 49))
    found = v.sweep_answer(loss, accuracy, 62, 18049)
    assert found.outcome is Outcome.CONFIRMED
    text = found.sentence
    assert "in final loss, an MLP needs more than 661 and at most 951 parameters" in text
    assert "(10.7x to 15.3x)" in text and "wider than" not in text
    assert "in accuracy, even the smallest MLP of the sweep matches it: mlp-4-relu" in text
    coarse = v.sweep_answer((("a", 465), ("b", 1441)), accuracy, 62, 18049).sentence
    assert f"a gap of 3.1x, wider than {v.RESOLUTION}x" in coarse  # 1441 / 465 > RESOLUTION
    half = v.sweep_answer((None, None), accuracy, 62, 18049)
    assert half.outcome is Outcome.PARTLY
    assert "in final loss, no MLP of the sweep (up to 18,049 parameters) matches" in half.sentence
    assert v.sweep_answer((None, None), (None, None), 62, 18049).outcome is Outcome.REFUTED


@pytest.mark.parametrize(
    "loss, outcome, words",
    [
        (math.log(2) + v.LN2_TOLERANCE / 2, Outcome.CONFIRMED, "cannot tell the classes apart"),
        (math.log(2) - v.LN2_TOLERANCE / 2, Outcome.CONFIRMED, "cannot tell the classes apart"),
        (math.log(2) - v.LN2_TOLERANCE * 2, Outcome.REFUTED, "separates the classes"),
        (math.log(2) + v.LN2_TOLERANCE * 2, Outcome.REFUTED, "did not even reach chance"),
    ],
)
def test_linear_phi_at_ln2_or_not(loss, outcome, words):
    verdict = v.linear_phi_verdict(loss)
    assert verdict.outcome is outcome and verdict.measured == {"final_loss": loss}
    text = verdict.sentence
    assert words in text
    if "cannot" not in words:
        assert "cannot tell" not in text


def test_set_size_verdict_names_the_models_that_hold():
    sizes = (5, 10, 20)
    just = v.SOLVED
    below = v.SOLVED - 0.001
    some = ev.set_size_verdict({"sum": [just, 1.0, just], "mean": [below, 1.0, 0.6]}, sizes)
    assert some.outcome is Outcome.PARTLY
    assert "only with: sum." in some.sentence and "mean at n = 5, 20" in some.sentence
    none = ev.set_size_verdict({"sum": [below, 1.0, 1.0]}, sizes)
    assert none.outcome is Outcome.REFUTED
    assert none.sentence.startswith("No model keeps 99%") and "sum at n = 5" in none.sentence
    every = ev.set_size_verdict({"sum": [just, 1.0, 1.0]}, sizes)
    assert every.outcome is Outcome.CONFIRMED and "Below it" not in every.sentence


def test_phi0_pushed_towards_zero_or_not():
    shrink = ev.PHI0_SHRINK
    pushed = ev.phi0_verdict(0.4, 0.4 * shrink, (5, 20))
    assert pushed.outcome is Outcome.CONFIRMED and "pushed |phi(0)|" in pushed.sentence
    not_pushed = ev.phi0_verdict(0.4, 0.4 * shrink * 1.01, (5, 20))
    assert not_pushed.outcome is Outcome.REFUTED and "did not push" in not_pushed.sentence


def test_max_pooling_note():
    solved = ev.max_pooling_note(v.SOLVED, 10, blind=0, seeds=5)
    assert solved.outcome is Outcome.CONFIRMED and solved.sentence.startswith("Max pooling solved")
    failed = ev.max_pooling_note(v.SOLVED - 0.01, 10, blind=3, seeds=5)
    assert failed.outcome is Outcome.REFUTED
    text = failed.sentence
    assert "reached only 0.98" in text and "3 of 5 seeds" in text and "blind spot" in text
    assert "no seed learned" in ev.max_pooling_note(0.5, 10, blind=0, seeds=5).sentence


def test_mlp_on_another_set_size():
    refused = ev.mlp_set_size_note("shapes differ", 10, 20)
    assert refused.outcome is Outcome.CONFIRMED and "cannot take sets of 20" in refused.sentence
    assert "'shapes differ'" in refused.sentence
    accepted = ev.mlp_set_size_note(None, 10, 20)
    assert accepted.outcome is Outcome.REFUTED and "accepted sets of 20" in accepted.sentence


def test_chance_verdict():
    at = 0.5 + ev.CHANCE_MARGIN
    stays = ev.chance_verdict({"sum pooling": at, "mean pooling": 0.5})
    assert stays.outcome is Outcome.CONFIRMED and "stay at chance" in stays.sentence
    above = ev.chance_verdict({"sum pooling": at + 0.01, "mean pooling": 0.5})
    assert above.outcome is Outcome.PARTLY
    assert "sum pooling reached 0.530" in above.sentence and "stay at chance" not in above.sentence
    both = ev.chance_verdict({"sum pooling": at + 0.01, "mean pooling": at + 0.01})
    assert both.outcome is Outcome.REFUTED


def test_affine_max_verdict_counts_the_blind_seeds():
    avoided = ev.affine_max_verdict([1.0, v.SOLVED], [0.3, 1e-6])
    assert avoided.outcome is Outcome.REFUTED and avoided.measured["ok"] == 2
    assert (
        "2 of 2 seeds solved" in avoided.sentence and "avoided the blind spot" in avoided.sentence
    )
    some = ev.affine_max_verdict([1.0, 0.5, 0.5], [0.3, 0.0, -0.2])
    assert some.outcome is Outcome.PARTLY and some.measured["blind"] == 2
    assert "1 of 3 seeds solved" in some.sentence and "on 2 of 3 seeds" in some.sentence
    every = ev.affine_max_verdict([0.5, 0.5], [-0.1, -0.2])
    assert every.outcome is Outcome.CONFIRMED and "on every seed" in every.sentence


def test_blind_max_verdict():
    none = ev.blind_max_verdict([False, False, False])
    assert none.outcome is Outcome.REFUTED and "none of the 3" in none.sentence
    blind = ev.blind_max_verdict([True, False, True])
    assert blind.outcome is Outcome.PARTLY
    assert "2 of 3" in blind.sentence and "blind to the class" in blind.sentence
    assert ev.blind_max_verdict([True, True]).outcome is Outcome.CONFIRMED


@pytest.mark.parametrize(
    "loss, accuracy, outcome, words",
    [
        # L = 1 solves; L = 2 clearly lower (below LOSS_GAIN x) and solves: optimisation
        ({1: 1.0, 2: 0.89}, {1: 1.0, 2: 1.0}, Outcome.CONFIRMED,
         "helped optimisation, not expressiveness"),
        # just above the gain threshold: not clearly lower
        ({1: 1.0, 2: 0.91}, {1: 1.0, 2: 1.0}, Outcome.CONFIRMED,
         "none trained to a clearly lower loss"),
        # lower loss but it does not solve the task
        ({1: 1.0, 2: 0.5}, {1: 1.0, 2: 0.98}, Outcome.CONFIRMED, "width did not help"),
        # L = 1 below SOLVED, a wider one above: width was needed
        ({1: 1.0, 2: 0.5}, {1: 0.98, 2: 0.99}, Outcome.REFUTED, "extra width was needed"),
        # nobody solves it
        ({1: 1.0, 2: 0.5}, {1: 0.6, 2: 0.98}, Outcome.UNMEASURED,
         "cannot say whether width helps"),
        # L = 1 alone: it solves the task, nothing wider to compare
        ({1: 1.0}, {1: 1.0}, Outcome.CONFIRMED, "no information to add."),
    ],
)  # fmt: skip
def test_latent_verdict(loss, accuracy, outcome, words):
    verdict = ev.latent_verdict(loss, accuracy)
    assert verdict.outcome is outcome and words in verdict.sentence


# ---------------------------------------------------------------- what the symmetry buys


def test_ahead_compares_every_rank_of_the_seeds():
    assert v.ahead([100, 300, 200], [300, 200, 400])  # 100 <= 200, 200 <= 300, 300 <= 400
    assert not v.ahead([100, 500, 200], [300, 200, 400])  # its slowest, 500, is behind 400
    assert v.ahead([100, 200], [100, None])  # a seed that never got there is infinitely slow
    assert not v.ahead([100, None], [100, 200])
    assert not v.ahead([None, None], [None, None])  # never reaching it is never ahead
    with pytest.raises(ValueError, match="one step count per seed"):
        v.ahead([1, 2], [1])


def test_compare_speed_on_both_sides_of_the_area_ratio():
    r, fast, slow = v.AREA_RATIO, [100, 200], [300, 400]
    assert v.compare_speed((fast, slow), (r * 100, 100)) == (True, True, "faster")
    assert v.compare_speed((fast, slow), (r * 100 + 1e-9, 100)) == (True, False, "mixed")
    assert v.compare_speed((slow, fast), (100, r * 100)) == (False, False, "slower")
    assert v.compare_speed((slow, fast), (100, r * 100 + 1e-9)) == (False, False, "mixed")


def test_learning_speed_verdict_answers_the_exercises_claim_from_every_seed_and_the_curve():
    fast, slow = [100, 140, 120], [1000, 1100, None]
    yes = v.learning_speed_verdict((fast, slow), (50.0, 100.0), 0.01, 4000)
    assert yes.outcome is Outcome.CONFIRMED and "does learn faster" in yes.sentence
    assert "DeepSet 100, 120 and 140; MLP 1,000, 1,100 and never" in yes.sentence
    assert "DeepSet 50, MLP 100" in yes.sentence
    # the median is ahead but the slowest seed is not: the curve alone is ahead
    slowest = [100, 120, 2535]
    part = v.learning_speed_verdict((slowest, [300, 400, 2393]), (50.0, 100.0), 0.01, 4000)
    assert part.outcome is Outcome.PARTLY
    assert "not ahead at every seed but has clearly less loss" in part.sentence
    behind = v.learning_speed_verdict((fast, slow), (90.0, 100.0), 0.01, 4000)
    assert behind.outcome is Outcome.PARTLY and "ahead at every seed but" in behind.sentence
    no = v.learning_speed_verdict((slow, fast), (100.0, 50.0), 0.01, 4000)
    assert no.outcome is Outcome.REFUTED and "the MLP learns faster" in no.sentence
    never = v.learning_speed_verdict(([None] * 3, [None] * 3), (100.0, 100.0), 0.01, 300)
    assert never.outcome is Outcome.REFUTED and "neither ahead" in never.sentence
    assert "DeepSet never, never and never" in never.sentence


def test_first_generalising_is_the_first_m_whose_worst_seed_reaches_the_threshold():
    Ms = [1, 10, 100]
    assert v.first_generalising(Ms, [v.SOLVED, 1.0, 1.0]) == 1
    assert v.first_generalising(Ms, [v.SOLVED - 1e-3, v.SOLVED, 1.0]) == 10
    assert v.first_generalising(Ms, [0.5, 0.6, v.SOLVED - 1e-3]) is None


def test_sample_efficiency_verdict_and_headline_follow_the_numbers():
    Ms = [1, 10, 100]
    worst = {"DeepSet": [1.0, 1.0, 1.0], "MLP (20, 20) relu": [0.5, 0.6, 0.8]}
    efficiency = v.sample_efficiency_verdict(Ms, worst)
    assert efficiency.outcome is Outcome.PARTLY
    assert efficiency.measured["first_m"] == {"DeepSet": 1, "MLP (20, 20) relu": None}
    text = efficiency.sentence
    assert "DeepSet from M = 1" in text and "not even from M = 100 (worst seed 0.800" in text
    headline = v.symmetry_headline(Ms, worst, "slower", 0.01)
    assert headline.outcome is Outcome.PARTLY  # fewer examples, but not faster
    head = headline.sentence
    assert "from M = 1 training example per class the DeepSet" in head
    assert "MLP (20, 20) relu is not, even from M = 100" in head and "the MLP learns faster" in head
    learns = {"DeepSet": [0.5, 0.995, 1.0], "MLP": [0.5, 0.6, 0.995]}
    assert v.sample_efficiency_verdict(Ms, learns).outcome is Outcome.CONFIRMED
    assert v.symmetry_headline(Ms, learns, "faster", 0.01).outcome is Outcome.CONFIRMED
    head = v.symmetry_headline(Ms, learns, "mixed", 0.01).sentence
    assert "from M = 10 training examples" in head and "MLP needs M = 100" in head
    assert "neither learns faster at every seed and along the whole mean loss curve" in head
    stuck = {"DeepSet": [0.5] * 3, "MLP": [0.5] * 3}
    assert v.sample_efficiency_verdict(Ms, stuck).outcome is Outcome.REFUTED
    fails = v.symmetry_headline(Ms, stuck, "mixed", 0.01)
    assert fails.outcome is Outcome.REFUTED
    assert "is not right on" in fails.sentence
