"""The study beyond the exercise: set sizes, pooling with an affine phi, learned phi, latent width.

Each question is answered by models trained in the same run as the exercise's (see run.py).
"""

from __future__ import annotations

import numpy as np
import torch

from deepsets.data import make_data
from deepsets.models import DeepSet
from deepsets.study import figures as figs
from deepsets.training import count_params, evaluate, run_model

TEST_SIZES = (5, 10, 20, 50, 100)
LATENTS = (1, 2, 4, 8)
POOLING_VARIANTS = {"sum": "deepset", "mean": "deepset-mean", "max": "deepset-max"}
MIXED = (5, 20)  # the set sizes of the DeepSet trained on mixed sizes
MIXED_KEY = "deepset-mixed"
LINEAR_VARIANTS = {
    "sum": "deepset-linear",
    "mean": "deepset-linear-mean",
    "max": "deepset-linear-max",
}


def latent_key(L: int) -> str:
    return "deepset" if L == 1 else f"deepset-L{L}"


def declare(plan, s) -> None:
    """Add the extra sections' models to the study's plan (reusing the exercise's where equal)."""
    for pooling, key in POOLING_VARIANTS.items():
        plan.add(key, lambda p=pooling: DeepSet(s.hidden, pooling=p))
    plan.add(MIXED_KEY, lambda: DeepSet(s.hidden), sizes=MIXED)
    for pooling, key in LINEAR_VARIANTS.items():
        plan.add(key, lambda p=pooling: DeepSet(s.hidden, activation=None, pooling=p))
    for L in LATENTS:
        plan.add(latent_key(L), lambda L=L: DeepSet(s.hidden, latent=L))


def values(models, X, y, key: str) -> list[float]:
    return [evaluate(m, X, y)[key] for m in models]


@torch.no_grad()
def set_size_section(plan, s, device) -> tuple[dict, object]:
    """Train on 10 objects, test on 5..100: where each pooling holds and where it breaks."""
    tests = {
        n: make_data(s.test_size, n_objects=n, generator=20_011 + n + s.seed, device=device)
        for n in TEST_SIZES
    }
    variants = {f"{p} pooling": key for p, key in POOLING_VARIANTS.items()}
    variants[f"sum pooling, trained on {MIXED[0]}-{MIXED[1]} objects"] = MIXED_KEY
    acc = {
        name: np.array([values(plan.models[key], *tests[n], "accuracy") for n in TEST_SIZES]).T
        for name, key in variants.items()
    }  # name -> (S, sizes)
    zero = torch.zeros(1, 1, 1, device=device)
    phi0 = {
        key: [float(m.phi(zero).abs().max()) for m in plan.models[key]]
        for key in ("deepset", MIXED_KEY)
    }
    try:  # the study's trained MLP, on sets of 20
        run_model(plan.models["mlp"][0], tests[20][0])
        mlp_note = "the MLP built for 10 objects accepted 20 (unexpected)"
    except ValueError as e:
        torch_says = str(e.__cause__).splitlines()[0][:100]
        mlp_note = f"the MLP built for 10 objects cannot take 20 at all: torch says {torch_says!r}"
    section = {
        "trained_on": 10,
        "mixed_sizes": list(MIXED),
        "test_sizes": list(TEST_SIZES),
        "accuracy": {
            p: {"mean": a.mean(axis=0).tolist(), "per_seed": a.tolist()} for p, a in acc.items()
        },
        "sum_abs_phi0": {"values": phi0["deepset"], "mean": float(np.mean(phi0["deepset"]))},
        "mixed_abs_phi0": {"values": phi0[MIXED_KEY], "mean": float(np.mean(phi0[MIXED_KEY]))},
        "mlp": mlp_note,
    }
    fig = figs.set_sizes(list(TEST_SIZES), acc, "10 unless stated")
    return section, fig


def linear_pooling_section(plan, s, test) -> tuple[dict, object]:
    """Which poolings still solve the task when phi is affine."""
    section = {
        pooling: {
            "final_loss": plan.losses[key][:, -s.final_window :].mean(axis=1).tolist(),
            "accuracy": values(plan.models[key], *test, "accuracy"),
        }
        for pooling, key in LINEAR_VARIANTS.items()
    }
    ends = torch.tensor([[0.0], [1.0]], device=test[0].device)  # (2, 1): x = 0 and x = 1
    for key, v in zip(LINEAR_VARIANTS.values(), section.values(), strict=True):
        v["accuracy_mean"] = float(np.mean(v["accuracy"]))
        v["final_loss_mean"] = float(np.mean(v["final_loss"]))
        with torch.no_grad():  # the affine phi(x) = a x + b: its slope a = phi(1) - phi(0)
            v["slope"] = [float(m.phi(ends).diff(dim=0)[0, 0]) for m in plan.models[key]]
    fig = figs.seeds_by_variant(
        {f"{p} pooling": v["accuracy"] for p, v in section.items()},
        "held-out accuracy",
        "Affine phi: which pooling can still tell the classes apart?",
    )
    return section, fig


@torch.no_grad()
def phi_section(plan, device) -> tuple[dict, object]:
    """The learned phi on [0, 1] for each pooling, and its values at the data's three inputs."""
    x = torch.linspace(0, 1, 101, device=device)  # (101,)
    inputs = torch.tensor([[0.0], [1 / 5], [1 / 3]], device=device)  # (3, 1): the data's values
    curves, at = {}, {}
    for pooling, key in POOLING_VARIANTS.items():
        c = np.stack([m.phi(x[:, None])[:, 0].cpu().numpy() for m in plan.models[key]])  # (S, 101)
        curves[f"{pooling} pooling"] = c
        v = np.stack([m.phi(inputs)[:, 0].cpu().numpy() for m in plan.models[key]])  # (S, 3)
        at[pooling] = {lab: v[:, i].tolist() for i, lab in enumerate(("0", "1/5", "1/3"))}
        # max pooling is blind when phi(0) is the largest of the three: it pools phi(0) always
        at[pooling]["max_is_phi0"] = (v[:, 0] >= v[:, 1:].max(axis=1)).tolist()
    return {"phi_at_inputs": at}, figs.phi_curves(x.cpu().numpy(), curves)


def latent_section(plan, s, test) -> tuple[dict, object]:
    """Final loss and accuracy for latent widths L = 1, 2, 4, 8."""
    section = {}
    for L in LATENTS:
        key = latent_key(L)
        fl = plan.losses[key][:, -s.final_window :].mean(axis=1)
        section[str(L)] = {
            "params": count_params(plan.models[key][0]),
            "final_loss": fl.tolist(),
            "final_loss_mean": float(fl.mean()),
            "accuracy": values(plan.models[key], *test, "accuracy"),
        }
    fig = figs.seeds_by_variant(
        {f"L = {L}": section[str(L)]["final_loss"] for L in LATENTS},
        "final training loss (BCE)",
        "Latent width of phi",
        log=True,
    )
    return section, fig


def measure_all(plan, s, test) -> tuple[dict, dict]:
    """All extra sections: (metrics, figures)."""
    device = test[0].device
    metrics, figures = {}, {}
    metrics["set_size"], figures["set_size"] = set_size_section(plan, s, device)
    metrics["linear_pooling"], figures["linear_pooling"] = linear_pooling_section(plan, s, test)
    metrics["phi"], figures["phi"] = phi_section(plan, device)
    metrics["latent"], figures["latent"] = latent_section(plan, s, test)
    return metrics, figures
