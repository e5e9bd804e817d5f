"""Training on other processes and on a Dask cluster: the same numbers as in this process.

Every cluster here is a `LocalCluster` of 2 worker processes on 127.0.0.1 started by the tests;
every wait is bounded in time.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.server
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin

import deepsets as ds
from deepsets import cli
from deepsets.cluster import (
    ClusterInfo,
    DaskGroups,
    check_scheduler,
    cluster_info,
    current_executor,
    describe,
    using,
)
from deepsets.engine.parts import stacks
from deepsets.engine.settings import Engine
from deepsets.engine.train import train_many, train_on
from deepsets.lab.output import PARTIAL_PREFIX

EXE = Path(sys.executable).with_name("deepsets")
SMALL = ["--quick", "--no-extras", "--steps", "100", "--final-window", "20"]  # a run in seconds
STEPS = 40


def models() -> list[torch.nn.Module]:
    """DeepSets, MLPs of two shapes and a plain Sequential: several stacks."""
    return [
        *(ds.DeepSet(generator=s) for s in range(4)),
        *(ds.make_mlp((16, 16), "relu", generator=s) for s in range(3)),
        *(ds.make_mlp((4,), "tanh", generator=s) for s in range(2)),
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(10, 1), torch.nn.Sigmoid()),
    ]


SEEDS = [0, 1, 2, 3, 0, 1, 2, 0, 1, 7]


def trained(executor=None, seeds=SEEDS, workers=None):
    """train_many on models() with snapshots: (models, losses, snapshots)."""
    torch.manual_seed(0)  # the unstacked module's initial weights
    ms, snaps = models(), {10: [], 25: []}
    e = Engine(snapshots=snaps, executor=executor, progress=False, workers=workers)
    _, losses = train_many(ms, STEPS, seeds=seeds, batch_size=20, engine=e)
    return ms, losses, snaps


def same(a, b) -> bool:
    """Two trained runs agree to the last bit: losses, weights and snapshot weights."""
    (ma, la, sa), (mb, lb, sb) = a, b
    pairs = zip([*ma, *sa[10], *sa[25]], [*mb, *sb[10], *sb[25]], strict=True)
    weights = [
        torch.equal(p, q)
        for x, y in pairs
        for p, q in zip(x.state_dict().values(), y.state_dict().values(), strict=True)
    ]
    return np.array_equal(la, lb) and all(weights)


@pytest.fixture(scope="module")
def reference():
    return trained()


@pytest.fixture(scope="module")
def pool():
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as p:
        yield p


def test_a_process_pool_trains_to_the_same_numbers(reference, pool):
    assert same(trained(pool), reference)
    assert not same(trained(pool, seeds=[s + 1 for s in SEEDS]), reference)  # it can fail


@pytest.mark.parametrize("workers", [1, 2, 3, 5])
def test_in_process_runs_on_any_number_of_workers_train_as_the_pool_does(reference, workers):
    """One task per stack on a pool (test above), and the stacks shared out over 1, 2, 3 or 5
    workers here: the same stacks, so the same numbers to the bit."""
    assert same(trained(workers=workers), reference)


def test_train_on_given_sets_on_a_process_pool_matches_in_process(pool):
    X, y = ds.make_data(40, generator=3)  # (B, N, F), (B, 1) shared by every model
    runs = []
    for executor in (None, pool):
        ms = [ds.DeepSet(generator=s) for s in range(3)] + [ds.make_mlp((8,), generator=0)]
        _, losses = train_on(
            ms, (X, y), STEPS, batch_size=10, engine=Engine(executor=executor, progress=False)
        )
        runs.append((losses, [p for m in ms for p in m.parameters()]))
    (la, pa), (lb, pb) = runs
    assert np.array_equal(la, lb) and all(torch.equal(p, q) for p, q in zip(pa, pb, strict=True))


def test_threads_as_executor_and_the_run_scoped_default(reference):
    with ThreadPoolExecutor(3) as threads, using(threads):
        assert current_executor() is threads
        assert same(trained(), reference)  # train_many without executor= uses the default
    assert current_executor() is None


class Bar:
    """Records what the progress bar is told: its total, whether shown, each update."""

    made: list[Bar] = []

    def __init__(self, total: int, desc: str, show: bool, unit: str = "steps") -> None:
        self.total, self.shown, self.updates = total, show, 0
        Bar.made.append(self)

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def update(self, n: int = 1) -> None:
        self.updates += n


def test_the_progress_bar_counts_finished_groups(monkeypatch):
    monkeypatch.setattr("deepsets.engine.remote.progress_bar", Bar)
    monkeypatch.setattr(Bar, "made", [])
    with ThreadPoolExecutor(2) as threads:
        train_many(models(), 3, seeds=SEEDS, engine=Engine(executor=threads, progress=True))
        train_many(models(), 3, seeds=SEEDS, engine=Engine(executor=threads, progress=False))
    n = len(stacks(models(), 100, 10))
    assert [(b.total, b.shown, b.updates) for b in Bar.made] == [(n, True, n), (n, False, n)]


def test_an_executor_must_be_one_and_train_on_a_cpu():
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor"):
        train_many([ds.DeepSet()], 5, seeds=[0], engine=Engine(executor="local:2"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="executor must be"):
        with using(object()):  # type: ignore[arg-type]
            pass


@pytest.mark.parametrize("good", [None, "local:1", "local:256", "tcp://127.0.0.1:8786",
                                  "tcp://node-7.cluster:1", "tls://10.0.0.2:65535"])  # fmt: skip
def test_scheduler_addresses_accepted(good):
    assert check_scheduler(good) == good


@pytest.mark.parametrize("bad", ["local:0", "local:257", "local:", "local:two", "8786",
                                 "127.0.0.1:8786", "http://127.0.0.1:8786", "tcp://host",
                                 "tcp://host:65536", "tcp://a b:1", "", 3])  # fmt: skip
def test_scheduler_addresses_refused_with_what_is_expected(bad):
    with pytest.raises(ValueError, match=r"scheduler must be .*tcp://HOST:PORT.*local:N"):
        check_scheduler(bad)


def test_without_a_scheduler_distributed_is_never_imported():
    code = (
        "import sys, deepsets, deepsets.cli, deepsets.studies.exercise.run\n"
        "from deepsets.cluster import session\n"
        "with session(None) as s: assert s is None\n"
        "deepsets.train_many([deepsets.DeepSet()], 2, seeds=[0], engine=deepsets.Engine())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('distributed', 'dask')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


INFO = dict(scheduler="local:2", workers=2, groups=9, task_seconds=3.0)


def test_the_report_sentence_follows_the_retries():
    assert describe(ClusterInfo(**INFO, retries=0, retried_groups=0)).endswith(
        "no task was retried."
    )
    text = describe(ClusterInfo(**INFO, retries=2, retried_groups=1))
    assert "; 1 task(s) went to a worker again (2 extra attempt(s) in all)" in text


# --- a LocalCluster of 2 worker processes on the loopback address ----------------------------


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster):
    with Client(cluster.scheduler_address, timeout=10, set_as_default=False) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


def test_a_dask_cluster_trains_to_the_same_numbers_one_task_per_stack(reference, client):
    groups = DaskGroups(client, "tcp://test")
    with using(groups):
        assert same(trained(), reference)
        info = cluster_info()
    groups.shutdown()
    assert info is not None and info.retries == 0 and info.workers == 2
    assert info.groups == len(stacks(models(), 20, 10)) == len(groups.keys) >= 3


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    """metrics.json of a small run in this process."""
    out = tmp_path_factory.mktemp("runs") / "in-process"
    assert cli.main(["run", *SMALL, "--out", str(out)]) == 0
    return json.loads((out / "metrics.json").read_text())


def numbers(metrics: dict) -> dict:
    """metrics.json without what may differ between equal runs: timings and where they ran."""
    kept = {k: v for k, v in metrics.items() if k not in ("timing", "cluster")}
    kept["settings"] = {k: v for k, v in kept["settings"].items() if k not in ("out", "scheduler")}
    return kept


def test_deepsets_run_on_a_cluster_writes_the_numbers_of_an_in_process_run(
    in_process, cluster, tmp_path
):
    out, address = tmp_path / "on-cluster", cluster.scheduler_address
    assert address.startswith("tcp://127.0.0.1:")
    run = subprocess.run(
        [str(EXE), "run", *SMALL, "--out", str(out), "--scheduler", address],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert numbers(metrics) == numbers(in_process)
    assert metrics["settings"]["scheduler"] == address
    assert metrics["cluster"]["retries"] == 0 and metrics["cluster"]["groups"] >= 10
    assert in_process["cluster"] is None
    assert "no task was retried" in (out / "report.html").read_text()


class KillFirstGroup(WorkerPlugin):
    """Kills its worker process (SIGKILL) when the first training task of the run starts."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and str(key).startswith("deepsets-group-"):
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))  # once, cluster-wide
            except FileExistsError:
                return
            os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_mid_run_the_group_is_retried_and_the_numbers_stay(
    in_process, cluster, client, tmp_path
):
    marker = tmp_path / "killed"
    client.register_plugin(KillFirstGroup(str(marker)), name="kill-first-group")
    try:
        out = tmp_path / "killed-run"
        address = cluster.scheduler_address
        assert cli.main(["run", *SMALL, "--out", str(out), "--scheduler", address]) == 0
    finally:
        client.unregister_worker_plugin("kill-first-group")
    assert marker.exists()  # a worker did die
    metrics = json.loads((out / "metrics.json").read_text())
    assert numbers(metrics) == numbers(in_process)
    assert metrics["cluster"]["retries"] >= 1 and metrics["cluster"]["retried_groups"] >= 1
    assert "went to a worker again" in (out / "report.html").read_text()
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_scheduler_fails_fast_before_any_training(capsys, tmp_path):
    start = time.monotonic()
    address = f"tcp://127.0.0.1:{free_port()}"
    assert cli.main(["run", *SMALL, "--out", str(tmp_path / "x"), "--scheduler", address]) == 2
    assert time.monotonic() - start < 30
    err = capsys.readouterr().err
    assert f"deepsets run: error: --scheduler {address}: no Dask scheduler answered" in err
    assert not (tmp_path / "x").exists()
    assert cli.main(["run", "--scheduler", "local:0"]) == 2
    assert "deepsets run: error: scheduler must be" in capsys.readouterr().err  # the study's check


@pytest.mark.parametrize("signum", [signal.SIGTERM])  # SIGINT: test_hostile_files
def test_a_signal_leaves_no_output_and_no_worker_processes(signum, tmp_path):
    proc = subprocess.Popen(
        [str(EXE), "run", *SMALL, "--out", str(tmp_path / "run"), "--scheduler", "local:1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the workers it starts are in it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal
    )
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(PARTIAL_PREFIX) for p in tmp_path.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started staging"
        time.sleep(0.05)
    assert len(group(proc.pid)) >= 2  # the run and its worker
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    said = "terminated by SIGTERM" if signum == signal.SIGTERM else "interrupted"
    assert f"deepsets run: {said}; nothing was written" in err
    assert list(tmp_path.iterdir()) == []
    deadline = time.monotonic() + 20  # multiprocessing's resource tracker exits on its own
    while group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert group(proc.pid) == []


def group(pgid: int) -> list[str]:
    """The processes of process group `pgid`."""
    out = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True)
    return out.stdout.split()


def without_times(x: object) -> object:
    """metrics.json without timings, its cluster and where it ran: what equal runs share."""
    if isinstance(x, dict):
        return {
            k: without_times(v)
            for k, v in x.items()
            if "seconds" not in k and k not in ("cluster", "out", "scheduler")
        }
    if isinstance(x, list):
        return [without_times(v) for v in x]
    return x


OTHER_STUDIES = {
    "digits": ["--quick", "--steps", "10", "--fine-steps", "0", "--lengths", "5", "30"],
    "theory": ["--quick", "--seeds", "2", "--set-sizes", "2", "--latents", "1", "2"],
}


@pytest.mark.parametrize("study", sorted(OTHER_STUDIES))
def test_the_other_studies_run_on_a_cluster_with_the_same_numbers(study, cluster, tmp_path):
    args = ["run", study, *OTHER_STUDIES[study]]
    assert cli.main([*args, "--out", str(tmp_path / "here")]) == 0
    address = cluster.scheduler_address
    assert cli.main([*args, "--out", str(tmp_path / "there"), "--scheduler", address]) == 0
    here, there = (
        json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("here", "there")
    )
    assert without_times(here) == without_times(there)
    assert here["cluster"] is None and there["cluster"]["groups"] >= 1
    assert there["settings"]["scheduler"] == address
    assert "no task was retried" in (tmp_path / "there" / "report.html").read_text()


class KilledWorker(Exception):
    """Named as distributed.scheduler's: what a Dask future raises once a task is given up."""


class GivesUp(concurrent.futures.Executor):
    """An executor whose every task ends as Dask ends a task that kept killing its workers."""

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        future.set_exception(KilledWorker("deepsets-group-0", "worker died 3 times"))
        return future


def test_a_group_dask_gave_up_on_is_a_clear_error():
    from deepsets.engine.remote import GroupLost

    with pytest.raises(GroupLost, match="lost with its worker on every attempt"):
        train_many(
            [ds.DeepSet(generator=0)],
            5,
            seeds=[0],
            engine=Engine(progress=False, executor=GivesUp()),
        )


class Never(concurrent.futures.Executor):
    """An executor whose tasks never finish: its workers are stuck, or there are none."""

    def submit(self, fn, /, *args, **kwargs):
        return concurrent.futures.Future()


def test_an_executor_that_never_finishes_is_named_within_the_timeout():
    from deepsets.engine.remote import ExecutorFailed

    model = ds.DeepSet(generator=0)
    before = [p.detach().clone() for p in model.parameters()]
    start = time.monotonic()
    with pytest.raises(ExecutorFailed, match=r"executor Never finished none .* within 1 s"):
        train_on([model], ds.make_data(20, generator=0), 5,
                 engine=Engine(progress=False, executor=Never(), timeout=1.0))  # fmt: skip
    assert time.monotonic() - start < 10
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "60", True])
def test_a_bad_timeout_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match="timeout must be a positive finite number"):
        Engine(timeout=bad)


def test_the_default_wait_grows_with_the_work():
    from deepsets.engine.remote import TIMEOUT_FACTOR, TIMEOUT_SECONDS, task_timeout

    assert task_timeout(0.001, 0.0) == TIMEOUT_SECONDS  # a start-up's worth at least
    assert task_timeout(600.0, 0.0) == TIMEOUT_FACTOR * 600.0  # the largest task's estimate
    assert task_timeout(1.0, 900.0) == TIMEOUT_FACTOR * 900.0  # ... or the slowest task's time


class Answers(http.server.BaseHTTPRequestHandler):
    """An HTTP server's answer to anything (Dask's first bytes are a bad request to it)."""

    def log_message(self, format, *args):  # quiet
        pass


@contextlib.contextmanager
def not_a_scheduler(kind: str) -> Iterator[str]:
    """The address of something on 127.0.0.1 that is no Dask scheduler: a port nothing listens
    on (`refused`, `tls`), one that accepts and never answers (`silent`: it closes after 30 s,
    so that a client which waits for it ends), an HTTP server (`http`)."""
    if kind in ("refused", "tls"):
        yield f"{'tls' if kind == 'tls' else 'tcp'}://127.0.0.1:{free_port()}"
        return
    if kind == "http":
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answers)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"tcp://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
        return
    listener, held = socket.create_server(("127.0.0.1", 0)), []

    def accept() -> None:
        listener.settimeout(30)
        with contextlib.suppress(OSError):  # closed, or 30 s passed
            while True:
                held.append(listener.accept()[0])
        for conn in held:
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        thread.join()


@pytest.mark.parametrize("kind", ["refused", "tls", "silent", "http"])
def test_an_unusable_scheduler_is_refused_in_one_line_within_10_s(kind, tmp_path, capsys):
    with not_a_scheduler(kind) as address:
        start = time.monotonic()
        out = ["--out", str(tmp_path / "x"), "--scheduler", address]
        status = cli.main(["run", *SMALL, *out])
        took = time.monotonic() - start
    err = capsys.readouterr().err
    assert status != 0 and took < 10, (took, err)
    assert err.startswith(f"deepsets run: error: --scheduler {address}: ") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
