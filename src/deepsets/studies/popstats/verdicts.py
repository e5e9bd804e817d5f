"""The comparison with the paper's Figure 1: each `lab.verdict.Verdict` chosen by the numbers.

Every function takes test MSEs by training size, {N: mean over runs}, of the DeepSet and of the
kernel method (SDM), and returns a Verdict: the claim, the outcome, the numbers it was decided
on. Only the sizes both methods ran at are compared. tests/test_popstats_study.py feeds numbers
on both sides of every decision.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from deepsets.lab.verdict import Outcome, Verdict, count_outcome

PAPER = {
    "source": "Zaheer et al. 2017, Figure 1",
    "finding": "SDM is better with few training sets, DeepSets with many",
}
KERNEL_BETTER_ON = 2  # tasks on which SDM must be better at the smallest N (the target)
FALLS_FASTER_TASKS = ("rank1", "random")  # the 32-dimensional entropy tasks of the targets

Curve = Mapping[int, float]  # N -> mean test MSE over runs


def common(deepset: Curve, sdm: Curve) -> list[int]:
    """The sizes both methods ran at, increasing."""
    return sorted(set(deepset) & set(sdm))


def crossover_size(deepset: Curve, sdm: Curve) -> int | None:
    """The smallest N at which the DeepSet's mean MSE is below the kernel method's, or None."""
    return next((N for N in common(deepset, sdm) if deepset[N] < sdm[N]), None)


def crossover(task: str, deepset: Curve, sdm: Curve) -> Verdict:
    """Where the curves cross, beside the paper's finding: SDM better at the smallest N, the
    DeepSet better at the largest N both ran (each half counts)."""
    claim = f"On {task}, SDM is better with few training sets and the DeepSet with many."
    Ns = common(deepset, sdm)
    if not Ns:
        return Verdict(Outcome.UNMEASURED, "Not measured: no N at which both methods ran.",
                       {"task": task}, {}, claim, PAPER)  # fmt: skip
    first, last, at = Ns[0], Ns[-1], crossover_size(deepset, sdm)
    small, large = sdm[first] < deepset[first], deepset[last] < sdm[last]
    where = (
        "the DeepSet's MSE is first below SDM's at N = {crossover}"
        if at is not None
        else "the DeepSet's MSE is not below SDM's within the measured range (N = {first}..{last})"
    )
    text = (
        f"{where[0].upper()}{where[1:]}; at N = {{first}} SDM {{sdm_first:.4g}}, DeepSet "
        "{deepset_first:.4g}; at N = {last} SDM {sdm_last:.4g}, DeepSet {deepset_last:.4g}."
    )
    return Verdict(
        count_outcome(small + large, 2),
        text,
        {"task": task, "crossover": at, "first": first, "last": last,
         "sdm_first": sdm[first], "deepset_first": deepset[first],
         "sdm_last": sdm[last], "deepset_last": deepset[last],
         "sdm_better_first": small, "deepset_better_last": large},
        {},
        claim,
        PAPER,
        rule="confirmed: SDM's mean MSE below the DeepSet's at the smallest N and the DeepSet's "
        "below SDM's at the largest N both ran; in part: one of the two",
    )  # fmt: skip


def slope(curve: Curve, Ns: list[int]) -> float:
    """The least-squares slope of log MSE against log N over `Ns` (negative: it falls)."""
    x = np.log([float(N) for N in Ns])
    y = np.log([curve[N] for N in Ns])
    return float(np.polyfit(x, y, 1)[0])


def falls_faster(task: str, deepset: Curve, sdm: Curve) -> Verdict:
    """Does the DeepSet's MSE fall with N faster than SDM's (a steeper log-log slope) and end
    below it at the largest N both ran? (The issue's target on the 32-dimensional tasks.)"""
    claim = (
        f"On {task}, the DeepSet's test MSE falls with N faster than SDM's and is below it at "
        "the largest N both ran."
    )
    Ns = common(deepset, sdm)
    if len(Ns) < 2:
        return Verdict(Outcome.UNMEASURED, "Not measured: fewer than two N at which both ran.",
                       {"task": task}, {}, claim, PAPER)  # fmt: skip
    a, b, last = slope(deepset, Ns), slope(sdm, Ns), Ns[-1]
    faster, below = a < b, deepset[last] < sdm[last]
    text = (
        "From N = {first} to {last} the DeepSet's MSE falls with slope {deepset_slope:.3f} "
        "(log-log), SDM's with {sdm_slope:.3f}"
        + ("" if faster else " (the DeepSet's is not steeper)")
        + "; at N = {last} the DeepSet's MSE {deepset_last:.4g} is "
        + ("below" if below else "not below")
        + " SDM's {sdm_last:.4g}."
    )
    return Verdict(
        count_outcome(faster + below, 2),
        text,
        {"task": task, "first": Ns[0], "last": last, "deepset_slope": a, "sdm_slope": b,
         "deepset_last": deepset[last], "sdm_last": sdm[last], "steeper": faster, "below": below},
        {},
        claim,
        PAPER,
        rule="falls faster: a steeper least-squares slope of log MSE against log N over the N "
        "both ran; confirmed when it also ends below SDM's, in part when one of the two holds",
    )  # fmt: skip


def kernel_better_small(
    deepset: Mapping[str, Curve], sdm: Mapping[str, Curve], at_least: int = KERNEL_BETTER_ON
) -> Verdict:
    """Is SDM better than the DeepSet at the smallest N on at least `at_least` tasks?"""
    claim = f"SDM is better than the DeepSet at the smallest N on at least {at_least} tasks."
    firsts = {t: common(deepset[t], sdm[t]) for t in deepset}
    measured = {t: Ns[0] for t, Ns in firsts.items() if Ns}
    if not measured:
        return Verdict(Outcome.UNMEASURED, "Not measured: no N at which both methods ran.",
                       {}, {"at_least": at_least}, claim, PAPER)  # fmt: skip
    better = [t for t, N in measured.items() if sdm[t][N] < deepset[t][N]]
    text = (
        "At the smallest N SDM is better on {count} of {tasks} tasks (threshold: at least "
        "{at_least})" + (": {better}." if better else ".")
    )
    return Verdict(
        Outcome.CONFIRMED if len(better) >= at_least else Outcome.REFUTED,
        text,
        {"count": len(better), "tasks": len(measured), "better": ", ".join(better),
         "at": dict(measured)},
        {"at_least": at_least},
        claim,
        PAPER,
        rule="confirmed: SDM's mean MSE below the DeepSet's at the smallest N on at least "
        "{at_least} tasks",
    )  # fmt: skip
