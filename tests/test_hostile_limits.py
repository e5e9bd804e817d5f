"""Hostile limits (issue 21, classes 3 and 4): devices that are not there or not real, and sizes
that would not fit in memory. Each is refused with a ValueError naming the argument or flag,
before any work: training, data making and writing are replaced by failures here, and no file
or output directory may appear."""

from __future__ import annotations

import re
from dataclasses import fields, replace

import numpy as np
import pytest
import torch

import deepsets as ds
from deepsets import cli
from deepsets.checks import memory_limit
from deepsets.data import chunks
from deepsets.studies.attention import settings as attention_settings
from deepsets.studies.digits import settings as digits_settings
from deepsets.studies.exercise.plan import memory_needs as exercise_needs
from deepsets.studies.popstats import settings as popstats_settings
from deepsets.studies.theory import settings as theory_settings

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

    monkeypatch.setattr("deepsets.engine.train.fit", reached)
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
    "train_on model": (lambda: ds.train_on([meta_model()], (X4, Y4), 3), r"models\[0\]"),
    "train_on X": (lambda: ds.train_on([ds.DeepSet()], (X4.to(META), Y4), 3), "X"),
    "train_on y": (lambda: ds.train_on([ds.DeepSet()], (X4, Y4.to(META)), 3), "y"),
    "train_on mask": (lambda: ds.train_on([ds.DeepSet()], (X4, Y4, MASK4.to(META)), 3),
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


# ---------------------------------------------------------------- class 4: memory

G = 10**9
# (study, flags that would need more memory than the limit, the flag the refusal must name):
# the cases and more of the same class from every study's --help.
TOO_LARGE = [
    ("exercise", f"--test-size {G}", f"--test-size {G}"),
    ("exercise", f"--permutations {G}", f"--permutations {G}"),
    ("exercise", "--hidden 100000000", "--hidden 100000000"),
    ("exercise", "--hidden 40000", "--hidden 40000"),  # 1.6e9 weights: large, not absurd
    ("exercise", "--batch-size 100000000", "--batch-size 100000000"),
    ("exercise", "--seeds 10000000000", "--seeds 10000000000"),
    ("exercise", "--mlp-hidden 100000 100000", "--mlp-hidden 100000 100000"),
    ("exercise", "--sweep-widths 4 100000000", "--sweep-widths 4 100000000"),
    ("exercise", "--steps 10000000000000 --final-window 50", "--steps 10000000000000"),
    ("exercise", "--sweep-depths 1 1000000", "--sweep-depths 1 1000000"),
    ("digits", f"--train-sets {G}", f"--train-sets {G}"),
    ("digits", f"--test-sets {G}", f"--test-sets {G}"),
    ("digits", "--train-sizes 1 100000000", "--train-sizes 1 100000000"),
    ("digits", "--lengths 5 100000000", "--lengths 5 100000000"),
    ("digits", "--batch-size 100000000", "--batch-size 100000000"),
    ("digits", "--lstm-hidden 1000000", "--lstm-hidden 1000000"),
    ("digits", "--gru-hidden 1000000", "--gru-hidden 1000000"),
    ("digits", "--st-dim 1000000", "--st-dim 1000000"),
    ("digits", "--seeds 10000000000", "--seeds 10000000000"),
    ("digits", "--image-deepset-steps 10000000000000", "--image-deepset-steps 10000000000000"),
    ("theory", f"--train-sets {G}", f"--train-sets {G}"),
    ("theory", f"--test-sets {G}", f"--test-sets {G}"),
    ("theory", "--set-sizes 2 100000000", "--set-sizes 2 100000000"),
    ("theory", f"--trap-sets {G}", f"--trap-sets {G}"),
    ("theory", "--mean-objects 100000000", "--mean-objects 100000000"),
    ("theory", "--equivariant-objects 100000000", "--equivariant-objects 100000000"),
    ("theory", "--hidden 100000000", "--hidden 100000000"),
    ("theory", "--layers 100000000", "--layers 100000000"),
    ("theory", "--seeds 10000000000", "--seeds 10000000000"),
    ("theory", "--latents 1 100000000", "--latents 1 100000000"),
    ("theory", "--rho-hidden 100000000", "--rho-hidden 100000000"),
    ("theory", "--wide-latent 100000000", "--wide-latent 100000000"),
    ("theory", "--median-steps 10000000000000", "--median-steps 10000000000000"),
    ("popstats", "--samples 100000000", "--samples 100000000"),
    ("popstats", f"--test-sets {G}", f"--test-sets {G}"),
    ("popstats", f"--sizes 128 {G} --steps 30 30", f"--sizes 128 {G}"),
    ("popstats", f"--features {G}", f"--features {G}"),
    ("popstats", "--batch-size 100000000", "--batch-size 100000000"),
    ("popstats", "--seeds 10000000000", "--seeds 10000000000"),
    ("attention", f"--max-train-sets {G}", f"--max-train-sets {G}"),
    ("attention", f"--cl-train-sets {G}", f"--cl-train-sets {G}"),
    ("attention", f"--cl-test-sets {G}", f"--cl-test-sets {G}"),
    ("attention", "--max-sizes 1 100000000", "--max-sizes 1 100000000"),
    ("attention", "--cl-sizes 100 100000000", "--cl-sizes 100 100000000"),
    ("attention", "--max-dim 100000000", "--max-dim 100000000"),
    ("attention", "--inducing 100000000", "--inducing 100000000"),
    ("attention", "--components 100000000", "--components 100000000"),
    ("attention", "--max-batch 100000000", "--max-batch 100000000"),
    ("attention", "--cl-batch 100000000", "--cl-batch 100000000"),
    ("attention", "--seeds 10000000000", "--seeds 10000000000"),
    ("attention", "--rff-blocks 100000000", "--rff-blocks 100000000"),
    ("attention", "--attention-blocks 1000000", "--attention-blocks 1000000"),
    ("attention", "--cl-steps 10000000000000", "--cl-steps 10000000000000"),
]


@pytest.fixture
def never_run(monkeypatch):
    """Every study's run function fails if called: the check must refuse first."""

    def run(settings):
        raise AssertionError(f"the study ran with {settings}")

    for name, study in cli.STUDIES.items():
        monkeypatch.setitem(cli.STUDIES, name, replace(study, run=run))


@pytest.mark.parametrize("study, flags, named", TOO_LARGE, ids=[f"{s} {f}" for s, f, _ in TOO_LARGE])  # noqa: E501
def test_a_run_too_large_for_memory_is_refused_by_its_flag_before_any_work(
    study, flags, named, never_run, tmp_path, capsys
):
    out = tmp_path / "run"
    argv = ["run", study, "--quick", *flags.split(), "--out", str(out)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"deepsets run {study}: error: the run with "), err
    assert named in err and re.search(r"would need about [\d.]+ [KMGTP]iB of memory", err), err
    assert "allowed (50% of the " in err and "Traceback" not in err, err
    assert not out.exists()


NEEDS = {  # each study's estimate (the exercise's in checks.py: it reads every section's variants)
    "exercise": exercise_needs,
    "digits": digits_settings.memory_needs,
    "theory": theory_settings.memory_needs,
    "popstats": popstats_settings.memory_needs,
    "attention": attention_settings.memory_needs,
}


@pytest.mark.parametrize("study", sorted(cli.STUDIES))
def test_the_defaults_and_quick_presets_fit_and_their_estimate_is_below_the_limit(study):
    entry = cli.STUDIES[study]
    for s in (entry.settings(), entry.quick()):
        assert entry.check(s) is not None  # refused nothing
        needs = NEEDS[study](s)
        assert 0 < sum(n.n_bytes for n in needs) <= memory_limit()
        assert all(f in {f.name for f in fields(s)} for n in needs for f in n.fields)


def test_the_refusal_follows_the_limit_not_a_fixed_size(monkeypatch):
    """The same settings pass or fail with the machine's memory (one place: memory_limit)."""
    entry = cli.STUDIES["exercise"]
    s = entry.quick(test_size=200_000)  # about 2 GiB of test sets, evaluated
    entry.check(s)
    monkeypatch.setattr("deepsets.checks.memory_limit", lambda: 2**30)
    with pytest.raises(ValueError, match="--test-size 200000"):
        entry.check(s)


@pytest.mark.parametrize(
    "study, flags, named",
    [
        ("digits", "--train-sizes 0 0", "train_sizes[1] must be a positive integer, got 0"),
        ("digits", "--train-sizes 0 5", "train_sizes must not allow empty sets"),
        ("digits", "--train-sizes 6 5", "train_sizes must satisfy lo <= hi"),
        ("attention", "--max-sizes 0 0", "max_sizes[1] must be a positive integer, got 0"),
        ("attention", "--cl-sizes 5 -1", "cl_sizes[1] must be a positive integer, got -1"),
    ],
)
def test_set_size_pairs_are_named_by_their_field_not_an_inner_argument(
    study, flags, named, never_run, capsys
):
    assert cli.main(["run", study, "--quick", *flags.split()]) == 2
    err = capsys.readouterr().err
    assert named in err and "sizes[" not in err.replace(named, ""), err


# train_on, train_many and friends: a step or a set too large is refused naming the argument
X100, Y100 = ds.make_data(100, generator=0)
API_TOO_LARGE = {
    "train_on batch 1e8": (lambda: ds.train_on([ds.DeepSet()], (X100, Y100), 2, batch_size=10**8),
                           "batch_size=100000000"),
    "train_on batch 1e7, 2 models": (
        lambda: ds.train_on([ds.DeepSet(), ds.DeepSet()], (X100, Y100), 2, batch_size=10**7),
        "batch_size=10000000 for 2 model"),
    "train_on batch 1e12": (lambda: ds.train_on([ds.DeepSet()], (X100, Y100), 2,
                                                batch_size=10**12), "batch_size=1000000000000"),
    "train_on wide model": (lambda: ds.train_on([ds.make_mlp(hidden=(10**5,))], (X100, Y100), 2,
                                                batch_size=10**5), "batch_size=100000"),
    "train batch 1e8": (lambda: ds.train(ds.DeepSet(), 2, batch_size=10**8), "batch_size=1"),
    "train_many steps": (lambda: ds.train_many([ds.DeepSet()], 10**13, seeds=[0]), "steps="),
    "make_data": (lambda: ds.make_data(2 * 10**10), "make_data"),
    "DeepSet hidden": (lambda: ds.DeepSet(hidden=10**6), "hidden=1000000"),
    "check_invariance": (lambda: ds.check_invariance(ds.DeepSet(), X100, 10**9),
                         "n_permutations=1000000000"),
}  # fmt: skip


@pytest.mark.parametrize("case", API_TOO_LARGE)
def test_api_calls_too_large_for_memory_are_refused_naming_the_argument(case, no_work):
    call, named = API_TOO_LARGE[case]
    with pytest.raises(ValueError, match="would need about") as e:
        call()
    assert named in str(e.value), e.value


def test_a_batch_that_fits_still_trains():
    _, losses = ds.train_on([ds.DeepSet()], (X100, Y100), 2, batch_size=10**4)
    assert losses.shape == (1, 2) and np.isfinite(losses).all()


def test_a_convolution_counts_its_channels_times_pixels_per_object():
    """object_units against a count by hand of ConvEncoder's layers on 8x8 images with ink:
    conv 16x8x8, relu, pool 16x4x4, conv 32x4x4, relu, pool 32x2x2, flatten, linear 64, relu."""
    from deepsets.engine.checks import object_units
    from deepsets.studies.digits.encoders import ConvEncoder

    X = torch.rand(3, 5, 64) + 0.1  # (B, N, P): every image has ink
    by_hand = 2 * 16 * 64 + 16 * 16 + 2 * 32 * 16 + 2 * 32 * 4 + 2 * 64
    assert object_units(ConvEncoder(64, (16, 32), generator=0), X) == by_hand
    assert object_units(ds.make_mlp(hidden=(7, 9)), X100) == 7 + 9 + 1  # Linear widths


def test_a_convolutional_deepset_step_too_large_is_refused_naming_batch_size(no_work):
    """A batch the Linear-width formula would let through (a third of the limit) is refused:
    the digit study's image DeepSet makes about 3,800 values per image, not its 121 widths."""
    from deepsets.checks import memory_limit
    from deepsets.studies.digits.models import image_deepset
    from deepsets.studies.digits.tasks import image_digit_sum

    X, mask, y = image_digit_sum(8, (4, 4), generator=0)  # (B, 4, 64): four images a set
    b = memory_limit() // 20_000  # the formula: about 6,800 bytes a set
    with pytest.raises(ValueError, match=f"batch_size={b} for 1 model") as e:
        ds.train_on([image_deepset(0)], (X, y, mask), 2, loss="mae", batch_size=b)
    assert "would need about" in str(e.value)


# ------------------------------------------- the memory a job scheduler or a container allows


def fake_limits(monkeypatch, tmp_path, *, rlimit=None, v2=None, v1=None):
    """RLIMIT_AS (soft, bytes; None: unlimited) and a cgroup v2 `memory.max` or v1
    `memory.limit_in_bytes` ("max": none), as `deepsets.checks` reads them."""
    import resource

    infinity = resource.RLIM_INFINITY
    soft = infinity if rlimit is None else rlimit
    monkeypatch.setattr(resource, "getrlimit", lambda which: (soft, infinity))
    root, proc = tmp_path / "cgroup", tmp_path / "proc-self-cgroup"
    if v2 is not None:
        (root / "job").mkdir(parents=True)
        (root / "job" / "memory.max").write_text(f"{v2}\n")
        proc.write_text("0::/job\n")
    elif v1 is not None:
        (root / "memory").mkdir(parents=True)  # a container's view: its own cgroup at the root
        (root / "memory" / "memory.limit_in_bytes").write_text(f"{v1}\n")
        proc.write_text("4:memory:/docker/abc\n0::/\n")
    else:
        proc.write_text("0::/\n")
    monkeypatch.setattr("deepsets.checks.CGROUP_ROOT", root)
    monkeypatch.setattr("deepsets.checks.PROC_CGROUP", proc)
    monkeypatch.setattr("deepsets.checks.mapped_bytes", lambda: MAPPED)


def physical() -> int:
    import os

    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


GiB = 2**30
MAPPED = GiB // 2  # the address space in use, as RLIMIT_AS counts it


@pytest.mark.parametrize(
    "limits, source, usable",
    [
        ({"v2": 3 * GiB}, "cgroup", 3 * GiB),
        ({"v1": 3 * GiB}, "cgroup", 3 * GiB),
        ({"rlimit": 3 * GiB}, "RLIMIT_AS", 3 * GiB - MAPPED),
        ({"rlimit": 8 * GiB, "v2": 3 * GiB}, "cgroup", 3 * GiB),
        ({"rlimit": 3 * GiB, "v1": 8 * GiB}, "RLIMIT_AS", 3 * GiB - MAPPED),
    ],
)
def test_the_memory_limit_is_the_least_of_ram_rlimit_as_and_the_cgroup(
    monkeypatch, tmp_path, limits, source, usable
):
    fake_limits(monkeypatch, tmp_path, **limits)
    assert memory_limit() == usable // 2  # MEMORY_FRACTION of it
    with pytest.raises(ValueError, match=source):
        ds.make_data(2 * 10**8)  # ~3.7 GiB of sets: fits the machine, not the limit


@pytest.mark.parametrize("limits", [{}, {"v2": "max"}, {"v1": 2**63 - 4096}, {"v2": 10**15}])
def test_no_limit_or_a_larger_one_leaves_physical_memory(monkeypatch, tmp_path, limits):
    fake_limits(monkeypatch, tmp_path, **limits)
    assert memory_limit() == physical() // 2


def test_a_real_rlimit_as_in_a_child_process_lowers_the_limit():
    import subprocess
    import sys

    code = (
        "import resource; "
        "resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, resource.RLIM_INFINITY)); "
        "from deepsets.checks import memory_limit; print(memory_limit())"
    )
    limit = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=True).stdout)
    assert 0 < limit <= 1.5 * GiB


@pytest.mark.parametrize(
    "study, flags, named",
    [
        ("popstats", "--test-sets 100000", "--test-sets 100000"),  # ~3.9 GiB
        ("exercise", "--test-size 200000", "--test-size 200000"),  # ~2 GiB
    ],
)
def test_a_run_too_large_for_the_job_limit_is_refused_by_its_flag(
    study, flags, named, never_run, monkeypatch, tmp_path, capsys
):
    fake_limits(monkeypatch, tmp_path, v2=2 * GiB)
    assert cli.main(["run", study, "--quick", *flags.split()]) == 2
    err = capsys.readouterr().err
    assert named in err and "cgroup" in err and "Traceback" not in err, err


def test_too_many_workers_are_refused_naming_workers(never_run, capsys):
    assert cli.main(["run", "popstats", "--quick", "--workers", "1000000000"]) == 2
    err = capsys.readouterr().err
    assert "--workers 1000000000" in err, err


def test_a_small_request_reads_no_limit_and_a_large_one_does(monkeypatch):
    """Reading the limits costs more than making a small batch (make_data(100)): below
    UNCHECKED_BYTES nothing is read; above it the limit decides."""
    from deepsets import checks

    def unread() -> tuple[int, str]:
        raise AssertionError("the limits were read")

    monkeypatch.setattr(checks, "usable_memory", unread)
    checks.check_memory(checks.UNCHECKED_BYTES, "a small batch")
    with pytest.raises(AssertionError, match="the limits were read"):
        checks.check_memory(checks.UNCHECKED_BYTES + 1, "a large batch")
