"""The findings of the exercise's steps and of the symmetry sections (8a, 8b), each a
`lab.verdict.Verdict` chosen by a pure function of measured numbers; the extras' are in
`extra_verdicts.py`. Each threshold is a named constant beside the functions that use it;
tests/test_verdicts.py feeds every function numbers on both sides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from deepsets.lab.verdict import Outcome, Verdict, count_outcome
from deepsets.studies.exercise.scores import Summary

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


def as_good(mlp: Summary, deepset: Summary, lower_is_better: bool) -> bool:
    """Question 7a's match, by one measure over seeds: the MLP is not clearly worse than the
    DeepSet when its best seed reaches the DeepSet's mean and its mean reaches the DeepSet's
    worst seed (each mean within the other's range, or beyond it on the better side)."""
    if lower_is_better:
        return mlp.min <= deepset.mean and mlp.mean <= deepset.max
    return mlp.max >= deepset.mean and mlp.mean >= deepset.min


RESOLUTION = 1.6  # 7a's sizes: neighbours at most this many times apart in parameters
Size = tuple[str, int]  # an MLP of the sweep: name, parameters


def _where(measure: str, below: Size | None, match: Size | None, ds: int, largest: int) -> str:
    """One measure's answer: the range of parameters the sweep's numbers support."""
    if match is None:
        return f"in {measure}, no MLP of the sweep (up to {largest:,} parameters) matches it"
    name, params = match
    if below is None:
        return (
            f"in {measure}, even the smallest MLP of the sweep matches it: {name}, "
            f"{params:,} parameters ({params / ds:.1f}x)"
        )
    gap = params / below[1]
    coarse = "" if gap <= RESOLUTION else f"; a gap of {gap:.1f}x, wider than {RESOLUTION}x"
    return (
        f"in {measure}, an MLP needs more than {below[1]:,} and at most {params:,} parameters "
        f"({below[1] / ds:.1f}x to {params / ds:.1f}x): {below[0]} does not match, {name} "
        f"does{coarse}"
    )


def sweep_answer(
    loss: tuple[Size | None, Size | None],
    accuracy: tuple[Size | None, Size | None],
    deepset_params: int,
    largest: int,
) -> Verdict:
    """Question 7a's answer, by final loss and by accuracy: each a (below, match) bracket, the
    largest MLP that does not match below the smallest that does (None where there is none)."""
    parts = [
        _where(measure, *ends, deepset_params, largest)
        for measure, ends in (("final loss", loss), ("accuracy", accuracy))
    ]
    found = sum(match is not None for _, match in (loss, accuracy))
    return Verdict(
        count_outcome(found, 2),
        "Matching the {deepset_params}-parameter DeepSet: {loss_answer}; {accuracy_answer}.",
        {"deepset_params": deepset_params, "largest": largest,
         "loss": [list(e) if e else None for e in loss],
         "accuracy": [list(e) if e else None for e in accuracy],
         "loss_answer": parts[0], "accuracy_answer": parts[1]},
        {"resolution": RESOLUTION},
        "Some MLP of the sweep matches the DeepSet, in final loss and in accuracy.",
        rule="an MLP matches by a measure when its best seed reaches the DeepSet's mean and its "
        "mean reaches the DeepSet's worst seed; sizes near the answer at most {resolution}x apart",
    )  # fmt: skip


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
AREA_RATIO = 0.8  # "less loss along the way": an area under the mean loss curve <= 0.8 the other's


def ahead(first: Sequence[int | None], second: Sequence[int | None]) -> bool:
    """Whether `first` reaches a goal no later than `second` at every rank over seeds: its
    fastest seed against the other's fastest, ..., its slowest against the other's slowest (a
    seed that never got there counts as infinitely slow; never reaching it is never ahead)."""
    if len(first) != len(second):
        raise ValueError(f"one step count per seed each, got {len(first)} and {len(second)}")
    a, b = (sorted(math.inf if s is None else float(s) for s in x) for x in (first, second))
    return not math.isinf(a[0]) and all(x <= y for x, y in zip(a, b, strict=True))


def compare_speed(
    steps: tuple[Sequence[int | None], Sequence[int | None]],
    area: tuple[float, float],
    ratio: float = AREA_RATIO,
) -> tuple[bool, bool, str]:
    """Whether the DeepSet is ahead of the MLP in steps to the loss threshold at every rank
    (`ahead`) and in the area under the mean loss curve (at most `ratio` of the MLP's), and in
    one word: "faster" (both), "slower" (the MLP ahead by both), else "mixed"."""
    (ds, mlp), (ds_area, mlp_area) = steps, area
    by_steps, by_area = ahead(ds, mlp), ds_area <= ratio * mlp_area
    if by_steps and by_area:
        return by_steps, by_area, "faster"
    if ahead(mlp, ds) and mlp_area <= ratio * ds_area:
        return by_steps, by_area, "slower"
    return by_steps, by_area, "mixed"


def _seeds(steps: Sequence[int | None]) -> str:
    """ "300, 420 and never" (every seed's steps, fastest first)."""
    words = [f"{s:,}" for s in sorted(s for s in steps if s is not None)]
    words += ["never"] * sum(s is None for s in steps)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


SO = {
    "faster": "here the DeepSet does learn faster in steps, as the exercise says, at every seed "
    "and along the whole curve.",
    "slower": "in training steps the exercise's claim does not hold here: the MLP learns faster, "
    "at every seed and along the whole curve.",
}


def learning_speed_verdict(
    steps: tuple[Sequence[int | None], Sequence[int | None]],
    area: tuple[float, float],
    threshold: float,
    total: int,
) -> Verdict:
    """Does the DeepSet learn faster in steps than the MLP? From every seed's steps to a running
    loss below `threshold` for good (None: never within `total` steps) and the area under each
    model's mean loss curve, each given as (DeepSet, MLP) (`compare_speed`)."""
    by_steps, by_area, word = compare_speed(steps, area)
    if word in SO:
        so = SO[word]
    elif by_steps or by_area:
        so = (
            "in training steps the claim holds in part: the DeepSet is "
            + ("ahead at every seed but has not clearly less loss along the curve."
               if by_steps else "not ahead at every seed but has clearly less loss along the "
               "curve.")
        )  # fmt: skip
    else:
        so = (
            "in training steps the claim does not hold here: the DeepSet is neither ahead at "
            "every seed nor has clearly less loss along the curve."
        )
    return Verdict(
        count_outcome(by_steps + by_area, 2),
        "Steps to a running loss below {threshold:g} for good, every seed (of {total:,}): "
        "DeepSet {ds_steps}; MLP {mlp_steps}. Area under the mean loss curve: DeepSet "
        "{ds_area:.4g}, MLP {mlp_area:.4g} (loss x steps). So {so}",
        {"steps_to_loss": [list(steps[0]), list(steps[1])], "ds_steps": _seeds(steps[0]),
         "mlp_steps": _seeds(steps[1]), "ds_area": area[0], "mlp_area": area[1],
         "ahead_in_steps": by_steps, "ahead_in_area": by_area, "speed": word, "so": so,
         "total": total},
        {"threshold": threshold, "ratio": AREA_RATIO},
        "The DeepSet learns faster in training steps than the MLP (the exercise's claim).",
        rule="faster: at every rank over seeds (fastest with fastest, ..., slowest with "
        "slowest) the DeepSet reaches the threshold no later, and the area under its mean loss "
        "curve is at most {ratio} x the MLP's",
    )  # fmt: skip


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
    their steps to a running loss below `threshold` and their mean loss curves."""
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
        "faster": "in training steps it learns faster than the MLP, at every seed and along "
        f"the whole mean loss curve (running loss below {threshold:g})",
        "slower": "in training steps the MLP learns faster, at every seed and along the whole "
        f"mean loss curve (running loss below {threshold:g})",
    }.get(speed, "in training steps neither learns faster at every seed and along the whole "
          f"mean loss curve (running loss below {threshold:g})")  # fmt: skip
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
