"""FlatAdam against torch.optim.Adam: the same weights, to the bit, step after step."""

from __future__ import annotations

import pytest
import torch

from deepsets.engine.adam import FlatAdam


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("lr", [1e-3, 0.05])
def test_flat_adam_is_torch_adam_to_the_bit(dtype, lr):
    g = torch.Generator().manual_seed(0)
    start = torch.randn(300, generator=g, dtype=dtype)
    ours = start.clone().requires_grad_(True)
    ref = start.clone().requires_grad_(True)
    opt_ours, opt_ref = FlatAdam(ours, lr), torch.optim.Adam([ref], lr=lr, foreach=False)
    for t in range(200):
        grad = torch.randn(300, generator=g, dtype=dtype) * (10.0 ** (t % 5 - 2))
        opt_ours.zero_grad()
        opt_ref.zero_grad()
        ours.grad, ref.grad = grad.clone(), grad.clone()
        opt_ours.step()
        opt_ref.step()
        assert torch.equal(ours, ref), t
    assert not torch.equal(ours, start)  # it moved: the comparison can fail


def test_zero_grad_clears_the_gradient():
    flat = torch.zeros(3, requires_grad=True)
    flat.grad = torch.ones(3)
    FlatAdam(flat, 0.1).zero_grad()
    assert flat.grad is None
