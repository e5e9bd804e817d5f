"""The findings of the sections beyond the exercise (set sizes, pooling with an affine phi,
learned phi, latent width), each a `lab.verdict.Verdict` chosen by a pure function of measured
numbers, as in `verdicts.py`; tests/test_verdicts.py feeds every function numbers on both sides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from deepsets.lab.verdict import Outcome, Verdict, count_outcome
from deepsets.studies.exercise.verdicts import SOLVED


def set_size_verdict(
    accuracy: Mapping[str, Sequence[float]], sizes: Sequence[int], solved: float = SOLVED
) -> Verdict:
    """Which models keep solving the task at every test set size, and where the others fail.

    accuracy: model label -> mean accuracy at each of `sizes`.
    """
    holds = [name for name, acc in accuracy.items() if min(acc) >= solved]
    fails = {
        name: [n for n, a in zip(sizes, acc, strict=True) if a < solved]
        for name, acc in accuracy.items()
        if name not in holds
    }
    if holds:
        text = "Mean accuracy stays at or above {solved:.0%} at every size only with: {holds}."
    else:
        text = "No model keeps {solved:.0%} mean accuracy at every size."
    if fails:
        text += " Below it: {fails}."
    where = "; ".join(f"{name} at n = {', '.join(map(str, ns))}" for name, ns in fails.items())
    return Verdict(
        count_outcome(len(holds), len(accuracy)),
        text,
        {"accuracy": dict(accuracy), "sizes": list(sizes), "holds": "; ".join(holds),
         "fails": where},
        {"solved": solved},
        "Every model keeps solving the task at every test set size.",
        rule="solved: a mean accuracy of at least {solved:.0%}",
    )  # fmt: skip


PHI0_SHRINK = 0.5  # mixed sizes "pushed phi(0) towards 0" if |phi(0)| fell to at most half


def phi0_verdict(
    fixed: float, mixed: float, mixed_sizes: tuple[int, int], shrink: float = PHI0_SHRINK
) -> Verdict:
    """Did training on mixed set sizes bring |phi(0)| (mean over seeds) closer to 0 than
    training on sets of 10 alone?"""
    lo, hi = mixed_sizes
    pushed = mixed <= shrink * fixed
    if pushed:
        text = (
            "Training on sets of {lo} to {hi} objects pushed |phi(0)| from {fixed:.3g} "
            "(trained on 10) down to {mixed:.3g}, so the shift (n - 10) phi(0) grows "
            "{ratio:.0f}x more slowly with n."
        )
    else:
        text = (
            "Training on sets of {lo} to {hi} objects did not push phi(0) towards 0 here: "
            "|phi(0)| = {mixed:.3g}, against {fixed:.3g} when trained on 10."
        )
    return Verdict(
        Outcome.CONFIRMED if pushed else Outcome.REFUTED,
        text,
        {"fixed": fixed, "mixed": mixed, "lo": lo, "hi": hi, "ratio": fixed / max(mixed, 1e-12)},
        {"shrink": shrink},
        "Training on mixed set sizes pushes phi(0) towards 0.",
        rule="pushed: |phi(0)| falls to at most {shrink} of its value when trained on 10",
    )


def max_pooling_note(
    accuracy: float, trained_on: int, blind: int, seeds: int, solved: float = SOLVED
) -> Verdict:
    """Whether max pooling learned the task at its training size; if not, how many of its
    `seeds` learned a phi whose maximum is phi(0) (`blind`)."""
    head = "But here max pooling reached only {accuracy:.2f} even on sets of {trained_on}"
    if accuracy >= solved:
        text = "Max pooling solved the task on sets of {trained_on} ({accuracy:.2f})."
    elif blind:
        text = (
            f"{head}: {{blind}} of {{seeds}} seeds learned a phi whose maximum is phi(0), the "
            "blind spot described under 'What phi learned'."
        )
    else:
        text = f"{head}, though no seed learned a phi whose maximum is phi(0)."
    return Verdict(
        Outcome.CONFIRMED if accuracy >= solved else Outcome.REFUTED,
        text,
        {"accuracy": accuracy, "trained_on": trained_on, "blind": blind, "seeds": seeds},
        {"solved": solved},
        "Max pooling solves the task at its training set size.",
        rule="solved: a mean accuracy of at least {solved:.0%}",
    )


def mlp_set_size_note(error: str | None, trained_on: int, tried: int) -> Verdict:
    """What happened when the MLP built for `trained_on` objects was given sets of `tried`."""
    if error is None:
        text = "The MLP built for {trained_on} objects accepted sets of {tried} (unexpected)."
    else:
        text = (
            "The MLP built for {trained_on} objects cannot take sets of {tried} at all: "
            "torch says {error!r}."
        )
    return Verdict(
        Outcome.REFUTED if error is None else Outcome.CONFIRMED,
        text,
        {"error": error, "trained_on": trained_on, "tried": tried},
        claim="An MLP built for one set size cannot take sets of another.",
    )


CHANCE_MARGIN = 0.02  # an accuracy within this of 1/2 is chance level (balanced classes)


def chance_verdict(best_accuracy: Mapping[str, float], margin: float = CHANCE_MARGIN) -> Verdict:
    """Do the variants that cannot separate the classes stay at chance on every seed?

    best_accuracy: variant label -> its best seed's accuracy over all sets.
    """
    above = {name: a for name, a in best_accuracy.items() if a > 0.5 + margin}
    if not above:
        text = "Measured: {names} stay at chance on every seed (best {best:.3f})."
    else:
        text = "Measured: above chance, against the argument: {above}."
    return Verdict(
        count_outcome(len(best_accuracy) - len(above), len(best_accuracy)),
        text,
        {
            "best_accuracy": dict(best_accuracy),
            "names": " and ".join(best_accuracy),
            "best": max(best_accuracy.values()),
            "above": "; ".join(f"{name} reached {a:.3f}" for name, a in above.items()),
        },
        {"margin": margin},
        "Sum and mean pooling of an affine phi stay at chance on every seed.",
        rule="chance: a best seed's accuracy at most 1/2 + {margin}",
    )


def affine_max_verdict(
    accuracies: Sequence[float], slopes: Sequence[float], solved: float = SOLVED
) -> Verdict:
    """Max pooling of an affine phi: how many seeds solved the task, and how many ended with
    a slope a <= 0 (the blind spot where every set pools to phi(0) = b)."""
    n = len(accuracies)
    blind = sum(a <= 0 for a in slopes)
    head = "Measured: {ok} of {n} seeds solved it"
    if blind == 0:
        text = (
            f"{head}, and no seed ended with a slope a ≤ 0: here gradient descent avoided the "
            "blind spot."
        )
    else:
        text = (
            f"{head}; gradient descent from a small random start ended with a slope a ≤ 0, "
            "the blind spot, on {where}."
        )
    return Verdict(
        count_outcome(blind, n),
        text,
        {
            "accuracies": list(accuracies),
            "slopes": list(slopes),
            "n": n,
            "ok": sum(a >= solved for a in accuracies),
            "blind": blind,
            "where": "every seed" if blind == n else f"{blind} of {n} seeds",
        },
        {"solved": solved},
        "Gradient descent can end max pooling of an affine phi in the blind spot (a slope a ≤ 0).",
        rule="solved: an accuracy of at least {solved:.0%}; blind: a slope a ≤ 0",
    )


def blind_max_verdict(max_is_phi0: Sequence[bool]) -> Verdict:
    """How many max-pooling DeepSets learned a phi whose largest value on the data is phi(0)."""
    blind, n = sum(max_is_phi0), len(max_is_phi0)
    if blind == 0:
        text = "For max pooling, none of the {n} trained phi has its maximum at phi(0)."
    else:
        text = (
            "For max pooling, {blind} of {n} trained phi have phi(0) ≥ phi(1/5), phi(1/3): such "
            "a model pools phi(0) for every set and is blind to the class, the trap seen with "
            "an affine phi."
        )
    return Verdict(
        count_outcome(blind, n),
        text,
        {"max_is_phi0": list(max_is_phi0), "blind": blind, "n": n},
        claim="A max-pooling DeepSet can learn a phi whose maximum is phi(0) (the blind spot).",
    )


LOSS_GAIN = 0.9  # a wider latent trained "to a lower loss" only below 90% of L = 1's
LATENT = "A latent width L = 1 suffices for this task: a wider latent adds no expressiveness."


def latent_verdict(
    final_loss: Mapping[int, float],
    accuracy: Mapping[int, float],
    solved: float = SOLVED,
    gain: float = LOSS_GAIN,
) -> Verdict:
    """Did a latent width L > 1 help, and was it expressiveness or optimisation?

    final_loss, accuracy: latent width L -> mean over seeds; L = 1 must be present.
    """
    numbers: dict[str, object] = {
        "final_loss": dict(final_loss), "accuracy": dict(accuracy), "at_1": accuracy[1]
    }
    thresholds = {"solved": solved, "gain": gain}
    rule = "solved: a mean accuracy of at least {solved:.0%}; lower: below {gain} x L = 1's loss"
    if accuracy[1] >= solved:
        return _wider_than_solved(final_loss, accuracy, numbers, thresholds, rule)
    wider = [L for L in accuracy if L != 1 and accuracy[L] >= solved]
    if wider:
        return Verdict(
            Outcome.REFUTED,
            "L = 1 reached only {at_1:.3f} mean accuracy but L = {wide} reached "
            "{at_wide:.3f}: in this run the extra width was needed to train to a solution.",
            numbers | {"wide": wider[0], "at_wide": accuracy[wider[0]]},
            thresholds, LATENT, rule=rule,
        )  # fmt: skip
    return Verdict(
        Outcome.UNMEASURED,
        "No latent width solved the task here (best mean accuracy {best:.3f}), so this run "
        "cannot say whether width helps.",
        numbers | {"best": max(accuracy.values())},
        thresholds, LATENT, rule=rule,
    )  # fmt: skip


def _wider_than_solved(
    final_loss: Mapping[int, float],
    accuracy: Mapping[int, float],
    numbers: dict[str, object],
    thresholds: dict[str, float],
    rule: str,
) -> Verdict:
    """latent_verdict when L = 1 solves the task: did a wider latent train to a lower loss?"""
    text = (
        "L = 1 already solves the task (mean accuracy {at_1:.3f}), so wider latents have no "
        "information to add"
    )
    wider = [L for L in final_loss if L != 1]
    if not wider:
        text += "."
    else:
        best = min(wider, key=lambda L: final_loss[L])
        numbers |= {"best": best, "loss_best": final_loss[best], "loss_1": final_loss[1]}
        numbers |= {"at_best": accuracy[best]}
        lower = "L = {best} reached a lower mean final loss, {loss_best:.3g} against {loss_1:.3g}"
        if final_loss[best] >= thresholds["gain"] * final_loss[1]:
            text += ", and none trained to a clearly lower loss ({loss_1:.3g} at L = 1)."
        elif accuracy[best] < thresholds["solved"]:
            text += f"; {lower}, but a lower accuracy ({{at_best:.3f}}): width did not help."
        else:
            text += f"; {lower}: the extra width helped optimisation, not expressiveness."
    return Verdict(Outcome.CONFIRMED, text, numbers, thresholds, LATENT, rule=rule)
