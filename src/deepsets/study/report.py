"""The study's report: one self-contained HTML page that reads top to bottom as the exercise does.

Figures are embedded as base64 PNGs, so the page can be mailed or opened offline.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

CSS = """
body { font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em;
       line-height: 1.5; color: #222; }
h1 { border-bottom: 3px solid #444; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; }
.headline { background: #f4f8ff; border-left: 4px solid #3a6fd8; padding: 0.6em 1em; }
.match { background: #e9f7e9; } code { background: #f3f3f3; padding: 0 0.2em; }
.meta { color: #666; font-size: 0.85em; }
"""


def fmt(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}g}"


def pm(stat: dict, digits: int = 4) -> str:
    """mean ± std (min..max) of a summarize() dict."""
    return (
        f"{fmt(stat['mean'], digits)} ± {fmt(stat['std'], 2)} "
        f"<span class=meta>({fmt(stat['min'], digits)}..{fmt(stat['max'], digits)})</span>"
    )


def table(header: list[str], rows: list[list[object]], row_class: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for i, r in enumerate(rows):
        cls = f' class="{row_class[i]}"' if row_class and row_class[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def figure(root: Path, name: str, caption: str) -> str:
    data = base64.b64encode((root / "figures" / f"{name}.png").read_bytes()).decode()
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def headline(m: dict) -> str:
    """The report's answers in two sentences."""
    sweep, lin, ds = m["mlp_sweep"], m["linear_phi"], m["training"]["deepset"]
    best = sweep["smallest_match"]
    if best:
        a = (
            f"The smallest MLP that matches the {ds['params']}-parameter DeepSet is "
            f"<b>{best['name']}</b> with <b>{best['params']} parameters</b>, "
            f"<b>{best['ratio_to_deepset']:.0f}x</b> as many."
        )
    else:
        a = (
            f"<b>No MLP of the sweep</b> (up to {max(r['params'] for r in sweep['rows'])} "
            f"parameters) matches the {ds['params']}-parameter DeepSet."
        )
    b = (
        f"Without a nonlinearity in phi the DeepSet's loss stays at "
        f"<b>{lin['final_loss']['mean']:.4f}</b> (ln 2 = {lin['ln2']:.4f}): "
        f"it cannot tell the classes apart."
    )
    return f'<p class="headline">{a}<br>{b}</p>'


def exercise_sections(root: Path, m: dict) -> list[str]:
    s, ds, mlp = m["settings"], m["training"]["deepset"], m["training"]["mlp"]
    inv, sweep, lin = m["invariance"], m["mlp_sweep"], m["linear_phi"]
    out = []
    out.append(
        "<h2>1. The data</h2><p>Each set has 10 objects with one feature. In class 0, "
        "three objects at random positions are 1/3; in class 1, five are 1/5; the rest "
        "are 0. Every set therefore sums to exactly 1, whatever its class.</p>"
        + figure(root, "data", "A batch of sets from make_data, grouped by class.")
    )
    out.append(
        f"<h2>2-4. The models and their training</h2><p>A DeepSet "
        f"(<code>phi</code>: 1 &rarr; {s['hidden']} &rarr; {s['hidden']} &rarr; 1 with tanh, "
        f"sum pooling, <code>rho</code>: 1 &rarr; {s['hidden']} &rarr; 1 with a sigmoid) and an "
        f"MLP {tuple(s['mlp_hidden'])} with {s['mlp_activation']}, each trained "
        f"{len(m['seeds'])} times (seeds {m['seeds']}) for {s['steps']} Adam steps "
        f"(lr {s['lr']}) on a fresh batch of {s['batch_size']} sets per step. Final loss: "
        f"mean training loss of the last {s['final_window']} steps; accuracy: on "
        f"{s['test_size']} held-out sets.</p>"
        + table(
            ["model", "parameters", "final loss", "held-out accuracy"],
            [
                ["DeepSet", ds["params"], pm(ds["final_loss"]), pm(ds["accuracy"])],
                ["MLP", mlp["params"], pm(mlp["final_loss"]), pm(mlp["accuracy"])],
            ],
        )
        + figure(root, "losses", "Training loss (running mean), mean over seeds with min-max band.")
    )
    out.append(
        f"<h2>5. Parameter counts</h2><p><code>count_params</code>: the DeepSet has "
        f"<b>{ds['params']}</b> parameters, the MLP <b>{mlp['params']}</b> "
        f"({mlp['params'] / ds['params']:.1f}x).</p>"
    )
    names = list(inv["max_change"])
    ex = inv["example_outputs"]
    rows = [["original"] + [f"{ex[n][0]:.9f}" for n in names]]
    rows += [
        [f"permutation {j + 1}: <code>{inv['permutations'][j]}</code>"]
        + [f"{ex[n][j + 1]:.9f}" for n in names]
        for j in range(len(inv["permutations"]))
    ]
    out.append(
        f"<h2>6. Permutation invariance</h2><p>{len(inv['permutations'])} permutations drawn with "
        "<code>np.random.permutation</code> reorder the objects of the same sets. Outputs on "
        "one example set:</p>"
        + table(["input", *names], rows)
        + f"<p>Largest output change over all {inv['sets']} sets and permutations:</p>"
        + table(["model", "max |change|"], [[n, f"{inv['max_change'][n]:.3e}"] for n in names])
        + "<p>The DeepSet's change is float rounding (the sum is computed in another order, or "
        "exactly 0); the MLP's is not: it sees positions.</p>"
    )
    rows, classes = [], []
    for r in sweep["rows"]:
        rows.append(
            [
                r["name"],
                r["params"],
                pm(r["final_loss"]),
                pm(r["accuracy"]),
                "yes" if r["matches"] else "no",
            ]
        )
        classes.append("match" if r["matches"] else "")
    best = sweep["smallest_match"]
    answer = (
        f"The smallest match is <b>{best['name']}</b>: <b>{best['params']}</b> parameters, "
        f"<b>{best['ratio_to_deepset']:.1f}x</b> the DeepSet's {ds['params']}."
        if best
        else "No MLP in the sweep matches the DeepSet."
    )
    out.append(
        "<h2>7a. How many parameters does an MLP need to match the DeepSet?</h2>"
        f"<p>Match criterion: {html.escape(sweep['criterion'])}. {answer}</p>"
        + figure(root, "sweep", "Final loss and held-out accuracy against parameters.")
        + table(["MLP", "parameters", "final loss", "held-out accuracy", "matches"], rows, classes)
    )
    pooled = lin["pooled"]
    prow = [
        [n, *(f"{v[c]['mean']:.4f} ± {v[c]['std']:.1e}" for c in ("class 0", "class 1"))]
        for n, v in pooled.items()
    ]
    out.append(
        "<h2>7b. Removing the nonlinearity from phi</h2>"
        f"<p>With an affine <code>phi(x) = a x + b</code> the DeepSet's final loss is "
        f"{pm(lin['final_loss'])}, against ln 2 = {lin['ln2']:.4f}; its held-out accuracy is "
        f"{pm(lin['accuracy'])}.</p>"
        + figure(root, "linear_losses", "Training loss with and without a nonlinearity in phi.")
        + "<p><b>Why.</b> An affine phi commutes with the sum: "
        "<code>sum_i phi(x_i) = a sum_i x_i + N b</code>. Every set sums to 1 "
        "(3 &times; 1/3 = 5 &times; 1/5 = 1), so the pooled value is <code>a + 10 b</code> for "
        "both classes: <code>rho</code> receives the same number for every set and can do no "
        "better than predicting 1/2, a loss of ln 2. A nonlinear phi maps 1/3 and 1/5 to values "
        "whose sums differ (3 phi(1/3) vs 5 phi(1/5)), which rho can separate.</p>"
        + table(["model", "pooled value, class 0", "pooled value, class 1"], prow)
        + figure(root, "linear_pooled", "Pooled value per class on held-out sets.")
    )
    return out


def size_verdict(sz: dict) -> str:
    """Which poolings hold at every test size (mean accuracy >= 0.99), from the numbers."""
    holds = [p for p, v in sz["accuracy"].items() if min(v["mean"]) >= 0.99]
    if not holds:
        return "No model keeps 99% mean accuracy at every size."
    return f"Mean accuracy stays >= 99% at every size only with: {'; '.join(holds)}."


def latent_verdict(lat: dict) -> str:
    """Whether wider latents trained to a lower loss than L = 1, from the numbers."""
    base = lat["1"]["final_loss_mean"]
    best = min(lat, key=lambda L: lat[L]["final_loss_mean"])
    if best == "1":
        return f"L = 1 has the lowest mean final loss ({base:.3g}): width did not help."
    return (
        f"L = {best} reached a mean final loss of {lat[best]['final_loss_mean']:.3g} against "
        f"{base:.3g} for L = 1: the extra width helped optimisation, not expressiveness."
    )


def max_note(sz: dict) -> str:
    """A caveat when the max-pooling DeepSets did not learn the task even at the trained size."""
    acc = sz["accuracy"]["max pooling"]["mean"][sz["test_sizes"].index(sz["trained_on"])]
    if acc >= 0.99:
        return ""
    return (
        f"; but here max pooling reached only {acc:.2f} even on sets of {sz['trained_on']}: "
        "it fell into the blind spot described under 'What phi learned'"
    )


def max_verdict(v: dict) -> str:
    """What the affine-phi max-pooling runs did, from their accuracies and learned slopes."""
    solved = sum(a >= 0.99 for a in v["accuracy"])
    falling = sum(a <= 0 for a in v["slope"])
    n = len(v["accuracy"])
    return (
        f"Measured: {solved} of {n} seeds solved it; {falling} of {n} ended with a slope "
        "a &le; 0. Then the maximum is always an object at 0, so both classes pool to b, and the "
        "gradient reaches phi only through that object (d/da of a x at x = 0 is 0): nothing can "
        "turn the slope back. Max pooling can separate the classes, but gradient descent from a "
        "small random start easily falls into this blind spot."
    )


def blind_max_verdict(at: dict) -> str:
    """How many max-pooling DeepSets learned a phi whose maximum is phi(0)."""
    blind, n = sum(at["max_is_phi0"]), len(at["max_is_phi0"])
    return (
        f"For max pooling, {blind} of {n} trained phi have phi(0) &ge; phi(1/5), phi(1/3): "
        "such a model pools phi(0) for every set and is blind to the class, the same trap as "
        "with an affine phi."
    )


def extra_sections(root: Path, m: dict) -> list[str]:
    e = m["extras"]
    out = ["<h2>Beyond the exercise</h2>"]
    sz = e["set_size"]
    rows = [[p, *(f"{a:.3f}" for a in v["mean"])] for p, v in sz["accuracy"].items()]
    out.append(
        "<h3>Set-size generalisation</h3><p>Trained on sets of 10 objects, tested on sets of "
        f"{', '.join(map(str, sz['test_sizes']))} objects with the same rule (mean accuracy over "
        f"seeds). {size_verdict(sz)}</p>"
        + table(["model", *map(str, sz["test_sizes"])], rows)
        + figure(root, "set_size", "Accuracy against the size of the test sets.")
        + "<p>Sum pooling adds <code>(n - 10) phi(0)</code> to the pooled value of a set of n "
        f"objects; the trained tanh phi has |phi(0)| = {sz['sum_abs_phi0']['mean']:.3g} on "
        "average, so its decision shifts as n moves away from 10. Mean pooling gives "
        "<code>(k phi(1/k) + (n - k) phi(0)) / n</code> for k = 3 or 5 nonzero objects: as n "
        "grows both classes drift towards phi(0) and the gap between them shrinks like 1/n. Max "
        "pooling sees max(phi(1/k), phi(0)), independent of n"
        f"{max_note(sz)}. Training on sets of "
        f"{sz['mixed_sizes'][0]} to {sz['mixed_sizes'][1]} objects (zero-padded, masked) "
        "pushes phi(0) towards 0, since any phi(0) would move the pooled value with n: there "
        f"|phi(0)| = {sz['mixed_abs_phi0']['mean']:.3g}, and the shift (n - 10) phi(0) stays "
        "small for n well beyond the training sizes. The MLP: "
        f"{html.escape(sz['mlp'])}.</p>"
    )
    lp = e["linear_pooling"]
    out.append(
        "<h3>Pooling with an affine phi</h3>"
        + table(
            ["pooling", "final loss (mean)", "accuracy (mean)"],
            [
                [p, f"{v['final_loss_mean']:.4f}", f"{v['accuracy_mean']:.3f}"]
                for p, v in lp.items()
            ],
        )
        + figure(root, "linear_pooling", "Held-out accuracy per seed, affine phi.")
        + "<p>Sum and mean of an affine phi are affine in the sum (or mean) of the objects, "
        "which is the same for both classes (1, or 1/10), so they cannot do better than chance. "
        "Max pooling sees max_i (a x_i + b): a/3 + b in class 0 and a/5 + b in class 1 if the "
        "slope a &gt; 0, so in principle it can solve the task without any nonlinearity. "
        f"{max_verdict(lp['max'])}</p>"
    )
    out.append(
        "<h3>What phi learned</h3><p>The inputs are scalars, so phi can be drawn as a function. "
        "Only its values at 0, 1/5 and 1/3 matter for the data. "
        f"{blind_max_verdict(e['phi']['phi_at_inputs']['max'])}</p>"
        + figure(root, "phi", "The learned phi for each pooling and seed.")
    )
    lat = e["latent"]
    out.append(
        "<h3>Latent width</h3><p>The task needs one counting feature; wider latent spaces give "
        f"more parameters but no new information. {latent_verdict(lat)}</p>"
        + table(
            ["L", "parameters", "final loss (mean)", "accuracy (mean)"],
            [
                [
                    L,
                    v["params"],
                    f"{v['final_loss_mean']:.4g}",
                    f"{sum(v['accuracy']) / len(v['accuracy']):.4f}",
                ]
                for L, v in lat.items()
            ],
        )
        + figure(root, "latent", "Final loss per seed for each latent width.")
    )
    return out


def write_report(root: Path, m: dict) -> Path:
    """Write root/report.html from the metrics and root/figures/*.png."""
    env = m["environment"]
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>DeepSets study</title><style>{CSS}</style></head><body>",
        "<h1>DeepSets vs MLP: the exercise, measured</h1>",
        headline(m),
        *exercise_sections(root, m),
        *(extra_sections(root, m) if "extras" in m else []),
        "<h2>Reproducibility</h2><p class=meta>"
        + html.escape(
            f"seeds {m['seeds']}; device {m['device']}, {m['threads']} threads; "
            f"{m['models_trained']} models trained in {m['timing']['train_seconds']:.1f} s "
            f"(study {m['timing']['wall_seconds']:.1f} s); "
            + ", ".join(f"{k} {v}" for k, v in env.items())
        )
        + ". All settings and numbers are in <code>metrics.json</code>; trained weights in "
        "<code>weights/</code> (load with <code>deepsets.load_model</code>).</p>",
        "</body></html>",
    ]
    path = root / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
