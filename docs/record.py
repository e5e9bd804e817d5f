"""Record every number the READMEs quote, then render those numbers into the READMEs.

    python docs/record.py            # study + benchmarks + profile + test suite: 4-5 minutes
    python docs/record.py --collect-tests   # the same, but only count the tests (1 minute less)
    python docs/record.py --quick    # a smoke test of the mechanism (about 1.5 minutes)
    python docs/record.py --render   # no measuring: re-render the READMEs from docs/results.json
    python docs/record.py --study digits   # run `deepsets run digits` alone and record it
    python docs/record.py --cluster  # the studies on a local Dask cluster (about 5 minutes)
    python docs/record.py --setup    # the README's one-time set-up, in a fresh clone (3 minutes)

Recording runs `benchmarks/run.py`'s rows (whose study row is the default study, `run_study`:
its metrics.json is kept, so the study runs once), `benchmarks/limits.py` and the test suite,
and writes everything with the date, load average and versions to docs/results.json. Run it on
an idle machine: the timings move by 10-50% with load. A `--quick` record says so in every
block it renders.

In README.md, benchmarks/README.md and the documentation pages of DOCS, the text between
`<!-- recorded:begin NAME -->` and `<!-- recorded:end -->` is `blocks(record)[NAME]`: the
README's opening table, the exercise page's answers, the engine page's speed section, the
studies' results, and the benchmark and profile tables. tests/test_recorded.py re-renders the
blocks from docs/results.json and fails when a README differs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "results.json"
DOCS = (  # every page that quotes recorded numbers
    ROOT / "README.md",
    ROOT / "benchmarks" / "README.md",
    ROOT / "docs" / "studies" / "exercise.md",
    ROOT / "docs" / "studies" / "digits.md",
    ROOT / "docs" / "studies" / "theory.md",
    ROOT / "docs" / "engine.md",
    ROOT / "docs" / "cluster.md",
    ROOT / "docs" / "studies" / "popstats.md",
)
BLOCK = re.compile(r"(<!-- recorded:begin ([\w-]+) -->\n)(.*?)(<!-- recorded:end -->)", re.S)

IDLE_LOAD = 0.5  # a 1-minute load average above this: warn that the timings will be off
Record = dict[str, Any]


# ---------------------------------------------------------------- recording


def load_script(name: str) -> ModuleType:
    """benchmarks/<name>.py as a module (benchmarks/ is not a package)."""
    path = ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def count_tests(run: bool) -> dict[str, Any]:
    """The test suite: run (passed, failed, seconds) or only collected (count)."""
    args = ["-q", "-rf", "-p", "no:cacheprovider"] + ([] if run else ["--collect-only"])
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "pytest", *args], cwd=ROOT, capture_output=True, text=True
    ).stdout
    print("".join(line + "\n" for line in out.splitlines() if line.startswith("FAILED")), end="")
    return pytest_summary(out, time.perf_counter() - start if run else None)


def record_setup() -> Record:
    """The README's one-time set-up, timed: `make .venv/bin/.installed` in a fresh clone of
    this repository's HEAD (a new venv, the pinned packages from the machine's caches)."""
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "fresh"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        start = time.perf_counter()
        subprocess.run(["make", "-s", ".venv/bin/.installed"], cwd=clone, check=True,
                       capture_output=True)  # fmt: skip
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": platform.processor() or platform.machine()}  # fmt: skip


def pytest_summary(out: str, seconds: float | None) -> dict[str, Any]:
    """The counts of pytest -q's last line; `seconds` None: the suite was only collected."""
    found = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|tests? collected)", out)}
    if seconds is not None:
        passed, failed = found.get("passed", 0), found.get("failed", 0)
        return {"mode": "run", "passed": passed, "failed": failed, "seconds": seconds}
    collected = found.get("tests collected", found.get("test collected", 0))
    return {"mode": "collect", "collected": collected}


def record(quick: bool, run_tests: bool) -> Record:
    """Measure everything the READMEs quote."""
    start, load_before = time.perf_counter(), os.getloadavg()
    bench = load_script("run").measure(quick)
    study = bench.pop("study")
    study["settings"].pop("out")  # a temporary directory
    profile, t = load_script("limits"), time.perf_counter()
    cases = profile.as_json(profile.profile_all())
    profile_seconds = time.perf_counter() - t
    levers = load_script("levers").measure_levers(quick)
    tests = count_tests(run_tests)
    return {
        "recorded": {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "quick": quick,
            "seconds": time.perf_counter() - start,
            "profile_seconds": profile_seconds,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "cpus": os.cpu_count(),
            "machine": platform.processor() or platform.machine(),
            "environment": study["environment"],
        },
        "benchmarks": bench,
        "study": study,
        "profile": cases,
        "levers": levers,
        "tests": tests,
    }


# ---------------------------------------------------------------- rendering


def sci(x: float, digits: int = 1) -> str:
    """8.8e-4 style: `digits` significant digits, no padded exponent."""
    if x == 0:
        return "0"
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def pct(x: float) -> str:
    return "100%" if x == 1 else f"{x:.1%}"


def seconds(x: float) -> str:
    """A duration as people read it: 0.057 ms, 4.3 ms, 112 ms, 2.5 s, 51 s."""
    if x < 0.01:
        return f"{x * 1e3:.2g} ms"
    if x < 1:
        return f"{x * 1e3:.0f} ms"
    return f"{x:.1f} s" if x < 10 else f"{x:.0f} s"


def times(ratio: float) -> str:
    """23x, or 6.2x below 10."""
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def wrap(text: str) -> str:
    """A markdown bullet wrapped at 100 columns, continuation lines indented."""
    return textwrap.fill(text, 100, subsequent_indent="  ", break_on_hyphens=False,
                         break_long_words=False)  # fmt: skip


def seeds_word(k: int, n: int) -> str:
    return "every seed" if k == n else "no seed" if k == 0 else f"{k} of {n} seeds"


def and_list(xs: list[Any]) -> str:
    xs = [str(x) for x in xs]
    return xs[0] if len(xs) == 1 else f"{', '.join(xs[:-1])} and {xs[-1]}"


def quick_note(r: Record) -> str:
    """A warning in front of every block rendered from a --quick record."""
    if not r["recorded"]["quick"]:
        return ""
    return (
        "> **Numbers from a `--quick` record** (fewer steps: a smoke test, not the default run). "
        "Run `python docs/record.py` on an idle machine.\n\n"
    )


def step6(m: Record) -> str:
    from deepsets.studies.exercise.verdicts import ROUNDING

    inv = m["invariance"]
    ds, mlp = inv["deepset"]["max_change"], inv["mlp"]["max_change"]
    how = "float rounding" if ds <= ROUNDING else f"more than float rounding ({sci(ROUNDING)})"
    moves = "does not change at all" if ds == 0 else f"moves by at most {sci(ds)} ({how})"
    return (
        f"- **Step 6:** under {len(inv['permutations'])} random permutations the DeepSet's "
        f"output {moves}; the exercise's MLP's by up to {sci(mlp)}."
    )


def question_7a(m: Record) -> str:
    """The study's own answer (its verdict's sentence): the range of parameters its numbers
    support, by final loss and by accuracy."""
    return f"- **Question 7a:** {m['findings']['mlp_sweep']['sentence']}"


def question_7b(m: Record) -> str:
    from deepsets.studies.exercise.verdicts import LN2_TOLERANCE

    loss = m["linear_phi"]["score"]["final_loss"]
    near = sum(abs(v - math.log(2)) <= LN2_TOLERANCE for v in loss["values"])
    why = (
        "an affine `phi` commutes with the sum, and every set sums to 1 (3 x 1/3 = 5 x 1/5), "
        "so both classes pool to the same number."
    )
    head = "- **Question 7b:** with no nonlinearity in `phi` the loss"
    if near == len(loss["values"]):
        return f"{head} stays at **{loss['mean']:.5f} = ln 2** on every seed: {why}"
    return (
        f"{head} ends at {loss['mean']:.5f} (ln 2 = {math.log(2):.5f}), within "
        f"{LN2_TOLERANCE} of ln 2 on {seeds_word(near, len(loss['values']))}; in theory {why}"
    )


def beyond(m: Record) -> str:
    from deepsets.studies.exercise.verdicts import SOLVED

    if m["extras"] is None:
        return ""
    sz, e = m["extras"]["set_size"], m["extras"]
    sizes, n0 = sz["test_sizes"], sz["trained_on"]
    acc = dict(zip(sizes, sz["sum_pooling"]["mean"], strict=True))
    fails = [n for n, a in acc.items() if a < SOLVED]
    text = f"- **Beyond:** trained on sets of {n0}, sum pooling "
    if n0 in fails:
        text += f"does not even solve sets of {n0} ({acc[n0]:.0%})"
    elif fails:
        text += f"fails on sets of {and_list(fails)} (`(n - {n0}) phi(0)` shifts the pool)"
    else:
        text += f"holds at every size up to {max(sizes)}"
    lo, hi = sz["mixed_sizes"]
    mixed = list(zip(sizes, sz["sum_pooling_mixed"]["mean"], strict=True))
    bad = next(((n, a) for n, a in mixed if a < SOLVED), None)
    text += f"; trained on {lo}-{hi} objects it "
    if bad is None:
        text += f"holds at every size up to {max(sizes)}."
    elif bad[0] == sizes[0]:
        text += f"fails already on sets of {bad[0]} ({bad[1]:.0%})."
    else:
        held = [n for n, _ in mixed if n < bad[0]][-1]
        text += f"holds up to {held} ({bad[1]:.0%} at {bad[0]})."
    blind = e["learned_phi"]["max_pooling"]["max_is_phi0"]
    slopes = e["affine_pooling"]["max_pooling"]["slope"]
    k, k_affine = sum(blind), sum(a <= 0 for a in slopes)
    if k == len(blind) and k_affine == len(slopes):
        text += (
            " Max pooling fell into a blind spot on every seed (the learned `phi(0)` is its "
            "maximum), with or without a nonlinearity."
        )
    else:
        text += (
            f" Max pooling fell into a blind spot (the learned `phi(0)` is its maximum) on "
            f"{seeds_word(k, len(blind))} with a tanh `phi`, and on "
            f"{seeds_word(k_affine, len(slopes))} with an affine one."
        )
    return text


def answers(r: Record) -> str:
    m = r["study"]
    head = (
        f"What the default run ({m['settings']['seeds']} seeds, recorded {r['recorded']['date']} "
        f"on a {r['recorded']['cpus']}-core CPU) answers:\n"
    )
    bullets = [step6(m), question_7a(m), question_7b(m), beyond(m)]
    return quick_note(r) + head + "\n" + "\n".join(wrap(b) for b in bullets if b)


def commands(r: Record) -> str:
    m, t = r["study"], r["tests"]
    run = f"{m['timing']['wall_seconds']:.0f} s ({m['models_trained']} models x " + (
        f"{m['settings']['steps']} steps)"
    )
    setup = "the one-time set-up of `.venv`" + (
        f" ({r['setup']['seconds']:.0f} s, once)" if "setup" in r else ""
    )
    if t["mode"] == "run":
        tests, took = f"`{t['passed']} passed`", f"{t['seconds']:.0f} s"
    else:
        tests, took = f"result on {t['collected']} tests", "not timed in this record"
    return quick_note(r) + "\n".join(
        [
            "| command | what it prints | time on a 2-core CPU |",
            "|---|---|---|",
            "| `make run` | a progress bar, then tables: loss and accuracy of DeepSet vs MLP, the "
            "permutation check, the answers to the extra questions, and the path of "
            f"`report.html` | {run}, plus {setup} |",
            f"| `make test` | `ruff`'s `All checks passed!`, then pytest's {tests} | {took}, plus "
            "the same set-up |",
        ]
    )


def bench_cells(row: dict[str, Any]) -> tuple[str, str]:
    """The baseline and ours columns of a row, in its unit."""
    if row["unit"] == "model-steps/s":
        return f"{row['baseline']:,.0f}/s", f"{row['ours']:,.0f}/s"
    est = " (est.)" if "est." in row["note"] else ""
    return seconds(row["baseline"]) + est, seconds(row["ours"])


def cpu_named(c: dict[str, Any]) -> str:
    """The benchmark's CPU as the record names it: its model, cores and L2 cache per core (a
    record from before they were kept: the core count and the architecture)."""
    if "cpu_model" not in c:
        return f"a {c['cpus']}-core {c['machine']} CPU"
    l2 = f", {c['l2_per_core']} of L2 cache each" if c.get("l2_per_core") else ""
    return f"the CPU {c['cpu_model']} ({c['cores']} cores for the run{l2})"


def speed_table(r: Record) -> str:
    c = r["benchmarks"]["conditions"]
    load = f"{c['load_average_before'][0]:.1f} before, {c['load_average_after'][0]:.1f} after"
    lines = [
        f"Recorded {r['recorded']['date']} on {cpu_named(c)}, torch "
        f"{c['torch']}, {c['threads']} torch thread, load average {load}; the rows took "
        f"{c['seconds'] / 60:.1f} minutes.",
        "",
        "| workload | baseline | deepsets | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for row in r["benchmarks"]["rows"]:
        base, ours = bench_cells(row)
        met = {None: "", True: "yes", False: "**no**"}[row["met"]]
        lines.append(
            f"| {row['workload']} | {base} | {ours} | {row['ratio']:.1f}x | {row['target']} | "
            f"{met} |"
        )
    return quick_note(r) + "\n".join(lines)


LIMIT_TARGET = 2.0  # issue 15: a step within 2x of the sum of its ops' limits


def limits_sentence(r: Record) -> str:
    """How far each profiled step is from the sum of its ops' limits."""
    parts = [
        f"{c['name']}: {c['step_ms']:.1f} ms against {c['limit_ms']:.1f} ms, "
        f"**{c['distance']:.1f}x** ({'met' if c['distance'] <= LIMIT_TARGET else 'missed'})"
        for c in r["profile"]
    ]
    return (
        "A training step against the sum of its ops' limits (`benchmarks/limits.py`; the "
        f"target is {LIMIT_TARGET:.0f}x): {'; '.join(parts)}."
    )


def speed(r: Record) -> str:
    return speed_table(r) + "\n\n" + limits_sentence(r)


def profile_tables(r: Record) -> str:
    out = [
        quick_note(r) + f"Recorded {r['recorded']['date']} (`python docs/record.py`); the "
        f"profile took {r['recorded']['profile_seconds']:.0f} s. Ops in profiled ms per step."
    ]
    for c in r["profile"]:
        lines = [
            f"**{c['name']}**: one step {c['step_ms']:.2f} ms (unprofiled), "
            f"**{c['distance']:.1f}x** the sum of its limits ({c['limit_ms']:.2f} ms).",
            "",
            "| op group | profiled ms | limit ms | the limit | costliest ops |",
            "|---|---|---|---|---|",
        ]
        for g in c["groups"]:
            ops = ", ".join(f"{name} {ms:.2f}" for name, ms in g["ops"])
            lines.append(
                f"| {g['group']} | {g['profiled_ms']:.2f} | {g['limit_ms']:.3f} | {g['how']} | "
                f"{ops} |"
            )
        out.append("\n".join(lines))
    before = profile_before(r)
    return "\n\n".join(out + ([before] if before else []))


def profile_before(r: Record) -> str:
    """The first recorded profile, before the speed work of issue 15, for comparison."""
    if "profile_before" not in r:
        return ""
    b = r["profile_before"]
    out = [
        f"**Before**: the first recorded profile ({b['recorded']}, commit {b['commit']}, "
        "`docs/results.json` then), against the same kinds of limits:"
    ]
    for c in b["profile"]:
        cells = ", ".join(f"{g['group']} {g['profiled_ms']:.2f}" for g in c["groups"])
        out.append(
            f"- {c['name']}: one step {c['step_ms']:.2f} ms, {c['distance']:.1f}x the sum of its "
            f"limits ({c['limit_ms']:.2f} ms); profiled ms: {cells}."
        )
    return "\n".join(out)


def levers_table(r: Record) -> str:
    """benchmarks/levers.py's rows: each lever off and on, side by side, and the code's choice."""
    words = {"keep": "clearly faster", "drop": "no gain", "noise": "within the noise"}
    lines = [
        quick_note(r) + "| lever | off | on | gain | verdict | in the code |",
        "|---|---|---|---|---|---|",
    ]
    for v in r["levers"]:
        off, on = (f"{x * 1e3:.2f} ms / {v['unit']}" for x in (v["off"], v["on"]))
        said = words[v["verdict"]]
        if v["once"]:
            said += f": {v['once']:.1f} s to compile, repaid after {v['pays_after']:,.0f} steps"
        code = "on" if v["in_code"] else "off"
        lines.append(f"| {v['lever']} | {off} | {on} | {v['gain']:.2f}x | {said} | {code} |")
    return "\n".join(lines)


CLUSTER_RUNS = {  # benchmarks/cluster.py's rows, as the README names them
    "in-process": "in this process (2 workers; no cluster running)",
    "local:2": "`--scheduler local:2` (its start included; no other cluster running)",
    "running": "a running 2-worker `LocalCluster`",
    "one worker killed": "the same, one worker killed at the first task",
}
SWEEP = {"configurations": 1_000, "seeds": 100, "steps": 4_000}  # the sweep on paper
DASK_TASK_SECONDS = 1e-3  # Dask's documented overhead per task (distributed.dask.org)


def cluster(r: Record) -> str:
    """benchmarks/cluster.py's figures, and the arithmetic of a 100,000-model sweep from them."""
    c = r["cluster"]
    full = "full" in c
    cells = ["quick: wall", "quick: training", *(["full: wall", "full: training"] if full else [])]
    lines = [
        textwrap.fill(
            f"Measured by `python docs/record.py --cluster` (`benchmarks/cluster.py`, the best of "
            f"{c['repeat']} run{'s' if c['repeat'] > 1 else ''} of each) on {c['date']}, "
            f"2-core CPU, load average "
            f"{c['load'][0]:.1f} before:",
            100,
        ),
        "",
        "| `deepsets run` | " + " | ".join(cells) + " |",
        "|---|" + "---|" * len(cells),
    ]
    for key, name in CLUSTER_RUNS.items():
        row = [c["quick"][key], *([c["full"][key]] if full else [])]
        lines.append(
            f"| {name} | "
            + " | ".join(f"{x['wall']:.1f} s | {x['train']:.1f} s" for x in row)
            + " |"
        )
    killed = c["full" if full else "quick"]["one worker killed"]["cluster"]
    rt, quick = c["round_trip"], c["quick"]
    start = quick["local:2"]["wall"] - quick["running"]["wall"]
    sent = f"The quick study sends {quick['running']['cluster']['groups']} tasks"
    if full:
        sent += f", the full one {c['full']['running']['cluster']['groups']}"
    on, here = (rt[k] * 1e3 for k in ("cluster_per_group", "in_process_per_group"))
    text = (
        f"{sent}; with a worker killed, {killed['retried_groups']} tasks were retried and "
        f"every number equalled the in-process run's. `local:2` adds about {start:.0f} s of "
        "start to a run (a scheduler, and two processes importing torch). A task that trains "
        f"nothing (a one-step stack of one model) takes {on:.1f} ms of wall time on the two "
        f"workers against {here:.1f} ms in this process: pickling the models, the round trip "
        "and rebuilding the stack, once per stack, not per step."
    )
    lines += ["", textwrap.fill(text, 100)]
    return "\n".join([*lines, "", sweep_on_paper(r)])


def sweep_on_paper(r: Record) -> str:
    """A 100,000-model sweep on N workers, from the recorded K = 64 rate and bytes per task."""
    (k64,) = [row for row in r["benchmarks"]["rows"] if row["workload"].startswith("K = 64")]
    tasks, K, T = SWEEP["configurations"], SWEEP["seeds"], SWEEP["steps"]
    rate = k64["ours"] / r["recorded"]["cpus"]  # the row's two worker threads: one per core
    task_s = K * T / rate  # one stack of K seeds, on one core
    b = r["cluster"]["bytes"][f"{K} DeepSets"]
    moved = tasks * (b["in"] + b["out"])
    text = (
        f"**Scale on paper: {tasks * K:,} models.** {tasks:,} configurations x {K} seeds of "
        f"the exercise's DeepSet, {T:,} steps each, in one `train_many` call: {tasks:,} stacks "
        f"of {K}, so {tasks:,} tasks. The K = 64 row trains {k64['ours']:,.0f} model-steps a "
        f"second on this machine's {r['recorded']['cpus']} cores, {rate:,.0f} on one: one task "
        f"on a one-core worker takes {task_s:.0f} s."
    )
    lines = [textwrap.fill(text, 100), ""]
    per = [
        f"N = {n:,}: {tasks // n} each, about {tasks / n * task_s / 60:,.0f} minutes"
        for n in (10, 100)
    ]
    lines += [
        wrap(
            f"- **Tasks per worker:** {tasks:,} / N; " + "; ".join(per) + "; one core: "
            f"{tasks * task_s / 3600:.1f} hours."
        ),
        wrap(
            f"- **Bytes per task:** {b['in'] / 1e6:.1f} MB out (the {K} modules, pickled) and "
            f"{b['out'] / 1e6:.1f} MB back (losses as float32 and the trained weights): "
            f"{moved / 1e9:.1f} GB for the sweep, {moved * 8 / 1e9:.0f} s of a 1 Gbit/s link "
            f"at the client, spread over the run; the client holds the losses of all "
            f"{tasks * K:,} models, (K, steps) float64: {tasks * K * T * 8 / 1e9:.1f} GB."
        ),
        wrap(
            f"- **The scheduler:** at Dask's documented {DASK_TASK_SECONDS * 1e3:.0f} ms per "
            f"task, {1 / DASK_TASK_SECONDS:,.0f} tasks a second; tasks of {task_s:.0f} s finish "
            f"at N / {task_s:.0f} a second, so it becomes the bottleneck only at N = "
            f"{task_s / DASK_TASK_SECONDS:,.0f} workers."
        ),
    ]
    return "\n".join(lines)


SCALE_CORES = (16, 64)  # the machines the scale arithmetic is worked out for


def study_shares(cores: tuple[int, ...]) -> tuple[int, dict[int, float]]:
    """The default study's stacks (sets of 10, as the workers lever trains them) and, for each
    number of workers, the cost model's share of the step's work the busiest worker gets (its
    step time over one worker's): from the code (engine/parts.py), not measured."""
    from deepsets.engine.parts import cost, partition, stacks
    from deepsets.studies.exercise.settings import StudySettings

    _, models = load_script("run").study_models(StudySettings())
    B, N = StudySettings().batch_size, 10
    total = sum(cost([models[i] for i in g], B, N) for _, g in stacks(models, B, N))
    shares = {}
    for n in cores:
        loads = [
            sum(cost([models[i] for i in g], B, N) for _, g in part)
            for part in partition(models, B, N, n)
        ]
        shares[n] = max(loads) / total
    return len(stacks(models, B, N)), shares


def scale(r: Record) -> str:
    """What a 16- and a 64-core machine would do, from the recorded per-core rates: the study's
    step on one worker (the workers lever), the study's run and the K = 64 row."""
    (lever,) = [v for v in r["levers"] if " workers (study models" in v["lever"]]
    rows = r["benchmarks"]["rows"]
    (study,) = [row for row in rows if row["workload"].startswith("deepsets run, ")]
    (k64,) = [row for row in rows if row["workload"].startswith("K = 64")]
    here = r["benchmarks"]["conditions"].get("cores", r["recorded"]["cpus"])
    steps, K = r["study"]["settings"]["steps"], r["study"]["models_trained"]
    n_stacks, share = study_shares((1, here, *SCALE_CORES))
    one, on = lever["off"], lever["on"]
    rest = max(0.0, study["ours"] - steps * on)  # the study's work besides training, as here
    lines = [
        "| cores | the step (busiest worker's share) | training, "
        f"{steps:,} steps | the whole study |",
        "|---|---|---|---|",
        f"| 1 (measured) | {one * 1e3:.2f} ms (100%) | {steps * one:.0f} s | "
        f"{rest + steps * one:.0f} s |",
        f"| {here} (measured) | {on * 1e3:.2f} ms ({on / one:.0%}; the cost model: "
        f"{share[here]:.0%}) | {steps * on:.0f} s | {study['ours']:.0f} s |",
    ]
    for n in SCALE_CORES:
        step = one * share[n]
        lines.append(
            f"| {n} (on paper) | {step * 1e3:.2f} ms ({share[n]:.0%}) | {steps * step:.1f} s | "
            f"{rest + steps * step:.0f} s |"
        )
    rate = k64["ours"] / here  # model-steps a second on one core
    text = (
        f"One core trains the default study's {K} models (sets of 10) at {one * 1e3:.2f} ms a "
        f"step, {K / one:,.0f} model-steps a second (the workers lever, `benchmarks/README.md`); "
        f"its {n_stacks} "
        "stacks are fixed by the models, so a machine with more cores gives each worker a "
        "share of them, and the step takes the busiest worker's share of one core's time "
        "(the cost model's shares, `engine/parts.py`), down to the largest stack's "
        f"{share[SCALE_CORES[-1]]:.0%}, which no number of cores splits. The rest of the study "
        f"(evaluation, figures, report: {rest:.1f} s here) is kept as measured."
    )
    sweep = (
        f"A sweep of many stacks scales with the cores: the K = 64 row trains "
        f"{k64['ours']:,.0f} model-steps a second on {here} cores, {rate:,.0f} on one, so "
        + ", ".join(f"{n * rate:,.0f} on {n}" for n in SCALE_CORES)
        + " while there are at least as many stacks as cores (every 32 DeepSets of one "
        "configuration on sets of 10 make a stack)."
    )
    return "\n".join([textwrap.fill(text, 100), "", *lines, "", textwrap.fill(sweep, 100)])


RENDERERS: dict[str, Callable[[Record], str]] = {
    "commands": commands,
    "answers": answers,
    "speed": speed,
    "bench-table": speed_table,
    "profile": profile_tables,
    "levers": levers_table,
    "cluster": cluster,
    "scale": scale,
}


def record_cluster(full: bool) -> Record:
    """benchmarks/cluster.py's figures, with the date."""
    import cloudpickle

    script = load_script("cluster")
    cloudpickle.register_pickle_by_value(script)  # its worker plugin: workers cannot import it
    c: Record = script.measure(full=full, repeat=1 if full else 2)
    return c | {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def sentence_of(v: Any) -> str:
    """A verdict's sentence: a Verdict object in metrics.json, or an older record's string."""
    return v if isinstance(v, str) else str(v["sentence"])


def claim_verdict(c: Record) -> tuple[str, str]:
    """(outcome, sentence) of a theory claim in metrics.json: `verdict` is a Verdict object
    (schema 2) or, in older records (schema 1), the outcome beside a `finding`."""
    v = c["verdict"]
    if isinstance(v, str):
        return v, c["finding"]
    return v["outcome"], v["sentence"]


PAPER_WORDS = {True: "agrees", False: "differs", None: "not measured"}  # digits/1's `agrees`


def paper_verdict(v: Record) -> tuple[str, str, str]:
    """(claim, outcome, sentence) of a digit-sum finding: a Verdict object (digits/2), or an
    older record's {claim, measured (the sentence), agrees}."""
    if "outcome" in v:
        return v["claim"], v["outcome"], v["sentence"]
    return v["claim"], PAPER_WORDS[v["agrees"]], v["measured"]


def theory_results(s: Record) -> str:
    """`deepsets run theory`: each claim's verdict and finding, claim 1's table, the time."""
    m = s["metrics"]
    claims = m["claims"]
    lines = [
        textwrap.fill(
            f"One default run ({len(m['seeds'])} seeds, recorded {s['date']} on a 2-core CPU, "
            f"load average {s['load_average_before'][0]:.1f} before it) found:",
            100,
        ),
        "",
        *(wrap("- **{}: {}.** {}".format(c["title"], *claim_verdict(c))) for c in claims.values()),
    ]
    width = claims["latent_width"]["numbers"]
    Ls = list(next(iter(width["relative_mse"].values())))
    lines += [
        "",
        "Claim 1, test MSE / Var(median), median over seeds:",
        "",
        "| N | " + " | ".join(f"L = {L}" for L in Ls) + " | stops at L |",
        "|---" * (len(Ls) + 2) + "|",
        *(
            f"| {N} | "
            + " | ".join(sci(e, 2) for e in by_L.values())
            + f" | {width['stops_at'][N]} |"
            for N, by_L in width["relative_mse"].items()
        ),
        "",
        textwrap.fill(
            f"The run took {seconds(s['seconds'])} (load average "
            f"{s['load_average_after'][0]:.1f} after it); the claims took "
            + ", ".join(seconds(c["seconds"]) for c in claims.values())
            + ".",
            100,
        ),
    ]
    return "\n".join(lines)


DIGITS_LENGTHS = ("5", "10", "20", "50", "100")  # the digit-sum table's columns


def digits(d: Record) -> str:
    """The digit-sum study's recorded run: its time, the accuracy table (with the supervised
    ceiling and the paper's image curve, digits/3), the single-object accuracies, its findings."""
    m = d["metrics"]
    from deepsets.studies.digits.models import NAMES

    names = NAMES | {"ceiling": "supervised ceiling"}
    shown = [n for n in DIGITS_LENGTHS if n in m["results"]["text"]["deepset"]]
    train = ", ".join(f"{task} {seconds(t)}" for task, t in m["train_seconds"].items())
    before, after = d["load_average_before"][0], d["load_average_after"][0]
    cpu = f" ({seconds(m['cpu_seconds'])} of CPU)" if m.get("cpu_seconds") else ""
    lines = [
        textwrap.fill(
            f"Recorded {d['date']} (`python docs/record.py --study digits`): the default run took "
            f"{seconds(d['seconds'])}{cpu} on this 2-core machine (training {train}), 1-minute "
            f"load average {before:.1f} before and {after:.1f} after; accuracy on "
            f"{m['test_sets_per_length']:,} test sets per length, mean over "
            f"{len(m['seeds'])} runs (min in brackets"
            + ("; the ceiling has no runs):" if "ceiling" in m["results"]["image"] else "):"),
            100,
            break_on_hyphens=False,
        ),
        "",
        "| task | model | " + " | ".join(shown) + " |",
        "|---|---|" + "---|" * len(shown),
    ]
    for task, by_model in m["results"].items():
        for model, cells in by_model.items():
            row = [
                f"{cells[n]['mean']:.3f}"
                if cells[n]["min"] == cells[n]["mean"] == cells[n]["max"] and model == "ceiling"
                else f"{cells[n]['mean']:.3f} ({cells[n]['min']:.3f})"
                for n in shown
            ]
            lines.append(f"| {task} | {names[model]} | " + " | ".join(row) + " |")
    paper = m.get("paper", {}).get("image", {}).get("deepset")
    if paper:
        row = ["(not tested)" if paper.get(n) is None else f"{paper[n]:.2f}" for n in shown]
        lines.append("| image | the paper's DeepSet (MNIST8m) | " + " | ".join(row) + " |")
    per = m.get("per_image_accuracy", {})
    if per:
        singles = "; ".join(
            f"{task} {names[model]} {cell['mean']:.4f}"
            + ("" if cell["min"] == cell["mean"] else f" (min {cell['min']:.4f})")
            for task, by_model in per.items()
            for model, cell in by_model.items()
        )
        lines += ["", wrap(f"Accuracy on single objects (test images; text: the tokens 1-9), "
                           f"rounded, mean over runs: {singles}.")]  # fmt: skip
    lines.append("")
    paper_keys = ("text_deepset", "lstm", "gru", "image", "image_targets")
    for key in [k for k in paper_keys if k in m["findings"]]:
        claim, word, sentence = paper_verdict(m["findings"][key])
        lines.append(wrap(f"- {claim} **{word}**: {sentence}"))
    for key in [k for k in ("image_ceiling", "counting") if k in m["findings"]]:
        claim, word, sentence = paper_verdict(m["findings"][key])
        lines.append(wrap(f"- {claim} **{word}**: {sentence}"))
    beyond = m["findings"]["set_transformer"]
    lines.append(wrap(f"- Beyond the paper: {sentence_of(beyond)}"))
    return "\n".join(lines)


POPSTATS_METHODS = {"deepset": "DeepSet", "sdm": "SDM"}  # the popstats table's method names


def popstats_cell(c: Record | None) -> str:
    """0.00503 [0.00486, 0.00517]: a mean test MSE over runs and its min and max; - if not run."""
    if c is None:
        return "-"
    return f"{c['mean']:.3g} [{c['min']:.3g}, {c['max']:.3g}]"


def popstats(d: Record) -> str:
    """The population-statistics study's recorded run: its time, the MSE table, the crossings
    beside the paper's finding, its verdicts."""
    m = d["metrics"]
    Ns = sorted({int(N) for by in m["results"].values() for c in by.values() for N in c})
    before, after = d["load_average_before"][0], d["load_average_after"][0]
    lines = [
        textwrap.fill(
            f"Recorded {d['date']} (`python docs/record.py --study popstats`): the default run "
            f"took {seconds(d['seconds'])} of wall time and {m['total_cpu_seconds']:.0f} "
            f"CPU-seconds on this 2-core machine, 1-minute load average {before:.1f} before and "
            f"{after:.1f} after; test MSE on {m['test_sets']} test sets per task, mean over "
            f"{len(m['seeds'])} runs [min, max], M = {m['settings']['samples']} samples per set:",
            100,
            break_on_hyphens=False,
        ),
        "",
        "| task | method | " + " | ".join(f"N = {N}" for N in Ns) + " | Var(y) |",
        "|---|---|" + "---|" * (len(Ns) + 1),
    ]
    for task, by in m["results"].items():
        for method, cells in by.items():
            row = [popstats_cell(cells.get(str(N))) for N in Ns]
            name = POPSTATS_METHODS[method]
            lines.append(
                f"| {task} | {name} | " + " | ".join(row) + f" | {m['variance'][task]:.3g} |"
            )
    paper = next(iter(m["findings"]["crossover"].values()))["paper"]
    lines += [
        "",
        f"Where the curves cross (the smallest N at which the DeepSet's mean test MSE is below "
        f"SDM's), beside the paper's finding ({paper['source']}: {paper['finding']}):",
        "",
        "| task | crossing | verdict |",
        "|---|---|---|",
    ]
    largest = m["largest_n"]
    for task, v in m["findings"]["crossover"].items():
        at = m["crossover"][task]
        where = f"N = {at}" if at is not None else f"not within N <= {largest['sdm']}"
        lines.append(f"| {task} | {where} | {v['outcome']} |")
    lines.append("")
    for group in ("crossover", "falls_faster"):
        for v in m["findings"][group].values():
            lines.append(wrap(f"- {v['claim']} **{v['outcome']}**: {v['sentence']}"))
    v = m["findings"]["kernel_small"]
    lines.append(wrap(f"- {v['claim']} **{v['outcome']}**: {v['sentence']}"))
    lines += [
        "",
        textwrap.fill(
            f"The DeepSet ran up to N = {largest['deepset']}, SDM up to N = {largest['sdm']} "
            f"(`--sdm-max`: its N x N kernel solves grow as N^3).",
            100,
        ),
    ]
    return "\n".join(lines)


# The blocks of the other studies, each rendered from its recorded run's metrics.json.
STUDY_RENDERERS: dict[str, dict[str, Callable[[Record], str]]] = {
    "digits": {"digits": digits},
    "theory": {"theory-results": theory_results},
    "popstats": {"popstats-results": popstats},
}


# The figures of a study's recorded run that the README shows: figures/NAME -> its path here.
STUDY_FIGURES = {
    "digits": {"accuracy_by_length.png": "docs/digits.png"},
    "popstats": {"mse_by_size.png": "docs/popstats.png"},
}


# ---------------------------------------------------------------- the attention study


def attention(d: Record) -> str:
    """`deepsets run attention`'s recorded run: both tables beside the paper's, the targets."""
    from deepsets.studies.attention.train import NAMES as names

    m = d["metrics"]
    s, before, after = m["settings"], d["load_average_before"][0], d["load_average_after"][0]
    cpu = ", ".join(f"{task.replace('_', ' ')} {seconds(c)}" for task, c in
                    m["train_cpu_seconds"].items())  # fmt: skip
    lines = [
        textwrap.fill(
            f"Recorded {d['date']} (`python docs/record.py --study attention`): the default run "
            f"took {seconds(d['seconds'])} of wall time and {seconds(m['cpu_seconds'])} of CPU "
            f"time (training: {cpu}) on this 2-core machine, 1-minute load average "
            f"{before:.1f} before and {after:.1f} after; mean over {len(m['seeds'])} runs "
            f"(min..max), max regression {s['max_steps']:,} steps, clustering "
            f"{s['cl_steps']:,} (the paper: 20,000 and 50,000).",
            100,
            break_on_hyphens=False,
        ),
    ]
    titles = {"max_regression": "Max regression, test MAE (Table 1)",
              "clustering": "Clustering, test log-likelihood per point (5.3)"}  # fmt: skip
    for task, title in titles.items():
        lines += ["", f"| {title} | ours | paper | verdict |", "|---|---|---|---|"]
        for model, cell in m["results"][task].items():
            p = m["paper"][task][model]
            paper = f"{p['mean']}" + ("" if p["std"] is None else f" +- {p['std']}")
            v = m["findings"]["oracle" if model == "oracle" else "models"]
            verdict = (v if model == "oracle" else v[task][model])["outcome"]
            ours = f"{cell['mean']:.4f}" if len(cell["values"]) == 1 else (
                f"{cell['mean']:.4f} ({cell['min']:.4f}..{cell['max']:.4f})")  # fmt: skip
            lines.append(f"| {names[task][model]} | {ours} | {paper} | {verdict} |")
    lines.append("")
    for task, v in m["findings"]["ordering"].items():
        order = f"- {task.replace('_', ' ')}, the paper's order: **{v['outcome']}**."
        lines.append(wrap(f"{order} {v['sentence']}"))
    for key in ("max_targets", "oracle", "near_oracle", "deepset_gap"):
        v = m["findings"][key]
        lines.append(wrap(f"- {v['claim']} **{v['outcome']}**: {v['sentence']}"))
    return "\n".join(lines)


DOCS = (*DOCS, ROOT / "docs" / "studies" / "attention.md")
STUDY_RENDERERS["attention"] = {"attention": attention}
STUDY_FIGURES["attention"] = {
    "max_regression.png": "docs/attention_max_regression.png",
    "clustering.png": "docs/attention_clustering.png",
    "clustering_examples.png": "docs/attention_examples.png",
}


def record_study(name: str) -> Record:
    """Run `deepsets run NAME` with its defaults, as a user would; its metrics and wall time."""
    from deepsets import cli

    load_before, start = os.getloadavg(), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / name
        if cli.main(["run", name, "--out", str(out)]) != 0:
            raise SystemExit(f"deepsets run {name} failed")
        metrics = json.loads((out / "metrics.json").read_text())
        for figure, shown in STUDY_FIGURES.get(name, {}).items():  # the README's, from this run
            shutil.copyfile(out / "figures" / figure, ROOT / shown)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": time.perf_counter() - start,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "metrics": metrics,
    }


def blocks(r: Record) -> dict[str, str]:
    """Every block's text, rendered from the record (a study's only once it is recorded)."""
    out = {name: render(r) for name, render in RENDERERS.items()}
    for study, renderers in STUDY_RENDERERS.items():
        if study in r.get("studies", {}):
            out |= {name: render(r["studies"][study]) for name, render in renderers.items()}
    return out


def render(text: str, rendered: dict[str, str]) -> str:
    """`text` with every recorded block replaced by its rendering."""

    def fill(match: re.Match[str]) -> str:
        begin, name, _, end = match.groups()
        if name not in rendered:
            raise ValueError(f"unknown recorded block {name!r}; known: {sorted(rendered)}")
        return f"{begin}{rendered[name]}\n{end}"

    return BLOCK.sub(fill, text)


def stale(text: str, rendered: dict[str, str]) -> list[str]:
    """The names of the blocks of `text` that differ from their rendering."""
    return [name for _, name, body, _ in BLOCK.findall(text) if body != rendered[name] + "\n"]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer steps; the record says so")
    p.add_argument("--render", action="store_true", help="only re-render from docs/results.json")
    p.add_argument("--collect-tests", action="store_true", help="count the tests, do not run them")
    p.add_argument(
        "--study",
        action="append",
        default=[],
        choices=sorted(STUDY_RENDERERS),
        help="record only this study's run (repeatable); the rest stays as recorded",
    )
    p.add_argument(
        "--setup", action="store_true", help="record only the set-up's time, in a fresh clone"
    )
    p.add_argument(
        "--cluster",
        action="store_true",
        help="record only benchmarks/cluster.py's figures (the studies on a cluster)",
    )
    args = p.parse_args(argv)
    start = time.perf_counter()
    if args.cluster or args.setup:
        r = json.loads(RECORD.read_text())
        if args.cluster:
            r["cluster"] = record_cluster(full=True)
        if args.setup:
            r["setup"] = record_setup()
        write_and_render(r)
    elif args.study:
        r = json.loads(RECORD.read_text())
        for name in args.study:
            r.setdefault("studies", {})[name] = record_study(name)
        write_and_render(r)
    elif not args.render:
        load = os.getloadavg()[0]
        if load > IDLE_LOAD:
            print(f"load average {load:.1f}: the machine is busy, the timings will be off")
        r = record(args.quick, run_tests=False)  # the suite runs on the written record, below
        if RECORD.exists():  # the other studies' runs and the cluster's stay as recorded
            old = json.loads(RECORD.read_text())
            kept = ("studies", "cluster", "profile_before", "setup")
            r |= {k: old[k] for k in kept if k in old}
        write_and_render(r)
        if not (args.quick or args.collect_tests):
            r["tests"] = count_tests(run=True)  # tests/test_recorded.py checks the new READMEs
            if r["tests"].get("failed"):
                print(f"the test suite had {r['tests']['failed']} failures: fix them, record again")
            write_and_render(r)
    else:
        write_and_render(json.loads(RECORD.read_text()), write=False)
    print(f"took {time.perf_counter() - start:.0f} s")


def write_and_render(r: Record, write: bool = True) -> None:
    """Write the record (unless `write` is False) and render both READMEs from it."""
    if write:
        RECORD.write_text(json.dumps(r, indent=1) + "\n")
        print(f"wrote {RECORD.relative_to(ROOT)}")
    rendered = blocks(r)
    for doc in DOCS:
        doc.write_text(render(doc.read_text(), rendered))
        print(f"rendered {doc.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
