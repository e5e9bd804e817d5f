"""Hostile limits (issue 21, classes 3 and 4): devices that are not there or not real, and sizes
that would not fit in memory. Each is refused with a ValueError naming the argument or flag,
before any work: training, data making and writing are replaced by failures here, and no file
or output directory may appear."""

from __future__ import annotations

import re

import pytest
import torch

import deepsets as ds
from deepsets import cli
from deepsets import training as training_module
from deepsets.data import chunks

NO_GPU = not torch.cuda.is_available()

# ---------------------------------------------------------------- class 3: devices

# Devices deepsets cannot compute on: data-less, absent backends, strings torch does not know
# or deepsets does not take, and values that are not devices at all (None is the data makers'
# default, "the generator's device", so it is not among them).
BAD_DEVICES: list[object] = [
    "meta", "mps", "xla", "hpu", "gpu", "cuda:0", "cpu:0", "CPU", " cpu", "", "auto ",
    0, 1, -1, True, 1.5, b"cpu", ["cpu"],
    torch.device("meta"), torch.device("mps"), torch.device("xla"), torch.device("xpu"),
]  # fmt: skip
if NO_GPU:
    BAD_DEVICES += ["cuda", torch.device("cuda"), torch.device("cuda", 1)]

DEVICE_CALLS = {
    "resolve_device": lambda d: ds.resolve_device(d),
    "make_data": lambda d: ds.make_data(4, generator=0, device=d),
    "make_batches": lambda d: ds.make_batches(2, 4, generator=0, device=d),
    "make_padded_data": lambda d: ds.make_padded_data(4, (5, 8), generator=0, device=d),
    "make_padded_batches": lambda d: ds.make_padded_batches(2, 4, (5, 8), generator=0, device=d),
    "all_sets": lambda d: ds.all_sets(device=d),
    "chunks": lambda d: chunks(3, 4, generator=0, device=d),
}


@pytest.fixture
def no_work(monkeypatch):
    """Training and data making fail if reached: a refusal must come before them."""

    def reached(*args, **kwargs):
        raise AssertionError("work started before the refusal")

    monkeypatch.setattr(training_module, "fit", reached)
    monkeypatch.setattr("deepsets.data._labels", reached)
    monkeypatch.setattr("deepsets.engine.remote.run_groups", reached)


def device_refused(call, name: str) -> str:
    with pytest.raises(ValueError) as e:
        call()
    message = str(e.value)
    assert message.startswith(name), message
    return message


@pytest.mark.parametrize("device", BAD_DEVICES, ids=repr)
@pytest.mark.parametrize("entry", DEVICE_CALLS)
def test_a_device_deepsets_cannot_compute_on_is_refused_naming_the_argument(
    entry, device, no_work
):
    message = device_refused(lambda: DEVICE_CALLS[entry](device), "device")
    assert "'cpu'" in message and ("CUDA GPU" in message or "cuda" in message), message


@pytest.mark.parametrize("device", BAD_DEVICES, ids=repr)
def test_load_model_refuses_a_bad_device_before_reading(device, tmp_path):
    path = ds.save_model(ds.DeepSet(), tmp_path / "m.safetensors")
    device_refused(lambda: ds.load_model(path, device=device), "device")


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu"), torch.device("cpu", 0), "auto"])
def test_the_cpu_in_every_spelling_deepsets_takes_still_works(device, tmp_path):
    assert ds.resolve_device(device).type == "cpu"
    X, y = ds.make_data(4, generator=0, device=device)
    assert X.device.type == "cpu" and y.shape == (4, 1)
    path = ds.save_model(ds.DeepSet(), tmp_path / "m.safetensors")
    assert next(ds.load_model(path, device=device).parameters()).device.type == "cpu"


def test_resolve_device_never_returns_an_unusable_device():
    for device in ("mps", torch.device("mps"), "meta", torch.device("meta")):
        with pytest.raises(ValueError, match="device must be one of"):
            ds.resolve_device(device)


def meta_model() -> torch.nn.Module:
    return ds.DeepSet().to("meta")


def cpu_model_with_a_meta_buffer() -> torch.nn.Module:
    m = ds.DeepSet()
    m.register_buffer("scale", torch.ones(1, device="meta"))
    return m


X4, Y4 = ds.make_data(4, generator=0)
MASK4 = torch.ones(4, 10, dtype=torch.bool)
META = torch.device("meta")

# entry point -> (call with a model or tensors on a meta device, the argument it must name)
PLACED_CALLS = {
    "train model": (lambda: ds.train(meta_model(), 3), "model"),
    "train buffer": (lambda: ds.train(cpu_model_with_a_meta_buffer(), 3), "model"),
    "train_many": (lambda: ds.train_many([ds.DeepSet(), meta_model()], 3, seeds=[0, 1]),
                   r"models\[1\]"),
    "train_on model": (lambda: ds.train_on([meta_model()], X4, Y4, 3), r"models\[0\]"),
    "train_on X": (lambda: ds.train_on([ds.DeepSet()], X4.to(META), Y4, 3), "X"),
    "train_on y": (lambda: ds.train_on([ds.DeepSet()], X4, Y4.to(META), 3), "y"),
    "train_on mask": (lambda: ds.train_on([ds.DeepSet()], X4, Y4, 3, mask=MASK4.to(META)),
                      "mask"),
    "evaluate model": (lambda: ds.evaluate(meta_model(), X4, Y4), "model"),
    "evaluate X": (lambda: ds.evaluate(ds.DeepSet(), X4.to(META), Y4), "X"),
    "evaluate y": (lambda: ds.evaluate(ds.DeepSet(), X4, Y4.to(META)), "y"),
    "evaluate mask": (lambda: ds.evaluate(ds.DeepSet(), X4, Y4, MASK4.to(META)), "mask"),
    "check_invariance model": (lambda: ds.check_invariance(meta_model(), X4), "models"),
    "check_invariance dict": (lambda: ds.check_invariance({"a": meta_model()}, X4),
                              r"models\['a'\]"),
    "check_invariance X": (lambda: ds.check_invariance(ds.DeepSet(), X4.to(META)), "X"),
    "plot_sets X": (lambda: ds.plot_sets(X4.to(META), Y4), "X"),
    "plot_sets y": (lambda: ds.plot_sets(X4, Y4.to(META)), "y"),
    "plot_losses": (lambda: ds.plot_losses({"a": torch.ones(5, device=META)}), r"runs\['a'\]"),
}  # fmt: skip


@pytest.mark.parametrize("case", PLACED_CALLS)
def test_models_and_tensors_on_a_meta_device_are_refused_naming_the_argument(case, no_work):
    call, name = PLACED_CALLS[case]
    with pytest.raises(ValueError) as e:
        call()
    assert re.match(rf"{name} is on 'meta', where deepsets cannot compute", str(e.value)), e.value


@pytest.mark.parametrize("model", [meta_model, cpu_model_with_a_meta_buffer])
def test_writing_a_meta_model_is_refused_and_writes_nothing(model, tmp_path):
    for call, path in [
        (lambda p: ds.save_model(model(), p), tmp_path / "m.safetensors"),
        (lambda p: ds.export_onnx(model(), p), tmp_path / "m.onnx"),
    ]:
        with pytest.raises(ValueError, match="model is on 'meta'"):
            call(path)
        assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("study", sorted(cli.STUDIES))
@pytest.mark.parametrize("device", ["mps", "meta", "xla", *(["cuda"] if NO_GPU else [])])
def test_every_study_refuses_a_bad_device_before_any_work(study, device, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["run", study, "--quick", "--device", device, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--device" in err or "device 'cuda' was asked for" in err, err
    assert "Traceback" not in err and not out.exists()
    settings = cli.STUDIES[study].settings(device=device)  # the API: the same check
    with pytest.raises(ValueError, match="device"):
        cli.STUDIES[study].check(settings)
