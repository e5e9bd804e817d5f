"""What this run found: every finding is a `lab.verdict.Verdict` chosen by a pure function of
measured numbers (the outcome, the numbers, the threshold, the sentence's template). Here the
exercise's steps and the symmetry sections (8a, 8b); the sections beyond the exercise in
`extra_verdicts.py`.

Each threshold is a named constant next to the functions that use it; tests/test_verdicts.py
feeds every function numbers on both sides. Explanations that hold whatever a run measures
(why an affine phi commutes with the sum) are fixed text in the report's templates instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from deepsets.lab.verdict import Outcome, Verdict, count_outcome
from deepsets.studies.exercise.scores import Score

LN2 = math.log(2)  # the loss of predicting 1/2 for every set of a balanced task

ROUNDING = 1e-5  # an output change at most this is float rounding (outputs are float32)


def invariance_verdict(deepset_change: float, mlp_change: float, tol: float = ROUNDING) -> Verdict:
    """Step 6: is each model's largest change under permutations rounding or a real change?"""
    if deepset_change == 0:
        deepset = "The DeepSet's output did not change at all"
    elif deepset_change <= tol:
        deepset = (
            "The DeepSet's largest change, {deepset_change:.1e}, is float rounding "
            "(the sum is computed in another order)"
        )
    else:
        deepset = (
            "The DeepSet's output moved by {deepset_change:.1e}, more than float rounding "
            "({tol:.0e}): its invariance is broken"
        )
    if mlp_change > tol:
        mlp = "the MLP's moved by up to {mlp_change:.1e}: it sees positions."
    else:
        mlp = "the MLP's moved by only {mlp_change:.1e}: on these sets it ignored the order."
    return Verdict(
        count_outcome((deepset_change <= tol) + (mlp_change > tol), 2),
        f"{deepset}; {mlp}",
        {"deepset_change": deepset_change, "mlp_change": mlp_change},
        {"tol": tol},
        "The DeepSet's output does not change under permutations; the MLP's does.",
        rule="a change of at most {tol:.0e} is float rounding",
    )


def matches_deepset(mlp: Score, deepset: Score) -> bool:
    """Question 7a's criterion: every seed of the MLP at least as accurate over all sets as
    the DeepSet's worst seed, and a mean final loss no higher than the DeepSet's."""
    return (
        mlp.accuracy.min >= deepset.accuracy.min and mlp.final_loss.mean <= deepset.final_loss.mean
    )


def sweep_answer(smallest: tuple[str, int] | None, deepset_params: int, largest: int) -> Verdict:
    """Question 7a's answer: the smallest matching MLP (name, parameters), or none up to
    `largest` parameters."""
    claim = "Some MLP of the sweep matches the DeepSet (criterion: `matches_deepset`)."
    numbers = {"deepset_params": deepset_params, "largest": largest}
    if smallest is None:
        return Verdict(
            Outcome.REFUTED,
            "No MLP of the sweep (up to {largest} parameters) matches the "
            "{deepset_params}-parameter DeepSet.",
            numbers,
            claim=claim,
        )
    name, params = smallest
    return Verdict(
        Outcome.CONFIRMED,
        "The smallest MLP that matches the {deepset_params}-parameter DeepSet is {name}, "
        "with {params} parameters: {ratio:.1f}x as many.",
        numbers | {"name": name, "params": params, "ratio": params / deepset_params},
        claim=claim,
    )


LN2_TOLERANCE = 0.01  # a mean final loss this close to ln 2 is chance level


def linear_phi_verdict(final_loss: float, tol: float = LN2_TOLERANCE) -> Verdict:
    """Question 7b: did the DeepSet with an affine phi stay at chance (loss ln 2)?"""
    head = "Without a nonlinearity in phi the DeepSet's mean final loss"
    at_chance = abs(final_loss - LN2) <= tol
    if at_chance:
        tail = "stays at {final_loss:.4f} (ln 2 = {ln2:.4f}): it cannot tell the classes apart."
    elif final_loss < LN2:
        tail = (
            "falls to {final_loss:.4f}, below ln 2 = {ln2:.4f}: it separates the classes "
            "in part, which an affine phi on sets that all sum to 1 should not allow."
        )
    else:
        tail = (
            "ends at {final_loss:.4f}, above ln 2 = {ln2:.4f}: it did not even reach "
            "chance level; it needs more steps."
        )
    return Verdict(
        Outcome.CONFIRMED if at_chance else Outcome.REFUTED,
        f"{head} {tail}",
        {"final_loss": final_loss},
        {"ln2": LN2, "tol": tol},
        "Without a nonlinearity in phi the DeepSet stays at chance (loss ln 2).",
        rule="chance: a mean final loss within {tol} of ln 2",
    )


SOLVED = 0.99  # a mean accuracy of at least this counts as solving the task
SPEED_RATIO = 0.8  # "faster": a median number of steps at most 80% of the other model's


def median_steps(steps: Sequence[int | None]) -> float:
    """The median over seeds of the steps to a goal; a seed that never got there counts as
    infinitely slow (so the median is infinite when most seeds never got there)."""
    values = sorted(math.inf if s is None else float(s) for s in steps)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def compare_speed(
    deepset: Sequence[int | None], mlp: Sequence[int | None], ratio: float = SPEED_RATIO
) -> str:
    """ "faster", "slower", "as fast" or "neither": the DeepSet's median steps to a goal against
    the MLP's ("neither": most seeds of both never reached it)."""
    d, m = median_steps(deepset), median_steps(mlp)
    if math.isinf(d) and math.isinf(m):
        return "neither"
    if d <= ratio * m:
        return "faster"
    if m <= ratio * d:
        return "slower"
    return "as fast"


def _steps(steps: Sequence[int | None], total: int) -> str:
    """ "at step 1,200 (slowest seed 2,000)" (the median over seeds) or "never within 4000
    steps", with how many seeds never got there."""
    median = median_steps(steps)
    text = f"never within {total} steps" if math.isinf(median) else f"at step {median:,.0f}"
    reached = [s for s in steps if s is not None]
    if len(reached) < len(steps) and reached:
        return f"{text} ({len(steps) - len(reached)} of {len(steps)} seeds never)"
    if len(reached) == len(steps) > 1:
        return f"{text} (slowest seed {max(reached):,})"
    return text


PACE = {"faster": "faster", "slower": "slower", "as fast": "about as fast", "neither": "undecided"}
CLAIM = {
    ("faster", "faster"): "here the DeepSet does learn faster in steps, as the exercise says.",
    ("slower", "slower"): (
        "in training steps the exercise's claim that learning is faster does not hold here: "
        "the DeepSet learns more slowly."
    ),
    ("as fast", "as fast"): "in training steps neither model learns clearly faster here.",
}


def speed_outcome(by_loss: str, by_acc: str) -> Outcome:
    """The exercise's claim (the DeepSet learns faster) by both measures, one, or neither;
    not measured when neither model reached either goal."""
    if by_loss == by_acc == "neither":
        return Outcome.UNMEASURED
    return count_outcome([by_loss, by_acc].count("faster"), 2)


def learning_speed_verdict(
    loss: tuple[Sequence[int | None], Sequence[int | None]],
    correct: tuple[Sequence[int | None], Sequence[int | None]],
    threshold: float,
    total: int,
) -> Verdict:
    """Does the DeepSet learn faster in steps than the MLP? From the steps (per seed, None if
    never) to a running loss below `threshold` for good and to 100% accuracy, each given as
    (DeepSet, MLP); medians over seeds, compared by `compare_speed`."""
    by_loss, by_acc = compare_speed(*loss), compare_speed(*correct)
    claim = CLAIM.get(
        (by_loss, by_acc),
        f"in training steps the claim holds at most in part: by loss the DeepSet is "
        f"{PACE[by_loss]}, by accuracy {PACE[by_acc]}.",
    )
    return Verdict(
        speed_outcome(by_loss, by_acc),
        "Running loss below {threshold:g} for good (median over seeds): DeepSet {ds_loss}, "
        "MLP {mlp_loss}. Right on every set: DeepSet {ds_correct}, MLP {mlp_correct}. So {so}",
        {
            "steps_to_loss": [list(loss[0]), list(loss[1])],
            "steps_to_all_correct": [list(correct[0]), list(correct[1])],
            "by_loss": by_loss,
            "by_accuracy": by_acc,
            "ds_loss": _steps(loss[0], total),
            "mlp_loss": _steps(loss[1], total),
            "ds_correct": _steps(correct[0], total),
            "mlp_correct": _steps(correct[1], total),
            "so": claim,
        },
        {"threshold": threshold, "ratio": SPEED_RATIO},
        "The DeepSet learns faster in training steps than the MLP (the exercise's claim).",
        rule="faster: a median number of steps at most {ratio} x the other model's",
    )


def first_generalising(
    per_class: Sequence[int], worst: Sequence[float], solved: float = SOLVED
) -> int | None:
    """The smallest M at which every seed's accuracy on unseen arrangements (`worst`, the
    minimum over seeds at each M) is at least `solved`; None if no M reaches it."""
    return next((M for M, a in zip(per_class, worst, strict=True) if a >= solved), None)


def sample_efficiency_verdict(
    per_class: Sequence[int], worst: Mapping[str, Sequence[float]], solved: float = SOLVED
) -> Verdict:
    """From how many training arrangements per class each model is right on at least `solved`
    of the arrangements it never saw, on every seed. worst: model -> min over seeds per M."""
    parts, first = [], {}
    for name, acc in worst.items():
        M = first[name] = first_generalising(per_class, acc, solved)
        if M is None:
            parts.append(
                f"{name} not even from M = {per_class[-1]} (worst seed {acc[-1]:.3f} there)"
            )
        else:
            parts.append(f"{name} from M = {M}")
    return Verdict(
        count_outcome(sum(M is not None for M in first.values()), len(first)),
        "Every seed is right on at least {solved:.0%} of the arrangements it never saw: "
        "{parts}.",
        {"per_class": list(per_class), "worst": dict(worst), "first_m": first,
         "parts": "; ".join(parts)},
        {"solved": solved},
        "Every model generalises to the arrangements it never saw from some M of the run.",
        rule="generalises: every seed right on at least {solved:.0%} of the unseen arrangements",
    )  # fmt: skip


def symmetry_headline(
    per_class: Sequence[int],
    worst: Mapping[str, Sequence[float]],
    speed: str,
    threshold: float,
    solved: float = SOLVED,
) -> Verdict:
    """The report's top line: from how many examples per class the first model (the DeepSet)
    and the second (the exercise's MLP) generalise, and `speed`, the `compare_speed` word of
    their steps to a running loss below `threshold`."""
    (ds_name, ds), (mlp_name, mlp) = list(worst.items())[:2]
    M_ds, M_mlp = (first_generalising(per_class, a, solved) for a in (ds, mlp))
    largest = per_class[-1]
    ds_text = (
        f"from M = {M_ds} training example{'s' * (M_ds != 1)} per class the {ds_name} is right on "
        f"at least {solved:.0%} of the arrangements it never saw (every seed)"
        if M_ds is not None
        else f"even from M = {largest} examples per class the {ds_name} is not right on "
        f"{solved:.0%} of the unseen arrangements"
    )
    mlp_text = (
        f"the {mlp_name} needs M = {M_mlp}"
        if M_mlp is not None
        else f"the {mlp_name} is not, even from M = {largest} (worst seed {mlp[-1]:.3f})"
    )
    pace = {
        "neither": f"neither model's running loss stays below {threshold:g} within the run",
        "as fast": f"in training steps to a running loss below {threshold:g} (median over "
        "seeds) it learns about as fast as the MLP",
    }.get(speed, f"in training steps to a running loss below {threshold:g} (median over "
          f"seeds) it learns {speed} than the MLP")  # fmt: skip
    fewer = M_ds is not None and (M_mlp is None or M_ds < M_mlp)
    return Verdict(
        count_outcome(fewer + (speed == "faster"), 2),
        "What the symmetry buys: {ds_text}; {mlp_text}. {pace}.",
        {"m_deepset": M_ds, "m_mlp": M_mlp, "speed": speed, "ds_text": ds_text,
         "mlp_text": mlp_text, "pace": pace[0].upper() + pace[1:]},
        {"solved": solved, "threshold": threshold},
        "The DeepSet generalises from fewer examples than the MLP and learns faster in steps.",
        rule="generalises: every seed right on at least {solved:.0%} of the unseen arrangements",
    )  # fmt: skip
