"""`threads=` is torch's thread count inside every training step: in this process, in forked
workers (which fork on one thread only) and in executor tasks; the caller's own setting comes
back afterwards."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from torch import nn

from deepsets import DeepSet, make_data, train_many, train_on
from deepsets.engine import forked, parts
from deepsets.engine.settings import Engine


class Counting(nn.Module):
    """A DeepSet that writes torch's thread count, and its process, at every forward."""

    def __init__(self, log: Path, seed: int) -> None:
        super().__init__()
        self.log = log
        self.net = DeepSet(generator=seed)

    def forward(self, X: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        with self.log.open("a") as f:
            f.write(f"{os.getpid()} {torch.get_num_threads()}\n")
        out: torch.Tensor = self.net(X, mask)
        return out


def seen(log: Path) -> list[tuple[int, int]]:
    """(process, threads) of every forward written to `log`, in order: first the check of the
    outputs before training (on the caller's threads), then one per training step."""
    return [(int(a), int(b)) for a, b in map(str.split, log.read_text().splitlines())]


@pytest.fixture
def caller_threads():
    """The caller's own setting, 2, to be restored after each call."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


@pytest.mark.parametrize("threads", [None, 2, 3])
def test_training_runs_on_the_threads_asked_for(tmp_path, caller_threads, threads):
    log = tmp_path / "log"
    train_many([Counting(log, 0)], 3, seeds=[0], engine=Engine(threads=threads, progress=False))
    check, *steps = seen(log)
    assert [n for _, n in steps] == [threads or 1] * 3
    assert torch.get_num_threads() == caller_threads


@pytest.mark.skipif(not forked.can_fork(), reason="forks on Linux only")
@pytest.mark.parametrize("threads", [None, 1, 3])
def test_workers_train_on_the_threads_asked_for(tmp_path, caller_threads, monkeypatch, threads):
    """Two stacks, two workers: on one thread each a forked child, on more a thread of this
    process (forking on more would hang); every step sees the threads asked for."""
    monkeypatch.setattr(parts, "FORK_SECONDS", 0.0)  # fork for any work
    monkeypatch.setattr(parts, "WATCH_SECONDS", 0.0)  # every part in a child
    logs = [tmp_path / "a", tmp_path / "b"]
    models = [Counting(log, k) for k, log in enumerate(logs)]
    train_many(models, 3, seeds=[0, 1], engine=Engine(threads=threads, progress=False))
    (_, *here), (_, *other) = seen(logs[0]), seen(logs[1])  # after each check, the steps
    n = threads or 1
    assert [t for _, t in here + other] == [n] * 6
    pids = [{pid for pid, _ in steps} for steps in (here, other)]
    if n > 1:
        assert pids == [{os.getpid()}] * 2
    else:  # two children
        assert pids[0] != pids[1] and os.getpid() not in pids[0] | pids[1]
    assert torch.get_num_threads() == caller_threads


def test_executor_tasks_train_on_the_threads_asked_for(tmp_path, caller_threads):
    log = tmp_path / "log"
    X, y = make_data(8, generator=0)
    with ThreadPoolExecutor(1) as pool:
        train_on(
            [Counting(log, 0)], (X, y), 3, engine=Engine(threads=3, executor=pool, progress=False)
        )
    assert [n for _, n in seen(log)[1:]] == [3] * 3
    assert torch.get_num_threads() == caller_threads
