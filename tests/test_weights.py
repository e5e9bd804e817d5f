"""save_model / load_model: every saved model reloads to identical outputs; the rest is refused."""

from __future__ import annotations

import errno
import json
import os
import pickle
import stat
import subprocess
import sys
import time

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import save_file
from tied import TIED
from torch import nn

import deepsets
from deepsets import DeepSet, load_model, make_data, make_mlp, save_model, weights
from deepsets.models.activation import ACTIVATIONS
from deepsets.models.deepset import Rho
from deepsets.models.mlp import MLPSpec, check_mlp, mlp_spec
from deepsets.models.set_transformer import Layers, SetModel
from deepsets.studies.digits.models import RecurrentSum, SetTransformer, digit_deepset
from deepsets.studies.theory.models import EquivariantNet, PerElementNet, SmoothMaxDeepSet


def hand_built(sizes, activations, sigmoid, dtype=torch.float32, seed=0) -> nn.Sequential:
    """An MLP built layer by layer here, independently of models.mlp (the reference)."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Flatten()]
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1], dtype=dtype))
        if i < len(sizes) - 2 and activations[i] is not None:
            layers.append(ACTIVATIONS[activations[i]].module())
    if sigmoid:
        layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


MODELS = {
    "deepset": lambda: DeepSet(generator=0),
    "deepset-linear": lambda: DeepSet(activation=None, generator=1),
    "deepset-wide-relu": lambda: DeepSet(8, "relu", rho=Rho(3, "gelu")),
    "deepset-no-rho-activation": lambda: DeepSet(4, "sigmoid", rho=Rho(activation=None)),
    "deepset-two-features": lambda: DeepSet(3, in_features=2, generator=2),
    "deepset-max-latent": lambda: DeepSet(4, latent=3, pooling="max", generator=3),
    "deepset-float64": lambda: DeepSet(generator=4).double(),
    "mlp": lambda: make_mlp(generator=0),
    "mlp-one-layer-tanh": lambda: make_mlp(5, "tanh"),
    "mlp-deep-linear": lambda: make_mlp((4, 4, 4), None, n_objects=6),
    "mlp-gelu": lambda: make_mlp((7, 3), "gelu"),
    "mlp-gelu-tanh": lambda: nn.Sequential(
        nn.Flatten(), nn.Linear(10, 4), nn.GELU(approximate="tanh"), nn.Linear(4, 1), nn.Sigmoid()
    ),
    "mlp-no-hidden": lambda: make_mlp((), generator=5),
    # what deepsets 0.1 saved as one activation with a final Sigmoid, and reloaded wrong:
    "mlp-tanh-then-relu": lambda: hand_built([10, 6, 4, 1], ["tanh", "relu"], True),
    "mlp-logits": lambda: hand_built([10, 6, 1], ["relu"], False),
    "mlp-relu-then-none": lambda: hand_built([10, 6, 4, 1], ["relu", None], True),
    "mlp-float64-logits": lambda: hand_built([10, 3, 1], ["sigmoid"], False, torch.float64),
}


def inputs_for(model: nn.Module) -> torch.Tensor:
    dtype = next(model.parameters()).dtype
    if isinstance(model, DeepSet):
        F = model.config["in_features"]
        return torch.rand(16, 9, F, generator=torch.Generator().manual_seed(0), dtype=dtype)
    n_objects = model[1].in_features
    return make_data(16, n_objects=n_objects, generator=0)[0].to(dtype)


@pytest.mark.parametrize("name", MODELS)
def test_round_trip_gives_identical_outputs(name, tmp_path):
    model = MODELS[name]()
    path = save_model(model, tmp_path / "model.safetensors")
    loaded = load_model(path)
    assert type(loaded) is type(model) and not loaded.training
    assert str(loaded) == str(model)  # the same layers, in the same order
    original, restored = model.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()
    assert all(torch.equal(original[k], restored[k]) for k in original)
    assert all(original[k].dtype == restored[k].dtype for k in original)
    X = inputs_for(model)
    with torch.no_grad():
        assert torch.equal(loaded(X), model.eval()(X))


ACTS = st.sampled_from([None, *ACTIVATIONS])


@st.composite
def mlp_specs(draw):
    widths = draw(st.lists(st.integers(1, 6), max_size=4))
    sizes = [draw(st.integers(5, 12)), *widths, draw(st.integers(1, 2))]
    acts = [draw(ACTS) for _ in widths]
    return sizes, acts, draw(st.booleans())


@settings(max_examples=30, deadline=None)
@given(mlp_specs())
def test_every_recognised_mlp_reloads_to_identical_outputs(tmp_path_factory, spec):
    sizes, acts, sigmoid = spec
    model = hand_built(sizes, acts, sigmoid)
    assert check_mlp(model) == MLPSpec(tuple(sizes), tuple(acts), sigmoid)
    path = save_model(model, tmp_path_factory.mktemp("mlp") / "m.safetensors")
    X = torch.rand(7, sizes[0], 1, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(load_model(path)(X), model(X))


UNSUPPORTED = {
    "LeakyReLU": lambda: nn.Sequential(
        nn.Flatten(), nn.Linear(10, 3), nn.LeakyReLU(), nn.Linear(3, 1)
    ),
    "Dropout": lambda: nn.Sequential(nn.Flatten(), nn.Linear(10, 3), nn.Dropout(), nn.Linear(3, 1)),
    "BatchNorm1d": lambda: nn.Sequential(
        nn.Flatten(), nn.Linear(10, 3), nn.BatchNorm1d(3), nn.Linear(3, 1)
    ),
    "layer 3 \\(ReLU\\(\\)\\) is not supported": lambda: nn.Sequential(
        nn.Flatten(), nn.Linear(10, 3), nn.ReLU(), nn.ReLU(), nn.Linear(3, 1)
    ),
    "no bias": lambda: nn.Sequential(nn.Flatten(), nn.Linear(10, 1, bias=False)),
    "end with a Linear": lambda: nn.Sequential(nn.Flatten(), nn.Linear(10, 1), nn.ReLU()),
    "start with nn.Flatten": lambda: nn.Sequential(nn.Linear(10, 1), nn.Sigmoid()),
    "start_dim=1": lambda: nn.Sequential(nn.Flatten(0), nn.Linear(10, 1)),
    "previous layer's output": lambda: nn.Sequential(
        nn.Flatten(), nn.Linear(10, 3), nn.Linear(4, 1)
    ),
    "model must be a DeepSet, a make_mlp network .*got ModuleList": lambda: nn.ModuleList(
        [nn.Linear(2, 1)]
    ),
    "subclass of DeepSet": lambda: type("MyDeepSet", (DeepSet,), {})(),
    "changed after it was built": lambda: _changed_deepset(),
    "one float dtype": lambda: _mixed_dtypes(),
}


def _changed_deepset() -> DeepSet:
    model = DeepSet()
    model.phi[1] = nn.LeakyReLU()
    return model


def _mixed_dtypes() -> nn.Sequential:
    model = make_mlp()
    model[1].double()
    return model


@pytest.mark.parametrize("message", UNSUPPORTED)
def test_what_cannot_be_restored_exactly_is_refused_naming_it(tmp_path, message):
    model = UNSUPPORTED[message]()
    with pytest.raises(TypeError, match=message):
        save_model(model, tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []
    if message != "one float dtype":  # a structure check: the layers fit, their dtypes do not
        assert mlp_spec(model) is None


def test_mlp_spec_describes_make_mlp():
    assert mlp_spec(make_mlp((20, 20), "relu")) == MLPSpec((10, 20, 20, 1), ("relu", "relu"))
    assert mlp_spec(make_mlp((), None, n_objects=6, in_features=2)) == MLPSpec((12, 1), ())
    assert mlp_spec(DeepSet()) is None


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(sizes=(10,), activations=()), "input and an output width"),
        (dict(sizes=(10, 0, 1), activations=("relu",)), r"sizes\[1\]"),
        (dict(sizes=(10, 3, 1), activations=()), "activations must be a tuple of one"),
        (dict(sizes=(10, 3, 1), activations=("swish",)), r"activations\[0\] must be one of"),
        (dict(sizes=(10, 1), activations=(), sigmoid=1), "sigmoid must be True or False"),
    ],
)
def test_mlp_spec_checks_its_fields(bad, message):
    with pytest.raises((TypeError, ValueError), match=message):
        MLPSpec(**bad)


def test_loaded_weights_are_the_saved_ones_not_a_fresh_init(tmp_path):
    path = save_model(DeepSet(generator=1), tmp_path / "m.safetensors")
    loaded = load_model(path)
    assert not torch.equal(loaded.phi[0].weight, DeepSet(generator=2).phi[0].weight)
    assert torch.equal(loaded.phi[0].weight, DeepSet(generator=1).phi[0].weight)


def test_an_existing_file_is_not_overwritten(tmp_path):
    path = save_model(DeepSet(generator=1), tmp_path / "m.safetensors")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_model(DeepSet(generator=2), path)
    assert path.read_bytes() == before
    save_model(DeepSet(generator=2), path, overwrite=True)
    assert torch.equal(load_model(path).phi[0].weight, DeepSet(generator=2).phi[0].weight)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_a_full_disk_while_saving_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = save_model(DeepSet(generator=1), tmp_path / "m.safetensors")
    before = path.read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("deepsets.files.os.replace", full)
    with pytest.raises(OSError, match="No space left"):
        save_model(DeepSet(generator=2), path, overwrite=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_a_saved_file_follows_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        path = save_model(DeepSet(), tmp_path / "m.safetensors")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_save_model_into_a_missing_directory_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_model(DeepSet(), tmp_path / "nowhere" / "m.safetensors")
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("keep", [0.5, 0.9, 8 / 9999])
def test_a_truncated_file_is_a_clear_value_error(tmp_path, keep):
    path = save_model(make_mlp(), tmp_path / "m.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * keep))])
    with pytest.raises(ValueError, match="is not a readable safetensors file"):
        load_model(path)


@pytest.mark.parametrize(
    "content", [b"", b"not a model at all", b"\x00" * 64, json.dumps({"a": 1}).encode()]
)
def test_a_foreign_file_is_a_clear_value_error(tmp_path, content):
    path = tmp_path / "foreign.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not a readable safetensors file"):
        load_model(path)


class Payload:
    def __reduce__(self):
        return (os.mkdir, (PWNED,))


PWNED = "/tmp/deepsets-test-pickle-ran"


def test_a_pickle_is_never_run(tmp_path):
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ValueError, match="is not a readable safetensors file"):
        load_model(path)
    assert not os.path.exists(PWNED)


def test_a_safetensors_file_not_written_by_deepsets_is_a_clear_value_error(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"weight": torch.zeros(2, 2)}, str(path), metadata={"author": "someone else"})
    with pytest.raises(ValueError, match="not written by deepsets.save_model"):
        load_model(path)


DEEPSET_ARCH = {"kind": "DeepSet", **DeepSet().config}
MLP_TENSORS = {k: v.contiguous() for k, v in make_mlp(generator=0).state_dict().items()}

BAD_METADATA = {
    "not valid JSON": "{'kind': 'MLP'",
    "has no 'kind'": json.dumps({"sizes": [10, 1]}),
    "has no 'kind' ": json.dumps([1, 2]),
    "unknown model kind 'Transformer'": json.dumps({"kind": "Transformer"}),
    "a stored MLP has the keys": json.dumps({"kind": "MLP", "sizes": [10, 20, 20, 1]}),
    "got \\['activations', 'extra', 'sigmoid', 'sizes'\\]": json.dumps(
        {
            "kind": "MLP",
            "sizes": [10, 20, 20, 1],
            "activations": ["relu"] * 2,
            "sigmoid": True,
            "extra": 1,
        }  # fmt: skip
    ),
    "do not fit the stored architecture": json.dumps(DEEPSET_ARCH),
    "sizes up to 1000000000": json.dumps(
        {"kind": "MLP", "sizes": [10, 10**9, 20, 1], "activations": ["relu"] * 2, "sigmoid": True}
    ),
    "lists 2003 sizes": json.dumps(
        {"kind": "MLP", "sizes": [10] * 2003, "activations": [None] * 2001, "sigmoid": True}
    ),
    "architecture is invalid: sigmoid": json.dumps(
        {"kind": "MLP", "sizes": [10, 20, 20, 1], "activations": ["relu"] * 2, "sigmoid": "yes"}
    ),
    "damaged or not a deepsets file: .* invalid: sizes must be a list": json.dumps(
        {"kind": "MLP", "sizes": "10,20,20,1", "activations": ["relu"] * 2, "sigmoid": True}
    ),
    "characters long": json.dumps({"kind": "MLP", "pad": "x" * 200_000}),
}


@pytest.mark.parametrize("message", BAD_METADATA)
def test_malformed_metadata_is_a_clear_value_error_before_anything_is_built(tmp_path, message):
    path = tmp_path / "m.safetensors"
    save_file(MLP_TENSORS, str(path), metadata={"deepsets": BAD_METADATA[message]})
    start = time.perf_counter()
    with pytest.raises(ValueError, match=message.strip()):
        load_model(path)
    assert time.perf_counter() - start < 1


def test_a_deepset_claiming_a_billion_hidden_units_is_refused_at_once(tmp_path):
    path = tmp_path / "m.safetensors"
    tensors = {k: v.contiguous() for k, v in DeepSet().state_dict().items()}
    arch = {**DEEPSET_ARCH, "hidden": 10**9, "rho_hidden": 10**9}
    save_file(tensors, str(path), metadata={"deepsets": json.dumps(arch)})
    start = time.perf_counter()
    with pytest.raises(ValueError, match="sizes up to 1000000000, the file holds 62 numbers"):
        load_model(path)
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize(
    "tensors, message",
    [
        ({k: v.to(torch.int32) for k, v in MLP_TENSORS.items()}, r"one float dtype, got \['I32'\]"),
        ({**MLP_TENSORS, "1.bias": MLP_TENSORS["1.bias"].double()}, "one float dtype"),
    ],
)
def test_weights_that_are_not_one_float_dtype_are_refused(tmp_path, tensors, message):
    path = tmp_path / "m.safetensors"
    arch = {"kind": "MLP", "sizes": [10, 20, 20, 1], "activations": ["relu"] * 2, "sigmoid": True}
    save_file(tensors, str(path), metadata={"deepsets": json.dumps(arch)})
    with pytest.raises(ValueError, match=message):
        load_model(path)


def test_a_file_of_deepsets_0_1_still_loads(tmp_path):
    model = make_mlp((7, 3), "tanh", generator=0)
    path = tmp_path / "old.safetensors"
    legacy = {"kind": "MLP", "hidden": [7, 3], "activation": "tanh", "in_features": 10}
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"deepsets": json.dumps(legacy)})
    X = make_data(8, generator=0)[0]
    with torch.no_grad():
        assert torch.equal(load_model(path)(X), model(X))


@pytest.mark.parametrize("device", ["gpu0", "banana", "", 0, None])
def test_load_model_checks_the_device_first(tmp_path, device):
    path = save_model(DeepSet(), tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match="device must be one of"):
        load_model(path, device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("device", ["cuda", torch.device("cuda:0")])
def test_load_model_on_a_missing_gpu_says_so(tmp_path, device):
    path = save_model(DeepSet(), tmp_path / "m.safetensors")
    with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
        load_model(path, device=device)


@pytest.mark.parametrize("path", [None, 3, ["m.safetensors"]])
def test_the_path_must_be_a_path(path):
    with pytest.raises(TypeError, match="path must be a str or a pathlib.Path"):
        save_model(DeepSet(), path)
    with pytest.raises(TypeError, match="path must be a str or a pathlib.Path"):
        load_model(path)


# ---------------------------------------------------------------- every model a study saves


def _package_modules_deepset() -> DeepSet:
    phi = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 6), nn.Identity(), nn.GELU(),
                        nn.Linear(6, 6), nn.GELU(approximate="tanh"), nn.Linear(6, 3))  # fmt: skip
    rho = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1), nn.Sigmoid())
    return DeepSet(phi=phi, rho=rho, pooling="max")


def _inputs(kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Sets for a model of input `kind` (a mask with an empty set): X (B, N, F), mask (B, N)."""
    g = torch.Generator().manual_seed(0)
    mask = torch.rand(6, 5, generator=g) < 0.7
    mask[0] = False
    if kind == "tokens":
        return torch.randint(0, 10, (6, 5, 1), generator=g), mask
    return torch.rand(6, 5, {"one": 1, "two": 2, "pixels": 64}[kind], generator=g), mask


EVERY_KIND = {
    "DeepSet": (lambda: DeepSet(4, latent=2, pooling="mean", rho=Rho(output=None), generator=0),
                "one"),  # fmt: skip
    "DeepSet of package modules": (_package_modules_deepset, "two"),
    "MLP": (lambda: make_mlp((6, 3), "tanh", n_objects=5, generator=0), "one"),
    "digit DeepSet, text": (lambda: digit_deepset(generator=0), "tokens"),
    "digit DeepSet, images": (lambda: digit_deepset(64, width=8, latent=4, generator=0), "pixels"),
    "LSTM": (lambda: RecurrentSum("lstm", 7, generator=0), "tokens"),
    "GRU": (lambda: RecurrentSum("gru", 5, 64, width=8, generator=0), "pixels"),
    "Set Transformer": (lambda: SetTransformer(dim=8, heads=2, blocks=1, generator=0), "tokens"),
    "smooth max DeepSet": (lambda: SmoothMaxDeepSet("powermean", 3.0, hidden=4, generator=0),
                           "one"),  # fmt: skip
    "log-sum-exp DeepSet": (lambda: SmoothMaxDeepSet(latent=2, generator=1), "one"),
    "per-element network": (lambda: PerElementNet(6, "relu", generator=0), "one"),
    "equivariant network": (lambda: EquivariantNet(5, 2, "max", generator=0), "one"),
    "one-layer equivariant network": (lambda: EquivariantNet(500, 1, "sum", generator=0), "one"),
    "SetModel": (lambda: SetModel(2, 4, seeds=3, layers=Layers(8, 2, 1), generator=0), "two"),
}


@pytest.mark.parametrize("kind", EVERY_KIND)
def test_every_kind_of_model_loads_with_its_weights_and_gives_the_same_outputs(tmp_path, kind):
    make, inputs = EVERY_KIND[kind]
    model = make()
    with torch.no_grad():  # trained weights: not what the constructor would draw again
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    X, mask = _inputs(inputs)
    args = (X,) if kind == "MLP" else (X, mask)
    path = save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(path)
    assert type(loaded) is type(model) and not loaded.training
    with torch.no_grad():
        assert torch.equal(loaded(*args), model.eval()(*args))
    assert [n for n, _ in loaded.named_parameters()] == [n for n, _ in model.named_parameters()]
    again = load_model(save_model(loaded, tmp_path / "again.safetensors"))  # saved as loaded
    with torch.no_grad():
        assert torch.equal(again(*args), model(*args))


def _changed_set_transformer() -> SetTransformer:
    model = SetTransformer(dim=8, heads=2, generator=0)
    model.rho = nn.Linear(8, 2)
    return model


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: DeepSet(phi=nn.Sequential(nn.Linear(1, 3), nn.LeakyReLU()),
                         rho=nn.Linear(3, 1)), "phi.1 is LeakyReLU"),  # fmt: skip
        (lambda: DeepSet(phi=nn.Linear(1, 3), rho=nn.Bilinear(3, 3, 1)), "rho is Bilinear"),
        (_changed_set_transformer, "changed after it was built"),
    ],
)
def test_modules_the_format_cannot_rebuild_are_refused_naming_them(tmp_path, make, message):
    """A DeepSet of the user's own modules cannot be rebuilt from a file: refused, naming the
    module and what to do instead; so is a package model changed after it was built."""
    with pytest.raises(TypeError, match=message):
        save_model(make(), tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ({"kind": "RecurrentSum", "cell": "lstm", "layers": 2}, "takes"),
        ({"kind": "DeepSet", "pooling": "sum", "phi": {"kind": "Conv1d"}, "rho": {}}, "built of"),
        ({"kind": "DeepSet", "pooling": "sum", "rho": {"kind": "tanh"},
          "phi": {"kind": "Linear", "in_features": -1, "out_features": 2, "bias": True}},
         "positive"),  # fmt: skip
    ],
)
def test_bad_stored_architectures_of_the_new_kinds_are_clear_errors(tmp_path, arch, message):
    path = tmp_path / "bad.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"deepsets": json.dumps(arch)})
    with pytest.raises(ValueError, match=message):
        load_model(path)


# the studies' models: a file naming one imports its study (`weights.STUDY_KINDS`)
STUDY_MODELS = {
    k: EVERY_KIND[k][0]
    for k in ("digit DeepSet, text", "LSTM", "Set Transformer", "smooth max DeepSet",
              "equivariant network")  # fmt: skip
}


def test_a_study_model_loads_in_a_fresh_process_without_importing_its_study_first(tmp_path):
    """`deepsets.weights` imports no study; `load_model` imports the study a file names, so a
    file loads with the same weights in a process that never imported the study."""
    sums = {}
    for i, make in enumerate(STUDY_MODELS.values()):
        model = make()
        save_model(model, tmp_path / f"{i}.safetensors")
        total = sum(float(p.detach().sum()) for p in model.parameters())
        sums[str(i)] = (type(model).__name__, total)
    script = (
        "import sys, json, deepsets.weights as w\n"
        "before = sorted(m for m in sys.modules if m.startswith('deepsets.studies'))\n"
        "out = {}\n"
        "for i in json.loads(sys.argv[2]):\n"
        "    m = w.load_model(f'{sys.argv[1]}/{i}.safetensors')\n"
        "    out[i] = (type(m).__name__, sum(float(p.sum()) for p in m.parameters()))\n"
        "print(json.dumps({'before': before, 'loaded': out}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), json.dumps(list(sums))],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    got = json.loads(done.stdout)
    assert got["before"] == []
    assert {k: tuple(v) for k, v in got["loaded"].items()} == sums


def test_a_digit_deepset_file_of_deepsets_0_1_loads():
    """The header today's files hold for the text digit DeepSet (its DigitEncoder by width and
    in_features) still rebuilds the model."""
    arch = {"kind": "DeepSet", "pooling": "sum", "rho": {"kind": "Linear", "in_features": 30,
            "out_features": 1, "bias": True}, "phi": {"kind": "Sequential", "layers": [
            {"kind": "DigitEncoder", "width": 100, "in_features": None}, {"kind": "Linear",
            "in_features": 100, "out_features": 30, "bias": True}, {"kind": "tanh"}]}}  # fmt: skip
    model = weights.build(arch)
    assert str(model) == str(digit_deepset(generator=0))


def test_files_keep_grouped_arguments_flat_as_before():
    """A SetModel's `layers` (a dataclass) is stored as its fields, flat, as files of deepsets
    0.1 hold them (and a DeepSet's `Rho` as rho_hidden, rho_activation and output)."""
    flat = {"kind": "SetModel", "in_features": 2, "outputs": 4, "encoder": "sab", "pooling": "pma",
            "seeds": 3, "dim": 8, "heads": 2, "blocks": 2, "inducing": 16, "decoder": 0,
            "counting": False, "layer_norm": False}  # fmt: skip
    model = SetModel(2, 4, seeds=3, layers=Layers(8, 2), generator=0)
    assert weights.describe(model) == flat
    assert str(weights.build(flat)) == str(model)
    deepset = DeepSet(3, rho=Rho(2, "relu", None))
    assert weights.describe(deepset) == {
        "kind": "DeepSet", "hidden": 3, "activation": "tanh", "latent": 1, "pooling": "sum",
        "rho_hidden": 2, "rho_activation": "relu", "in_features": 1, "output": None,
    }  # fmt: skip
    assert str(weights.build(weights.describe(deepset))) == str(deepset)


# ---------------------------------------------------------------- what a model is: ties, finite


@pytest.mark.parametrize("name", TIED)
def test_a_tie_comes_back_as_a_tie(tmp_path, name):
    """A weight used in two places is stored once and reloaded as one weight: the same count,
    the same outputs, and a change to it shows in both places."""
    model = TIED[name]()
    loaded = load_model(save_model(model, tmp_path / "m.safetensors"))
    assert len(list(loaded.parameters())) == len(list(model.parameters()))
    assert sum(p.numel() for p in loaded.parameters()) == sum(p.numel() for p in model.parameters())
    X = make_data(8, generator=0)[0]
    with torch.no_grad():
        assert torch.equal(loaded(X), model.eval()(X))
        for m in (model, loaded):
            next(m.parameters()).add_(1.0)  # one weight: every use of it moves
        assert torch.equal(loaded(X), model(X))


@pytest.mark.parametrize("tensor", ["phi.0.weight", "y_scale"])
def test_load_model_refuses_what_training_refuses_naming_the_file_and_tensor(tmp_path, tensor):
    """One policy for weights and buffers that are not finite: load_model, train, evaluate and
    export all refuse them, naming the tensor."""
    from deepsets.studies.popstats.models import PopStatsDeepSet

    path = save_model(PopStatsDeepSet(3, generator=0, y_scale=2.0), tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as f:
        metadata, stored = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    stored[tensor].view(-1)[0] = float("nan")
    save_file(stored, str(path), metadata=metadata)
    with pytest.raises(ValueError, match=rf"m\.safetensors: model\.{tensor} must hold finite"):
        load_model(path)
    model = PopStatsDeepSet(3, generator=0, y_scale=2.0)
    model.load_state_dict(stored)
    X = torch.rand(4, 5, 3, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=rf"model\.{tensor} must hold finite"):
        deepsets.evaluate(model, X, torch.zeros(4, 1))
