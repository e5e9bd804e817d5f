"""plot_sets and plot_losses: Figures whose axes hold exactly the data they were given."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from deepsets import make_data, plot_losses, plot_sets
from deepsets.plots import smooth


def running_mean_loop(x: list[float], window: int) -> list[float]:
    """Reference: the mean of the last `window` values (fewer at the start), one step at a time."""
    return [float(np.mean(x[max(0, t - window + 1) : t + 1])) for t in range(len(x))]


@pytest.mark.parametrize(("N", "n_objects", "max_sets"), [(10, 10, 40), (60, 10, 40), (8, 7, 6)])
def test_plot_sets_shows_the_sets_grouped_by_class(N, n_objects, max_sets):
    X, y = make_data(N, n_objects=n_objects, generator=0)
    fig = plot_sets(X, y, max_sets=max_sets)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    (image,) = ax.get_images()
    shown = np.asarray(image.get_array())
    k = min(N, max_sets)
    assert shown.shape == (k, n_objects)
    # Reference: the first k sets, class 0 rows first, each class in its original order.
    rows = [X[i, :, 0].numpy() for i in range(k) if y[i, 0] == 0]
    rows += [X[i, :, 0].numpy() for i in range(k) if y[i, 0] == 1]
    np.testing.assert_array_equal(shown, np.stack(rows))
    assert len(fig.axes) == 2  # the image and its colorbar
    assert ax.get_xlabel() == "object"


def test_plot_sets_does_not_change_its_inputs():
    X, y = make_data(20, generator=1)
    X0, y0 = X.clone(), y.clone()
    plot_sets(X, y)
    assert torch.equal(X, X0) and torch.equal(y, y0)


@pytest.mark.parametrize(
    ("X_shape", "y_shape"),
    [((4, 10, 2), (4, 1)), ((4, 10, 1), (4,)), ((4, 10, 1), (4, 2))],
)
def test_plot_sets_rejects_bad_shapes(X_shape, y_shape):
    with pytest.raises(ValueError, match=r"expects X \(B, N, 1\) and y \(B, 1\)") as e:
        plot_sets(torch.zeros(X_shape), torch.zeros(y_shape))
    assert f"got {X_shape}, {y_shape}" in str(e.value)


@pytest.mark.parametrize("window", [1, 3, 50])
def test_smooth_is_a_running_mean(window):
    x = np.random.default_rng(0).random(40)
    np.testing.assert_allclose(smooth(x, window), running_mean_loop(list(x), window), rtol=1e-12)


@pytest.mark.parametrize("reference", [None, math.log(2)])
def test_plot_losses_draws_one_line_per_run_on_a_log_scale(reference):
    rng = np.random.default_rng(0)
    runs = {"DeepSet": rng.random(30) + 0.1, "MLP": rng.random((3, 30)) + 0.1}
    fig = plot_losses(runs, window=5, reference=reference)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    lines = ax.get_lines()
    assert len(lines) == len(runs) + (reference is not None)
    for line, losses in zip(lines, runs.values(), strict=False):
        L = np.atleast_2d(losses)
        expected = np.mean([running_mean_loop(list(row), 5) for row in L], axis=0)
        np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-12)
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 31))
    if reference is not None:
        np.testing.assert_array_equal(lines[-1].get_ydata(), [reference, reference])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["DeepSet (1 seeds)", "MLP (3 seeds)"]
    assert len(ax.collections) == 1  # a min-max band only for the run with several seeds


def test_plot_losses_labels_the_reference_line_with_its_own_name():
    fig = plot_losses({"run": np.ones(20)}, window=5, reference=0.5, reference_label="target")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "target = 0.5000" in labels


def test_a_figure_shows_itself_in_jupyter_as_a_png():
    X, y = make_data(20, generator=0)
    for fig in (plot_sets(X, y), plot_losses({"run": np.ones(20)}, window=5)):
        png = fig._repr_png_()  # what IPython displays, with pyplot never imported
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000


def test_every_figure_of_the_library_is_one_jupyter_shows():
    """The studies' figures too: each module builds them from deepsets.plots.Figure."""
    from pathlib import Path

    import deepsets

    src = Path(deepsets.__file__).parent
    plain = ("from matplotlib.figure import Figure", "plt.figure(", "plt.subplots(")
    raw = [p.relative_to(src) for p in src.rglob("*.py") if any(s in p.read_text() for s in plain)]
    assert raw == []
