"""The study on a Dask cluster: wall times, the cost of one task, the bytes a task moves.

    python benchmarks/cluster.py            # the quick study: about 2 minutes on a 2-core CPU
    python benchmarks/cluster.py --full     # the exercise's defaults (4000 steps) as well

Prints (and writes to benchmarks/results/cluster-<timestamp>.json):
- `deepsets run` wall time in this process, with `--scheduler local:2` (the cluster's start
  included), on a running 2-worker cluster, and on one whose first training task kills its
  worker (the task is retried; the numbers are checked equal to the in-process run's); the
  in-process and `local:2` runs come first, while no other cluster is running to take CPU;
- the round trip of one task: G one-model, one-step stacks trained on the cluster, per task;
- the bytes one task moves in and out (cloudpickle sizes, what Dask sends) for stacks of the
  exercise's DeepSet of 5 and 100 members over 4000 steps.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import torch
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin

from deepsets import DeepSet
from deepsets.cluster import DaskGroups, using
from deepsets.engine.remote import Group, train_group
from deepsets.engine.settings import TORCH_THREADS, Engine, EngineSettings
from deepsets.engine.sources import Streams
from deepsets.engine.train import train_many

HERE = Path(__file__).resolve().parent
EXE = Path(sys.executable).with_name("deepsets")
QUICK = ["--quick"]


class KillFirstGroup(WorkerPlugin):
    """Kills its worker (SIGKILL) as the run's first training task starts, once."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def transition(self, key: object, start: str, finish: str, **kwargs: Any) -> None:
        if finish == "executing" and str(key).startswith("deepsets-group-"):
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return
            os.kill(os.getpid(), signal.SIGKILL)


def study(args: list[str], out: Path) -> tuple[float, dict[str, Any]]:
    """Wall seconds of `deepsets run ARGS --out OUT` (a process) and its metrics.json."""
    t = time.perf_counter()
    subprocess.run([str(EXE), "run", *args, "--out", str(out)], check=True, capture_output=True)
    return time.perf_counter() - t, json.loads((out / "metrics.json").read_text())


def numbers(m: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in m.items() if k not in ("timing", "cluster", "settings")}
    return kept


def studies(
    flags: list[str],
    root: Path,
    runs: dict[str, list[str]],
    repeat: int,
    base: dict[str, Any],
    client: Client | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The study as each of `runs` (name -> extra flags), each `repeat` times in turn; the
    best wall and training times of each (least disturbed by other jobs), and the cluster facts
    of its last run; and the metrics every run matched. The numbers must equal those of `base`
    (the first run's, if it is empty). "one worker killed" kills a worker of `client`'s cluster
    at its first task."""
    rows: dict[str, Any] = {name: {"wall": float("inf"), "train": float("inf")} for name in runs}
    for r in range(repeat):
        for name, extra in runs.items():
            out = root / f"{name.replace(':', '-').replace(' ', '-')}-{r}"
            if name == "one worker killed":
                assert client is not None
                client.register_plugin(KillFirstGroup(str(out) + ".killed"), name="kill")
            try:
                s, m = study([*flags, *extra], out)
            finally:
                if name == "one worker killed":
                    assert client is not None
                    client.unregister_worker_plugin("kill")
                    client.wait_for_workers(2, timeout=60)
            base = base or m
            assert numbers(m) == numbers(base), name
            row = rows[name]
            row.update(
                wall=min(row["wall"], s), train=min(row["train"], m["timing"]["train_seconds"])
            )
            row["cluster"] = m["cluster"]
    return rows, base


def round_trip(client: Client, G: int = 60, repeat: int = 3) -> dict[str, float]:
    """Seconds per task for G stacks of one model trained one step: all overhead, no work
    (the best of `repeat`)."""
    models = [DeepSet(hidden=h, generator=0) for h in range(1, G + 1)]  # G shapes: G stacks
    local = remote = float("inf")
    groups = DaskGroups(client, "bench")
    for _ in range(repeat):
        t = time.perf_counter()
        train_many(models, 1, seeds=[0] * G, engine=Engine(progress=False))
        local = min(local, time.perf_counter() - t)
        with using(groups):
            t = time.perf_counter()
            train_many(models, 1, seeds=[0] * G, engine=Engine(progress=False))
            remote = min(remote, time.perf_counter() - t)
    assert groups.info().groups == G * repeat
    groups.shutdown()
    return {"groups": G, "in_process_per_group": local / G, "cluster_per_group": remote / G}


def sizes(steps: int = 4000) -> dict[str, dict[str, int]]:
    """Bytes in and out of one task: a stack of k exercise DeepSets trained `steps` steps."""
    out = {}
    for k in (5, 100):
        models = [DeepSet(generator=s) for s in range(k)]
        data = Streams(list(range(k)), 100, 10, None, torch.device("cpu"))
        group = Group(models, data, EngineSettings(steps, 100))
        sent = len(cloudpickle.dumps(group))
        result = train_group(Group(models, data, EngineSettings(2, 100)))
        losses = np.zeros((k, steps), dtype=result.losses.dtype)  # as `steps` steps send them
        back = len(cloudpickle.dumps(replace(result, losses=losses)))
        out[f"{k} DeepSets"] = {"in": sent, "out": back}
    return out


def measure(full: bool = False, repeat: int = 2) -> dict[str, Any]:
    """Every figure: the round trip, the quick study (and the full one), the bytes per task.
    The in-process and `local:2` runs come first, with no other cluster alive to take CPU."""
    torch.set_num_threads(TORCH_THREADS)
    record: dict[str, Any] = {"cpus": os.cpu_count(), "load": os.getloadavg(), "repeat": repeat}
    kinds = {"quick": QUICK, **({"full": []} if full else {})}
    alone = {"in-process": [], "local:2": ["--scheduler", "local:2"]}
    with tempfile.TemporaryDirectory() as tmp:
        bases = {}
        for kind, flags in kinds.items():
            record[kind], bases[kind] = studies(flags, Path(tmp) / kind, alone, repeat, {})
        with LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0"
        ) as cluster, Client(cluster, set_as_default=False) as client:  # fmt: skip
            record["round_trip"] = round_trip(client)
            address = cluster.scheduler_address
            on = {
                "running": ["--scheduler", address],
                "one worker killed": ["--scheduler", address],
            }
            for kind, flags in kinds.items():
                rows, _ = studies(flags, Path(tmp) / kind, on, repeat, bases[kind], client)
                record[kind] |= rows
                assert record[kind]["one worker killed"]["cluster"]["retries"] >= 1
    record["bytes"] = sizes()
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also the exercise's full study")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best counts")
    args = parser.parse_args()
    record = measure(args.full, args.repeat)
    print(json.dumps(record, indent=2))
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    path = results / f"cluster-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
