"""Forked workers (engine/forked.py): the numbers of thread workers, errors brought home."""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import signal
import time

import numpy as np
import pytest
import torch
from torch import nn

from deepsets.engine import forked, parts
from deepsets.engine.settings import Engine
from deepsets.engine.train import train_many
from deepsets.models import DeepSet, make_mlp


class Dies(nn.Module):
    """A model that trains in this process, and fails (raises, or exits) in any other."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.lin, self.how, self.home = nn.Linear(10, 1), how, os.getpid()

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if os.getpid() != self.home:
            if self.how == "exit":
                os._exit(3)
            raise ValueError("boom in a worker")
        return torch.sigmoid(self.lin(X.flatten(1)))


@pytest.fixture
def always_fork(monkeypatch):
    """Fork whatever the work, and count the forks."""
    monkeypatch.setattr(parts, "FORK_SECONDS", 0.0)
    calls = []
    real = forked.fork_all

    def counted(jobs, here=False):
        calls.append(len(jobs))
        return real(jobs, here)

    monkeypatch.setattr(forked, "fork_all", counted)
    return calls


class Own(nn.Module):
    """A model no stack knows: it trains through autograd, in whichever worker has it."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.inner = DeepSet(3, "relu", generator=seed)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.inner(X)


def models():
    return (
        [DeepSet(generator=k) for k in range(3)]
        + [make_mlp((8,), generator=k) for k in range(3)]
        + [make_mlp((6,), "tanh", generator=9), Own(1), Own(2)]
    )


def weights(ms):
    return [p.detach().clone() for m in ms for p in m.parameters()]


def test_forked_workers_give_the_numbers_of_thread_workers(always_fork, monkeypatch):
    runs = []
    for fork in (True, False):
        monkeypatch.setattr(forked, "FORK", fork)
        ms, snaps = models(), {20: []}
        _, losses = train_many(
            ms, 40, seeds=list(range(9)), engine=Engine(snapshots=snaps, progress=False)
        )
        runs.append((losses, weights(ms), weights(snaps[20])))
    assert always_fork == [2]  # the forked run forked once, into two workers
    (losses, w, s), (losses_t, w_t, s_t) = runs
    np.testing.assert_array_equal(losses, losses_t)
    assert all(torch.equal(a, b) for a, b in zip(w + s, w_t + s_t, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(w, s, strict=True))  # it trained on


def test_an_error_in_a_worker_is_raised_here(always_fork):
    with pytest.raises(ValueError, match="boom in a worker"):
        train_many([Dies("raise"), Dies("raise")], 5, seeds=[0, 1], engine=Engine(progress=False))
    assert always_fork == [2]
    assert mp.active_children() == []


def test_a_worker_that_dies_is_a_clear_error(always_fork):
    with pytest.raises(forked.WorkerDied, match=r"worker \d \(pid \d+\) exited with status 3"):
        train_many([Dies("exit"), Dies("exit")], 5, seeds=[0, 1], engine=Engine(progress=False))
    assert mp.active_children() == []


def test_fork_map_is_map_in_order_over_processes():
    """Item 0 waits until every other item is done: only a queue, from which the other process
    takes every item the first one does not, can finish them (a fixed share of items 0, 2, 4
    to the first process would wait out the timeout); then the results come back in order."""
    n = 7
    done, rest_done = mp.get_context("fork").Value("i", 0), mp.get_context("fork").Event()

    def f(x: int) -> tuple[int, int, bool]:
        if x == 0:
            return 0, os.getpid(), rest_done.wait(timeout=60)
        with done.get_lock():
            done.value += 1
            if done.value == n - 1:
                rest_done.set()
        return x * x, os.getpid(), True

    out = forked.fork_map(f, list(range(n)), 2)
    assert [v for v, _, _ in out] == [x * x for x in range(n)]
    assert all(ok for *_, ok in out)  # item 0 saw the others finish
    first = out[0][1]  # item 0 was the first taken: its process took no other
    assert all(pid != first for _, pid, _ in out[1:])
    assert len({p for _, p, _ in out}) == 2  # this process and one child


def test_fork_map_is_a_loop_where_it_may_not_fork(monkeypatch):
    monkeypatch.setattr(forked, "FORK", False)
    out = forked.fork_map(lambda x: os.getpid(), list(range(4)), 2)
    assert out == [os.getpid()] * 4


def test_fork_map_is_a_loop_on_more_than_one_torch_thread():
    """A child forked after torch ran on two threads would wait on the copied OpenMP pool
    (`deepsets run --threads 2` hung in the set-size section)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        out = forked.fork_map(lambda x: (float(torch.ones(64, 64).sum()), os.getpid()), [0, 1], 2)
    finally:
        torch.set_num_threads(before)
    assert out == [(4096.0, os.getpid())] * 2


def test_only_integer_seeds_and_cpus_fork():
    cpu = torch.device("cpu")
    assert forked.forkable(cpu, [0, 1])
    assert not forked.forkable(cpu, [0, torch.Generator()])  # the caller's, to be advanced
    assert not forked.forkable(cpu, [None])
    assert not forked.forkable(torch.device("cuda"), [0, 1])
    assert not forked.forkable(cpu, [0, 1], threads=2)  # a copied OpenMP pool would hang


def test_only_linux_forks(monkeypatch):
    assert forked.can_fork()
    for platform in ("darwin", "win32"):
        monkeypatch.setattr(forked.sys, "platform", platform)
        assert not forked.can_fork()
        assert forked.fork_map(lambda x: os.getpid(), [0, 1], 2) == [os.getpid()] * 2


def test_small_work_stays_on_threads(monkeypatch):
    calls = []
    monkeypatch.setattr(forked, "fork_all", lambda jobs, here=False: calls.append(jobs))
    train_many([make_mlp((4,), generator=k) for k in range(4)], 3, seeds=[0, 1, 2, 3])
    assert calls == []


BLOCKED_CHILD = """
import signal, time
from deepsets.engine import forked

class Terminated(BaseException):
    pass

def handler(signum, frame):  # as the study's: SIGTERM raises, and the fork copies the handler
    raise Terminated

signal.signal(signal.SIGTERM, handler)

def here():
    time.sleep(1.0)  # the child has its result by now, blocked on the full pipe
    raise KeyError("here")

try:
    forked.fork_all([here, lambda: b"x" * 20_000_000])
except KeyError:
    print("ended")
"""


def test_an_error_here_ends_a_child_blocked_on_sending_its_result(tmp_path):
    """The parent ends its children with SIGTERM: a child must die of it at once, even with the
    parent's raising handler copied into it and blocked on a pipe the parent no longer reads."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", BLOCKED_CHILD], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "ended", done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_children_leave_ctrl_c_to_their_parent():
    home = os.getpid()

    def job(x: int) -> int:
        if os.getpid() != home:
            os.kill(os.getpid(), signal.SIGINT)  # as a terminal sends to the whole group
        return x

    assert forked.fork_map(job, [0, 1, 2, 3], 2) == [0, 1, 2, 3]


class Buffers(nn.Module):
    """Entries of every kind a state_dict may hold: dtypes of 1, 2, 4 and 8 bytes side by
    side (misaligned in one byte array), a 0-dim one, an empty one, a non-contiguous one."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = nn.Parameter(torch.randn(3, 5, generator=g))
        self.register_buffer("flag", torch.tensor([True, False, True]))
        self.register_buffer("brain", torch.randn(7, generator=g).to(torch.bfloat16))
        self.register_buffer("count", torch.tensor(12345678901, dtype=torch.int64))
        self.register_buffer("empty_rows", torch.empty(0, 4))
        self.register_buffer("strided", torch.randn(4, 3, generator=g, dtype=torch.float64).T)


def test_packed_weights_unpack_to_the_same_bits_names_dtypes_and_shapes():
    weights = Buffers().state_dict()
    back = forked.unpack(forked.pack(weights))
    assert list(back) == list(weights)
    for name, t in weights.items():
        got = back[name]
        assert (got.dtype, got.shape) == (t.dtype, t.shape), name
        assert torch.equal(got.reshape(-1).view(torch.uint8), t.reshape(-1).view(torch.uint8))
    model = Buffers()
    with torch.no_grad():
        model.w.zero_()
    model.load_state_dict(back)  # loads into a module as its own state_dict would
    assert torch.equal(model.w, weights["w"])


def test_weights_that_are_not_strided_travel_as_they_are():
    weights = {"s": torch.eye(3).to_sparse(), "d": torch.ones(2)}
    assert forked.unpack(forked.pack(weights)) is weights


def test_a_killed_worker_is_an_error_at_once_naming_it_and_its_signal():
    """A worker killed mid-run (SIGKILL: the kernel's OOM killer, a user) ends the call at once,
    not after the other workers' work (20 s here), naming the worker, its pid and the signal;
    the other workers are ended."""

    def survivor() -> int:
        time.sleep(20)
        return 0

    def killed() -> int:
        os.kill(os.getpid(), signal.SIGKILL)
        return 1

    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"worker 1 \(pid \d+\) was killed by SIGKILL"):
        forked.fork_all([survivor, killed])
    assert time.monotonic() - start < 10
    assert mp.active_children() == []


def test_the_command_line_reports_a_killed_worker_in_one_line(tmp_path, monkeypatch, capsys):
    """`deepsets run` whose forked worker is killed: one line naming the worker and SIGKILL, a
    non-zero exit, and no output folder."""
    from deepsets import cli
    from deepsets.engine import train

    monkeypatch.setattr(parts, "FORK_SECONDS", 0.0)  # fork whatever the work
    home, fit = os.getpid(), train.fit

    def killed_in_a_worker(*args, **kwargs):
        if os.getpid() != home:
            os.kill(os.getpid(), signal.SIGKILL)
        return fit(*args, **kwargs)

    monkeypatch.setattr(train, "fit", killed_in_a_worker)
    small = ["--quick", "--no-extras", "--steps", "100", "--final-window", "20", "--workers", "2"]
    assert cli.main(["run", *small, "--out", str(tmp_path / "run")]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    said = r"deepsets run: error: worker \d \(pid \d+\) was killed by SIGKILL .*"
    assert re.fullmatch(said, err.splitlines()[-1]), err
    assert list(tmp_path.iterdir()) == []


def test_fork_map_reports_a_killed_child_by_name():
    """fork_map runs one share here: a child killed meanwhile is named once that share ends."""
    parent = os.getpid()

    def f(x: int) -> int:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.05)  # leaves the child time to take an item
        return x

    with pytest.raises(forked.WorkerDied, match=r"worker 1 \(pid \d+\) was killed by SIGKILL"):
        forked.fork_map(f, list(range(20)), 2)
    assert mp.active_children() == []


class Stop(Exception):
    pass


def test_a_long_call_trains_every_part_in_a_child_a_short_one_its_first_part_here(monkeypatch):
    """Past WATCH_SECONDS of estimated work a child's death must be seen at once: every part in
    a child; a short call trains its first part here, a fork less (its error comes as soon)."""
    seen = []

    def spy(n, train, models, here=False):
        seen.append(here)
        raise Stop

    monkeypatch.setattr(parts, "run_forked", spy)
    for steps in (4000, 50):
        models = [DeepSet(generator=k) for k in range(64)]
        with pytest.raises(Stop):
            train_many(models, steps, seeds=range(64), engine=Engine(workers=2, progress=False))
    assert seen == [False, True]
