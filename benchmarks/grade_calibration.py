"""False-failure rates of `deepsets grade`'s statistical checks on a correct solution.

    python benchmarks/grade_calibration.py    # about an hour on an idle 2-core CPU
    python benchmarks/grade_calibration.py --seeds 1000 --learn-seeds 20  # docs/grade.md: 34 min
    python benchmarks/grade_calibration.py --seeds 100 --learn-seeds 10   # a smoke test

Each statistical check must fail a correct solution at most once in 1,000 gradings
(deepsets/grade/checks.py says how each threshold is set). This grades the reference solution
of the tests (tests/grade_class/reference.py) with the grader's own probes and judges, in this
process and without the sandbox, under seeds 0, 1, ...: --seeds of them for the cheap checks
(data.random, deepset.sum_pooling, deepset.phi_nonlinear), --learn-seeds for deepset.learns
(4000 training steps each). It prints each check's failures, the rate, a 95% upper bound on
it (Clopper-Pearson; 3/n when none failed) and the margin of the closest passing seed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from deepsets.grade.checks import (
    CHECKS,
    CHI2_18_9999,
    MOVE_MIN,
    chi_square,
    largest_move,
    pooled_sets,
)  # fmt: skip
from deepsets.grade.probes import PROBES, reseed
from deepsets.grade.submissions import read

REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "grade_class" / "reference.py"
CHEAP = ("data.random", "deepset.sum_pooling", "deepset.phi_nonlinear")


def margin(check: str, raw: dict[str, Any]) -> float:
    """How far the measured value sat inside its threshold (a ratio; > 1 passes)."""
    if check == "data.random":
        X = pooled_sets(raw)
        T = chi_square(X)[0] if X is not None else float("inf")
        return CHI2_18_9999 / max(T, 1e-12)
    if check == "deepset.sum_pooling":
        return largest_move(raw["single"], raw["doubled"]) / MOVE_MIN
    if check == "deepset.phi_nonlinear":
        return largest_move(raw["three"], raw["five"], mean=True) / MOVE_MIN
    right = sum((o > 0.5) == (i >= 120) for i, o in enumerate(raw["outputs"]))
    return right / (0.95 * 372)


def upper_bound(failures: int, n: int) -> float:
    """A 95% upper bound on the failure rate (exact for 0 failures: 1 - 0.05**(1/n))."""
    if failures == 0:
        return 1 - 0.05 ** (1 / n)
    from scipy.stats import beta

    return float(beta.ppf(0.975, failures + 1, n - failures))


def calibrate(check: str, seeds: int) -> dict[str, Any]:
    """Grade the reference `seeds` times for one check; its failures and closest margin."""
    submission = read(REFERENCE, "reference")
    namespace: dict[str, Any] = {"__name__": "submission"}
    exec(compile(submission.code, "submission.py", "exec"), namespace)
    judge = next(c for c in CHECKS if c.id == check)
    probe = PROBES[judge.probe or ""]
    failures, margins, start = 0, [], time.perf_counter()
    for seed in range(seeds):
        reseed(seed * 1000 + list(PROBES).index(judge.probe or ""))
        raw = probe(dict(namespace), {"steps": 4000})
        failures += not judge.judge(raw, submission).passed
        margins.append(margin(check, raw))
    return {
        "check": check, "gradings": seeds, "failures": failures, "rate": failures / seeds,
        "upper_95": upper_bound(failures, seeds), "closest_margin": min(margins),
        "seconds": time.perf_counter() - start,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3000, help="gradings of the cheap checks")
    parser.add_argument("--learn-seeds", type=int, default=100, help="gradings of learns")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for check, seeds in [*((c, args.seeds) for c in CHEAP), ("deepset.learns", args.learn_seeds)]:
        r = calibrate(check, seeds)
        rows.append(r)
        print(f"{r['check']:24} {r['failures']} of {r['gradings']} failed (95% bound "
              f"{r['upper_95']:.2%}); closest margin {r['closest_margin']:.3g}x; "
              f"{r['seconds']:.0f} s", flush=True)  # fmt: skip
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
