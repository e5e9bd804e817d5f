"""train, evaluate and resolve_device: learning, chance level, seeds, errors."""

from __future__ import annotations

import copy
import math
import re

import numpy as np
import pytest
import torch
from torch import nn

from deepsets import (
    DeepSet,
    evaluate,
    make_data,
    make_mlp,
    resolve_device,
    train,
)

LN2 = math.log(2)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Train these tiny networks on one thread: on a busy 2-core machine two threads that wait
    for each other make every step several times slower. Restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def held_out():
    return make_data(4000, generator=12345)  # a fixed test sample, apart from training seeds


@pytest.fixture(scope="module")
def trained_deepset():
    torch.manual_seed(1)  # the initial weights; the data has its own seed
    model = DeepSet()
    return train(model, 800, seed=1)


@pytest.fixture(scope="module")
def trained_linear_deepset():
    torch.manual_seed(0)
    return train(DeepSet(activation=None), 300, seed=0)


# ---------------------------------------------------------------- learning


def test_deepset_reaches_99_percent_held_out_accuracy(trained_deepset, held_out):
    model, losses = trained_deepset
    assert evaluate(model, *held_out)["accuracy"] >= 0.99
    assert losses[-50:].mean() < 0.1 < losses[:50].mean()


def test_train_returns_the_model_trained_in_place_and_one_loss_per_step():
    model = DeepSet()
    before = copy.deepcopy(model.state_dict())
    trained, losses = train(model, 30, seed=0)
    assert trained is model and not model.training
    assert losses.shape == (30,) and losses.dtype == np.float64 and np.isfinite(losses).all()
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_the_first_loss_is_the_untrained_models_loss_on_a_balanced_batch():
    """A random model's BCE on a fresh batch is close to its BCE on any other big batch."""
    torch.manual_seed(4)
    model = DeepSet()
    untrained = copy.deepcopy(model)
    _, losses = train(model, 1, batch_size=2000, seed=0)
    X, y = make_data(2000, generator=99)
    assert losses[0] == pytest.approx(evaluate(untrained, X, y)["loss"], abs=0.02)


def test_deepset_without_nonlinearity_stays_at_ln2(trained_linear_deepset, held_out):
    """Every set sums to 1, so an affine phi pools every set to the same value: chance level."""
    model, losses = trained_linear_deepset
    assert losses[-100:].mean() == pytest.approx(LN2, abs=0.01)
    # a constant output cannot beat ln 2 on a balanced batch, at any step
    assert losses.min() >= LN2 - 1e-4
    with torch.no_grad():
        p = model(held_out[0])  # (B, 1)
    assert (p.max() - p.min()).item() < 1e-4
    assert evaluate(model, *held_out)["loss"] == pytest.approx(LN2, abs=0.01)


def test_the_mlp_learns_too():
    torch.manual_seed(0)
    _, losses = train(make_mlp(), 300, seed=0)
    assert losses[-50:].mean() < losses[:50].mean() - 0.05


def test_same_seed_gives_the_same_losses_twice():
    torch.manual_seed(2)
    model = DeepSet()
    twin, other = copy.deepcopy(model), copy.deepcopy(model)
    _, a = train(model, 60, seed=3)
    _, b = train(twin, 60, seed=3)
    _, c = train(other, 60, seed=4)
    assert np.array_equal(a, b)
    assert all(
        torch.equal(u, v) for u, v in zip(model.parameters(), twin.parameters(), strict=True)
    )
    assert not np.array_equal(a, c)


def test_a_generator_works_as_a_seed():
    torch.manual_seed(2)
    model = DeepSet()
    twin = copy.deepcopy(model)
    _, a = train(model, 20, seed=5)
    _, b = train(twin, 20, seed=torch.Generator().manual_seed(5))
    assert np.array_equal(a, b)


def test_train_on_other_set_sizes():
    _, losses = train(DeepSet(), 5, n_objects=6, batch_size=4, seed=0)
    assert losses.shape == (5,)


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("model", [None, "DeepSet", DeepSet, lambda X: X])
def test_train_rejects_a_non_module(model):
    with pytest.raises(TypeError, match="train expects a torch.nn.Module"):
        train(model, 10)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"steps": 0}, ValueError, "steps must be a positive integer, got 0"),
        ({"steps": -5}, ValueError, "steps must be a positive integer, got -5"),
        ({"steps": 2.5}, ValueError, "steps must be a positive integer, got 2.5"),
        ({"steps": True}, ValueError, "steps must be a positive integer, got True"),
        ({"lr": 0}, ValueError, "lr must be a positive finite number, got 0"),
        ({"lr": -1e-3}, ValueError, "lr must be a positive finite number, got -0.001"),
        ({"lr": float("nan")}, ValueError, "lr must be a positive finite number, got nan"),
        ({"lr": "0.01"}, ValueError, "lr must be a positive finite number, got '0.01'"),
        ({"lr": float("inf")}, ValueError, "lr must be a positive finite number, got inf"),
        ({"batch_size": 0}, ValueError, r"batch_size must be a positive even integer .* got 0"),
        ({"batch_size": 1}, ValueError, r"batch_size must be a positive even integer .* got 1"),
        ({"batch_size": -4}, ValueError, r"batch_size must be a positive even integer .* got -4"),
        ({"batch_size": 7}, ValueError, "batch_size must be a positive even integer .* got 7"),
        ({"batch_size": 4.0}, TypeError, "batch_size must be a positive even integer .* got 4.0"),
    ],
)
def test_train_rejects_bad_arguments_before_training(kwargs, error, match):
    model = DeepSet()
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(error, match=match):
        train(model, **{"steps": 10, **kwargs})
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_train_rejects_a_model_with_the_wrong_output_shape():
    model = nn.Sequential(nn.Flatten(), nn.Linear(10, 2), nn.Sigmoid())  # (B, 2), not (B, 1)
    with pytest.raises(ValueError, match=re.escape("must map (B, N, F) to (B, 1), got (2, 2)")):
        train(model, 5)


# ---------------------------------------------------------------- evaluate


class FixedOutput(nn.Module):
    """A 'model' that returns the given probabilities whatever the input."""

    def __init__(self, p: list[float]) -> None:
        super().__init__()
        self.register_buffer("p", torch.tensor(p).unsqueeze(-1))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.p


def test_evaluate_against_a_hand_computation():
    model = FixedOutput([0.9, 0.2, 0.6, 0.4])
    y = torch.tensor([[1.0], [0.0], [0.0], [0.0]])
    result = evaluate(model, torch.zeros(4, 10, 1), y)
    # predictions 1, 0, 1, 0 against labels 1, 0, 0, 0: three of four right
    assert result["accuracy"] == 0.75
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.4) + math.log(0.6)) / 4
    assert result["loss"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("make_model", [DeepSet, make_mlp])
def test_evaluate_matches_a_plain_loop(make_model):
    torch.manual_seed(5)
    model = make_model()
    X, y = make_data(300, generator=5)
    with torch.no_grad():
        p = model(X)[:, 0].tolist()
    labels = y[:, 0].tolist()
    bce = [-(t * math.log(q) + (1 - t) * math.log(1 - q)) for q, t in zip(p, labels, strict=True)]
    right = [(q > 0.5) == (t == 1) for q, t in zip(p, labels, strict=True)]
    result = evaluate(model, X, y)
    assert result["loss"] == pytest.approx(sum(bce) / len(bce), rel=1e-5)
    assert result["accuracy"] == pytest.approx(sum(right) / len(right), abs=1e-6)


class RecordsMode(FixedOutput):
    """Remembers whether it was in training mode and whether autograd was on when called."""

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        self.seen = (self.training, torch.is_grad_enabled())
        return self.p


@pytest.mark.parametrize("training", [True, False])
def test_evaluate_runs_in_eval_mode_without_grad_and_restores_the_mode(training):
    model = RecordsMode([0.7, 0.3]).train(training)
    result = evaluate(model, torch.zeros(2, 10, 1), torch.tensor([[1.0], [0.0]]))
    assert model.seen == (False, False)
    assert model.training is training
    assert result["accuracy"] == 1.0 and isinstance(result["loss"], float)


# ---------------------------------------------------------------- held-out set and device


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_auto_resolves_to_cpu_without_a_gpu():
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device() == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_an_error_not_a_fallback():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")


@pytest.mark.parametrize("device", ["tpu", "CPU", "", "cuda:0"])
def test_unknown_device_names_are_rejected(device):
    with pytest.raises(ValueError, match=re.escape(f"got {device!r}")) as info:
        resolve_device(device)
    assert "('auto', 'cpu', 'cuda')" in str(info.value)


def test_cpu_and_torch_devices_pass_through():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


class FailsAt(nn.Module):
    """A DeepSet whose forward raises on its `at`-th call (the first is the check of outputs)."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.net, self.calls, self.at = DeepSet(generator=0), 0, at

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        out: torch.Tensor = self.net(X)
        return out


def test_an_interrupted_run_leaves_the_model_as_it_was():
    model = FailsAt(5)  # the check, then three steps, then Ctrl-C
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(KeyboardInterrupt):
        train(model, 10, seed=0, progress=False)
    assert model.calls == 5
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    moved, _ = train(FailsAt(0), 3, seed=0, progress=False)  # three steps do move the weights
    assert not all(torch.equal(before[k], v) for k, v in moved.state_dict().items())


class NaNAfter(nn.Module):
    """Probabilities for its first `calls` forwards, then NaN: a model that diverges on cue."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.linear, self.left = nn.Linear(1, 1), calls

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(self.linear(X).sum(1))  # (B, 1)
        self.left -= 1
        return p if self.left >= 0 else p * torch.nan


def test_outputs_turning_nan_mid_training_name_the_step_and_the_model():
    model = NaNAfter(4)  # the check before training, then steps 1 to 3
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match=r"model's outputs turned NaN at step 4 of 20") as e:
        train(model, 20, seed=0)
    assert "restored" in str(e.value)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_weights_diverging_to_nan_are_named_not_a_torch_error():
    named = r"model's outputs turned NaN at step \d+ of 20.*lr=1e\+38"
    with pytest.raises(ValueError, match=named):
        train(DeepSet(generator=0), 20, lr=1e38, seed=0)


def test_the_engine_names_the_same_step_as_the_plain_loop():
    from deepsets import train_many

    step = re.compile(r"at step (\d+) of 20")
    with pytest.raises(ValueError) as plain:
        train(DeepSet(generator=0), 20, lr=1e38, seed=0)
    with pytest.raises(ValueError, match=r"models\[1\]'s outputs turned NaN") as engine:
        train_many([make_mlp(), DeepSet(generator=0)], 20, lr=1e38, seeds=[1, 0])
    found = [step.search(str(e.value)) for e in (plain, engine)]
    assert found[0] and found[1] and found[0].group(1) == found[1].group(1), found
