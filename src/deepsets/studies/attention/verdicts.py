"""Our numbers beside the paper's (Lee et al. 2019), and the issue's targets: each a
`lab.verdict.Verdict` chosen by a pure function of numbers.

Per model: CONFIRMED when our mean is within the paper's value +- SPREAD published standard
deviations; PARTLY when it is not (or the paper gives no deviation) but the model keeps its
rank among the task's models; REFUTED otherwise. Per task: the paper's ordering, pair by pair.
The targets (issue 23) are thresholds on means over runs. Every threshold is a named constant;
tests/test_attention_study.py feeds numbers on both sides of each.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

from deepsets.lab.verdict import Outcome, Verdict, count_outcome

SOURCE = "Lee et al. 2019 (Set Transformer)"
# Table 1: test MAE; section 5.3: test log-likelihood per point. (mean, std or None)
PAPER: dict[str, dict[str, tuple[float, float | None]]] = {
    "max_regression": {
        "mean": (2.133, 0.190),
        "sum": (1.902, 0.137),
        "max": (0.1355, 0.0074),
        "sab_pma": (0.2085, 0.0127),
    },
    "clustering": {
        "oracle": (-1.4726, None),
        "rff_pool": (-2.0006, 0.0123),
        "sab_pool": (-1.6772, None),
        "rff_pma": (-1.6680, None),
        "sab_pma": (-1.5145, None),
        "isab_pma": (-1.5009, 0.0068),
    },
}
LOWER_IS_BETTER = {"max_regression": True, "clustering": False}  # MAE vs log-likelihood
SPREAD = 3.0  # a value agrees with the paper's within this many of its standard deviations
MAX_GOOD = 0.5  # max pooling and SAB + PMA: test MAE at most this
MAX_BAD = 1.0  # sum and mean pooling: test MAE at least this
ORACLE_TOLERANCE = 0.02  # our oracle within this of the paper's
NEAR_ORACLE = 0.15  # nats: ISAB + PMA and SAB + PMA at most this far from the oracle
GAP_RATIO = 2.0  # the DeepSet at least this many times as far from the oracle as the best ST
ATTENTION = ("sab_pool", "rff_pma", "sab_pma", "isab_pma")  # the clustering's Set Transformers

Means = Mapping[str, float]  # model -> mean over runs


def ranks(values: Means, lower_is_better: bool) -> dict[str, int]:
    """Model -> its rank, 1 for the best."""
    order = sorted(values, key=lambda m: values[m] if lower_is_better else -values[m])
    return {m: i + 1 for i, m in enumerate(order)}


def model_verdict(task: str, name: str, means: Means, spread: float = SPREAD) -> Verdict:
    """Does model `name`'s mean agree with the paper's value (or at least keep its rank)?"""
    paper, std = PAPER[task][name]
    papers = {m: PAPER[task][m][0] for m in means if m in PAPER[task] and m != "oracle"}
    lower = LOWER_IS_BETTER[task]
    ours_rank, paper_rank = ranks(means, lower)[name], ranks(papers, lower)[name]
    within = std is not None and abs(means[name] - paper) <= spread * std
    kept = ours_rank == paper_rank
    if within:
        text = "{ours:.4g} is within {spread} std of the paper's {paper:.4g} +- {std:.2g}."
    elif std is None:
        text = "{ours:.4g} against the paper's {paper:.4g} (no std published); rank {rank} of {of}"
        text += " as in the paper." if kept else ", the paper's: {paper_rank}."
    else:
        text = "{ours:.4g} is {off:.1f} std from the paper's {paper:.4g} +- {std:.2g}; rank {rank}"
        text += " of {of}, as in the paper." if kept else " of {of}, the paper's: {paper_rank}."
    off = abs(means[name] - paper) / std if std else None
    return Verdict(
        Outcome.CONFIRMED if within else Outcome.PARTLY if kept else Outcome.REFUTED,
        text,
        {"ours": means[name], "off": off, "rank": ours_rank, "of": len(means)},
        {"spread": spread},
        f"{SOURCE}: {name} reaches {paper:.4g} on the {task.replace('_', ' ')} test.",
        {"paper": paper, "std": std, "paper_rank": paper_rank, "source": SOURCE},
        rule="confirmed: within {spread} of the paper's std; in part: outside it (or no std "
        "published) but the same rank among the task's models",
    )


def ordering(task: str, means: Means) -> Verdict:
    """Are the task's models ordered as in the paper, pair by pair?"""
    papers = {m: PAPER[task][m][0] for m in means}
    sign = 1 if LOWER_IS_BETTER[task] else -1
    pairs = list(combinations(means, 2))
    kept = [(a, b) for a, b in pairs if (means[a] - means[b]) * (papers[a] - papers[b]) > 0]
    flipped = [f"{a} / {b}" for a, b in pairs if (a, b) not in kept]
    best_first = sorted(means, key=lambda m: sign * means[m])
    join = " < " if sign > 0 else " > "  # MAE: lower is better; log-likelihood: higher
    text = "Ours, best first: {order}; {kept} of {pairs} pairs ordered as in the paper"
    text += "." if not flipped else " (not: {flipped})."
    return Verdict(
        count_outcome(len(kept), len(pairs)),
        text,
        {"order": join.join(best_first),
         "kept": len(kept), "pairs": len(pairs), "flipped": ", ".join(flipped)},
        {},
        f"{SOURCE}: the models' order on the {task.replace('_', ' ')} test.",
        {"paper_order": join.join(sorted(papers, key=lambda m: sign * papers[m])),
         "source": SOURCE},
        rule="confirmed when every pair of models is ordered as in the paper",
    )  # fmt: skip


def max_targets(means: Means, good: float = MAX_GOOD, bad: float = MAX_BAD) -> Verdict:
    """Max pooling and SAB + PMA at most `good` MAE, sum and mean pooling at least `bad`."""
    met = [means["max"] <= good, means["sab_pma"] <= good, means["sum"] >= bad,
           means["mean"] >= bad]  # fmt: skip
    return Verdict(
        count_outcome(sum(met), len(met)),
        "Test MAE: max {max:.3f}, SAB + PMA {sab_pma:.3f} (at most {good}); sum {sum:.3f}, "
        "mean {mean:.3f} (at least {bad}): {met} of 4 hold.",
        {**{m: means[m] for m in ("max", "sab_pma", "sum", "mean")}, "met": sum(met)},
        {"good": good, "bad": bad},
        "Max pooling and SAB + PMA regress the maximum well, sum and mean pooling do not.",
        rule="all four: max, sab_pma <= {good}; sum, mean >= {bad}",
    )


def oracle(value: float, tolerance: float = ORACLE_TOLERANCE) -> Verdict:
    """Is our oracle (the true parameters' log-likelihood) the paper's, within `tolerance`?"""
    paper = PAPER["clustering"]["oracle"][0]
    ok = abs(value - paper) <= tolerance
    return Verdict(
        Outcome.CONFIRMED if ok else Outcome.REFUTED,
        "The true parameters give {oracle:.4f} per point (paper {paper}): {diff:.4f} apart, "
        + ("within" if ok else "more than")
        + " {tolerance}.",
        {"oracle": value, "diff": abs(value - paper)},
        {"tolerance": tolerance},
        "The oracle log-likelihood depends only on the data: ours is the paper's.",
        {"paper": paper, "source": SOURCE},
        rule="within {tolerance} of the paper's oracle",
    )


def near_oracle(means: Means, oracle: float, within: float = NEAR_ORACLE) -> Verdict:
    """Are ISAB + PMA and SAB + PMA within `within` nats of the oracle?"""
    gaps = {m: oracle - means[m] for m in ("isab_pma", "sab_pma")}
    met = sum(g <= within for g in gaps.values())
    return Verdict(
        count_outcome(met, len(gaps)),
        "ISAB + PMA is {isab_pma:.3f} nats below the oracle, SAB + PMA {sab_pma:.3f} "
        "(at most {within} wanted): {met} of 2 hold.",
        {**gaps, "met": met},
        {"within": within},
        "The Set Transformers with PMA come close to the oracle (the paper: 0.028 and 0.042).",
        rule="both within {within} nats of the oracle",
    )


def deepset_gap(means: Means, oracle: float, ratio: float = GAP_RATIO) -> Verdict:
    """Is the DeepSet (rff_pool) at least `ratio` times as far from the oracle as the best
    Set Transformer of ATTENTION?"""
    best = max((m for m in ATTENTION if m in means), key=lambda m: means[m])
    gap, best_gap = oracle - means["rff_pool"], oracle - means[best]
    ok = gap >= ratio * best_gap
    return Verdict(
        Outcome.CONFIRMED if ok else Outcome.REFUTED,
        "The DeepSet is {gap:.3f} nats below the oracle, the best Set Transformer ({best}) "
        "{best_gap:.3f}: {times:.1f} times as far (at least {ratio} wanted).",
        {"gap": gap, "best": best, "best_gap": best_gap,
         "times": gap / best_gap if best_gap > 0 else float("inf")},
        {"ratio": ratio},
        "Attention beats the DeepSet at clustering by far.",
        rule="the DeepSet's gap to the oracle at least {ratio} times the best Set Transformer's",
    )  # fmt: skip
