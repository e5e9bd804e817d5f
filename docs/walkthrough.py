# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # DeepSets, step by step
#
# The course exercise, one step per section, with the `deepsets` package: make bags of objects,
# train a DeepSet and an MLP on them, check which one is permutation invariant, and answer the
# extra questions. Reading time: ten minutes; running time: a minute or two on a 2-core CPU.
#
# Everything here is one training run per model. `deepsets run` does all of it over several
# seeds, with a larger MLP sweep, and writes an HTML report (`report.html`, `metrics.json`,
# figures and weights); `deepsets run --quick` is a seconds-long version.
#
# Open `docs/walkthrough.ipynb` in Jupyter, or run `docs/walkthrough.py` as a script:
# the two are one notebook, paired with jupytext (after editing either, `jupytext --sync
# docs/walkthrough.py` updates the other; the tests fail when they drift apart).

# %%
# ruff: noqa: B018  (a bare name at the end of a cell is how a notebook displays it)
import math
import os

import numpy as np
import torch

import deepsets as ds
from deepsets.data import all_sets
from deepsets.studies.exercise.sections.symmetry import steps_below

# Adam steps per model; the exercise uses 4000. The tests set this to a few hundred.
STEPS = int(os.environ.get("DEEPSETS_NOTEBOOK_STEPS", "4000"))
LN2 = math.log(2)  # the loss of a classifier that always says 1/2
torch.set_num_threads(1)  # models this small train fastest on one thread (`deepsets run` too)
if STEPS != 4000:
    print(f"A short run: {STEPS} Adam steps per model instead of the exercise's 4000, so the")
    print("numbers below are those of a model still learning; run it with 4000 for the real ones.")

# %% [markdown]
# ## Step 1: the data
#
# Each set has 10 objects with one feature. Class 0: three objects at 1/3, the rest 0.
# Class 1: five objects at 1/5. `make_data(N)` returns a balanced batch: `X` is `(N, 10, 1)`,
# `y` is `(N, 1)`. Randomness is explicit: `generator=0` makes the same batch every time.

# %%
X, y = ds.make_data(100, generator=0)
print(X.shape, y.shape, "class-1 sets:", int(y.sum()))
print("set 0:", X[0, :, 0].numpy().round(3), "label", int(y[0]))
fig = ds.plot_sets(X, y)  # the exercise's plt.imshow(X), rows grouped by class
fig  # noqa: B018 (a notebook shows a cell's last value)

# %% [markdown]
# ## Step 2: the models
#
# The DeepSet is `rho(sum_i phi(x_i))`: `phi` maps each object R -> R through two hidden layers
# of 5 units with tanh; the sum pools over the objects, so their order cannot matter; `rho` maps
# the pooled value through one hidden layer to a sigmoid probability. The MLP flattens the set
# into a vector of 10 numbers, so it sees the objects in order.

# %%
deepset = ds.DeepSet(generator=0)  # hidden=5, activation="tanh", pooling="sum"
mlp = ds.make_mlp((20, 20), "relu", generator=0)  # a torch.nn.Sequential: 10 -> 20 -> 20 -> 1
print(deepset)
print(mlp)

# %% [markdown]
# ## Steps 3 and 4: training
#
# `ds.train(model, steps)` runs Adam on binary cross-entropy, drawing a fresh balanced batch
# of 100 sets from `make_data` at every step, and returns the trained model and the loss of
# every step. `seed` fixes the training data; `generator=0` above fixed the initial weights.
#
# The stream is endless, but the sets are not: a set is fixed by which of its 10 positions are
# nonzero, so there are only C(10, 3) + C(10, 5) = 120 + 252 = 372 distinct sets, and
# `all_sets()` lists each once. The exercise's 4000 steps of 100 sets draw every one of them
# about a thousand times. Scores over all 372 sets have no sampling noise, but they are
# training scores, not held-out ones: step 8 asks what the models do on sets they never saw.

# %%
deepset, deepset_losses = ds.train(deepset, STEPS, seed=0)
mlp, mlp_losses = ds.train(mlp, STEPS, seed=0)

X_all, y_all = all_sets()  # every distinct set once: (372, 10, 1), (372, 1)
results = {"DeepSet": ds.evaluate(deepset, X_all, y_all), "MLP": ds.evaluate(mlp, X_all, y_all)}
for name, r in results.items():
    print(f"{name:8s} loss {r['loss']:.4f}  accuracy {r['accuracy']:.3f} over all 372 sets")

# %% [markdown]
# ## Step 5: parameters and loss curves
#
# The DeepSet has 62 parameters: `phi` 1->5->5->1 is 10 + 30 + 6 = 46, `rho` 1->5->1 is
# 10 + 6 = 16. The MLP has `10*20+20 + 20*20+20 + 20+1 = 661`, ten times as many.

# %%
n_deepset, n_mlp = ds.count_params(deepset), ds.count_params(mlp)
print("parameters: DeepSet", n_deepset, " MLP", n_mlp)
fig = ds.plot_losses({"DeepSet": deepset_losses, "MLP": mlp_losses}, reference=LN2)
fig  # noqa: B018

# %% [markdown]
# ## Step 6: permutation invariance
#
# Take five sets, shuffle their objects with three random permutations (`rng.permutation`), and
# run both models on every version. The DeepSet's outputs move only by float rounding; the MLP's
# move visibly, because it learned a function of the positions, not of the set.

# %%
check = ds.check_invariance({"DeepSet": deepset, "MLP": mlp}, X[:5], 3, rng=0)
for name, outputs in check.outputs.items():
    print(name, "(rows: original, then each permutation; columns: the five sets)")
    with np.printoptions(precision=4, suppress=True):
        print(outputs)
max_change = check.max_change
print("largest change under a permutation:", max_change)

# %% [markdown]
# ## Step 7a: how many parameters does the MLP need?
#
# A small sweep: one hidden layer of width w has 10w + w + w + 1 = 12w + 1 parameters. Each
# width is trained as above and scored on all 372 sets. (`deepsets run` sweeps widths,
# depths and activations over several seeds.)

# %%
sweep = []
for width in (4, 8, 16, 32, 64):
    model, losses = ds.train(ds.make_mlp(width, "relu", generator=0), STEPS, seed=0)
    r = ds.evaluate(model, X_all, y_all)
    sweep.append({"width": width, "params": ds.count_params(model), **r})
rows = [("DeepSet", n_deepset, results["DeepSet"]), ("MLP 20-20", n_mlp, results["MLP"])]
rows += [(f"MLP {r['width']}", r["params"], r) for r in sweep]
for name, params, r in rows:
    print(f"{name:10s} {params:4d} params  loss {r['loss']:.4f}  accuracy {r['accuracy']:.3f}")

deepset_r = results["DeepSet"]
as_accurate = [r for r in sweep if r["accuracy"] >= deepset_r["accuracy"]]
as_low = [r for r in sweep if r["loss"] <= deepset_r["loss"]]


def smallest(found: list[dict]) -> str:
    if not found:
        return f"none up to {sweep[-1]['params']} parameters"
    return f"{found[0]['params']} parameters (width {found[0]['width']})"


print(f"In this run of {STEPS} steps, the smallest one-layer MLP as accurate as the DeepSet:")
print(f"{smallest(as_accurate)}; with as low a loss: {smallest(as_low)}.")

# %% [markdown]
# One seed is noisy: `deepsets run` answers this over seeds, widths, depths and activations,
# and samples the sizes between the largest MLP that does not match the DeepSet and the
# smallest that does.

# %% [markdown]
# ## Step 7b: a DeepSet whose `phi` is linear
#
# Remove the nonlinearity from `phi` (`activation=None`): it becomes an affine map. Training
# cannot separate the classes: every set gets the same output, so the loss can at best reach
# ln 2 = 0.693, the loss of guessing 1/2.

# %%
linear, linear_losses = ds.train(ds.DeepSet(activation=None, generator=0), STEPS, seed=0)
print(f"final loss {linear_losses[-200:].mean():.4f}  (ln 2 = {LN2:.4f})")
with torch.no_grad():
    pooled = linear.embed(X_all)[:, 0]  # (B,) the value rho sees, for every set
    linear_outputs = linear(X_all)[:, 0]  # (B,)
print("pooled value, class 0:", pooled[y_all[:, 0] == 0].unique().tolist()[:3])
print("pooled value, class 1:", pooled[y_all[:, 0] == 1].unique().tolist()[:3])
spread = float(linear_outputs.max() - linear_outputs.min())
print("spread of the outputs over all 372 sets:", spread)

# %% [markdown]
# ## Why
#
# Every set sums to 1, whatever its class: 3 * (1/3) = 5 * (1/5) = 1. An affine `phi`,
# phi(x) = a x + b, commutes with the sum:
#
#     sum_i phi(x_i) = a * sum_i x_i + 10 b = a + 10 b   for every set.
#
# So the pooled value is identical for both classes (up to float rounding), `rho` gets the same
# input for every set, and the best it can do is output 1/2: loss ln 2. No `rho`, however
# large, can undo that, because the information is lost at the pooling. With tanh in `phi` the
# sum is 3 phi(1/3) + 7 phi(0) against 5 phi(1/5) + 5 phi(0), which differ as soon as phi is
# curved, and the DeepSet separates the classes with 62 parameters.
#
# The MLP does not pool: it sees each position separately, so it can learn the classes, but it
# has to learn the same thing for all 10 positions and it is not invariant (step 6).
#
# ## Step 8: what the symmetry buys
#
# Step 6 quoted the exercise: "the advantage of encoding known symmetries into the network is
# not only that the learning is faster but of course also that the symmetries hold exactly".
# Step 6 checked the second half. "Faster" can mean two things.
#
# **In examples.** Train each model on M arrangements per class only, then test it on every
# arrangement it never saw. `ds.train_on(models, (X, y), steps)` trains model k full-batch on its
# own fixed sets X[k], y[k].

# %%
M = 5  # training arrangements per class
g = torch.Generator().manual_seed(0)
by_class = [torch.nonzero(y_all[:, 0] == c)[:, 0] for c in (0, 1)]  # 120 and 252 indices
train_idx = torch.cat([idx[torch.randperm(len(idx), generator=g)[:M]] for idx in by_class])
unseen = torch.ones(len(y_all), dtype=torch.bool)
unseen[train_idx] = False  # every arrangement not trained on: 372 - 2M of them
few = [ds.DeepSet(generator=0), ds.make_mlp((20, 20), "relu", generator=0)]
X_few = X_all[train_idx].expand(2, -1, -1, -1)  # (K = 2 models, 2M sets, 10, 1)
y_few = y_all[train_idx].expand(2, -1, -1)  # (2, 2M, 1)
ds.train_on(few, (X_few, y_few), 300, lr=1e-2)
unseen_accuracy = {
    name: ds.evaluate(model, X_all[unseen], y_all[unseen])["accuracy"]
    for name, model in zip(("DeepSet", "MLP"), few, strict=True)
}
print(f"trained on {M} arrangements per class; accuracy on the {int(unseen.sum())} unseen ones:")
print(unseen_accuracy)

# %% [markdown]
# The DeepSet sees a set only through `sum_i phi(x_i)`, which is the same number for every
# arrangement of a class: one example per class already shows it every arrangement. The MLP
# sees positions, and an arrangement it never saw is a new input to it.
#
# **In steps.** From the loss curves of steps 3 and 4: the first step from which the running
# mean of the loss over 100 steps stays below 0.01.

# %%
for name, losses in (("DeepSet", deepset_losses), ("MLP", mlp_losses)):
    step = steps_below(losses, 0.01, 100)
    print(name, f"not within this run's {STEPS} steps" if step is None else f"from step {step}")

# %% [markdown]
# One seed says little about speed in steps: `deepsets run` measures both over seeds (section 8
# of its report, with the MLP that matched in 7a and M from 1 to 100), and its report's top line
# says what the symmetry bought in that run. For the full picture, with the MLP sweep, variable
# set sizes, mean and max pooling and the latent width, run `deepsets run` and open the
# `report.html` it writes.
