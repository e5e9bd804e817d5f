"""Where a training step's time goes, next to what each op costs at best on this machine.

    python benchmarks/limits.py        # about 30 s on a 2-core CPU

For two steps, 64 DeepSets trained at once (K = 64) and one step of the default study (every
stack of its 175 models), prints the time per op group from torch.profiler next to that
group's limit: the cheapest implementation of the same work measured alone, on the same
shapes, on this machine, without autograd or the training loop around it:

- activations: per activation tensor of the step, its forward and backward kernels, the
  cheaper of torch.tanh and the sigmoid identity of FastTanh (2 sigmoid(2x) - 1);
- matmuls: every layer's forward baddbmm and backward bmm's, the faster of the two layouts
  (features first, as the engine runs them, or rows first), with their GFLOP/s;
- Adam: 7 float32 reads and writes per parameter at the memory bandwidth of a large copy;
- data: the package's data making for one step, as the engine calls it (chunks of 250);
- other (loss, pooling, autograd, views, Python): no limit, counted as 0.

The step's distance from its limit is its unprofiled wall time over the sum of the limits.
The profiler's op names are grouped by name (so FastTanh's mul/sub count as activations), and
the profiler's own overhead makes the profiled column sum to more than the unprofiled step.
`profile_all()` returns the same numbers; docs/record.py stores them in docs/results.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.append(str(HERE))  # for benchmarks/run.py when loaded by docs/record.py

import torch  # noqa: E402
from run import clock  # noqa: E402  (benchmarks/run.py)
from torch import nn  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from deepsets.engine.families import StackedDeepSet, StackedMLP, stack_models  # noqa: E402
from deepsets.engine.families.layers import StackedLayers  # noqa: E402
from deepsets.engine.settings import Engine  # noqa: E402
from deepsets.engine.sources import Streams  # noqa: E402
from deepsets.engine.train import train_many  # noqa: E402
from deepsets.models import DeepSet  # noqa: E402

B = 100  # sets per step, as the study trains
WALL = 200  # unprofiled steps timed per case
TOP = 4  # ops listed per group


@dataclass(frozen=True)
class Models:
    """Models trained by one train_many call: their data seeds and set sizes."""

    models: list[nn.Module]
    seeds: list[int]
    sizes: tuple[int, int] | None = None

    @property
    def n_objects(self) -> int:
        return 10 if self.sizes is None else self.sizes[1]


GROUPS = {  # op group -> the profiler's op names in it (anything else is "other")
    "activations": {"tanh", "tanh_", "tanh_backward", "sigmoid", "sigmoid_",
                    "sigmoid_backward", "relu", "relu_", "threshold_backward", "clamp_min", "mul",
                    "mul_", "sub_"},
    "Adam": {"lerp_", "addcmul_", "sqrt", "addcdiv_"},
    "matmuls": {"baddbmm", "bmm", "mm", "addmm", "matmul"},
    "data": {"rand", "uniform_", "argsort", "sort", "scatter_", "zeros_like", "lt", "ge",
             "where", "stack", "randint", "index_select", "arange", "index"},
}  # fmt: skip


def group_of(op: str) -> str:
    name = op.removeprefix("aten::")
    if name.startswith("_foreach") or "adam" in name.lower():
        return "Adam"
    if name.startswith("FastTanh"):  # the autograd Function's own (Python) time
        return "activations"
    return next((g for g, names in GROUPS.items() if name in names), "other")


def best_time(fn: Callable[[], object], repeat: int = 20) -> float:
    """Best of `repeat` calls of fn(), in seconds, after one warm-up call."""
    fn()
    return clock(fn, repeat)


@dataclass(frozen=True)
class Work:
    """The arithmetic of one training step: activation tensors, matmuls, parameters."""

    activations: list[tuple[str, tuple[int, int, int]]]  # (kind, (K, D, M)) per activation
    linears: list[tuple[int, int, int, int]]  # (K, out, in, M) per stacked Linear
    params: int


def layers_work(layers: StackedLayers, K: int, D: int, M: int, work: Work) -> None:
    """Add a StackedLayers' activations and matmuls on x (K, D, M) to `work`."""
    for j, ops in enumerate(layers.ops):
        out, D_in = layers.members[2 * j][0].shape  # a member's (out, in)
        work.linears.append((K, out, D_in, M))
        for op in ops:
            if not isinstance(op, nn.Identity):
                kind = "sigmoid" if isinstance(op, nn.Sigmoid) else type(op).__name__.lower()
                work.activations.append((kind, (K, out, M)))


def step_work(groups: Sequence[Models]) -> Work:
    """The work of one step of every stack of every group."""
    work = Work([], [], 0)
    for g in groups:
        N = g.n_objects
        for stack, _ in stack_models(g.models):
            K = len(stack.models)
            if isinstance(stack, StackedDeepSet):
                L = stack.rho.members[0][0].shape[1]  # rho's first weight (H, L)
                layers_work(stack.phi, K, 1, B * N, work)
                layers_work(stack.rho, K, L, B, work)
            elif isinstance(stack, StackedMLP):
                layers_work(stack.layers, K, N, B, work)
    params = sum(p.numel() for g in groups for m in g.models for p in m.parameters())
    return Work(work.activations, work.linears, params)


def activation_limit(kind: str, shape: tuple[int, int, int]) -> tuple[float, float]:
    """(best, torch.tanh's) seconds of one activation's forward and backward kernels."""
    x, g = torch.randn(shape), torch.randn(shape)
    if kind == "tanh":
        plain = best_time(lambda: torch.ops.aten.tanh_backward(g, torch.tanh(x)))
        fast = best_time(
            lambda: torch.ops.aten.tanh_backward(g, torch.sigmoid(2 * x).mul_(2).sub_(1))
        )
        in_place = best_time(  # the identity in place, on a fresh tensor (here a clone)
            lambda: torch.ops.aten.tanh_backward(g, x.clone().mul_(2).sigmoid_().mul_(2).sub_(1))
        )
        return min(plain, fast, in_place), plain
    if kind == "sigmoid":
        t = best_time(lambda: torch.ops.aten.sigmoid_backward(g, torch.sigmoid(x)))
    else:  # relu
        t = best_time(lambda: torch.ops.aten.threshold_backward(g, torch.relu(x), 0))
    return t, t


def matmul_limit(K: int, out: int, D_in: int, M: int) -> float:
    """Seconds of one Linear's forward and backward matmuls, the faster layout."""
    W, b = torch.randn(K, out, D_in), torch.randn(K, out, 1)
    x, g = torch.randn(K, D_in, M), torch.randn(K, out, M)  # features first, as the engine
    xr, gr = x.transpose(1, 2).contiguous(), g.transpose(1, 2).contiguous()  # rows first
    Wt = W.transpose(1, 2).contiguous()

    def features_first() -> None:
        torch.baddbmm(b, W, x), torch.bmm(g, x.transpose(1, 2)), torch.bmm(W.transpose(1, 2), g)

    def rows_first() -> None:
        torch.baddbmm(b.transpose(1, 2), xr, Wt), torch.bmm(xr.transpose(1, 2), gr)
        torch.bmm(gr, W)

    return min(best_time(features_first), best_time(rows_first))


def bandwidth() -> float:
    """Bytes per second of a 64 MB float32 copy (one read and one write per element)."""
    x = torch.randn(1 << 24)
    y = torch.empty_like(x)
    return 2 * 4 * x.numel() / best_time(lambda: y.copy_(x), 5)


def data_limit(groups: Sequence[Models]) -> float:
    """Seconds per step of the package's data making for every group, 250 steps at a time."""
    total = 0.0
    for g in groups:
        streams = Streams(g.seeds, B, g.n_objects, g.sizes, torch.device("cpu"))
        total += best_time(lambda s=streams: list(s.chunks(250)), 3) / 250
    return total


@dataclass(frozen=True)
class Group:
    group: str
    profiled_ms: float
    limit_ms: float
    how: str
    ops: list[tuple[str, float]]
    """The group's costliest ops in the profile: (name, ms per step), at most TOP."""


@dataclass(frozen=True)
class Case:
    name: str
    step_ms: float
    """Unprofiled wall time of one training step."""
    groups: list[Group]
    limit_ms: float
    distance: float
    """step_ms / limit_ms."""


def run(groups: Sequence[Models], steps: int) -> None:
    for g in groups:
        train_many(g.models, steps, seeds=g.seeds, sizes=g.sizes,
            engine=Engine(progress=False, workers=1))


def profile_case(name: str, groups: list[Models], steps: int) -> Case:
    """Profile `steps` training steps of every group, then measure the limits."""
    run(groups, 5)  # warm up
    # the wall time of WALL steps: a longer and a shorter run, so set-up costs cancel
    step = best_time(lambda: run(groups, 50 + WALL), 1) - best_time(lambda: run(groups, 50), 1)
    step /= WALL
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run(groups, steps)
    by_group: dict[str, list[tuple[str, float]]] = {}
    for e in prof.key_averages():
        ms = e.self_cpu_time_total / 1e3 / steps
        by_group.setdefault(group_of(e.key), []).append((e.key.removeprefix("aten::"), ms))
    work = step_work(groups)
    acts = [activation_limit(kind, shape) for kind, shape in work.activations]
    mm = sum(matmul_limit(*lin) for lin in work.linears)
    flops = sum(3 * 2 * K * o * i * M for K, o, i, M in work.linears)
    bw = bandwidth()
    limits = {
        "activations": (sum(a for a, _ in acts), "the cheapest tanh kernels on the same shapes "
                        f"(torch.tanh's: {sum(p for _, p in acts) * 1e3:.2f} ms)"),
        "matmuls": (mm, f"the same baddbmm/bmm alone, {flops / mm / 1e9:.1f} GFLOP/s"),
        "Adam": (7 * 4 * work.params / bw, f"7 x 4 bytes x {work.params:,} parameters at "
                 f"{bw / 1e9:.1f} GB/s"),
        "data": (data_limit(groups), "the package's make_batches for one step, 250 at a time"),
        "other": (0.0, "loss, pooling, autograd, views, Python: no limit"),
    }  # fmt: skip
    rows = []
    for g, (t, how) in limits.items():
        ops = sorted(by_group.get(g, []), key=lambda op: -op[1])
        rows.append(Group(g, sum(ms for _, ms in ops), t * 1e3, how, ops[:TOP]))
    limit = sum(r.limit_ms for r in rows)
    return Case(name, step * 1e3, rows, limit, step * 1e3 / limit)


def study_groups() -> list[Models]:
    """The default study's models, one group per set-size range, as Plan.train trains them."""
    from run import study_models  # benchmarks/run.py

    from deepsets.studies.exercise.settings import StudySettings

    plan, models = study_models(StudySettings())
    runs = [(v.set_sizes, seed) for v in plan.variants.values() for seed in plan.seeds]
    groups = []
    for sizes in dict.fromkeys(s for s, _ in runs):
        index = [i for i, (s, _) in enumerate(runs) if s == sizes]
        groups.append(Models([models[i] for i in index], [runs[i][1] for i in index], sizes))
    return groups


def profile_all(steps: int = 30) -> list[Case]:
    """The K = 64 DeepSet step and the default study's step, each against its limit.

    On one core: one worker thread (the profiler follows the main thread only) and one torch
    thread, against limits measured on one core; benchmarks/levers.py has the second worker.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as train_many runs
    try:
        k64 = [Models([DeepSet(generator=k) for k in range(64)], list(range(64)))]
        return [
            profile_case("K = 64 DeepSets", k64, steps),
            profile_case("default study, 175 models", study_groups(), steps),
        ]
    finally:
        torch.set_num_threads(before)


def top_ops(g: Group) -> str:
    return ", ".join(f"{name} {ms:.2f}" for name, ms in g.ops)


def show(case: Case) -> str:
    head = f"  {'op group':12} {'profiled ms':>11} {'limit ms':>9}  limit: how measured"
    lines = [f"{case.name}: one training step {case.step_ms:.2f} ms (unprofiled)", head]
    for g in case.groups:
        lines.append(f"  {g.group:12} {g.profiled_ms:>11.3f} {g.limit_ms:>9.3f}  {g.how}")
        lines.append(f"  {'':12} {'':>11} {'':>9}    ops: {top_ops(g)}")
    total = sum(g.profiled_ms for g in case.groups)
    lines.append(f"  {'sum':12} {total:>11.3f} {case.limit_ms:>9.3f}")
    lines.append(
        f"  step {case.distance:.1f}x its limit ({case.step_ms:.2f} / {case.limit_ms:.2f} ms)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=30, help="profiled steps per case")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = p.parse_args(argv)
    start = time.perf_counter()
    cases = profile_all(args.steps)
    if args.json:
        print(json.dumps([asdict(c) for c in cases], indent=2))
    else:
        print("\n\n".join(show(c) for c in cases))
    print(f"({time.perf_counter() - start:.0f} s)")


def as_json(cases: list[Case]) -> list[dict[str, Any]]:
    return [asdict(c) for c in cases]


if __name__ == "__main__":
    main()
