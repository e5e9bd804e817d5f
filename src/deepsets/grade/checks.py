"""The checks: a fixed id each, judged in the grader's process from the raw values a
submission's process returned (`probes.py`). Each returns a Verdict whose message says what was
measured and what the exercise asks for.

Calibration (statistical checks): a correct solution must fail at most once in 1,000 gradings.
- data.random: the slot counts' statistic T is chi-square with 18 degrees of freedom for a
  uniform draw (derivation in `chi_square`); the threshold is its 0.9999 quantile, so a correct
  solution fails once in 10,000, leaving room for the chi-square approximation.
- deepset.sum_pooling, deepset.phi_nonlinear: over 100 weight settings a correct network moves
  its output by 1e-2 or more; the threshold (1e-4) sits far below that and far above float
  rounding (1e-6). deepset.learns: the exercise's DeepSet reaches all 372 sets after 4000 steps.
benchmarks/grade_calibration.py measures each false-failure rate over many seeds (docs/grade.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepsets.grade.submissions import Submission

N_OBJECTS = 10
KINDS = {3: 0, 5: 1}  # nonzero objects -> label: three at 1/3 are class 0, five at 1/5 class 1
VALUE_TOL = 1e-5  # 1/3 and 1/5 in float32 are within 1e-8
CHI2_18_9999 = 49.1894  # scipy.stats.chi2.isf(1e-4, 18): exceeded once in 10,000 uniform draws
INVARIANCE_TOL = 1e-5  # float32 sums in another order differ by ~1e-7
MOVE_MIN = 1e-4  # sum pooling and a nonlinear phi move the output by more than this
LEARN_MIN = 0.95  # the accuracy on the 372 sets that deepset.learns asks for

Raw = dict[str, Any]


@dataclass(frozen=True)
class Verdict:
    """A check's outcome."""

    passed: bool
    message: str


@dataclass(frozen=True)
class Check:
    """A check: its id, what it asks, the probe it reads (None: the source) and its judge."""

    id: str
    what: str
    probe: str | None
    judge: Callable[[Raw, Submission], Verdict]


def dims(shape: list[int] | None) -> str:
    """[100, 10] -> '(100, 10)'."""
    return "no shape" if shape is None else str(tuple(shape))


def data_shape(raw: Raw, s: Submission) -> Verdict:
    for c in raw["calls"]:
        N = c["N"]
        for name, want, kind in (("X", [N, N_OBJECTS, 1], "X_type"), ("y", [N, 1], "y_type")):
            if c[kind] != "Tensor":
                return Verdict(False, f"make_data({N}) returned {name} as a {c[kind]}; "
                                      "the exercise asks for torch tensors")  # fmt: skip
            if c[f"{name}_shape"] != want:
                got = dims(c[f"{name}_shape"])
                return Verdict(False, f"{name} has shape {got}; the exercise asks for "
                                      f"{dims(want)} for make_data({N})")  # fmt: skip
    return Verdict(True, "make_data(N) returns X (N, 10, 1) and y (N, 1) for N = 2, 10, 100")


def sets(call: Raw) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A call's X as (N, 10) and y as (N,), each None if it does not hold N of them."""
    N = call["N"]
    X, y = np.asarray(call["X"], dtype=float), np.asarray(call["y"], dtype=float)
    return (X.reshape(N, N_OBJECTS) if X.size == N * N_OBJECTS else None,
            y if y.size == N else None)  # fmt: skip


def kind(objects: np.ndarray) -> int | None:
    """3 or 5 if the set holds exactly that many objects at 1/3 or 1/5 and zeros, else None."""
    nonzero = objects[np.abs(objects) > VALUE_TOL]
    k = len(nonzero)
    ok = k in KINDS and bool(np.all(np.abs(nonzero - 1 / k) < VALUE_TOL))
    return k if ok and np.all(objects[np.abs(objects) <= VALUE_TOL] == 0) else None


def data_balanced(raw: Raw, s: Submission) -> Verdict:
    for c in raw["calls"]:
        _, y = sets(c)
        N = c["N"]
        if y is None:
            return Verdict(False, f"make_data({N}) returned {len(c['y'])} labels for {N} sets")
        ones, zeros = int(np.sum(y == 1)), int(np.sum(y == 0))
        if ones + zeros != N:
            return Verdict(False, f"make_data({N}) returned labels other than 0 and 1: "
                                  f"{sorted(set(y.tolist()) - {0.0, 1.0})[:3]}")  # fmt: skip
        if ones != N // 2:
            return Verdict(False, f"make_data({N}) returned {ones} sets of class 1 and {zeros} "
                                  f"of class 0; the exercise asks for {N // 2} of each")
    return Verdict(True, f"exactly N/2 sets of each class in all {len(raw['calls'])} calls")


def data_values(raw: Raw, s: Submission) -> Verdict:
    seen = set()
    for c in raw["calls"]:
        X, y = sets(c)
        if X is None:
            return Verdict(False, f"make_data({c['N']}) returned {len(c['X'])} values, "
                                  f"not {c['N']} sets of {N_OBJECTS}")  # fmt: skip
        for i, objects in enumerate(X):
            k = kind(objects)
            if k is None:
                nonzero = objects[np.abs(objects) > VALUE_TOL]
                label = f"class {y[i]:g} sets" if y is not None else "a set"
                at = ", ".join(sorted({f"{v:.3g}" for v in nonzero})) or "none"
                return Verdict(False, f"{label} hold {len(nonzero)} nonzero objects (at {at}) in "
                                      f"make_data({c['N']}); the exercise asks for 3 at 1/3 "
                                      "(class 0) or 5 at 1/5 (class 1), all else 0")  # fmt: skip
            seen.add(k)
    if seen != set(KINDS):
        return Verdict(False, f"only sets of {seen} nonzero objects; both kinds are expected")
    return Verdict(True, "every set holds three 1/3s or five 1/5s, all else 0")


def data_labels(raw: Raw, s: Submission) -> Verdict:
    wrong = total = 0
    for c in raw["calls"]:
        X, y = sets(c)
        if X is None or y is None:
            return Verdict(False, f"make_data({c['N']}) does not return one label per set")
        for objects, label in zip(X, y, strict=True):
            k = kind(objects)
            if k is not None:
                total += 1
                wrong += int(label != KINDS[k])
    if total == 0 or wrong:
        return Verdict(False, f"{wrong} of {total} sets are labelled against their content; the "
                              "exercise labels three 1/3s class 0 and five 1/5s class 1")
    return Verdict(True, f"all {total} sets carry the label of their content")


def chi_square(X: np.ndarray) -> tuple[float, list[int]]:
    """T for the nonzero slots of sets X (M, 10), and the counts per slot.

    For n sets with exactly k of 10 slots drawn uniformly, the slot counts O have mean n p
    (p = k / 10) and covariance n p (1 - p) (10 / 9) (I - J / 10); so Pearson's
    X^2 = sum (O - n p)^2 / (n p) is (1 - p) (10 / 9) times a chi-square with 9 degrees of
    freedom. T sums X^2 * 9 / (10 (1 - p)) over k = 3 and k = 5: chi-square, 18 degrees.
    """
    T, counts = 0.0, np.zeros(N_OBJECTS, dtype=int)
    kinds = np.array([kind(s) or 0 for s in X])
    for k in KINDS:
        chosen = np.abs(X[kinds == k]) > VALUE_TOL  # (n, 10)
        if len(chosen):
            observed, p = chosen.sum(axis=0), k / N_OBJECTS
            E = len(chosen) * p
            T += float(np.sum((observed - E) ** 2) / E) * 9 / (10 * (1 - p))
            counts += observed
    return T, counts.tolist()


def largest_calls(raw: Raw) -> list[Raw]:
    """The make_data calls of the largest N (the 20 calls of make_data(100))."""
    return [c for c in raw["calls"] if c["N"] == max(c["N"] for c in raw["calls"])]


def pooled_sets(raw: Raw) -> np.ndarray | None:
    """The sets of the largest calls, (M, 10), or None if one cannot be read so."""
    arrays = [sets(c)[0] for c in largest_calls(raw)]
    return None if any(a is None for a in arrays) else np.concatenate(arrays)  # type: ignore[arg-type]


def data_random(raw: Raw, s: Submission) -> Verdict:
    big = largest_calls(raw)
    if len({tuple(c["X"]) for c in big}) < len(big):
        return Verdict(False, f"two of {len(big)} calls make_data({big[0]['N']}) returned the "
                              "same sets; every call should draw anew")  # fmt: skip
    X = pooled_sets(raw)
    if X is None:
        return Verdict(False, "the sets could not be read as (N, 10) to count their positions")
    T, counts = chi_square(X)
    if not T <= CHI2_18_9999:
        return Verdict(False, f"the nonzero objects sit unevenly over the 10 slots (counts "
                              f"{counts}): chi-square {T:.1f} > {CHI2_18_9999:.1f}, which a "
                              "uniform draw exceeds once in 10,000")  # fmt: skip
    return Verdict(True, f"calls differ and positions are uniform (chi-square {T:.1f} "
                         f"<= {CHI2_18_9999:.1f}, 18 degrees of freedom)")  # fmt: skip


def finite(values: list[float]) -> bool:
    return all(math.isfinite(v) for v in values)


def invariant(raw: Raw, s: Submission) -> Verdict:
    change = 0.0
    for orders in raw["outputs"]:
        base = np.asarray(orders[0])
        for o in orders[1:]:
            if len(o) != len(base) or not finite(o) or not finite(orders[0]):
                return Verdict(False, "the outputs are not numbers of the same shape for "
                                      "every ordering of the objects")  # fmt: skip
            change = max(change, float(np.max(np.abs(np.asarray(o) - base))))
    n = len(raw["outputs"][0]) - 1
    if change > INVARIANCE_TOL:
        return Verdict(False, f"reordering the objects changed the output by up to {change:.2g} "
                              f"(over {n} permutations); a DeepSet's does not change (at most "
                              f"{INVARIANCE_TOL:g}, float rounding)")  # fmt: skip
    return Verdict(True, f"the output changed by at most {change:.1g} over {n} permutations")


def largest_move(a: list[list[float]], b: list[list[float]], mean: bool = False) -> float:
    """The largest |a - b| over weight settings (of the means over sets if `mean`)."""
    moves = []
    if len(a) != len(b):
        return float("nan")
    for x, z in zip(a, b, strict=True):
        if len(x) != len(z) or not finite(x) or not finite(z):
            return float("nan")
        x_, z_ = np.asarray(x), np.asarray(z)
        moves.append(abs(x_.mean() - z_.mean()) if mean else float(np.max(np.abs(x_ - z_))))
    return float(max(moves))


def sum_pooling(raw: Raw, s: Submission) -> Verdict:
    move = largest_move(raw["single"], raw["doubled"])
    if not move > MOVE_MIN:
        return Verdict(False, f"a set joined with itself gives the same output (largest "
                              f"change {move:.2g}): its objects are pooled by mean or max, "
                              "not by sum")  # fmt: skip
    return Verdict(True, f"a set joined with itself changes the output (by up to {move:.2g})")


def phi_nonlinear(raw: Raw, s: Submission) -> Verdict:
    move = largest_move(raw["three"], raw["five"], mean=True)
    n = len(raw["three"])
    if not move > MOVE_MIN:
        return Verdict(False, f"sets of three 1/3s and of five 1/5s give the same output "
                              f"(largest difference {move:.2g} over {n} weight settings): phi "
                              "is affine, and both sets sum to 1")  # fmt: skip
    return Verdict(True, f"it tells three 1/3s from five 1/5s (output difference {move:.2g})")


def output(raw: Raw, s: Submission) -> Verdict:
    for o in raw["shapes"]:
        if o["type"] != "Tensor" or o["shape"] != [o["B"], 1]:
            return Verdict(False, f"DeepSet() on {o['B']} sets returned a {o['type']} of shape "
                                  f"{dims(o['shape'])}; the exercise asks for (B, 1)")  # fmt: skip
    values = raw["values"]
    if not finite(values) or min(values) < 0 or max(values) > 1:
        return Verdict(False, f"outputs range from {min(values):.3g} to {max(values):.3g} with "
                              "perturbed weights; a probability lies in [0, 1] (end with a "
                              "sigmoid)")  # fmt: skip
    return Verdict(True, "a probability of shape (B, 1) for its own and perturbed weights")


def learns(raw: Raw, s: Submission) -> Verdict:
    from deepsets import all_sets

    _, y = all_sets(N_OBJECTS)
    out = np.asarray(raw["outputs"], dtype=float)
    labels = y.numpy().reshape(-1)
    right = int(np.sum((out > 0.5) == (labels == 1))) if out.size == labels.size else 0
    what = f"trained {raw['steps']} steps by the package's train, it classifies {right} of the " \
        f"{labels.size} distinct sets"  # fmt: skip
    if right < LEARN_MIN * labels.size:
        return Verdict(False, f"{what}; at least {LEARN_MIN:.0%} expected")
    return Verdict(True, what)


def mlp(raw: Raw, s: Submission) -> Verdict:
    found = raw["candidates"]
    if not found:
        return Verdict(False, "no MLP found: define make_mlp() returning a torch.nn.Sequential, "
                              "or a top-level nn.Sequential")  # fmt: skip
    for c in found:
        if c["sequential"] and c.get("shape") == [8, 1]:
            return Verdict(True, f"{c['name']} is an nn.Sequential mapping (B, 10, 1) to (B, 1)")
    sequential = [c for c in found if c["sequential"]]
    if not sequential:
        names = ", ".join(f"{c['name']}: {c['type']}" for c in found)
        return Verdict(False, f"no torch.nn.Sequential among the networks found ({names})")
    c = sequential[0]
    got = f"raised {c['error']}" if "error" in c else f"maps (8, 10, 1) to {dims(c['shape'])}"
    return Verdict(False, f"{c['name']} {got}; the exercise asks for (B, 10, 1) -> (B, 1)")


def train_returns(raw: Raw, s: Submission) -> Verdict:
    steps, losses = raw["optimizer_steps"], raw["losses"]
    if raw["length"] != 2:
        return Verdict(False, f"train(model) returned a {raw['returned']}; the exercise asks for "
                              "(model, losses)")  # fmt: skip
    if not raw["model_returned"]:
        return Verdict(False, "the first value train returned is not the model it trained")
    if losses is None or len(losses) != steps or steps == 0:
        n = "no" if losses is None else len(losses)
        return Verdict(False, f"train returned {n} losses for {steps} optimizer steps; "
                              "the exercise asks for one per step")  # fmt: skip
    if not finite(losses) or not raw["changed"]:
        return Verdict(False, "the losses are not all finite or the model did not change")
    return Verdict(True, f"it returns the trained model and {steps} losses, one per step")


def train_adam(raw: Raw, s: Submission) -> Verdict:
    used = raw["optimizers"]
    if set(used) != {"Adam"}:
        names = ", ".join(used) or "no optimizer"
        return Verdict(False, f"its steps were taken by {names}; the exercise asks for Adam")
    return Verdict(True, f"all {used['Adam']} steps were taken by Adam")


def fresh_data(raw: Raw, s: Submission) -> Verdict:
    steps, calls, distinct = (raw[k] for k in ("optimizer_steps", "make_data_calls",
                                                "distinct_batches"))  # fmt: skip
    if steps == 0 or calls < steps or distinct < steps:
        return Verdict(False, f"train called make_data {calls} times ({distinct} distinct "
                              f"batches) for {steps} steps; the exercise draws fresh data from "
                              "make_data at every step")  # fmt: skip
    return Verdict(True, f"{distinct} fresh batches from make_data for {steps} steps")


def count_params(raw: Raw, s: Submission) -> Verdict:
    from deepsets.grade.probes import architectures

    for name, model in architectures().items():
        expected = 0
        for p in model.parameters():
            expected += p.numel()
        got = raw["returned"].get(name)
        if got != expected:
            return Verdict(False, f"count_params gives {got} for {name}; it has {expected}")
    return Verdict(True, f"exact on {len(raw['returned'])} architectures")


def figures(raw: Raw, s: Submission) -> Verdict:
    shown = "imshow(" in s.code and "plot(" in s.code
    if not shown or (s.cells and s.figures < 2):
        saved = f"; the notebook's saved outputs hold {s.figures} images" if s.cells else ""
        return Verdict(False, "the data is to be shown with plt.imshow and the loss curves "
                              f"plotted{saved}")  # fmt: skip
    return Verdict(True, "imshow of the data and the loss curves are there")


def permutations(raw: Raw, s: Submission) -> Verdict:
    if "permutation(" not in s.code:
        return Verdict(False, "no np.random.permutation found: Step 6 evaluates the models on "
                              "permuted copies of a set")  # fmt: skip
    return Verdict(True, "the models are evaluated on permuted sets (Step 6)")


CHECKS = (
    Check("data.shape", "make_data(N) returns tensors (N, 10, 1) and (N, 1)", "data", data_shape),
    Check("data.balanced", "exactly N/2 of each class, over several calls", "data", data_balanced),
    Check("data.values", "three 1/3s or five 1/5s per set, all else 0", "data", data_values),
    Check("data.labels", "the label matches the content", "data", data_labels),
    Check("data.random", "uniform positions (chi-square), calls differ", "data", data_random),
    Check("deepset.invariant", "same output under 20 permutations", "deepset.invariant",
          invariant),
    Check("deepset.sum_pooling", "pools by sum (a set joined with itself moves the output)",
          "deepset.sum_pooling", sum_pooling),
    Check("deepset.phi_nonlinear", "tells 3 x 1/3 from 5 x 1/5 (phi nonlinear)",
          "deepset.phi_nonlinear", phi_nonlinear),
    Check("deepset.output", "a probability of shape (B, 1) for any weights", "deepset.output",
          output),
    Check("deepset.learns", "trained, it classifies the 372 distinct sets", "deepset.learns",
          learns),
    Check("mlp.sequential", "an nn.Sequential mapping (B, 10, 1) to (B, 1)", "mlp.sequential",
          mlp),
    Check("train.returns", "train(model) returns the model and one loss per step", "train",
          train_returns),
    Check("train.adam", "it trains with Adam", "train", train_adam),
    Check("train.fresh_data", "fresh data from make_data at every step", "train", fresh_data),
    Check("count_params.exact", "the exact parameter count on several architectures",
          "count_params.exact", count_params),
    Check("notebook.figures", "the data shown with imshow, the loss curves plotted", None,
          figures),
    Check("notebook.permutations", "the permutation demonstration of Step 6", None,
          permutations),
)  # fmt: skip
IDS = tuple(c.id for c in CHECKS)
