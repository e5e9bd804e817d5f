"""How every study runs: its device and threads, its staged output directory and clocks
(`staging`), its phases of training (`train_phases`), and the files every run writes
(`write_run`): figures, weights/<name>.safetensors (by `deepsets.save_model`, so that
`deepsets.load_model` rebuilds each model), metrics.json and report.html.

The report is a study's Jinja2 templates (its `templates/`, then the shared macros.html.j2 and
report.css of this package's), autoescaped, so no measured value or setting can inject markup,
with the figures embedded as base64 PNGs, so the page can be mailed or opened offline.
"""

from __future__ import annotations

import base64
import contextlib
import json
import platform
import re
import resource
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from torch import nn

from deepsets.checks import resolve_device
from deepsets.cluster import ClusterInfo, cluster_info, describe
from deepsets.engine.forked import fork_map
from deepsets.engine.settings import Engine, resolve_workers, torch_threads, using_workers
from deepsets.engine.train import Sets, train_on
from deepsets.lab.output import default_out, staged
from deepsets.lab.settings import CommonSettings, threads_of, workers_of
from deepsets.lab.verdict import label
from deepsets.plots import Figure
from deepsets.weights import save_model


def spread(values: Any, listed: str | None = None) -> dict[str, Any]:
    """{"mean", "min", "max"} of the values (a seed's each), and with `listed` the values
    themselves under that key, as JSON types."""
    v = np.asarray(values, dtype=float)
    out: dict[str, Any] = {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}
    return out if listed is None else {**out, listed: v.tolist()}


def run_device(s: CommonSettings) -> torch.device:
    """Where the study's models live: `s.device` resolved, or the CPU when a cluster's workers
    train them."""
    return resolve_device("cpu" if s.scheduler is not None else s.device)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the engine's forked workers)."""
    usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def versions(*extra: str) -> dict[str, str]:
    """Versions of Python, the platform and the libraries the results depend on (and `extra`)."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("deepsets", "torch", "numpy", "matplotlib", "safetensors", *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass(frozen=True, kw_only=True)
class Ran:
    """What every study's results hold on the run itself (`Stage.machine` and its clocks)."""

    out: Path
    seeds: tuple[int, ...]
    wall_seconds: float
    device: str
    threads: int
    workers: int
    environment: dict[str, str]
    cluster: ClusterInfo | None = None
    """The Dask cluster the models trained on (`--scheduler`); None: in this process."""

    def run_json(self, settings: Any) -> dict[str, Any]:
        """metrics.json's fields on the run: settings, seeds, device, threads, workers,
        versions, wall_seconds and cluster."""
        return {
            "settings": asdict(settings),
            "seeds": list(self.seeds),
            "device": self.device,
            "threads": self.threads,
            "workers": self.workers,
            "versions": self.environment,
            "wall_seconds": self.wall_seconds,
            "cluster": None if self.cluster is None else asdict(self.cluster),
        }


@dataclass(frozen=True)
class Stage:
    """A study's run under way: where it goes (`out`), where it writes until it is put there
    (`tmp`), its device and its clocks at the start."""

    out: Path
    tmp: Path
    device: torch.device
    start: float
    cpu: float

    def machine(self, s: CommonSettings, *extra: str) -> dict[str, Any]:
        """The fields every study's results hold on where it ran: device, threads, workers,
        environment (the versions, with `extra` libraries) and cluster."""
        return dict(
            device=str(self.device),
            threads=torch.get_num_threads(),
            workers=workers_of(s, self.device),
            environment=versions(*extra),
            cluster=cluster_info(),
        )

    def wall_seconds(self) -> float:
        return time.perf_counter() - self.start

    def cpu_seconds(self) -> float:
        return cpu_seconds() - self.cpu


@contextlib.contextmanager
def staging(s: CommonSettings) -> Iterator[Stage]:
    """The block is the study's run, staged (`lab.output.staged`): into `s.out` (default: a
    fresh runs/<timestamp>), put in place only if the block succeeds; on `threads_of(s)` torch
    threads with `s.workers` as every engine call's default workers (the caller's restored)."""
    out = Path(s.out) if s.out is not None else default_out()
    start, cpu = time.perf_counter(), cpu_seconds()
    with torch_threads(threads_of(s)), using_workers(s.workers), staged(out, s.overwrite) as tmp:
        yield Stage(out, tmp, run_device(s), start, cpu)


def write_run(
    root: Path,
    study: str,
    figures: Mapping[str, Figure],
    weights: Mapping[str, nn.Module],
    metrics: Mapping[str, Any],
    page: str | None = None,
    **context: Any,
) -> None:
    """root/figures/<name>.png (drawn side by side in the engine's worker processes: matplotlib
    draws on one core), root/weights/<name>.safetensors, root/metrics.json and root/report.html
    (`render`)."""
    (root / "figures").mkdir()

    def save(name: str) -> None:
        figures[name].savefig(root / "figures" / f"{name}.png", dpi=110)

    fork_map(save, list(figures), resolve_workers())
    write_weights(root, weights)
    (root / "metrics.json").write_text(json.dumps(metrics, indent=1))
    html = render(study, embedded_figures(root), page, **context)
    (root / "report.html").write_text(html, encoding="utf-8")


def render(study: str, figures: Mapping[str, str], page: str | None = None, **context: Any) -> str:
    """The study's `templates/<page>` (default: <study>.html.j2) rendered with `context` and
    `figures` (name -> base64 PNG)."""
    template = environment(f"deepsets.studies.{study}").get_template(page or f"{study}.html.j2")
    return template.render(figures=figures, **context)


Phase = tuple[int, float, list[int], str]  # Adam steps, lr, each model's batch seed, the loss


def train_phases(
    models: list[nn.Module],
    data: Sets,
    phases: list[Phase],
    batch_size: int,
    threads: int | None,
    progress: bool = False,
) -> np.ndarray:
    """Train `models` on data = (X, y[, mask]) through `phases`, one engine call each (a fresh
    Adam: the engine keeps the learning rate fixed within a call), skipping phases of 0 steps;
    every step's loss, (K, T) over the phases."""
    losses = []
    for steps, lr, seeds, loss in phases:
        if steps:
            _, L = train_on(
                models, data, steps, lr=lr, loss=loss, batch_size=batch_size, seeds=seeds,
                engine=Engine(progress=progress, threads=threads),
            )  # fmt: skip
            losses.append(L)  # (K, steps)
    return np.concatenate(losses, axis=1)


def seed_weights(seeds: tuple[int, ...], models: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """weights/ names `<task>-<model>-seed<s>` of task -> model -> the runs (one per seed)."""
    return {
        f"{task}-{model}-seed{seed}": m
        for task, by_model in models.items()
        for model, runs in by_model.items()
        for seed, m in zip(seeds, runs, strict=True)
    }


def environment(study: str) -> Environment:
    """The template environment of study package `study` (e.g. "deepsets.studies.digits"):
    its own templates, then the shared ones; autoescaped, failing on any undefined name."""
    env = Environment(
        loader=ChoiceLoader([PackageLoader(study), PackageLoader("deepsets.lab")]),
        autoescape=select_autoescape(["html", "html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format  # {{ x|num(".4g") }}
    env.filters["tuple"] = tuple
    env.filters["cluster"] = describe  # {{ r.run.cluster|cluster }}: where the models trained
    name = study.rsplit(".", 1)[-1]  # its name in the registry: "digits"
    env.globals["quick_label"] = lambda quick: label(name, quick)  # macros.html.j2's quick_run
    return env


def embedded_figures(root: Path) -> dict[str, str]:
    """root/figures/<name>.png as base64 text, by name."""
    return {
        p.stem: base64.b64encode(p.read_bytes()).decode()
        for p in sorted((root / "figures").glob("*.png"))
    }


def slug(name: str) -> str:
    """A file name from a label: 'wider latent (L = 8)' -> 'wider-latent-l-8'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def write_weights(root: Path, models: Mapping[str, nn.Module]) -> None:
    """root/weights/<name>.safetensors for every model (the names are file names, unique)."""
    (root / "weights").mkdir(exist_ok=True)
    for name, model in models.items():
        save_model(model, root / "weights" / f"{name}.safetensors")
