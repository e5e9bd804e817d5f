"""`run_study(settings)`: every step of the exercise, and the questions beyond it, over seeds.

All the study's models are declared first, trained together (the ensemble trainer groups them by
architecture), then each section measures its own. Run s of every model uses seed + s for both
its initialisation and its data stream, so the DeepSet and the MLP of a run see the same batches.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from deepsets.data import make_data
from deepsets.device import resolve_device
from deepsets.invariance import check_invariance
from deepsets.models import DeepSet, make_mlp
from deepsets.plots import plot_losses, plot_sets
from deepsets.study import extras
from deepsets.study import figures as figs
from deepsets.study.output import default_out, staged, versions
from deepsets.study.settings import StudySettings, resolve, sweep_architectures
from deepsets.training import (
    count_params,
    evaluate,
    held_out_set,
    recommended_threads,
    show_progress,
    train_many,
)
from deepsets.weights import save_model

log = logging.getLogger(__name__)
LN2 = math.log(2)


@dataclass
class StudyResults:
    """What a study returns: where it wrote and every number of its report."""

    out: Path
    metrics: dict


def seeded(factory: Callable[[], nn.Module], seed: int, device: torch.device) -> nn.Module:
    """Build a model with a reproducible initialisation, leaving torch's global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = factory()
    return model.to(device)


class Plan:
    """The study's models, declared by (variant, seed) before any is trained."""

    def __init__(self, seeds: list[int], device: torch.device) -> None:
        self.seeds, self.device = seeds, device
        self.models: dict[str, list[nn.Module]] = {}
        self.sizes: dict[str, tuple[int, int] | None] = {}
        self.losses: dict[str, np.ndarray] = {}

    def add(
        self, name: str, factory: Callable[[], nn.Module], sizes: tuple[int, int] | None = None
    ) -> None:
        """One variant, one model per seed, trained on sets of 10 or of `sizes` (lo, hi)."""
        if name not in self.models:
            self.models[name] = [seeded(factory, s, self.device) for s in self.seeds]
            self.sizes[name] = sizes

    def train(self, s: StudySettings, progress: bool) -> None:
        """Train the declared models, one call per kind of data, so that models of one
        architecture are stacked together."""
        for sizes in dict.fromkeys(self.sizes.values()):
            names = [n for n in self.models if self.sizes[n] == sizes]
            flat = [m for n in names for m in self.models[n]]
            seeds = [seed for _ in names for seed in self.seeds]
            _, losses = train_many(
                flat,
                s.steps,
                seeds=seeds,
                batch_size=s.batch_size,
                lr=s.lr,
                sizes=sizes,
                progress=progress,
            )
            for i, n in enumerate(names):
                self.losses[n] = losses[i * len(self.seeds) : (i + 1) * len(self.seeds)]  # (S, T)


def summarize(values: list[float]) -> dict:
    """Mean, standard deviation, min and max of per-seed values, and the values themselves."""
    v = np.asarray(values, dtype=float)
    return {
        "values": v.tolist(),
        "mean": float(v.mean()),
        "std": float(v.std()),
        "min": float(v.min()),
        "max": float(v.max()),
    }


def measure(models: list[nn.Module], losses: np.ndarray, test, window: int) -> dict:
    """Per-seed final loss (mean of the last `window` steps) and held-out accuracy."""
    X, y = test
    scores = [evaluate(m, X, y) for m in models]
    return {
        "params": count_params(models[0]),
        "final_loss": summarize(losses[:, -window:].mean(axis=1)),
        "accuracy": summarize([sc["accuracy"] for sc in scores]),
        "test_loss": summarize([sc["loss"] for sc in scores]),
    }


def mlp_name(hidden: tuple[int, ...], activation: str) -> str:
    return f"mlp-{'x'.join(map(str, hidden))}-{activation}"


def declare(plan: Plan, s: StudySettings) -> None:
    """Every model the exercise's steps need; the extras add theirs in `extras.declare`."""
    plan.add("deepset", lambda: DeepSet(s.hidden))
    plan.add("mlp", lambda: make_mlp(s.mlp_hidden, s.mlp_activation))
    plan.add("deepset-linear", lambda: DeepSet(s.hidden, activation=None))
    for arch in sweep_architectures(s):
        plan.add(mlp_name(arch["hidden"], arch["activation"]), lambda a=arch: make_mlp(**a))


def invariance_section(plan: Plan, s: StudySettings, test) -> dict:
    """Step 6: the same sets under three np.random.permutation draws, both models."""
    X = test[0][:100]  # (100, N, 1)
    check = check_invariance(
        {"DeepSet": plan.models["deepset"][0], "MLP": plan.models["mlp"][0]},
        X,
        s.permutations,
        rng=s.seed,
    )
    per_perm = {
        name: np.abs(o[1:] - o[0]).max(axis=1).tolist() for name, o in check.outputs.items()
    }
    return {
        "sets": int(X.shape[0]),
        "permutations": [p.tolist() for p in check.permutations],
        "example_set": X[0, :, 0].cpu().tolist(),
        "example_outputs": {name: o[:, 0].tolist() for name, o in check.outputs.items()},
        "max_change_per_permutation": per_perm,
        "max_change": check.max_change,
    }


def sweep_section(plan: Plan, s: StudySettings, test, deepset: dict) -> tuple[dict, object]:
    """Question 7a: which MLPs match the DeepSet, and the smallest one."""
    worst_acc, mean_loss = deepset["accuracy"]["min"], deepset["final_loss"]["mean"]
    rows = []
    for arch in sweep_architectures(s):
        name = mlp_name(arch["hidden"], arch["activation"])
        m = measure(plan.models[name], plan.losses[name], test, s.final_window)
        matches = m["accuracy"]["min"] >= worst_acc and m["final_loss"]["mean"] <= mean_loss
        rows.append(
            {
                "name": name,
                "hidden": list(arch["hidden"]),
                "depth": len(arch["hidden"]),
                "activation": arch["activation"],
                **m,
                "matches": bool(matches),
            }
        )
    matching = sorted((r for r in rows if r["matches"]), key=lambda r: r["params"])
    best = matching[0] if matching else None
    section = {
        "criterion": (
            "held-out accuracy of every seed >= the DeepSet's worst seed "
            f"({worst_acc:.4f}), and mean final loss <= the DeepSet's ({mean_loss:.4g})"
        ),
        "rows": rows,
        "smallest_match": None
        if best is None
        else {
            "name": best["name"],
            "params": best["params"],
            "ratio_to_deepset": best["params"] / deepset["params"],
        },
    }
    fig = figs.sweep(
        [
            {**r, "final_loss": r["final_loss"]["values"], "accuracy": r["accuracy"]["values"]}
            for r in rows
        ],
        {
            "params": deepset["params"],
            "final_loss": deepset["final_loss"]["values"],
            "accuracy": deepset["accuracy"]["values"],
        },
    )
    return section, fig


@torch.no_grad()
def linear_section(plan: Plan, s: StudySettings, test) -> tuple[dict, object]:
    """Question 7b: phi without a nonlinearity; the pooled value per class explains the loss."""
    X, y = test
    m = measure(plan.models["deepset-linear"], plan.losses["deepset-linear"], test, s.final_window)
    pooled = {}
    spread = {}
    labels = y[:, 0].cpu().numpy()
    for name, key in (("DeepSet, tanh phi", "deepset"), ("DeepSet, affine phi", "deepset-linear")):
        v = plan.models[key][0].embed(X)[:, 0].cpu().numpy()  # (B,)
        pooled[name] = (v, labels)
        spread[name] = {
            f"class {c}": {"mean": float(v[labels == c].mean()), "std": float(v[labels == c].std())}
            for c in (0, 1)
        }
    section = {**m, "ln2": LN2, "gap_to_ln2": abs(m["final_loss"]["mean"] - LN2), "pooled": spread}
    return section, figs.pooled_histograms(pooled)


def run_study(settings: StudySettings | None = None) -> StudyResults:
    """Run the whole study and write its report; returns the output directory and the metrics.

    Writes report.html, metrics.json, figures/*.png and weights/*.safetensors into
    `settings.out` (default: a fresh runs/<timestamp>), atomically.
    """
    s = resolve(settings or StudySettings())
    device = resolve_device(s.device)
    out = Path(s.out) if s.out is not None else default_out()
    before = torch.get_num_threads()
    torch.set_num_threads(recommended_threads(device) if s.threads is None else s.threads)
    try:
        return _run(s, device, out)
    finally:
        torch.set_num_threads(before)  # the caller's setting, as it was


def _run(s: StudySettings, device: torch.device, out: Path) -> StudyResults:
    from deepsets.study.report import write_report

    start = time.perf_counter()
    with staged(out, s.overwrite) as tmp:
        (tmp / "figures").mkdir()
        (tmp / "weights").mkdir()
        progress = show_progress(None)
        stages = tqdm(total=4, desc="study", disable=not progress)
        seeds = [s.seed + k for k in range(s.seeds)]
        plan = Plan(seeds, device)
        test = held_out_set(s.test_size, seed=10_007 + s.seed, device=device)  # never trained on
        declare(plan, s)
        if s.extras:
            extras.declare(plan, s)
        n_models = sum(len(v) for v in plan.models.values())
        log.info("training %d models x %d steps", n_models, s.steps)
        stages.set_postfix_str(f"training {n_models} models")
        t0 = time.perf_counter()
        plan.train(s, progress)
        train_seconds = time.perf_counter() - t0
        stages.update()

        figures = {}
        Xd, yd = make_data(40, generator=s.seed, device=device)
        figures["data"] = plot_sets(Xd, yd)
        ds = measure(plan.models["deepset"], plan.losses["deepset"], test, s.final_window)
        mlp = measure(plan.models["mlp"], plan.losses["mlp"], test, s.final_window)
        figures["losses"] = plot_losses(
            {
                f"DeepSet ({ds['params']} params)": plan.losses["deepset"],
                f"MLP {s.mlp_hidden} {s.mlp_activation} ({mlp['params']} params)": plan.losses[
                    "mlp"
                ],
            }
        )
        invariance = invariance_section(plan, s, test)
        stages.update()
        sweep, figures["sweep"] = sweep_section(plan, s, test, ds)
        linear, figures["linear_pooled"] = linear_section(plan, s, test)
        figures["linear_losses"] = plot_losses(
            {
                "DeepSet, tanh phi": plan.losses["deepset"],
                "DeepSet, affine phi": plan.losses["deepset-linear"],
            },
            reference=LN2,
        )
        stages.update()
        metrics = {
            "settings": asdict(s),
            "seeds": seeds,
            "device": str(device),
            "threads": torch.get_num_threads(),
            "environment": versions(),
            "models_trained": n_models,
            "data": {"shown_sets": int(Xd.shape[0]), "test_sets": s.test_size},
            "training": {"deepset": ds, "mlp": mlp},
            "params": {"deepset": ds["params"], "mlp": mlp["params"]},
            "invariance": invariance,
            "mlp_sweep": sweep,
            "linear_phi": linear,
        }
        if s.extras:
            extra_metrics, extra_figs = extras.measure_all(plan, s, test)
            metrics["extras"] = extra_metrics
            figures.update(extra_figs)
        for name, fig in figures.items():
            fig.savefig(tmp / "figures" / f"{name}.png", dpi=110)
        for key in ("deepset", "mlp", "deepset-linear"):
            for seed, model in zip(seeds, plan.models[key], strict=True):
                save_model(model, tmp / "weights" / f"{key}-seed{seed}.safetensors")
        metrics["timing"] = {
            "train_seconds": train_seconds,
            "wall_seconds": time.perf_counter() - start,
        }
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2))
        write_report(tmp, metrics)
        stages.update()
        stages.close()
    return StudyResults(out=out, metrics=metrics)
