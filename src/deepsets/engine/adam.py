"""Adam on the engine's one flat parameter, without torch.optim's per-step bookkeeping.

The arithmetic is torch's fused Adam kernel (FUSED), or else torch.optim.Adam's single-tensor
path, op for op (lerp_, mul_ + addcmul_, sqrt / sqrt(bias correction) + eps, addcdiv_), so the
weights it gives are those of `torch.optim.Adam(params, lr, fused=True)` or
`torch.optim.Adam(params, lr, foreach=False)` to the bit (tests/test_adam.py). What it saves
is the optimizer's Python around those ops: about 40 us a step, measured 52 us for
`Adam.step` (foreach) against 18 us for this on a 62-weight DeepSet (benchmarks/README.md,
"Levers").
"""

from __future__ import annotations

import torch

BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults, as the exercise uses

# torch's one-pass Adam kernel (what `torch.optim.Adam(fused=True)` calls) instead of seven
# passes over the parameters: on the study's 288,530 parameters, one thread, 0.10 ms a step
# against 1.08 ms. Its weights are those of `torch.optim.Adam(params, lr, fused=True)` to the
# bit; off (or on a torch without the kernel), those of `foreach=False` (tests/test_adam.py).
FUSED = True


def fused() -> bool:
    """Whether steps use torch's fused Adam kernel."""
    return FUSED and hasattr(torch, "_fused_adam_")


class FlatAdam:
    """Adam with torch's default betas and eps on one flat leaf tensor (P,)."""

    def __init__(self, flat: torch.Tensor, lr: float) -> None:
        self.flat, self.lr, self.t = flat, lr, 0
        self.m = torch.zeros_like(flat)  # (P,) first moment
        self.v = torch.zeros_like(flat)  # (P,) second moment
        self.steps = torch.zeros((), dtype=torch.float32, device=flat.device)  # as torch's

    @torch.no_grad()
    def step(self) -> None:
        """One update from flat.grad."""
        (b1, b2), g = BETAS, self.flat.grad
        assert g is not None  # the loop calls step() after a backward
        self.t += 1
        if fused():
            self.steps.add_(1)
            torch._fused_adam_(
                [self.flat], [g], [self.m], [self.v], [], [self.steps], amsgrad=False,
                lr=self.lr, beta1=b1, beta2=b2, weight_decay=0.0, eps=EPS, maximize=False,
            )  # fmt: skip
            return
        self.m.lerp_(g, 1 - b1)
        self.v.mul_(b2).addcmul_(g, g, value=1 - b2)
        bias1, bias2 = 1 - b1 ** float(self.t), 1 - b2 ** float(self.t)
        denom = (self.v.sqrt() / bias2**0.5).add_(EPS)
        self.flat.addcdiv_(self.m, denom, value=-(self.lr / bias1))
