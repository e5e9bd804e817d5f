"""ONNX export: the file onnxruntime runs gives the torch model's outputs, with masks and empty
sets, invariantly to the order of the objects; bad arguments and models are refused first."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

ort = pytest.importorskip(
    "onnxruntime", reason="onnxruntime is not installed (the optional extra: deepsets[onnx])"
)
import onnx  # noqa: E402  (after the skip: both come with the extra)

import deepsets as ds  # noqa: E402
from deepsets import cli  # noqa: E402
from deepsets.export import SetInput, export_onnx, session, set_input, trace, verify  # noqa: E402
from deepsets.studies.digits.models import (  # noqa: E402
    RecurrentSum,
    SetTransformer,
    digit_deepset,
    image_deepset,
)

EXE = Path(sys.executable).with_name("deepsets")
N_MAX = 50  # the target: 1,000 random sets of sizes 0 to 50


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """pooling -> (a trained DeepSet, an onnxruntime session of its exported file)."""
    out = {}
    for pooling in ds.POOLINGS:
        model, _ = ds.train(ds.DeepSet(pooling=pooling, generator=0), 300, seed=0)
        path = tmp_path_factory.mktemp("onnx") / f"{pooling}.onnx"
        export_onnx(model, path, max_objects=N_MAX)
        out[pooling] = (model, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]))
    return out


def padded(sets: list[torch.Tensor], width: int, g: torch.Generator, fill: float = 0.0):
    """Sets (n_i, F) placed at random slots of a (B, width, F) batch; the rest is `fill`."""
    F = sets[0].shape[1]
    X = torch.full((len(sets), width, F), fill, dtype=sets[0].dtype)
    mask = torch.zeros(len(sets), width, dtype=torch.bool)
    for b, s in enumerate(sets):
        slots = torch.randperm(width, generator=g)[: len(s)]
        X[b, slots], mask[b, slots] = s, True
    return X, mask


def run(sess, X: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    return sess.run(None, {"X": X.numpy(), "mask": mask.numpy()})[0]


def alone(model, s: torch.Tensor) -> float:
    """The torch model on one set by itself: no padding, no mask (the reference)."""
    with torch.no_grad():
        return float(model(s[None])[0, 0])


@pytest.mark.parametrize("pooling", ds.POOLINGS)
def test_exported_deepset_equals_torch_on_1000_random_padded_sets_of_0_to_50(exported, pooling):
    model, sess = exported[pooling]
    g = torch.Generator().manual_seed(1)
    sizes = torch.randint(0, N_MAX + 1, (1000,), generator=g).tolist()
    sets = [2 * torch.randn(n, 1, generator=g) for n in sizes]
    assert 0 in sizes and N_MAX in sizes
    worst = 0.0
    for i in range(0, 1000, 100):  # batches of 100 sets, padded to 50 or to their largest
        chunk = sets[i : i + 100]
        width = N_MAX if i % 200 else max(len(s) for s in chunk)
        X, mask = padded(chunk, width, g, fill=float("nan") if i % 300 == 0 else 7.0)
        got = run(sess, X, mask)[:, 0]  # (100,)
        expected = np.array([alone(model, s) for s in chunk])
        worst = max(worst, float(np.abs(got - expected).max()))
    assert worst <= 1e-5


@settings(max_examples=30, deadline=None)
@given(
    pooling=st.sampled_from(ds.POOLINGS),
    n=st.integers(0, N_MAX),
    width_extra=st.integers(0, 5),
    seed=st.integers(0, 2**31 - 1),
)
def test_exported_deepset_is_invariant_to_permutations(exported, pooling, n, width_extra, seed):
    model, sess = exported[pooling]
    g = torch.Generator().manual_seed(seed)
    X, mask = padded([torch.randn(n, 1, generator=g) for _ in range(8)], n + width_extra, g)
    order = torch.argsort(torch.rand(X.shape[:2], generator=g), dim=1)  # (B, N) per set
    Xp, maskp = X.gather(1, order[..., None]), mask.gather(1, order)
    assert np.abs(run(sess, Xp, maskp) - run(sess, X, mask)).max() <= 1e-6


@pytest.mark.parametrize("pooling", ds.POOLINGS)
def test_empty_sets_give_rho_of_zero_with_an_all_false_mask_and_with_no_objects(exported, pooling):
    model, sess = exported[pooling]
    with torch.no_grad():
        rho0 = float(model.rho(torch.zeros(1, 1)))  # pooling an empty set gives 0
    all_padding = run(sess, torch.randn(4, 10, 1), torch.zeros(4, 10, dtype=torch.bool))
    no_objects = run(sess, torch.zeros(3, 0, 1), torch.zeros(3, 0, dtype=torch.bool))
    assert all_padding.shape == (4, 1) and no_objects.shape == (3, 1)
    assert np.abs(all_padding - rho0).max() <= 1e-6
    assert np.abs(no_objects - rho0).max() <= 1e-6
    assert abs(alone(model, torch.zeros(0, 1)) - rho0) <= 1e-6


@pytest.mark.parametrize("in_features", [None, 5])  # digit tokens, float features
def test_the_digit_deepset_exports_with_tokens_and_features(tmp_path, in_features):
    model = digit_deepset(in_features, width=16, latent=8, generator=3).eval()
    done = export_onnx(model, tmp_path / "digits.onnx", max_objects=N_MAX)
    sess = ort.InferenceSession(str(done.path), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(4)
    sizes = torch.randint(0, N_MAX + 1, (200,), generator=g).tolist()
    if in_features is None:
        sets = [torch.randint(0, 10, (n, 1), generator=g) for n in sizes]
    else:
        sets = [torch.randn(n, in_features, generator=g) for n in sizes]
    X, mask = padded(sets, N_MAX, g)
    expected = np.array([alone(model, s) for s in sets])
    assert np.abs(run(sess, X, mask)[:, 0] - expected).max() <= 1e-5
    order = torch.argsort(torch.rand(X.shape[:2], generator=g), dim=1)
    permuted = run(sess, X.gather(1, order[..., None].expand_as(X)), mask.gather(1, order))
    y = run(sess, X, mask)  # sums up to ~6: float32 rounds a reordered sum by ~1e-7 of that
    assert (np.abs(permuted - y) <= 1e-6 * (1 + np.abs(y))).all()
    assert done.x == SetInput(torch.int64 if in_features is None else torch.float32,
                              in_features or 1, 10 if in_features is None else 0)  # fmt: skip


def test_the_image_deepset_of_the_digit_study_exports_as_it_was_saved(tmp_path):
    """Its phi starts with a CNN (ConvEncoder) whose first nn.Linear reads 128 features: the
    export reads the 64 pixels from the encoder's own in_features."""
    model = image_deepset(0).eval()
    assert set_input(model) == SetInput(torch.float32, 64, 0)
    done = export_onnx(model, tmp_path / "images.onnx", max_objects=6)
    assert done.x.features == 64 and done.max_difference <= 1e-5


def test_a_float64_deepset_exports_in_float64(tmp_path):
    model = ds.DeepSet(hidden=7, latent=3, in_features=2, pooling="mean", generator=5).double()
    done = export_onnx(model, tmp_path / "f64.onnx", max_objects=12)
    sess = session(ort, done.path.read_bytes())
    g = torch.Generator().manual_seed(6)
    sets = [torch.randn(n, 2, generator=g, dtype=torch.float64) for n in (0, 1, 5, 12, 30)]
    X, mask = padded(sets, 30, g)  # past max_objects: the objects axis is not bounded
    expected = np.array([alone(model, s) for s in sets])
    assert run(sess, X, mask).dtype == np.float64
    assert np.abs(run(sess, X, mask)[:, 0] - expected).max() <= 1e-12


def test_the_file_names_its_inputs_and_says_what_it_was_checked_on(tmp_path):
    done = export_onnx(ds.DeepSet(in_features=3, generator=0), tmp_path / "m.onnx", max_objects=9)
    proto = onnx.load(str(done.path))
    onnx.checker.check_model(proto)
    shapes = {
        i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
        for i in [*proto.graph.input, *proto.graph.output]
    }
    assert shapes == {"X": ["batch", "objects", 3], "mask": ["batch", "objects"], "y": ["batch", 1]}
    assert {p.key: p.value for p in proto.metadata_props}["max_objects"] == "9"
    assert "0 to 9 objects" in proto.doc_string
    assert (done.max_objects, done.sets_checked) == (9, 24)  # sizes 0, 1, 9 in batches of 1, 7
    assert 0 <= done.max_difference <= 1e-5


@pytest.mark.parametrize(
    "model",
    [
        RecurrentSum("lstm", 8, None, width=8, generator=0),
        RecurrentSum("gru", 8, 4, width=8, generator=0),
        SetTransformer(None, dim=8, heads=2, generator=0),
        SetTransformer(4, dim=8, heads=2, generator=0),
        ds.make_mlp(),
    ],
    ids=["lstm", "gru", "set-transformer-text", "set-transformer-image", "mlp"],
)
def test_models_that_cannot_export_are_refused_by_kind_before_any_work(tmp_path, model):
    with pytest.raises(TypeError, match="does not export"):
        export_onnx(model, tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_the_refusals_still_hold_the_tracer_cannot_export_those_models():
    """If torch learns to export them, this fails: then drop the class's ONNX_REFUSAL."""
    mask = torch.ones(2, 6, dtype=torch.bool)
    lstm = RecurrentSum("lstm", 8, 4, width=8, generator=0).eval()
    with pytest.raises(TypeError, match="Sort"):
        trace(lstm, torch.randn(2, 6, 4), mask, ("batch", "1"))
    B, N = torch.export.Dim("batch"), torch.export.Dim("objects", max=50)
    with pytest.raises(RuntimeError, match="data-dependent expression"):  # int(n.max())
        torch.export.export(lstm, (torch.randn(2, 6, 4), mask), dynamic_shapes=({0: B, 1: N},) * 2)
    for features in (None, 4):
        st_model = SetTransformer(features, dim=8, heads=2, generator=0).eval()
        if features is None:
            x, X = SetInput(torch.int64, 1, 10), torch.randint(0, 10, (2, 6, 1))
        else:
            x, X = SetInput(torch.float32, 4, 0), torch.randn(2, 6, 4)
        data = trace(st_model, X, mask, ("batch", "1"))
        with pytest.raises(TypeError, match="fails in onnxruntime on 1 sets of 0 objects"):
            verify(st_model, ort, data, x, 6, torch.Generator().manual_seed(0), torch.device("cpu"))


class SizeAtTrace(torch.nn.Module):
    """Adds the number of real objects as a Python int: a trace freezes the traced count."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(1, 1)

    def forward(self, X: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.linear(X).masked_fill(~mask.unsqueeze(-1), 0.0)  # (B, N, 1)
        return h.sum(dim=1) + int(mask.sum())  # (B, 1)


class IgnoresMask(torch.nn.Module):
    """Sums every object, padding too: its graph has no mask input."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(1, 1)

    def forward(self, X: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.linear(X).sum(dim=1)  # (B, 1)


def test_a_graph_that_differs_from_its_model_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(TypeError, match="gives other outputs than the model"):
        export_onnx(SizeAtTrace(), tmp_path / "m.onnx", max_objects=5)
    with pytest.raises(TypeError, match="does not read the 'mask' input"):
        export_onnx(IgnoresMask(), tmp_path / "m.onnx", max_objects=5)
    assert list(tmp_path.iterdir()) == []  # no file, no temporary file


@pytest.mark.parametrize("max_objects", [0, -3, 2.5, True, "10", None])
def test_max_objects_must_be_a_positive_integer(tmp_path, max_objects):
    with pytest.raises(ValueError, match="max_objects must be a positive integer"):
        export_onnx(ds.DeepSet(), tmp_path / "m.onnx", max_objects=max_objects)
    assert list(tmp_path.iterdir()) == []


def test_bad_paths_models_and_flags_are_refused_by_name(tmp_path):
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        export_onnx("DeepSet", tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="path must be a str or a pathlib.Path"):
        export_onnx(ds.DeepSet(), 3)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        export_onnx(ds.DeepSet(), tmp_path / "no" / "m.onnx")
    with pytest.raises(TypeError, match="overwrite must be True or False"):
        export_onnx(ds.DeepSet(), tmp_path / "m.onnx", overwrite="yes")
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        export_onnx(ds.DeepSet(), tmp_path / "m.onnx", in_features=0)
    with pytest.raises(TypeError, match=r"forward\(X, mask\) failed on X of shape \(2, 10, 4\)"):
        export_onnx(ds.DeepSet(), tmp_path / "m.onnx", max_objects=10, in_features=4)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_kept_unless_overwrite(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_text("a user's file")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_onnx(ds.DeepSet(), path)
    assert path.read_text() == "a user's file"
    export_onnx(ds.DeepSet(generator=0), path, max_objects=4, overwrite=True)
    onnx.checker.check_model(onnx.load(str(path)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no temporary file left


def test_without_onnxruntime_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails
    with pytest.raises(ImportError, match=r"pip install 'deepsets\[onnx\]'"):
        export_onnx(ds.DeepSet(), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_the_command_refuses_what_cannot_export_and_bad_flags(tmp_path, capsys):
    ds.save_model(ds.make_mlp(), tmp_path / "mlp.safetensors")
    assert cli.main(["export", str(tmp_path / "mlp.safetensors"), str(tmp_path / "a.onnx")]) == 2
    assert "deepsets export: error: cannot export Sequential" in capsys.readouterr().err
    ds.save_model(ds.DeepSet(), tmp_path / "w.safetensors")
    argv = ["export", str(tmp_path / "w.safetensors"), str(tmp_path / "a.onnx")]
    assert cli.main([*argv, "--max-objects", "0"]) == 2
    assert "--max-objects must be a positive integer, got 0" in capsys.readouterr().err
    assert cli.main(["export", str(tmp_path / "none.safetensors"), str(tmp_path / "a.onnx")]) == 2
    assert "is not a readable safetensors file" in capsys.readouterr().err
    assert cli.main(["export", "--help"]) == 0
    assert "WEIGHTS OUT" in capsys.readouterr().out
    assert cli.main(["--help"]) == 0
    assert "  export WEIGHTS OUT " in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp.safetensors", "w.safetensors"]


def test_the_console_script_exports_a_trained_deepset_then_keeps_the_file(
    tmp_path, monkeypatch, capsys
):
    model, _ = ds.train(ds.DeepSet(pooling="max", generator=2), 100, seed=2)
    ds.save_model(model, tmp_path / "w.safetensors")
    argv = [str(EXE), "export", "w.safetensors", "w.onnx", "--max-objects", "20"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Wrote w.onnx: inputs X (batch, objects, 1) float32")
    written = (tmp_path / "w.onnx").read_bytes()
    g = torch.Generator().manual_seed(7)
    sets = [torch.randn(n, 1, generator=g) for n in (0, 3, 20)]
    X, mask = padded(sets, 20, g)
    got = run(session(ort, written), X, mask)[:, 0]
    assert np.abs(got - np.array([alone(model, s) for s in sets])).max() <= 1e-5
    monkeypatch.chdir(tmp_path)  # once more in this process: a second start would cost ~5 s
    assert cli.main(argv[1:]) == 2
    assert "w.onnx exists; pass --overwrite to replace it" in capsys.readouterr().err
    assert (tmp_path / "w.onnx").read_bytes() == written


# ---------------------------------------------------------------- what the file says, where it goes


def _set_model():
    from deepsets.models.set_transformer import Layers, SetModel

    return SetModel(2, 3, encoder="rff", pooling="mean", seeds=4, layers=Layers(8, 2, 1),
                    generator=0)  # fmt: skip


def _equivariant():
    from deepsets.studies.theory.models import EquivariantNet

    return EquivariantNet(5, 2, "max", generator=0)


@pytest.mark.parametrize("make", [lambda: ds.DeepSet(generator=0), _set_model, _equivariant],
                         ids=["DeepSet", "SetModel", "EquivariantNet"])  # fmt: skip
def test_the_file_and_the_command_describe_the_output_the_model_gives(tmp_path, make, capsys):
    """y's axes, as measured here on the model: "objects" where they follow the sets' size."""
    model = make().eval()
    x = set_input(model)
    shapes = []
    for n in (3, 4):
        X = torch.rand(2, n, x.features, generator=torch.Generator().manual_seed(n))
        with torch.no_grad():
            shapes.append(model(X, torch.ones(2, n, dtype=torch.bool)).shape[1:])
    axes = ["batch", *("objects" if a != b else str(a) for a, b in zip(*shapes, strict=True))]
    expected = f"y ({', '.join(axes)})"
    ds.save_model(model, tmp_path / "m.safetensors")
    argv = ["export", str(tmp_path / "m.safetensors"), str(tmp_path / "m.onnx")]
    assert cli.main([*argv, "--max-objects", "6"]) == 0
    assert f"-> {expected};" in capsys.readouterr().out
    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert f"-> {expected};" in proto.doc_string
    X, mask = torch.rand(3, 8, x.features), torch.rand(3, 8) < 0.7  # more objects than checked
    with torch.no_grad():
        np.testing.assert_allclose(run(session(ort, proto.SerializeToString()), X, mask),
                                   model(X, mask).numpy(), atol=1e-5)  # fmt: skip


def test_the_command_never_replaces_a_device_and_checks_out_before_any_work(
    tmp_path, capsys, monkeypatch
):
    ds.save_model(ds.DeepSet(), tmp_path / "w.safetensors")
    device = tmp_path / "null"
    if os.geteuid() == 0:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    else:
        os.mkfifo(device)
    (tmp_path / "f").write_text("a user's file")
    (tmp_path / "d").mkdir()
    monkeypatch.setattr("deepsets.weights.load_model", lambda *a: pytest.fail("work began"))
    for out, message in [
        (device, "null: it is a .* not a regular file"),
        (tmp_path / "d", "d: it is a directory"),
        (tmp_path / "f" / "m.onnx", "f is a file, not a directory"),
        ("", "OUT is empty"),
    ]:
        argv = ["export", str(tmp_path / "w.safetensors"), str(out), "--overwrite"]
        assert cli.main(argv) == 2
        assert re.search(f"deepsets export: error: .*{message}", capsys.readouterr().err)
    assert stat.S_ISCHR(os.lstat(device).st_mode) or stat.S_ISFIFO(os.lstat(device).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "f", "null", "w.safetensors"]


def test_sigterm_during_the_command_leaves_no_temporary_files(tmp_path, monkeypatch, capsys):
    ds.save_model(ds.DeepSet(), tmp_path / "w.safetensors")
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    export = torch.onnx.export

    def terminated(*args, **kwargs):
        export(*args, **kwargs)
        assert [p.name[:13] for p in (tmp_path / "tmp").iterdir()] == ["deepsets-onnx"]
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(torch.onnx, "export", terminated)
    argv = ["export", str(tmp_path / "w.safetensors"), str(tmp_path / "m.onnx")]
    assert cli.main(argv) == 143
    assert "deepsets export: terminated by SIGTERM" in capsys.readouterr().err
    assert list((tmp_path / "tmp").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp", "w.safetensors"]


def test_two_threads_export_at_once(tmp_path):
    """torch's exporter keeps global state: the exports take turns, and both files are right."""
    models = [ds.DeepSet(generator=k) for k in range(2)]
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda k: export_onnx(models[k], tmp_path / f"{k}.onnx",
                                                   max_objects=5), range(2)))  # fmt: skip
    X, mask = torch.rand(4, 5, 1), torch.rand(4, 5) < 0.7
    for model, d in zip(models, done, strict=True):
        with torch.no_grad():
            expected = model(X, mask).numpy()
        got = run(session(ort, d.path.read_bytes()), X, mask)
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_a_refused_attention_model_prints_nothing_but_the_error(tmp_path, capfd):
    """onnxruntime's own (coloured) log of the failing node stays quiet: the TypeError says it."""
    from deepsets.models.set_transformer import Layers, SetModel

    model = SetModel(2, 3, encoder="sab", seeds=4, layers=Layers(8, 2, 1), generator=0)
    with pytest.raises(TypeError, match="fails in onnxruntime"):
        export_onnx(model, tmp_path / "m.onnx", max_objects=6)
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize(
    "make", [lambda: ds.DeepSet(generator=0), lambda: image_deepset(0)], ids=["DeepSet", "images"]
)
def test_max_objects_too_large_for_memory_is_refused_before_any_work(tmp_path, make, monkeypatch):
    def reached(*args, **kwargs):
        raise AssertionError("work started before the refusal")

    monkeypatch.setattr("deepsets.export.output_axes", reached)
    with pytest.raises(ValueError, match=r"max_objects=1000000000 would need about [\d.]+ [GTP]iB"):
        export_onnx(make(), tmp_path / "m.onnx", max_objects=10**9)
    assert list(tmp_path.iterdir()) == []


def test_the_command_refuses_max_objects_too_large_naming_its_flag(tmp_path, capsys):
    ds.save_model(ds.DeepSet(generator=0), tmp_path / "w.safetensors")
    argv = ["export", str(tmp_path / "w.safetensors"), str(tmp_path / "a.onnx")]
    assert cli.main([*argv, "--max-objects", str(10**9)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deepsets export: error: --max-objects 1000000000 would need about"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]


def compiled(how: str) -> torch.nn.Module:
    """A DeepSet compiled with torch.compile in one of the ways torch offers (nothing compiles
    until it is called)."""
    model = ds.DeepSet(generator=0)
    if how == "torch.compile":
        return torch.compile(model)  # type: ignore[return-value]  # an OptimizedModule
    if how == "Module.compile":
        model.compile()
    elif how == "a compiled forward":
        model.forward = torch.compile(model.forward)  # type: ignore[method-assign]
    else:  # a compiled part
        model.phi = torch.compile(model.phi)  # type: ignore[assignment]
    return model


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("how", ["torch.compile", "Module.compile", "a compiled forward", "phi"])
def test_a_compiled_model_is_refused_naming_it_before_any_compiling(tmp_path, monkeypatch, how):
    """torch.compile compiles at the first call (30 s on a busy machine), then the tracer
    refuses it: the refusal must come first."""

    def reached(*args, **kwargs):
        raise AssertionError("the model was called before the refusal")

    monkeypatch.setattr("deepsets.export.output_axes", reached)
    with pytest.raises(TypeError, match=r"^cannot export \w+: model(\.phi)? is compiled by"):
        export_onnx(compiled(how), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []
