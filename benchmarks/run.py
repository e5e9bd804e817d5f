"""Benchmarks: the package against the straightforward baseline, side by side, in one run.

    python benchmarks/run.py            # full: about 3 minutes on a 2-core CPU
    python benchmarks/run.py --quick    # fewer steps: about 1 minute

Prints a table (workload, baseline, ours, ratio, target, met) with the targets of issue 15 and
writes it with the run's conditions to benchmarks/results/<timestamp>.json. The baseline is
benchmarks/baseline.py. Rows whose baseline would take hours time the baseline on fewer steps
and scale by the step and model counts; the notes say how. `measure()` returns the same record
(rows, conditions, and the metrics of the study it timed), which docs/record.py reuses.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.append(str(HERE))  # for baseline.py when loaded by docs/record.py
import baseline  # noqa: E402

from deepsets.data import make_data  # noqa: E402
from deepsets.engine.settings import Engine, cores  # noqa: E402
from deepsets.engine.train import train_many  # noqa: E402
from deepsets.models import DeepSet  # noqa: E402
from deepsets.studies.exercise.plan import Plan, sweep_variants  # noqa: E402
from deepsets.studies.exercise.run import declare, run_study  # noqa: E402
from deepsets.studies.exercise.settings import StudySettings  # noqa: E402
from deepsets.training import train  # noqa: E402

RESULTS = HERE / "results"
HEADLINE = HERE.parent / "docs" / "headline.png"  # the README's figure: the study's sweep
K_VALUES = (1, 8, 64, 256)
RATE = "model-steps/s"  # the unit of the K rows; bigger is better


def clock(fn: Callable[[], object], repeat: int = 1) -> float:
    """Best wall time of `repeat` calls of fn(), in seconds (best: least disturbed by others)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def row(
    name: str,
    base: float,
    ours: float,
    target: str,
    met: Callable[[float, float], bool] | None = None,
    unit: str = "s",
    note: str = "",
) -> dict[str, Any]:
    """One table row; `met(ratio, ours)` says whether the target is met (None: no target)."""
    ratio = ours / base if unit == RATE else base / ours
    return {"workload": name, "baseline": base, "ours": ours, "unit": unit, "ratio": ratio,
            "target": target, "met": None if met is None else bool(met(ratio, ours)),
            "note": note}  # fmt: skip


def at_least(x: float) -> Callable[[float, float], bool]:
    return lambda ratio, ours: ratio >= x


def twin(model: nn.Module) -> nn.Module:
    """The baseline's version of one of the study's models (same architecture)."""
    if isinstance(model, DeepSet):
        c = model.config
        return baseline.DeepSet(c["hidden"], c["activation"], c["latent"], c["pooling"])
    widths = tuple(m.out_features for m in model if isinstance(m, nn.Linear))[:-1]
    act = "tanh" if any(isinstance(m, nn.Tanh) for m in model) else "relu"
    return baseline.make_mlp(widths, act)


class BaselineClock:
    """Baseline seconds per training step of each distinct architecture, timed once."""

    def __init__(self, steps: int) -> None:
        self.steps, self.seen = steps, dict[str, float]()

    def seconds(self, models: list[nn.Module], steps: int) -> tuple[float, int]:
        """Baseline seconds to train every model for `steps` steps, one after another, from
        `self.steps` timed steps of each architecture; returns (seconds, distinct archs)."""
        counts = Counter(repr(twin(m)) for m in models)
        for m in models:
            key = repr(twin(m))
            if key not in self.seen:
                b = twin(m)
                self.seen[key] = clock(lambda b=b: baseline.train(b, self.steps)) / self.steps
        return sum(self.seen[k] * n * steps for k, n in counts.items()), len(counts)


def study_models(s: StudySettings) -> tuple[Plan, list[nn.Module]]:
    """The default study's plan and one fresh model per variant and seed, as run_study builds."""
    plan = Plan([s.seed + k for k in range(s.seeds)], torch.device("cpu"))
    declare(plan, s)
    models = [v.build(seed, plan.device) for v in plan.variants.values() for seed in plan.seeds]
    return plan, models


def data_rows() -> list[dict[str, Any]]:
    """make_data: one call, best of several."""
    g, rows = torch.Generator().manual_seed(0), []
    for N, rep in ((100, 50), (10_000, 5)):
        b = clock(lambda N=N: baseline.make_data(N), rep)
        o = clock(lambda N=N: make_data(N, generator=g), rep)
        rows.append(row(f"make_data({N})", b, o, ">= 10x", at_least(10)))
    return rows


def deepset_rows(quick: bool) -> list[dict[str, Any]]:
    """One DeepSet (same initial weights on both sides), then K DeepSets at once."""
    steps = 1000 if quick else 4000
    base_model, ours_model = baseline.DeepSet(), DeepSet()
    ours_model.load_state_dict(base_model.state_dict())
    b1 = clock(lambda: baseline.train(base_model, steps))
    o1 = clock(lambda: train(ours_model, steps, seed=0, progress=False))
    rows = [row(f"one DeepSet, {steps} steps", b1, o1, ">= 4x", at_least(4))]
    rate = steps / b1  # the baseline trains models one after another at this rate
    k_steps = 200 if quick else 500
    train_many([DeepSet(generator=k) for k in range(8)], 20, seeds=list(range(8)))  # warm-up
    for K in K_VALUES:
        models = [DeepSet(generator=k) for k in range(K)]
        seeds = list(range(K))
        o = clock(lambda m=models, s=seeds: train_many(m, k_steps, seeds=s,
            engine=Engine(progress=False)), 2)
        target, met = "", None
        if K == 64:
            target, met = ">= 60x", at_least(60)
        elif K == 256:
            at_64 = rows[-1]["ours"]  # "no worse" up to 5%: single rows move more with load
            target, met = "no worse than K = 64", lambda ratio, ours, a=at_64: ours >= 0.95 * a
        name, note = f"K = {K} DeepSets ({k_steps} steps)", "baseline: sequential, one-DeepSet rate"
        rows.append(row(name, rate, K * k_steps / o, target, met, RATE, note))
    return rows


def sweep_row(quick: bool, base: BaselineClock) -> dict[str, Any]:
    """The study's MLP sweep (question 7a): every architecture x seeds, by train_many."""
    s = StudySettings()
    steps = 500 if quick else s.steps
    cpu = torch.device("cpu")
    sweep = [v.build(seed, cpu) for v in sweep_variants(s) for seed in range(s.seeds)]
    b, n_arch = base.seconds(sweep, steps)
    seeds = list(range(s.seeds)) * n_arch
    o = clock(lambda: train_many(sweep, steps, seeds=seeds, engine=Engine(progress=False)))
    return row(f"MLP sweep, {len(sweep)} models x {steps} steps", b, o, ">= 20x", at_least(20),
               note=f"baseline est.: {n_arch} architectures x {base.steps} steps, scaled to "
               f"{s.seeds} seeds and {steps} steps")  # fmt: skip


def workers_row(quick: bool, on_all: float) -> dict[str, Any]:
    """The default study (whole run_study) on one worker against a worker per core: the best
    of two runs of each, taken in turn (1, N, 1 here, after the study row's run on N, whose
    time is `on_all`), as one run of either moves by a few percent on a shared machine. The
    workers change the time only."""
    steps = 500 if quick else StudySettings().steps
    times: dict[int | None, list[float]] = {1: [], None: [on_all]}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, None, 1):
            settings = StudySettings(out=str(Path(tmp) / "run"), steps=steps, workers=workers,
                                     overwrite=True)  # fmt: skip
            times[workers].append(clock(functools.partial(run_study, settings)))
    n = cores()
    return row(f"deepsets run on {n} workers against 1", min(times[1]), min(times[None]),
               ">= 1.8x", at_least(1.8),
               note=f"baseline: the same study on 1 worker; ours: on {n} (one per core); "
               "whole run_study wall times, the best of two runs each, taken in turn; "
               "the same numbers")  # fmt: skip


# Refusals (issue 21: "every refusal before any work"; issue 31: in <= 3 s, torch imported), one of
# each kind: a bad value, memory refusals naming the flag (exercise, digits, popstats), a device
# deepsets does not run on, and the help text. Each is a fresh `deepsets` process, as a user
# starts it.
REFUSALS = {  # the arguments -> the exit status they must end with (2: refused)
    "run --workers 0": 2,
    "run --test-size 1000000000": 2,
    "run digits --test-sets 1000000000": 2,
    "run --device mps": 2,
    "run popstats --seeds 10000000000": 2,
    "--help": 0,
}


def process_seconds(argv: list[str], status: int = 0, repeat: int = 5) -> float:
    """Median wall time of `repeat` fresh processes of `argv`, each of which must exit with
    `status` (a RuntimeError otherwise: a refusal that did not refuse is not timed)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        times.append(time.perf_counter() - t)
        if done.returncode != status:
            raise RuntimeError(f"{argv} exited {done.returncode}, not {status}: {done.stderr}")
    return statistics.median(times)


def refusal_row(repeat: int = 5) -> dict[str, Any]:
    """The slowest of REFUSALS (each the median of `repeat` processes of the console script)
    against the median time of a process that only imports torch, which every refusal does."""
    exe = str(Path(sys.executable).with_name("deepsets"))
    ours = {
        argv: process_seconds([exe, *argv.split()], status, repeat)
        for argv, status in REFUSALS.items()
    }
    base = process_seconds([sys.executable, "-c", "import torch"], 0, repeat)
    slowest = max(ours, key=lambda argv: ours[argv])
    name = f"deepsets refusing a flag (or --help), slowest of {len(REFUSALS)}"
    return row(name, base, ours[slowest], "<= 3 s", lambda ratio, seconds: seconds <= 3,
               note=f"ours: the slowest refusal (deepsets {slowest}) of {len(REFUSALS)}, each the "
               f"median of {repeat} processes: " + ", ".join(REFUSALS) + "; baseline: python -c "
               f"'import torch', median of {repeat}")  # fmt: skip


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what `platform` knows."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def l2_per_core() -> str | None:
    """The L2 cache of one core (sysfs, e.g. "2048K"), None where the system does not say."""
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        with contextlib.suppress(OSError):
            if (index / "level").read_text().strip() == "2":
                return (index / "size").read_text().strip()
    return None


def study_row(quick: bool, base: BaselineClock) -> tuple[dict[str, Any], dict[str, Any]]:
    """The whole default study, run_study (training, evaluation, figures, report); returns the
    row and the study's metrics.json."""
    steps = 500 if quick else StudySettings().steps
    _, models = study_models(StudySettings())
    b, n_arch = base.seconds(models, steps)
    with tempfile.TemporaryDirectory() as tmp:
        settings = StudySettings(out=str(Path(tmp) / "run"), steps=steps)
        t = time.perf_counter()
        metrics = run_study(settings).metrics
        o = time.perf_counter() - t
        if not quick:  # the README's headline figure, from this recorded run
            shutil.copyfile(Path(tmp) / "run" / "figures" / "sweep.png", HEADLINE)
    r = row(f"deepsets run, {len(models)} models x {steps} steps", b, o, ">= 30x, <= 60 s",
            lambda ratio, ours: ratio >= 30 and ours <= 60,
            note=f"ours: whole run_study wall time; baseline est.: training only, {n_arch} "
            f"architectures x {base.steps} steps (masked variants on sets of 10), scaled to "
            f"every seed and {steps} steps")  # fmt: skip
    return r, metrics


def bench(quick: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every row, and the metrics of the study the study row timed."""
    np.random.seed(0)  # noqa: NPY002 (the baseline uses the global RNG)
    torch.manual_seed(0)
    base = BaselineClock(50 if quick else 200)
    rows = data_rows() + deepset_rows(quick) + [sweep_row(quick, base)]
    study, metrics = study_row(quick, base)
    return [*rows, study, workers_row(quick, study["ours"]), refusal_row()], metrics


def measure(quick: bool = False, threads: int = 1) -> dict[str, Any]:
    """Run every row on `threads` torch threads; returns rows, conditions and study metrics."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    load_before, start = os.getloadavg(), time.perf_counter()
    try:
        rows, metrics = bench(quick)
    finally:
        torch.set_num_threads(before)
    conditions = {
        "quick": quick,
        "threads": threads,
        "cpus": os.cpu_count(),
        "cores": cores(),  # those this process may use: the engine's workers
        "cpu_model": cpu_model(),
        "l2_per_core": l2_per_core(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "seconds": time.perf_counter() - start,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }
    return {"rows": rows, "conditions": conditions, "study": metrics}


def compare_threads(steps: int = 100) -> dict[int, float]:
    """Seconds per 4000 steps of train_many on the study's models, on 1 and on 2 threads."""
    s = StudySettings()
    plan, models = study_models(s)
    seeds = plan.seeds * len(plan.variants)
    out = {}
    for n in (1, 2):
        e = Engine(progress=False, threads=n)
        train_many(models, 5, seeds=seeds, engine=e)  # warm up
        t = clock(lambda e=e: train_many(models, steps, seeds=seeds, engine=e))
        out[n] = t * s.steps / steps
    return out


def show(rows: list[dict[str, Any]]) -> str:
    """The table as text, with the notes under it."""
    lines = [f"{'workload':44} {'baseline':>12} {'ours':>12} {'ratio':>8}  {'target':22} met"]
    for r in rows:
        fmt = "{:>12.0f}" if r["unit"] == RATE else "{:>11.4g}s"
        met = {None: "", True: "yes", False: "NO"}[r["met"]]
        lines.append(
            f"{r['workload']:44} {fmt.format(r['baseline'])} {fmt.format(r['ours'])} "
            f"{r['ratio']:>7.1f}x  {r['target']:22} {met}"
        )
    notes = [f"  {r['workload']}: {r['note']}" for r in rows if r["note"]]
    return "\n".join(lines + (["notes:", *notes] if notes else []))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer steps (about 1 minute)")
    p.add_argument("--threads", type=int, default=1, help="torch threads for both sides")
    p.add_argument("--out", type=Path, default=None, help="JSON path (default: results/<time>)")
    p.add_argument("--compare-threads", action="store_true",
                   help="only time the study's training on 1 and 2 threads")  # fmt: skip
    args = p.parse_args(argv)
    if args.compare_threads:
        for n, seconds in compare_threads().items():
            print(f"study training, 4000 steps (from 100), {n} thread(s): {seconds:.1f} s")
        print(f"load average: {os.getloadavg()}")
        return
    record = measure(args.quick, args.threads)
    print(show(record["rows"]))
    print(f"conditions: {json.dumps(record['conditions'])}")
    out = args.out or RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({k: record[k] for k in ("rows", "conditions")}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
