"""The speed levers of the engine, each timed on and off side by side in one run.

    python benchmarks/levers.py           # about a minute on a 2-core CPU
    python benchmarks/levers.py --quick   # fewer steps

A lever stays in the code only where this shows a gain of at least 1 + NOISE (1.25x) on the
work it serves, or where removing it misses a standing target (benchmarks/run.py);
docs/record.py records the table and renders it into benchmarks/README.md. Rows:

- workers: the study's models (sets of 10) trained by `train_many` on a worker per core (2 on
  a 2-core CPU) against one (`deepsets.engine.settings.EVERY_CORE`), and the workers as forked
  processes against threads (`deepsets.engine.forked.FORK`).
- FastTanh: the stacked forms' tanh as 2 sigmoid(2x) - 1 with its backward from the output
  on tensors of FAST_FROM values or more (`deepsets.engine.families.layers.FAST_TANH`), on 64
  DeepSets trained at once (benchmarks/limits.py compares the kernels alone).
- torch's fused Adam kernel (`deepsets.training.FUSED`) against its default loop over the
  weights, in `train` on one DeepSet and in `train_many` on the study's models.
- torch.compile: the K = 64 DeepSet step compiled against eager; the compile time (cold: a
  fresh cache) is its one-off cost, repaid after `pays_after` steps.

Removed after this benchmark showed less than 1.25x on the work they served (docs/engine.md,
"Levers"): hand-written stacked backward passes, Adam over one flat parameter (fused, or as a
hand-written update), narrow MLPs zero-padded into shared stacks.

A lever clearly faster (by more than NOISE) must be on in the code, one with no gain (or a
one-off cost not repaid within RUN_STEPS steps) off; in between the code may go either way.
tests/test_recorded.py checks the code against the record.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.append(str(HERE))  # for benchmarks/run.py when loaded by docs/record.py
# torch.compile caches compiled code across runs; time it cold, as a first run meets it
os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="deepsets-inductor-")
from run import study_models  # noqa: E402

from deepsets import DeepSet, training  # noqa: E402
from deepsets.engine import forked, settings  # noqa: E402
from deepsets.engine.families import layers, stack_models  # noqa: E402
from deepsets.engine.losses import per_model  # noqa: E402
from deepsets.engine.settings import TORCH_THREADS, Engine, torch_threads  # noqa: E402
from deepsets.engine.sources import Streams  # noqa: E402
from deepsets.engine.train import train_many  # noqa: E402
from deepsets.studies.exercise.settings import StudySettings  # noqa: E402
from deepsets.training import train  # noqa: E402

NOISE = 0.25  # a lever must gain at least 1.25x; side-by-side runs differ by up to ~20%
RUN_STEPS = 4000  # the exercise's run: a one-off cost must pay within it


def verdict(gain: float, pays_after: float, once: float) -> str:
    """ "keep" (clearly faster), "drop" (no gain, or a one-off cost not repaid in a run) or
    "noise" (a gain within the machine's noise: the code may go either way)."""
    if once and pays_after > RUN_STEPS:
        return "drop"
    return "keep" if gain >= 1 + NOISE else "drop" if gain <= 1 else "noise"


def lever(
    name: str, off: float, on: float, unit: str, once: float = 0.0, in_code: bool = False
) -> dict[str, Any]:
    """A row: times off and on (seconds per `unit`), a one-off cost `once` (seconds), and
    whether the code has the lever on."""
    gain = off / on
    pays_after = once / (off - on) if off > on else float("inf")  # units until `once` is repaid
    return {"lever": name, "off": off, "on": on, "unit": unit, "gain": gain, "once": once,
            "pays_after": pays_after, "verdict": verdict(gain, pays_after, once),
            "in_code": in_code}  # fmt: skip


def study_step_seconds(steps: int) -> float:
    """Seconds per step of `train_many` on the study's models for sets of 10 objects."""
    _, models = study_models(StudySettings())
    plan_seeds = [k % 5 for k in range(len(models))]  # the study's seeds 0..4, per variant
    start = time.perf_counter()
    train_many(models, steps, seeds=plan_seeds, engine=Engine(progress=False))
    return (time.perf_counter() - start) / steps


def k64_step_seconds(steps: int) -> float:
    """Seconds per step of `train_many` on 64 DeepSets (the K = 64 benchmark row)."""
    models = [DeepSet(generator=k) for k in range(64)]
    start = time.perf_counter()
    train_many(models, steps, seeds=list(range(64)), engine=Engine(progress=False))
    return (time.perf_counter() - start) / steps


def one_step_seconds(steps: int) -> float:
    """Seconds per step of `train` on one DeepSet (4 x the steps: a step is short)."""
    start = time.perf_counter()
    train(DeepSet(generator=0), 4 * steps, seed=0, progress=False)
    return (time.perf_counter() - start) / (4 * steps)


# name (with the workload it is measured on: where the lever is meant to act), owner,
# attribute, off, on, workload
SWITCHES: list[tuple[str, Any, str, Any, Any, Callable[[int], float]]] = [
    (f"{settings.cores()} workers (study models, sets of 10)", settings, "EVERY_CORE", False,
     True, study_step_seconds),
    ("workers as forked processes, not threads (study models)", forked, "FORK", False, True,
     study_step_seconds),
    ("FastTanh through autograd in the stacked forms (K = 64 DeepSets)", layers, "FAST_TANH",
     False, True, k64_step_seconds),
    ("torch's fused Adam kernel (one DeepSet, train)", training, "FUSED", False, True,
     one_step_seconds),
    ("torch's fused Adam kernel (study models, train_many)", training, "FUSED", False, True,
     study_step_seconds),
]  # fmt: skip


def switch_rows(steps: int) -> list[dict[str, Any]]:
    """Each switch off and on, alternated twice (the better time of each side)."""
    rows = []
    for name, owner, attr, off_value, on_value, workload in SWITCHES:
        kept = getattr(owner, attr)
        times: dict[str, list[float]] = {"off": [], "on": []}
        try:
            for _ in range(2):
                for side, value in (("off", off_value), ("on", on_value)):
                    setattr(owner, attr, value)
                    times[side].append(workload(steps))
        finally:
            setattr(owner, attr, kept)
        on = kept == on_value
        rows.append(lever(name, min(times["off"]), min(times["on"]), "step", in_code=on))
    return rows


def compile_rows(steps: int) -> list[dict[str, Any]]:
    """The K = 64 DeepSet step, eager and compiled; the compile time as a note."""
    models = [DeepSet(generator=k) for k in range(64)]
    ((stack, _),) = stack_models(models)

    def step_loss(weights: list[torch.Tensor], X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = stack.forward(iter(weights), X, None)  # (K, B)
        return per_model("bce")(p, y).sum()

    def per_step(f: Callable[..., torch.Tensor]) -> tuple[float, float]:
        weights = [t.clone().requires_grad_(True) for t in stack.init()]
        opt = torch.optim.Adam(weights, 1e-3, foreach=True)
        X, y, _ = next(Streams(list(range(64)), 100, 10, None, torch.device("cpu")).chunks(1))
        t0 = time.perf_counter()
        for t in range(steps + 1):
            if t == 1:
                first, t1 = time.perf_counter() - t0, time.perf_counter()
            loss = f(weights, X[0], y[0])
            opt.zero_grad()
            torch.autograd.backward(loss)
            opt.step()
        return first, (time.perf_counter() - t1) / steps

    eager_first, eager = per_step(step_loss)
    first, compiled = per_step(torch.compile(step_loss))
    name = "torch.compile of the K = 64 DeepSet step"
    return [lever(name, eager, compiled, "step", once=first - eager_first)]


def measure_levers(quick: bool = False) -> list[dict[str, Any]]:
    """Every lever's row."""
    steps = 60 if quick else 300
    with torch_threads(TORCH_THREADS):
        return [*switch_rows(steps), *compile_rows(steps)]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer steps")
    for r in measure_levers(p.parse_args(argv).quick):
        print(f"{r['lever']:55s} off {r['off'] * 1e3:8.2f} ms  on {r['on'] * 1e3:8.2f} ms  "
              f"gain {r['gain']:.2f}x  once {r['once']:.1f} s  {r['verdict']}, "
              f"in the code: {r['in_code']}")  # fmt: skip


if __name__ == "__main__":
    main()
