"""Every finding the report states is chosen from the numbers: each verdict function is fed
numbers on both sides of its threshold, and must change its sentence."""

from __future__ import annotations

import math

import pytest

from deepsets.studies.exercise import verdicts as v
from deepsets.studies.exercise.scores import Score, Summary


def score(params: int, losses: list[float], accs: list[float]) -> Score:
    return Score(params, Summary.of(losses), Summary.of(accs), Summary.of(losses))


def test_invariance_rounding_or_broken():
    tol = v.ROUNDING
    assert "float rounding" in v.invariance_verdict(tol / 2, 0.1)
    assert "did not change at all" in v.invariance_verdict(0.0, 0.1)
    broken = v.invariance_verdict(tol * 2, 0.1)
    assert "broken" in broken and "float rounding" not in broken.split("more than")[0]
    assert "sees positions" in v.invariance_verdict(0.0, tol * 2)
    assert "ignored the order" in v.invariance_verdict(0.0, tol / 2)


def test_the_match_criterion_of_7a():
    deepset = score(62, [1e-3, 3e-3], [0.99, 1.0])  # worst accuracy 0.99, mean loss 2e-3
    assert v.matches_deepset(score(100, [1e-3, 2e-3], [0.99, 0.995]), deepset)
    assert not v.matches_deepset(score(100, [1e-3, 2e-3], [0.989, 1.0]), deepset)  # one seed worse
    assert not v.matches_deepset(score(100, [2e-3, 2.1e-3], [1.0, 1.0]), deepset)  # loss higher


def test_the_answer_of_7a():
    found = v.sweep_answer(("mlp-32x32-relu", 1441), 62, 18049)
    assert "mlp-32x32-relu" in found and "1441" in found and "23.2x" in found
    none = v.sweep_answer(None, 62, 18049)
    assert none.startswith("No MLP") and "18049" in none


@pytest.mark.parametrize(
    "loss, words",
    [
        (math.log(2) + v.LN2_TOLERANCE / 2, "cannot tell the classes apart"),
        (math.log(2) - v.LN2_TOLERANCE / 2, "cannot tell the classes apart"),
        (math.log(2) - v.LN2_TOLERANCE * 2, "separates the classes"),
        (math.log(2) + v.LN2_TOLERANCE * 2, "did not even reach chance"),
    ],
)
def test_linear_phi_at_ln2_or_not(loss, words):
    text = v.linear_phi_verdict(loss)
    assert words in text
    if "cannot" not in words:
        assert "cannot tell" not in text


def test_set_size_verdict_names_the_models_that_hold():
    sizes = (5, 10, 20)
    just = v.SOLVED
    below = v.SOLVED - 0.001
    text = v.set_size_verdict({"sum": [just, 1.0, just], "mean": [below, 1.0, 0.6]}, sizes)
    assert "only with: sum." in text and "mean at n = 5, 20" in text
    text = v.set_size_verdict({"sum": [below, 1.0, 1.0]}, sizes)
    assert text.startswith("No model keeps 99%") and "sum at n = 5" in text
    assert "Below it" not in v.set_size_verdict({"sum": [1.0, 1.0, 1.0]}, sizes)


def test_phi0_pushed_towards_zero_or_not():
    shrink = v.PHI0_SHRINK
    assert "pushed |phi(0)|" in v.phi0_verdict(0.4, 0.4 * shrink, (5, 20))
    assert "did not push" in v.phi0_verdict(0.4, 0.4 * shrink * 1.01, (5, 20))


def test_max_pooling_note():
    solved = v.max_pooling_note(v.SOLVED, 10, blind=0, seeds=5)
    assert solved.startswith("Max pooling solved")
    failed = v.max_pooling_note(v.SOLVED - 0.01, 10, blind=3, seeds=5)
    assert "reached only 0.98" in failed and "3 of 5 seeds" in failed and "blind spot" in failed
    assert "no seed learned" in v.max_pooling_note(0.5, 10, blind=0, seeds=5)


def test_mlp_on_another_set_size():
    assert "cannot take sets of 20" in v.mlp_set_size_note("shapes differ", 10, 20)
    assert "accepted sets of 20" in v.mlp_set_size_note(None, 10, 20)


def test_chance_verdict():
    at = 0.5 + v.CHANCE_MARGIN
    assert "stay at chance" in v.chance_verdict({"sum pooling": at, "mean pooling": 0.5})
    above = v.chance_verdict({"sum pooling": at + 0.01, "mean pooling": 0.5})
    assert "sum pooling reached 0.530" in above and "stay at chance" not in above


def test_affine_max_verdict_counts_the_blind_seeds():
    avoided = v.affine_max_verdict([1.0, v.SOLVED], [0.3, 1e-6])
    assert "2 of 2 seeds solved" in avoided and "avoided the blind spot" in avoided
    some = v.affine_max_verdict([1.0, 0.5, 0.5], [0.3, 0.0, -0.2])
    assert "1 of 3 seeds solved" in some and "on 2 of 3 seeds" in some
    assert "on every seed" in v.affine_max_verdict([0.5, 0.5], [-0.1, -0.2])


def test_blind_max_verdict():
    assert "none of the 3" in v.blind_max_verdict([False, False, False])
    blind = v.blind_max_verdict([True, False, True])
    assert "2 of 3" in blind and "blind to the class" in blind


@pytest.mark.parametrize(
    "loss, accuracy, words",
    [
        # L = 1 solves; L = 2 clearly lower (below LOSS_GAIN x) and solves: optimisation
        ({1: 1.0, 2: 0.89}, {1: 1.0, 2: 1.0}, "helped optimisation, not expressiveness"),
        # just above the gain threshold: not clearly lower
        ({1: 1.0, 2: 0.91}, {1: 1.0, 2: 1.0}, "none trained to a clearly lower loss"),
        # lower loss but it does not solve the task
        ({1: 1.0, 2: 0.5}, {1: 1.0, 2: 0.98}, "width did not help"),
        # L = 1 below SOLVED, a wider one above: width was needed
        ({1: 1.0, 2: 0.5}, {1: 0.98, 2: 0.99}, "extra width was needed"),
        # nobody solves it
        ({1: 1.0, 2: 0.5}, {1: 0.6, 2: 0.98}, "cannot say whether width helps"),
    ],
)
def test_latent_verdict(loss, accuracy, words):
    assert words in v.latent_verdict(loss, accuracy)


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
    assert "does learn faster" in yes and "DeepSet at step 120 (slowest seed 140)" in yes
    assert "MLP at step 1,100 (1 of 3 seeds never)" in yes
    no = v.learning_speed_verdict((slow, fast), (slow, fast), 0.01, 4000)
    assert "does not hold" in no and "learns more slowly" in no
    mixed = v.learning_speed_verdict((slow, fast), (fast, slow), 0.01, 4000)
    assert "in part" in mixed and "by loss the DeepSet is slower, by accuracy faster" in mixed
    never = v.learning_speed_verdict(([None] * 3, [None] * 3), (fast, fast), 0.01, 300)
    assert "never within 300 steps" in never and "undecided" in never


def test_first_generalising_is_the_first_m_whose_worst_seed_reaches_the_threshold():
    Ms = [1, 10, 100]
    assert v.first_generalising(Ms, [v.SOLVED, 1.0, 1.0]) == 1
    assert v.first_generalising(Ms, [v.SOLVED - 1e-3, v.SOLVED, 1.0]) == 10
    assert v.first_generalising(Ms, [0.5, 0.6, v.SOLVED - 1e-3]) is None


def test_sample_efficiency_verdict_and_headline_follow_the_numbers():
    Ms = [1, 10, 100]
    worst = {"DeepSet": [1.0, 1.0, 1.0], "MLP (20, 20) relu": [0.5, 0.6, 0.8]}
    text = v.sample_efficiency_verdict(Ms, worst)
    assert "DeepSet from M = 1" in text and "not even from M = 100 (worst seed 0.800" in text
    head = v.symmetry_headline(Ms, worst, "slower", 0.01)
    assert "from M = 1 training example per class the DeepSet" in head
    assert "MLP (20, 20) relu is not, even from M = 100" in head and "learns slower" in head
    learns = {"DeepSet": [0.5, 0.995, 1.0], "MLP": [0.5, 0.6, 0.995]}
    head = v.symmetry_headline(Ms, learns, "as fast", 0.01)
    assert "from M = 10 training examples" in head and "MLP needs M = 100" in head
    assert "about as fast as the MLP" in head
    fails = v.symmetry_headline(Ms, {"DeepSet": [0.5] * 3, "MLP": [0.5] * 3}, "neither", 0.01)
    assert "is not right on" in fails and "neither model's running loss" in fails.lower()
