"""The comparison with the paper's Figure 2: each sentence chosen by a function of the numbers.

Every function takes accuracies by test length, {length: mean accuracy over runs}, and returns a
`Verdict`: the paper's claim, what this run measured, and whether they agree. Each threshold is
a named constant here; tests/test_digits_verdicts.py feeds numbers on both sides of each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

STAYS_ACCURATE = 0.95  # the text DeepSet's accuracy at every test length (the paper's: ~1)
COLLAPSED = 0.5  # a recurrent model below this from COLLAPSE_FROM digits on has collapsed
COLLAPSE_FROM = 30  # digits: three times the largest training set
FITS = 0.9  # accuracy at the shortest test length that counts as fitting the training range
IMAGE_FROM = 20  # digits from which the image DeepSet must beat both recurrent models

Curve = Mapping[int, float]  # test length -> mean accuracy over runs


@dataclass(frozen=True)
class Verdict:
    """One claim of the paper's Figure 2, set against this run's numbers."""

    claim: str
    """What the paper reports."""
    measured: str
    """What this run measured, in words chosen by the numbers."""
    agrees: bool | None
    """None when the run measured no length the claim is about."""


def unmeasured(claim: str, start: int) -> Verdict:
    """The verdict of a claim about lengths >= start when no such length was tested."""
    return Verdict(claim, f"Not measured: no test length of {start} digits or more.", None)


def _worst(curve: Curve, start: int = 0) -> tuple[int, float]:
    """(length, accuracy) of the lowest accuracy at lengths >= start."""
    n = min((n for n in curve if n >= start), key=lambda n: (curve[n], n))
    return n, curve[n]


def text_deepset(curve: Curve, threshold: float = STAYS_ACCURATE) -> Verdict:
    """Does the text DeepSet stay accurate at every test length?"""
    claim = "On text, the DeepSet stays accurate far past the training sizes (up to 100 digits)."
    n, worst = _worst(curve)
    longest = max(curve)
    if worst >= threshold:
        measured = (
            f"The DeepSet's accuracy is at least {worst:.3f} at every length up to {longest} "
            f"digits (threshold {threshold})."
        )
        return Verdict(claim, measured, True)
    measured = (
        f"The DeepSet's accuracy falls to {worst:.3f} at {n} digits, below the threshold "
        f"{threshold}."
    )
    return Verdict(claim, measured, False)


def recurrent(
    name: str,
    curve: Curve,
    collapsed: float = COLLAPSED,
    start: int = COLLAPSE_FROM,
    fits: float = FITS,
) -> Verdict:
    """Does a recurrent model fall below `collapsed` from `start` digits on, and did it fit the
    training range (`fits` at the shortest length)?"""
    claim = f"On text, the {name} falls to near zero accuracy as the sets grow."
    shortest = min(curve)
    fit = f"{curve[shortest]:.3f} at {shortest} digits"
    if max(curve) < start:
        return unmeasured(claim, start)
    best = max(curve[n] for n in curve if n >= start)
    if best >= collapsed:
        measured = (
            f"The {name} still reaches {best:.3f} at some length from {start} digits on "
            f"(threshold {collapsed}); {fit}."
        )
        return Verdict(claim, measured, False)
    how = (
        "though it fits the training range"
        if curve[shortest] >= fits
        else (f"but it does not fit the training range either (below {fits})")
    )
    measured = (
        f"The {name} stays below {collapsed} from {start} digits on (at most {best:.3f}), "
        f"{how}: {fit}."
    )
    return Verdict(claim, measured, True)


def image_deepset(deepset: Curve, lstm: Curve, gru: Curve, start: int = IMAGE_FROM) -> Verdict:
    """Is the image DeepSet above both recurrent models at every length from `start` on?"""
    claim = "On images, the DeepSet degrades with length but stays far above the LSTM and GRU."
    lengths = [n for n in deepset if n >= start]
    if not lengths:
        return unmeasured(claim, start)
    margins = {n: deepset[n] - max(lstm[n], gru[n]) for n in lengths}
    n = min(margins, key=lambda n: (margins[n], n))
    if margins[n] > 0:
        measured = (
            f"From {start} digits on the DeepSet stays above both recurrent models at every "
            f"length; the smallest lead is {margins[n]:.3f} at {n} digits (DeepSet "
            f"{deepset[n]:.3f}); it falls from {deepset[min(deepset)]:.3f} at {min(deepset)} "
            f"digits to {deepset[max(deepset)]:.3f} at {max(deepset)}."
        )
        return Verdict(claim, measured, True)
    measured = (
        f"At {n} digits the DeepSet ({deepset[n]:.3f}) is not above the better recurrent model "
        f"({max(lstm[n], gru[n]):.3f})."
    )
    return Verdict(claim, measured, False)


def set_transformer(curve: Curve, deepset: Curve, threshold: float = STAYS_ACCURATE) -> str:
    """Beyond the paper: how the Set Transformer compares with the DeepSet on text."""
    n, worst = _worst(curve)
    if worst >= threshold:
        return (
            f"On text the Set Transformer stays at or above {threshold} at every length too "
            f"(lowest {worst:.3f}, at {n} digits)."
        )
    fails = min(m for m in curve if curve[m] < threshold)
    return (
        f"On text the Set Transformer is first below {threshold} at {fails} digits "
        f"({curve[fails]:.3f}; the DeepSet: {deepset[fails]:.3f})."
    )
