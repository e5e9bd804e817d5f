"""FlatAdam against torch.optim.Adam: the same weights, to the bit, step after step."""

from __future__ import annotations

import pytest
import torch

from deepsets.engine import adam
from deepsets.engine.adam import FlatAdam


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("lr", [1e-3, 0.05])
@pytest.mark.parametrize("fused", [True, False])
def test_flat_adam_is_torch_adam_to_the_bit(dtype, lr, fused, monkeypatch):
    monkeypatch.setattr(adam, "FUSED", fused)
    g = torch.Generator().manual_seed(0)
    start = torch.randn(300, generator=g, dtype=dtype)
    ours = start.clone().requires_grad_(True)
    ref = start.clone().requires_grad_(True)
    opt_ours = FlatAdam(ours, lr)
    if fused:
        assert adam.fused()  # the pinned torch has the kernel
        opt_ref = torch.optim.Adam([ref], lr=lr, fused=True)
    else:
        opt_ref = torch.optim.Adam([ref], lr=lr, foreach=False)
    for t in range(200):
        grad = torch.randn(300, generator=g, dtype=dtype) * (10.0 ** (t % 5 - 2))
        opt_ref.zero_grad()
        ours.grad, ref.grad = grad.clone(), grad.clone()
        opt_ours.step()
        opt_ref.step()
        assert torch.equal(ours, ref), t
    assert not torch.equal(ours, start)  # it moved: the comparison can fail


def test_the_two_arithmetics_differ_so_the_comparison_can_tell_them_apart(monkeypatch):
    g = torch.Generator().manual_seed(1)
    start, grads = torch.randn(300, generator=g), torch.randn(50, 300, generator=g)
    ends = []
    for fused in (True, False):
        monkeypatch.setattr(adam, "FUSED", fused)
        flat = start.clone().requires_grad_(True)
        opt = FlatAdam(flat, 0.01)
        for grad in grads:
            flat.grad = grad.clone()
            opt.step()
        ends.append(flat.detach())
    assert not torch.equal(*ends)
    torch.testing.assert_close(*ends)  # the same update up to float rounding
