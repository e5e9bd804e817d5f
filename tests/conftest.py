"""Shared test setup: torch on one CPU thread for the whole session.

The models here are tiny; on a busy 2-core machine a second intra-op thread mostly waits for a
core, and a short training run measured 1.7-8 s on one thread against 46-51 s on two.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
