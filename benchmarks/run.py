"""Benchmarks: the package against the straightforward baseline, side by side, in one run.

    python benchmarks/run.py            # full: about 2-3 minutes on a 2-core CPU
    python benchmarks/run.py --quick    # fewer steps: about 40 s

Prints a table (workload, baseline time, ours, ratio, target) and writes it with the run's
conditions to benchmarks/results/<timestamp>.json. The baseline is benchmarks/baseline.py.
Rows whose baseline would take hours time the baseline on fewer steps or fewer models and
scale by the step/model count; the table marks those times "est." and says how.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import baseline  # noqa: E402

from deepsets.data import make_data  # noqa: E402
from deepsets.models import DeepSet, make_mlp  # noqa: E402
from deepsets.study import extras  # noqa: E402
from deepsets.study.run import Plan, declare, run_study  # noqa: E402
from deepsets.study.settings import StudySettings, sweep_architectures  # noqa: E402
from deepsets.training import (
    train,  # noqa: E402
    train_many,  # noqa: E402
)

RESULTS = Path(__file__).resolve().parent / "results"


def clock(fn, repeat: int = 1) -> float:
    """Best wall time of `repeat` calls of fn(), in seconds (best: least disturbed by others)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def row(name: str, base: float, ours: float, target: str, unit: str = "s", note: str = "") -> dict:
    """One table row; for unit 'model-steps/s' bigger is better, so the ratio is ours/base."""
    ratio = ours / base if unit == "model-steps/s" else base / ours
    return {"workload": name, "baseline": base, "ours": ours, "unit": unit, "ratio": ratio,
            "target": target, "note": note}  # fmt: skip


def twin(model: nn.Module) -> nn.Module:
    """The baseline's version of one of the study's models (same architecture)."""
    if isinstance(model, DeepSet):
        c = model.config
        return baseline.DeepSet(c["hidden"], c["activation"], c["latent"], c["pooling"])
    widths = tuple(m.out_features for m in model if isinstance(m, nn.Linear))[:-1]
    act = "tanh" if any(isinstance(m, nn.Tanh) for m in model) else "relu"
    return baseline.make_mlp(widths, act)


def baseline_per_model(models: list[nn.Module], steps: int) -> tuple[float, int]:
    """Baseline seconds to train one of each distinct architecture for `steps` steps, scaled
    by how many models of it there are; returns (seconds for all models, distinct archs)."""
    counts = Counter(repr(twin(m)) for m in models)
    seen: dict[str, float] = {}
    for m in models:
        key = repr(twin(m))
        if key not in seen:
            b = twin(m)
            seen[key] = clock(lambda b=b: baseline.train(b, steps))
    return sum(seen[k] * n for k, n in counts.items()), len(seen)


def study_models(s: StudySettings) -> list[nn.Module]:
    plan = Plan([s.seed + k for k in range(s.seeds)], torch.device("cpu"))
    declare(plan, s)
    extras.declare(plan, s)
    return [m for ms in plan.models.values() for m in ms]


def bench(quick: bool) -> list[dict]:
    rows = []
    np.random.seed(0)  # noqa: NPY002 (the baseline uses the global RNG)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)

    # make_data: one call, best of several
    for N, rep in ((100, 50), (10_000, 5)):
        b = clock(lambda N=N: baseline.make_data(N), rep)
        o = clock(lambda N=N: make_data(N, generator=g), rep)
        rows.append(row(f"make_data({N})", b, o, ">= 10x"))

    # one DeepSet, same initial weights
    steps = 1000 if quick else 4000
    base_model, ours_model = baseline.DeepSet(), DeepSet()
    ours_model.load_state_dict(base_model.state_dict())
    b1 = clock(lambda: baseline.train(base_model, steps))
    o1 = clock(lambda: train(ours_model, steps, seed=0, progress=False))
    rows.append(row(f"one DeepSet, {steps} steps", b1, o1, ">= 3x"))

    # K DeepSets at once: throughput in model-steps per second
    per_step = b1 / steps  # the baseline trains models one after another at this rate
    k_steps = 200 if quick else 500
    for K in (1, 8, 64, 256):
        models = [DeepSet() for _ in range(K)]
        seeds = list(range(K))
        o = clock(lambda m=models, s=seeds: train_many(m, k_steps, seeds=s, progress=False))
        rows.append(
            row(
                f"K = {K} DeepSets ({k_steps} steps)",
                1 / per_step,
                K * k_steps / o,
                ">= 50x at K = 64" if K == 64 else "",
                "model-steps/s",
                "baseline: sequential, rate of the one-DeepSet row",
            )  # fmt: skip
        )

    # the study's MLP sweep: 24 architectures x 5 seeds
    s = StudySettings()
    sweep_steps = 500 if quick else s.steps
    base_steps = 50 if quick else 200
    sweep = [make_mlp(**a) for a in sweep_architectures(s) for _ in range(s.seeds)]
    b, n_arch = baseline_per_model(sweep, base_steps)
    o = clock(lambda: train_many(sweep, sweep_steps, seeds=[0, 1, 2, 3, 4] * n_arch,
                                 progress=False))  # fmt: skip
    rows.append(row(f"MLP sweep, {len(sweep)} models x {sweep_steps} steps",
                    b * sweep_steps / base_steps, o, ">= 20x",
                    note=f"baseline est.: {n_arch} architectures x {base_steps} steps, "
                    f"scaled x{s.seeds} seeds and to {sweep_steps} steps"))  # fmt: skip

    # the full default study (5 seeds): training, evaluation, figures, report
    study_steps = 500 if quick else s.steps
    everything = study_models(s)
    b, n_arch = baseline_per_model(everything, base_steps)
    with tempfile.TemporaryDirectory() as tmp:
        settings = StudySettings(out=str(Path(tmp) / "run"), steps=study_steps)
        o = clock(lambda: run_study(settings))
    rows.append(row(f"deepsets run, {len(everything)} models x {study_steps} steps",
                    b * study_steps / base_steps, o, ">= 20x, <= 60 s",
                    note=f"ours: whole run_study wall time; baseline est.: training only, "
                    f"{n_arch} architectures x {base_steps} steps, scaled x{s.seeds} seeds "
                    f"and to {study_steps} steps"))  # fmt: skip
    return rows


def compare_threads(steps: int = 100) -> dict[int, float]:
    """Seconds per 4000 steps of train_many on the study's models, on 1 and on 2 threads."""
    s = StudySettings()
    models = study_models(s)
    seeds = [s.seed + k for k in range(s.seeds)] * (len(models) // s.seeds)
    before, out = torch.get_num_threads(), {}
    for n in (1, 2):
        torch.set_num_threads(n)
        train_many(models, 5, seeds=seeds, progress=False)  # warm up
        out[n] = clock(lambda: train_many(models, steps, seeds=seeds, progress=False))
        out[n] *= s.steps / steps
    torch.set_num_threads(before)
    return out


def show(rows: list[dict]) -> str:
    lines = [f"{'workload':44} {'baseline':>12} {'ours':>12} {'ratio':>8}  target"]
    for r in rows:
        fmt = "{:>12.0f}" if r["unit"] == "model-steps/s" else "{:>11.4g}s"
        lines.append(
            f"{r['workload']:44} {fmt.format(r['baseline'])} {fmt.format(r['ours'])} "
            f"{r['ratio']:>7.1f}x  {r['target']}"
        )
    notes = [f"  {r['workload']}: {r['note']}" for r in rows if r["note"]]
    return "\n".join(lines + (["notes:", *notes] if notes else []))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer steps (about 40 s)")
    p.add_argument("--threads", type=int, default=1, help="torch threads for both sides")
    p.add_argument("--out", type=Path, default=None, help="JSON path (default: results/<time>)")
    p.add_argument(
        "--compare-threads",
        action="store_true",
        help="only time the study's training on 1 and 2 threads",
    )
    args = p.parse_args(argv)
    if args.compare_threads:
        for n, seconds in compare_threads().items():
            print(f"study training, 4000 steps (from 100), {n} thread(s): {seconds:.1f} s")
        print(f"load average: {os.getloadavg()}")
        return
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    start = time.perf_counter()
    rows = bench(args.quick)
    conditions = {
        "quick": args.quick,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "seconds": time.perf_counter() - start,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.processor() or platform.machine(),
    }
    print(show(rows))
    print(f"conditions: {json.dumps(conditions)}")
    out = args.out or RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "conditions": conditions}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
