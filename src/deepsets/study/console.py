"""The study's console summary: a few rich tables with the report's headline numbers."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def print_summary(results, console: Console | None = None) -> None:
    """Print the headline numbers of a finished study and where its report is."""
    console = console or Console()
    m = results.metrics
    t = Table(title="Steps 2-5: training over seeds (mean ± std)")
    for col in ("model", "params", "final loss", "held-out accuracy"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for name, key in (("DeepSet", "deepset"), ("MLP", "mlp")):
        r = m["training"][key]
        t.add_row(
            name,
            str(r["params"]),
            f"{r['final_loss']['mean']:.4g} ± {r['final_loss']['std']:.1g}",
            f"{r['accuracy']['mean']:.4f} ± {r['accuracy']['std']:.1g}",
        )
    console.print(t)
    inv = m["invariance"]
    t = Table(title=f"Step 6: largest output change under {len(inv['permutations'])} permutations")
    t.add_column("model")
    for j in range(len(inv["permutations"])):
        t.add_column(f"perm {j + 1}", justify="right")
    for name, changes in inv["max_change_per_permutation"].items():
        t.add_row(name, *(f"{c:.2e}" for c in changes))
    console.print(t)
    best, lin = m["mlp_sweep"]["smallest_match"], m["linear_phi"]
    if best:
        console.print(
            f"7a: smallest MLP matching the DeepSet: [bold]{best['name']}[/], "
            f"{best['params']} params ({best['ratio_to_deepset']:.1f}x the DeepSet's)"
        )
    else:
        console.print("7a: no MLP in the sweep matches the DeepSet")
    console.print(
        f"7b: affine phi, final loss {lin['final_loss']['mean']:.4f} "
        f"(ln 2 = {lin['ln2']:.4f}), accuracy {lin['accuracy']['mean']:.3f}"
    )
    tm = m["timing"]
    console.print(
        f"{m['models_trained']} models trained in {tm['train_seconds']:.1f} s; "
        f"study {tm['wall_seconds']:.1f} s on {m['device']}"
    )
    console.print(f"Report: [bold]{results.out / 'report.html'}[/]")
