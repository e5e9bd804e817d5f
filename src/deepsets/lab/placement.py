"""Where a study's work runs: its device (`run_device`) and torch's threads over the whole
study (`study_threads`), derived from its settings (`lab.settings.CommonSettings`) once the
check has passed. These need torch; the settings and their check do not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from deepsets.checks import resolve_device
from deepsets.engine.settings import torch_threads, using_workers
from deepsets.lab.settings import CommonSettings, threads_of


def run_device(s: CommonSettings) -> torch.device:
    """Where the study's models live: `s.device` resolved, or the CPU when a cluster's workers
    train them."""
    return resolve_device("cpu" if s.scheduler is not None else s.device)


@contextlib.contextmanager
def study_threads(s: CommonSettings) -> Iterator[int]:
    """Run the block (a whole study) on `threads_of(s)` torch threads, then restore the caller's.

    This is the one place a study sets its threads outside training (its evaluation, figures);
    its engine calls pass `threads=s.threads` to `train_many`/`train_on`, which train on that
    many (None: the same TORCH_THREADS): exercise plan.Plan.train and
    sections/sample_efficiency.py, digits train.train_task, theory common.fit.
    """
    n = threads_of(s)
    with torch_threads(n), using_workers(s.workers):  # every engine call's default workers
        yield n
