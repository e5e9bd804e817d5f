"""Each claim's verdict (a `lab.verdict.Verdict`), a pure function of measured numbers with its
threshold named beside it.

The outcome is confirmed, confirmed in part or not confirmed; the sentence's template is chosen
by the same function, and the rule (the threshold in words) is stated in the report.
tests/test_theory_verdicts.py feeds every function numbers on both sides of its thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from deepsets.lab.verdict import Outcome, Verdict

CONFIRMED, IN_PART, NOT_CONFIRMED = Outcome.CONFIRMED, Outcome.PARTLY, Outcome.REFUTED

WIDTH_TOL = 0.25
"""Claim 1: a latent width L 'stops improving' the error once it is within 25% of the best L's."""
WIDTH_FLOOR = 1e-3
"""Claim 1: a relative MSE below 0.1% of the targets' variance counts as solved (differences
below it are optimisation noise, not representation)."""
LEARNED = 0.95
"""Claims 2 and 4: a model learned a classification task if its mean test accuracy is >= 95%."""
CHANCE_MARGIN = 0.10
"""Claim 2: a pooling 'cannot' learn if its accuracy stays within 10 points of its ceiling."""
FLOOR_RATIO = 10.0
"""Claim 3: max pooling has an error floor if its test MSE is >= 10x the worse of sum and mean."""
CEILING_SLACK = 0.01
"""Claim 4: the per-object network 'cannot beat' the ceiling if it stays below ceiling + 1 point
(4 standard errors of an accuracy over 40960 test objects)."""
TRAP_LEARNED = 0.99
"""Claim 5: a seed learned the exercise task if it classifies >= 99% of its 372 sets right."""
TRAP_SEEDS = 0.8
"""Claim 5: a remedy works if it learns on >= 80% of the seeds (4 of 5)."""
TRAP_REMEDIES = 3
"""Claim 5: the claim is confirmed when at least 3 remedies work."""


def stopping_width(
    errors: Mapping[int, float], tol: float = WIDTH_TOL, floor: float = WIDTH_FLOOR
) -> int:
    """The smallest latent width L whose error is within (1 + tol) of the best over L, or
    below `floor`."""
    best = min(errors.values())
    return min(L for L, e in errors.items() if e <= max((1 + tol) * best, floor))


def width_verdict(
    errors: Mapping[int, Mapping[int, float]], tol: float = WIDTH_TOL, floor: float = WIDTH_FLOOR
) -> Verdict:
    """Claim 1 from errors[N][L]: confirmed if the error stops improving exactly at L = N for
    every N; in part if it stops at some L <= N for every N (N suffices) or at N for some N."""
    stops = {N: stopping_width(by_L, tol, floor) for N, by_L in errors.items()}
    at_n = [N for N, L in stops.items() if L == N]
    before = [N for N, L in stops.items() if L < N]
    after = [N for N, L in stops.items() if L > N]
    where = ", ".join(f"N = {N}: L = {L}" for N, L in stops.items())
    if len(at_n) == len(stops):
        verdict = CONFIRMED
    elif at_n or not after:
        verdict = IN_PART
    else:
        verdict = NOT_CONFIRMED
    parts = [
        f"{what} L = N for N = {', '.join(map(str, Ns))}"
        for what, Ns in (("at", at_n), ("before", before), ("after", after))
        if Ns
    ]
    return Verdict(
        verdict,
        "The median error stops improving {how} ({where}).",
        {"stops_at": stops, "how": "; ".join(parts), "where": where},
        {"tol": tol, "floor": floor},
        "The test error of a median regression stops improving at L = N.",
        rule="an L stops improving when its median error over seeds is within {tol:.0%} of the "
        "best L's, or below {floor:.1%} of the targets' variance",
    )


def injectivity_verdict(
    accuracy: Mapping[str, float], ceiling: float, learned: float = LEARNED,
    margin: float = CHANCE_MARGIN,
) -> Verdict:  # fmt: skip
    """Claim 2 from the mean test accuracy of each pooling: sum learns (>= `learned`), mean and
    max stay within `margin` of `ceiling`, the best any function of their pooled value can do."""
    sum_learns = accuracy["sum"] >= learned
    stuck = [p for p in ("mean", "max") if accuracy[p] <= ceiling + margin]
    acc = ", ".join(f"{p} {a:.1%}" for p, a in accuracy.items())
    if sum_learns and len(stuck) == 2:
        verdict, how = CONFIRMED, "sum pooling learns the multiplicity task and mean and max do not"
    elif sum_learns or stuck:
        verdict = IN_PART
        how = ("sum pooling learns it" if sum_learns else "sum pooling falls short of it") + (
            f"; {' and '.join(stuck)} stay at their ceiling" if stuck else "; mean or max beat it"
        )
    else:
        verdict, how = NOT_CONFIRMED, "sum pooling falls short and mean and max beat their ceiling"
    return Verdict(
        verdict,
        "Test accuracy: {acc}; {how}.",
        {"accuracy": dict(accuracy), "acc": acc, "how": how},
        {"learned": learned, "ceiling": ceiling, "margin": margin},
        "Sum pooling can learn a multiplicity task that mean and max pooling cannot.",
        rule="learned: mean accuracy >= {learned:.0%}; cannot: <= the ceiling {ceiling:.1%} + "
        "{margin:.0%}",
    )


def floor_verdict(mse: Mapping[str, float], ratio: float = FLOOR_RATIO) -> Verdict:
    """Claim 3 from the mean test MSE of each pooling: max's is >= `ratio` x the worse of sum's
    and mean's (confirmed), above it but less (in part), or not above it (not confirmed)."""
    other = max(mse["sum"], mse["mean"])
    times = mse["max"] / other if other > 0 else math.inf
    errs = ", ".join(f"{p} {e:.2e}" for p, e in mse.items())
    if times >= ratio:
        verdict, how = CONFIRMED, f"max pooling's error is {times:.0f}x the others'"
    elif times > 1:
        verdict, how = IN_PART, f"max pooling's error is higher, but only {times:.1f}x"
    else:
        verdict, how = NOT_CONFIRMED, "max pooling's error is no higher than the others'"
    return Verdict(
        verdict,
        "Test MSE: {errs}; {how}.",
        {"mse": dict(mse), "times": times, "errs": errs, "how": how},
        {"ratio": ratio},
        "At equal width max pooling shows an error floor on the mean that sum and mean do not.",
        rule="a floor: max's MSE >= {ratio:.0f}x the worse of sum's and mean's",
    )


def equivariance_verdict(
    per_element: float, equivariant: float, ceiling: float, learned: float = LEARNED,
    slack: float = CEILING_SLACK,
) -> Verdict:  # fmt: skip
    """Claim 4: the per-object net stays under ceiling + `slack` and the equivariant stack
    reaches `learned` (confirmed); one of the two (in part); neither (not confirmed)."""
    under = per_element <= ceiling + slack
    reaches = equivariant >= learned
    nums = (
        f"per-object network {per_element:.1%} (ceiling {ceiling:.1%}), "
        f"PermEquivariant stack {equivariant:.1%}"
    )
    if under and reaches:
        verdict, how = CONFIRMED, "only the network with a pooling layer learns the target"
    elif under or reaches:
        verdict = IN_PART
        how = "the ceiling holds" if under else "the per-object network beats the ceiling"
        how += "; the stack reaches the target" if reaches else "; the stack falls short"
    else:
        verdict, how = NOT_CONFIRMED, "the ceiling is beaten and the stack falls short"
    return Verdict(
        verdict,
        "Test accuracy per object: {nums}; {how}.",
        {"per_element": per_element, "equivariant": equivariant, "nums": nums, "how": how},
        {"ceiling": ceiling, "learned": learned, "slack": slack},
        "An equivariant target needs a pooling layer: a per-object network stays at its ceiling.",
        rule="cannot beat: <= ceiling + {slack:.0%}; reaches: >= {learned:.0%}",
    )


def remedies_verdict(
    learned: Mapping[str, int], seeds: int, share: float = TRAP_SEEDS, need: int = TRAP_REMEDIES
) -> Verdict:
    """Claim 5 from how many seeds each remedy learned on: a remedy works on >= share * seeds;
    confirmed with >= `need` working remedies, in part with some, not confirmed with none."""
    enough = math.ceil(share * seeds - 1e-9)
    works = [r for r, n in learned.items() if n >= enough]
    counts = ", ".join(f"{r} {n}/{seeds}" for r, n in learned.items())
    if len(works) >= need:
        verdict = CONFIRMED
    elif works:
        verdict = IN_PART
    else:
        verdict = NOT_CONFIRMED
    return Verdict(
        verdict,
        "Seeds that learn the task: {counts}; working remedies: {which}.",
        {"learned": dict(learned), "seeds": seeds, "counts": counts,
         "which": ", ".join(works) if works else "none"},
        {"share": share, "enough": enough, "need": need, "seeds": seeds},
        "A wider latent, an increasing phi at init or a smooth maximum rescues max pooling.",
        rule="a remedy works on >= {enough} of {seeds} seeds; confirmed with >= {need} remedies",
    )  # fmt: skip
