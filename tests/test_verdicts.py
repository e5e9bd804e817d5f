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


def test_the_match_criterion_of_7a():
    deepset = score(62, [1e-3, 3e-3], [0.99, 1.0])  # worst accuracy 0.99, mean loss 2e-3
    assert v.matches_deepset(score(100, [1e-3, 2e-3], [0.99, 0.995]), deepset)
    assert not v.matches_deepset(score(100, [1e-3, 2e-3], [0.989, 1.0]), deepset)  # one seed worse
    assert not v.matches_deepset(score(100, [2e-3, 2.1e-3], [1.0, 1.0]), deepset)  # loss higher


def test_the_answer_of_7a():
    found = v.sweep_answer(("mlp-32x32-relu", 1441), 62, 18049)
    assert found.outcome is Outcome.CONFIRMED and found.measured["params"] == 1441
    assert "mlp-32x32-relu" in found.sentence and "23.2x" in found.sentence
    none = v.sweep_answer(None, 62, 18049)
    assert none.outcome is Outcome.REFUTED
    assert none.sentence.startswith("No MLP") and "18049" in none.sentence


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


def test_median_steps_counts_a_seed_that_never_got_there_as_infinitely_slow():
    assert v.median_steps([300, 100, 200]) == 200
    assert v.median_steps([100, 200]) == 150
    assert v.median_steps([100, None, 300]) == 300
    assert math.isinf(v.median_steps([100, None, None]))


def test_compare_speed_on_both_sides_of_the_ratio():
    r = v.SPEED_RATIO
    assert v.compare_speed([int(1000 * r)], [1000]) == "faster"
    assert v.compare_speed([int(1000 * r) + 1], [1000]) == "as fast"
    assert v.compare_speed([1000], [int(1000 * r)]) == "slower"
    assert v.compare_speed([1000], [int(1000 * r) + 1]) == "as fast"
    assert v.compare_speed([100], [None]) == "faster"
    assert v.compare_speed([None], [100]) == "slower"
    assert v.compare_speed([None], [None]) == "neither"


def test_learning_speed_verdict_answers_the_exercises_claim_from_the_numbers():
    fast, slow = [100, 120, 140], [1000, 1100, None]
    yes = v.learning_speed_verdict((fast, slow), (fast, slow), 0.01, 4000)
    assert yes.outcome is Outcome.CONFIRMED
    assert "does learn faster" in yes.sentence
    assert "DeepSet at step 120 (slowest seed 140)" in yes.sentence
    assert "MLP at step 1,100 (1 of 3 seeds never)" in yes.sentence
    no = v.learning_speed_verdict((slow, fast), (slow, fast), 0.01, 4000)
    assert no.outcome is Outcome.REFUTED
    assert "does not hold" in no.sentence and "learns more slowly" in no.sentence
    mixed = v.learning_speed_verdict((slow, fast), (fast, slow), 0.01, 4000)
    assert mixed.outcome is Outcome.PARTLY
    assert "in part" in mixed.sentence
    assert "by loss the DeepSet is slower, by accuracy faster" in mixed.sentence
    never = v.learning_speed_verdict(([None] * 3, [None] * 3), (fast, fast), 0.01, 300)
    assert never.outcome is Outcome.REFUTED  # by accuracy as fast, by loss neither got there
    assert "never within 300 steps" in never.sentence and "undecided" in never.sentence
    nothing = v.learning_speed_verdict(([None], [None]), ([None], [None]), 0.01, 300)
    assert nothing.outcome is Outcome.UNMEASURED


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
    assert "MLP (20, 20) relu is not, even from M = 100" in head and "learns slower" in head
    learns = {"DeepSet": [0.5, 0.995, 1.0], "MLP": [0.5, 0.6, 0.995]}
    assert v.sample_efficiency_verdict(Ms, learns).outcome is Outcome.CONFIRMED
    assert v.symmetry_headline(Ms, learns, "faster", 0.01).outcome is Outcome.CONFIRMED
    head = v.symmetry_headline(Ms, learns, "as fast", 0.01).sentence
    assert "from M = 10 training examples" in head and "MLP needs M = 100" in head
    assert "about as fast as the MLP" in head
    stuck = {"DeepSet": [0.5] * 3, "MLP": [0.5] * 3}
    assert v.sample_efficiency_verdict(Ms, stuck).outcome is Outcome.REFUTED
    fails = v.symmetry_headline(Ms, stuck, "neither", 0.01)
    assert fails.outcome is Outcome.REFUTED
    assert "is not right on" in fails.sentence
    assert "neither model's running loss" in fails.sentence.lower()
