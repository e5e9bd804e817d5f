"""What `run_digits` returns: accuracies by task, model and length over runs, the supervised
ceiling, each model's accuracy on single objects, and the verdicts.

`DigitsResults.to_json()` is metrics.json; its schema is in docs/studies/digits.md (an
interface others read: change both together).

Shape letters: S runs (seeds), L test lengths, T training steps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from deepsets.lab.run import Ran, spread
from deepsets.lab.verdict import Verdict, jsonable, judged
from deepsets.studies.digits import verdicts
from deepsets.studies.digits.ceiling import Ceiling
from deepsets.studies.digits.models import NAMES
from deepsets.studies.digits.settings import DigitsSettings

SCHEMA = "digits/3"  # 1: findings as {claim, measured (the sentence), agrees}; 2: no ceiling,
# no per_image_accuracy, no counting_set_transformer
KEY_LENGTHS = (5, 10, 20, 50, 100)  # the lengths of the report's summary table
FINAL_WINDOW = 0.1  # the final loss: the mean over this share of the last training steps
CEILING_NAME = "supervised ceiling"  # the table's and the figure's name of the ceiling
PAPER_NAME = "the paper's DeepSet (MNIST8m)"  # the table's name of the paper's image curve


@dataclass(frozen=True)
class Findings:
    """The report's comparison with the paper's Figure 2, and what goes beyond it: the
    supervised ceiling and both Set Transformers."""

    text_deepset: Verdict
    lstm: Verdict
    gru: Verdict
    image: Verdict
    image_targets: Verdict
    image_ceiling: Verdict
    set_transformer: Verdict
    counting: Verdict

    @property
    def paper(self) -> list[Verdict]:
        return [self.text_deepset, self.lstm, self.gru, self.image, self.image_targets]

    @property
    def beyond(self) -> list[Verdict]:
        return [self.image_ceiling, self.set_transformer, self.counting]


@dataclass(frozen=True)
class DigitsResults(Ran):
    """Where the study wrote, how it ran (`lab.run.Ran`), and every accuracy it measured."""

    settings: DigitsSettings
    accuracy: dict[str, dict[str, np.ndarray]]
    """task -> model -> accuracy (S, L) at settings.lengths."""
    losses: dict[str, dict[str, np.ndarray]]
    """task -> model -> training MAE (S, T)."""
    train_seconds: dict[str, float]
    ceiling: Ceiling | None = None
    """The image task's supervised ceiling on the same test sets (no seeds: one number a
    length)."""
    per_object: dict[str, dict[str, np.ndarray]] | None = None
    """task -> model -> (S,): accuracy on single objects (test images; text: tokens 1..9)."""
    cpu_seconds: float | None = None
    """CPU time of the whole study, this process and its forked workers."""

    @property
    def ceiling_curve(self) -> dict[int, float] | None:
        """Length -> the ceiling's exact-sum accuracy; None without a ceiling."""
        if self.ceiling is None:
            return None
        return dict(zip(self.ceiling.lengths, self.ceiling.exact_sum, strict=True))

    def curve(self, task: str, model: str) -> dict[int, float]:
        """Length -> mean accuracy over runs."""
        mean = self.accuracy[task][model].mean(axis=0)  # (L,)
        return {n: float(a) for n, a in zip(self.settings.lengths, mean, strict=True)}

    def final_loss(self, task: str, model: str) -> np.ndarray:
        """Each run's mean training MAE over the last FINAL_WINDOW of its steps, (S,)."""
        L = self.losses[task][model]  # (S, T)
        final: np.ndarray = L[:, -max(1, round(FINAL_WINDOW * L.shape[1])) :].mean(axis=1)
        return final

    @cached_property
    def findings(self) -> Findings:
        text = {m: self.curve("text", m) for m in self.accuracy["text"]}
        image = {m: self.curve("image", m) for m in self.accuracy["image"]}
        findings = Findings(
            text_deepset=verdicts.text_deepset(text["deepset"]),
            lstm=verdicts.recurrent(NAMES["lstm"], text["lstm"]),
            gru=verdicts.recurrent(NAMES["gru"], text["gru"]),
            image=verdicts.image_deepset(image["deepset"], image["lstm"], image["gru"]),
            image_targets=verdicts.image_targets(image["deepset"]),
            image_ceiling=verdicts.image_ceiling(image["deepset"], self.ceiling_curve),
            set_transformer=verdicts.set_transformer(text["set_transformer"], text["deepset"]),
            counting=verdicts.counting(text["counting_set_transformer"]),
        )
        return judged(findings, self.settings.quick)

    def table(self, lengths: tuple[int, ...] = KEY_LENGTHS) -> list[dict[str, Any]]:
        """Rows (task, model, then per length the mean and min over runs) at `lengths` measured;
        after the image models, the supervised ceiling (min = mean: no seeds) and the paper's
        DeepSet (None where it did not test)."""
        shown = [n for n in lengths if n in self.settings.lengths]
        cols = [self.settings.lengths.index(n) for n in shown]
        rows = []
        for task, by_model in self.accuracy.items():
            for model, acc in by_model.items():
                picked = acc[:, cols]  # (S, len(shown))
                mean, low = picked.mean(axis=0).tolist(), picked.min(axis=0).tolist()
                rows.append(dict(task=task, model=NAMES[model], lengths=shown, mean=mean, min=low))
        ceiling = self.ceiling_curve
        if ceiling is not None:
            exact = [ceiling[n] for n in shown]
            ceiling_row = dict(mean=exact, min=exact)
            rows.append(dict(task="image", model=CEILING_NAME, lengths=shown, **ceiling_row))
        paper = [verdicts.PAPER_IMAGE.get(n) for n in shown]
        rows.append(dict(task="image", model=PAPER_NAME, lengths=shown, mean=paper, min=paper))
        return rows

    def to_json(self) -> dict[str, Any]:
        """metrics.json: results[task][model][str(length)] = {"mean", "min", "max"} and the run."""
        lengths = [str(n) for n in self.settings.lengths]
        results: dict[str, Any] = {
            t: {m: {n: spread(a) for n, a in zip(lengths, acc.T, strict=True)}
                for m, acc in by_model.items()}
            for t, by_model in self.accuracy.items()
        }  # fmt: skip
        per_seed = {
            t: {m: {n: a.tolist() for n, a in zip(lengths, acc.T, strict=True)}
                for m, acc in by_model.items()}
            for t, by_model in self.accuracy.items()
        }  # fmt: skip
        ceiling = self.ceiling_curve
        if ceiling is not None:  # no seeds: the one value is the mean, the min and the max
            results["image"]["ceiling"] = {str(n): spread(a) for n, a in ceiling.items()}
        final = {
            t: {m: self.final_loss(t, m).tolist() for m in self.losses[t]} for t in self.losses
        }
        metrics = {
            "schema": SCHEMA,
            "results": results,
            "per_seed": per_seed,
            "per_image_accuracy": self.per_image_json(),
            "ceiling": None
            if self.ceiling is None
            else {"classifier": self.ceiling.classifier, "per_image": self.ceiling.per_image},
            "paper": {
                "image": {"deepset": {str(n): verdicts.PAPER_IMAGE.get(n) for n in KEY_LENGTHS}},
                "source": verdicts.paper_image()["source"],
            },
            "final_train_mae": final,
            "findings": jsonable(self.findings),
            **self.run_json(self.settings),
            "test_sets_per_length": self.settings.test_sets,
            "train_seconds": self.train_seconds,
            "cpu_seconds": self.cpu_seconds,
        }
        as_json: dict[str, Any] = json.loads(json.dumps(metrics))
        return as_json

    def per_image_json(self) -> dict[str, Any]:
        """per_image_accuracy[task][model] = {"mean", "min", "max", "per_seed"}; the ceiling's
        under ["image"]["ceiling"] (one value: no seeds)."""
        out: dict[str, Any] = {
            t: {m: spread(a, "per_seed") for m, a in by_model.items()}
            for t, by_model in (self.per_object or {}).items()
        }
        if self.ceiling is not None:
            out.setdefault("image", {})["ceiling"] = spread(self.ceiling.per_image)
        return out
