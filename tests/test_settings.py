"""StudySettings, QUICK and resolve: the defaults, the quick preset, one check per field."""

from __future__ import annotations

import re
import typing
from dataclasses import fields

import pytest
import torch

from deepsets.checks import DEVICES
from deepsets.studies.exercise.settings import (
    QUICK,
    StudySettings,
    quick_settings,
    resolve,
)


def test_defaults_are_the_exercise():
    s = StudySettings()
    assert (s.steps, s.batch_size, s.lr, s.hidden, s.seeds) == (4000, 100, 1e-3, 5, 5)
    assert (s.mlp_hidden, s.mlp_activation, s.quick, s.extras) == ((20, 20), "relu", False, True)


def test_quick_settings_are_the_preset_with_explicit_values_on_top():
    assert set(QUICK) < {f.name for f in fields(StudySettings)} and "quick" not in QUICK
    assert quick_settings() == StudySettings(**QUICK, quick=True)
    s = quick_settings(steps=20, device="cpu", seeds=5)
    assert (s.steps, s.device, s.seeds, s.quick) == (20, "cpu", 5, True)  # 5 = the full default
    for name, value in QUICK.items():
        if name not in ("steps", "seeds"):
            assert getattr(s, name) == value, name
    assert s.batch_size == StudySettings().batch_size  # a field QUICK leaves alone


@pytest.mark.parametrize(
    "s",
    [
        StudySettings(),
        StudySettings(quick=True),  # quick alone changes nothing: the preset is quick_settings()
        StudySettings(**QUICK, quick=True, device="cpu"),
        quick_settings(steps=60, final_window=60, seeds=1),
    ],
)
def test_resolve_checks_but_never_changes_the_settings(s):
    before = {f.name: getattr(s, f.name) for f in fields(s)}
    assert resolve(s) is s
    assert {f.name: getattr(s, f.name) for f in fields(s)} == before


def test_quick_alone_keeps_the_full_sizes():
    s = resolve(StudySettings(quick=True))
    assert (s.steps, s.seeds, s.test_size) == (4000, 5, 10_000)


# One bad value for every field (some fields several); the message must start with the field.
BAD = [
    ("out", dict(out=3)),
    ("out", dict(out="")),
    ("overwrite", dict(overwrite="yes")),
    ("seeds", dict(seeds=0)),
    ("seeds", dict(seeds=True)),
    ("seed", dict(seed=-1)),
    ("seed", dict(seed=2**63)),
    ("seed", dict(seed=2**62 + 1)),  # no room for the offsets the study adds
    ("steps", dict(steps=-1)),
    ("steps", dict(steps=2.5)),
    ("batch_size", dict(batch_size=7)),
    ("batch_size", dict(batch_size=0)),
    ("lr", dict(lr=float("inf"))),
    ("lr", dict(lr=0.0)),
    ("hidden", dict(hidden=0)),
    ("mlp_hidden", dict(mlp_hidden=())),
    ("mlp_hidden", dict(mlp_hidden=(20, 0))),
    ("mlp_activation", dict(mlp_activation="swish")),
    ("sweep_widths", dict(sweep_widths=(4, 0))),
    ("sweep_depths", dict(sweep_depths=())),
    ("sweep_activations", dict(sweep_activations=("relu", "swish"))),
    ("sweep_activations", dict(sweep_activations=())),
    ("sweep_activations", dict(sweep_activations=(None,))),
    ("test_size", dict(test_size=0)),
    ("test_size", dict(test_size=7)),  # odd: a balanced set needs test_size/2 of each class
    ("final_window", dict(final_window=0)),
    ("final_window", dict(final_window=500, steps=100)),
    ("permutations", dict(permutations=0)),
    ("device", dict(device="tpu")),
    ("threads", dict(threads=0)),
    ("threads", dict(threads=1.5)),
    ("workers", dict(workers=0)),
    ("workers", dict(workers=2.0)),
    ("quick", dict(quick="no")),
    ("extras", dict(extras=1)),
    ("scheduler", dict(scheduler="local:0")),
    ("scheduler", dict(scheduler="127.0.0.1:8786")),
    ("device", dict(device="cuda", scheduler="local:2")),  # workers train on their CPUs
]


@pytest.mark.parametrize("name, change", BAD, ids=[f"{n}={c[n]!r}" for n, c in BAD])
def test_every_bad_value_is_a_value_error_naming_its_field(name, change):
    with pytest.raises(ValueError, match=rf"^{name}\b"):
        resolve(StudySettings(**change))


def test_every_field_has_a_bad_value_above():
    assert {name for name, _ in BAD} == {f.name for f in fields(StudySettings)}


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_a_gpu_is_refused_up_front():
    with pytest.raises(ValueError, match="^device 'cuda'"):
        resolve(StudySettings(device="cuda"))


def test_the_device_choices_are_the_ones_resolve_device_knows():
    hint = typing.get_type_hints(StudySettings)["device"]
    assert typing.get_args(hint) == DEVICES


def test_quick_with_fewer_steps_than_its_window_says_which_flag_to_lower():
    message = "final_window (50) must not exceed steps (20): give a smaller final_window"
    with pytest.raises(ValueError, match=re.escape(message)):
        resolve(quick_settings(steps=20))
    assert resolve(quick_settings(steps=20, final_window=10)).steps == 20
