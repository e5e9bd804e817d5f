"""What `run_attention` returns: every test number by task, model and run, and the verdicts.

`AttentionResults.to_json()` is metrics.json; its schema is in docs/studies/attention.md (an
interface others read: change both together).

Shape letters: S runs (seeds), T training steps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from deepsets.lab.run import Ran, spread
from deepsets.lab.verdict import Verdict, jsonable, judged
from deepsets.studies.attention import verdicts
from deepsets.studies.attention.settings import AttentionSettings

SCHEMA = "attention/1"
TASKS = ("max_regression", "clustering")
FINAL_WINDOW = 0.1  # the final loss: the mean over this share of the last training steps


@dataclass(frozen=True)
class Findings:
    """Each model against the paper, each task's ordering, and the issue's targets."""

    models: dict[str, dict[str, Verdict]]
    """task -> model -> its value against the paper's."""
    ordering: dict[str, Verdict]
    """task -> the models' order against the paper's."""
    max_targets: Verdict
    oracle: Verdict
    near_oracle: Verdict
    deepset_gap: Verdict

    @property
    def targets(self) -> list[tuple[str, Verdict]]:
        """The issue's targets, labelled."""
        return [
            ("max regression", self.max_targets),
            ("oracle", self.oracle),
            ("near the oracle", self.near_oracle),
            ("DeepSet gap", self.deepset_gap),
        ]


@dataclass(frozen=True)
class AttentionResults(Ran):
    """Where the study wrote, how it ran (`lab.run.Ran`), and every number it measured."""

    settings: AttentionSettings
    values: dict[str, dict[str, np.ndarray]]
    """task -> model -> test value of each run (S,): MAE, or log-likelihood per point."""
    oracle: float
    """The true parameters' mean log-likelihood per point on the clustering's test datasets."""
    losses: dict[str, dict[str, np.ndarray]]
    """task -> model -> training loss (S, T)."""
    train_seconds: dict[str, float]
    """task -> wall seconds of its training."""
    train_cpu_seconds: dict[str, float]
    """task -> CPU seconds of its training (this process and the engine's workers)."""
    cpu_seconds: float

    def means(self, task: str) -> dict[str, float]:
        """Model -> mean over runs."""
        return {m: float(v.mean()) for m, v in self.values[task].items()}

    def final_loss(self, task: str, model: str) -> np.ndarray:
        """Each run's mean training loss over the last FINAL_WINDOW of its steps, (S,)."""
        L = self.losses[task][model]  # (S, T)
        final: np.ndarray = L[:, -max(1, round(FINAL_WINDOW * L.shape[1])) :].mean(axis=1)
        return final

    @cached_property
    def findings(self) -> Findings:
        means = {t: self.means(t) for t in TASKS}
        findings = Findings(
            models={
                t: {m: verdicts.model_verdict(t, m, means[t]) for m in means[t]} for t in TASKS
            },
            ordering={t: verdicts.ordering(t, means[t]) for t in TASKS},
            max_targets=verdicts.max_targets(means["max_regression"]),
            oracle=verdicts.oracle(self.oracle),
            near_oracle=verdicts.near_oracle(means["clustering"], self.oracle),
            deepset_gap=verdicts.deepset_gap(means["clustering"], self.oracle),
        )
        return judged(findings, self.settings.quick)

    def best_and_worst(self) -> tuple[str, str]:
        """The clustering models with the highest and the lowest mean log-likelihood."""
        means = self.means("clustering")
        return max(means, key=means.__getitem__), min(means, key=means.__getitem__)

    def to_json(self) -> dict[str, Any]:
        """metrics.json: results[task][model] = {"mean", "min", "max", "values"}, the paper's
        values paper[task][model] = {"mean", "std"}, the findings and the run."""
        results: dict[str, Any] = {
            t: {m: spread(v, "values") for m, v in self.values[t].items()} for t in TASKS
        }
        results["clustering"] = {
            "oracle": spread([self.oracle], "values"),
            **results["clustering"],
        }
        paper = {
            t: {m: {"mean": v, "std": s} for m, (v, s) in verdicts.PAPER[t].items()} for t in TASKS
        }
        final = {t: {m: self.final_loss(t, m).tolist() for m in self.losses[t]} for t in TASKS}
        metrics = {
            "schema": SCHEMA,
            "study": "attention",
            "results": results,
            "paper": paper,
            "paper_source": verdicts.SOURCE,
            "findings": jsonable(self.findings),
            "final_train_loss": final,
            **self.run_json(self.settings),
            "train_seconds": self.train_seconds,
            "train_cpu_seconds": self.train_cpu_seconds,
            "cpu_seconds": self.cpu_seconds,
        }
        as_json: dict[str, Any] = json.loads(json.dumps(metrics))
        return as_json
