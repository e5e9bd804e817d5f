"""A refused flag loads no torch: the command's whole path up to a study's check (tyro parsing
the settings, the field checks, the memory estimate) imports neither torch nor numpy.

Each case runs in a fresh interpreter (a subprocess), since this process has torch loaded
already: the CLI on refusals of every study, the settings and check modules on their own, and
one check that passes followed by a short run, which does load torch. The formulas the checks
read without torch (parameter counts) are compared with the models they describe, built.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from deepsets.models.activation import ACTIVATIONS
from deepsets.models.deepset import DeepSet, widths_of
from deepsets.sizes import deepset_params
from deepsets.studies import STUDIES
from deepsets.studies.exercise.checks import variant_size
from deepsets.studies.exercise.design import checkpoints, declare
from deepsets.studies.exercise.plan import Plan
from deepsets.studies.exercise.settings import StudySettings, quick_settings
from deepsets.studies.exercise.variants import Declarations, mlp_variant
from deepsets.training import count_params
from deepsets.values import ACTIVATION_NAMES

HEAVY = ("torch", "numpy")

# The modules a refusal goes through, each of which must import without torch or numpy.
LIGHT = (
    "deepsets",
    "deepsets.values",
    "deepsets.sizes",
    "deepsets.entry",
    "deepsets.cli",
    "deepsets.signals",
    "deepsets.files",
    "deepsets.export_settings",
    "deepsets.cluster",
    "deepsets.engine.settings",
    "deepsets.engine.executor",
    "deepsets.lab.settings",
    "deepsets.lab.memory",
    "deepsets.lab.output",
    "deepsets.lab.study",
    "deepsets.studies",
    "deepsets.studies.exercise.settings",
    "deepsets.studies.exercise.variants",
    "deepsets.studies.exercise.design",
    "deepsets.studies.exercise.checks",
    "deepsets.studies.digits.settings",
    "deepsets.studies.theory.settings",
    "deepsets.studies.popstats.settings",
    "deepsets.studies.attention.settings",
)


def fresh(code: str) -> str:
    """What `code` prints, run in a fresh interpreter (warnings are errors there too)."""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def loaded(code: str) -> list[str]:
    """The heavy modules in sys.modules after `code` ran in a fresh interpreter."""
    out = fresh(f"{code}\nimport sys; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    return out.split()


@pytest.mark.parametrize("module", LIGHT)
def test_the_settings_and_check_modules_import_without_torch_or_numpy(module):
    assert loaded(f"import {module}") == [], f"importing {module} loads them"


def test_the_check_of_the_fixture_loads_them_when_a_module_does():
    """The check above can fail: a module that imports torch is seen."""
    assert loaded("import deepsets.validate") == ["torch", "numpy"]


# (argv, the exit status, what stderr names): refusals of every study, and the help texts
REFUSED = [
    ("run --workers 0", 2, "workers must be a positive integer, got 0"),
    ("run --seeds 0", 2, "seeds must be a positive integer, got 0"),
    ("run --mlp-activation swish", 2, "mlp_activation must be one of"),
    ("run --batch-size 7", 2, "batch_size must be a positive even integer"),
    ("run --device mps", 2, "'mps'"),
    ("run --device meta", 2, "'meta'"),
    ("run --steps nonsense", 2, "'nonsense'"),
    ("run --test-size 1000000000", 2, "the run with --test-size 1000000000"),
    ("run --permutations 10000000000", 2, "the run with --permutations 10000000000"),
    ("run --sweep-depths 1 1000000", 2, "--sweep-depths 1 1000000"),
    ("run --sweep-depths 1 100000000", 2, "(the sweep's MLPs: about"),  # not declared first
    ("run --scheduler nowhere", 2, "scheduler must be a Dask scheduler's address"),
    ("run digits --test-sets 1000000000", 2, "the run with --test-sets 1000000000"),
    ("run digits --train-sizes 0 0", 2, "train_sizes[1] must be a positive integer, got 0"),
    ("run digits --st-dim 5", 2, "st_dim must be a multiple of st_heads"),
    ("run theory --train-sets 0", 2, "train_sets must be a positive integer, got 0"),
    ("run theory --seeds 10000000000", 2, "--seeds 10000000000"),
    ("run popstats --seeds 10000000000", 2, "--seeds 10000000000"),
    ("run popstats --tasks rotation rotation", 2, "tasks must not repeat"),
    ("run attention --cl-sizes 5 -1", 2, "cl_sizes[1] must be a positive integer, got -1"),
    ("run attention --max-dim 100000000", 2, "--max-dim 100000000"),
    ("run attention --paper --quick", 2, "paper and quick exclude each other"),
    ("run nosuchstudy", 2, "unknown study 'nosuchstudy'"),
    ("export /no/such.safetensors /tmp/out.onnx", 2, "/no/such.safetensors is not a readable"),
    ("export /tmp /tmp/deepsets-light-out.onnx", 2, "it is a directory, not a regular file"),
    ("export a.safetensors /tmp --max-objects 0", 2, "--max-objects must be a positive integer"),
    ("export /tmp/x.safetensors /tmp", 2, "/tmp exists; pass --overwrite to replace it"),
    ("export", 2, ""),
    ("export --help", 0, ""),
    ("--help", 0, ""),
    ("--version", 0, ""),
    ("run --help", 0, ""),
    *((f"run {name} --help", 0, "") for name in ("digits", "theory", "popstats", "attention")),
]

CLI_CASES = """
import contextlib, io, json, sys
from deepsets.cli import main
for argv in CASES:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(argv.split())
    heavy = [m for m in ("torch", "numpy") if m in sys.modules]
    print(json.dumps([argv, status, err.getvalue(), heavy]))
"""


def test_every_refusal_and_help_of_every_study_loads_no_torch_or_numpy():
    cases = [argv for argv, _, _ in REFUSED]
    out = fresh(f"CASES = {json.dumps(cases)}\n{CLI_CASES}")
    results = {argv: (status, err, heavy) for argv, status, err, heavy in map(json.loads,
               out.splitlines())}  # fmt: skip
    assert list(results) == cases
    for argv, status, named in REFUSED:
        got, err, heavy = results[argv]
        assert got == status, (argv, err)
        assert named in err and "Traceback" not in err, (argv, err)
        assert heavy == [], f"deepsets {argv} loaded {heavy}"


def test_a_check_that_passes_loads_no_torch_and_the_run_after_it_does(tmp_path):
    out = tmp_path / "run"
    argv = ["run", "--quick", "--steps", "20", "--final-window", "10", "--seeds", "1",
            "--no-extras", "--out", str(out)]  # fmt: skip
    code = f"""
import sys
from deepsets import cli
study = cli.STUDIES["exercise"]
study.check(cli.parse(study, {argv[1:]!r}, "deepsets run"))
print("checked", "torch" in sys.modules, "numpy" in sys.modules)
print("ran", cli.main({argv!r}), "torch" in sys.modules)
"""
    lines = fresh(code).splitlines()  # the check's line, the run's summary, the run's line
    assert lines[0] == "checked False False" and lines[-1] == "ran 0 True", lines
    assert (out / "report.html").is_file()


def test_each_study_loads_its_run_modules_and_torch_only_in_load():
    code = """
import sys
from deepsets.studies import STUDIES
for name, study in STUDIES.items():
    run = f"deepsets.studies.{name}.run"
    before = run in sys.modules
    study.load()
    print(name, before, run in sys.modules, "torch" in sys.modules)
"""
    lines = fresh(code).splitlines()
    assert lines == [f"{name} False True True" for name in STUDIES], lines


# ---------------------------------------------------------------- the formulas, against models


@pytest.mark.parametrize(
    "config",
    [
        dict(in_features=1, hidden=5, latent=1, rho_hidden=5),  # the exercise's: 62
        dict(in_features=3, hidden=16, latent=8, rho_hidden=64),
        dict(in_features=7, hidden=1, latent=32, rho_hidden=2),
        dict(in_features=2, hidden=40, latent=3, rho_hidden=1),
    ],
)
def test_deepset_params_counts_the_built_deepset(config):
    model = DeepSet(**widths_of(config), generator=0)
    assert deepset_params(config) == DeepSet.n_params(config) == count_params(model)


SETTINGS = [
    StudySettings(),
    quick_settings(),
    StudySettings(hidden=3, mlp_hidden=(7, 1, 9), sweep_widths=(2, 5), sweep_depths=(1, 4)),
    quick_settings(extras=False, sweep_activations=("tanh", "gelu")),
]


@pytest.mark.parametrize("s", SETTINGS, ids=range(len(SETTINGS)))
def test_every_declared_variant_is_counted_as_its_built_model(s):
    """The check's count of each variant (without torch) is count_params of the model built."""
    specs = Declarations()
    declare(specs, s)
    assert specs.variants
    for v in specs.variants.values():
        assert variant_size(v)[0] == count_params(v.build(0, torch.device("cpu"))), v.name


@pytest.mark.parametrize("s", SETTINGS, ids=range(len(SETTINGS)))
def test_the_check_counts_the_variants_the_run_trains_in_the_same_order(s):
    """The check declares on plain `Declarations`; the run on a `Plan`: the same variants."""
    specs, plan = Declarations(), Plan([0, 1], torch.device("cpu"))
    assert declare(specs, s) == declare(plan, s)
    assert list(specs.variants.items()) == list(plan.variants.items())


@pytest.mark.parametrize("s", SETTINGS, ids=range(len(SETTINGS)))
def test_the_sweeps_early_estimate_counts_its_built_mlps(s):
    """sweep_needs' closed form (widths and depths only) against count_params of every sweep
    MLP built, in the order the sweep declares them."""
    from deepsets.lab.memory import models_need
    from deepsets.studies.exercise.checks import sweep_needs
    from deepsets.studies.exercise.variants import sweep_variants

    built = [count_params(v.build(0, torch.device("cpu"))) for v in sweep_variants(s)]
    models, activations = sweep_needs(s)
    copies = s.seeds * len(checkpoints(s.steps))
    assert models.n_bytes == models_need("", copies, built, ()).n_bytes
    units = sum(sum(dict(v.options)["hidden"]) for v in sweep_variants(s))
    assert activations.n_bytes == s.seeds * s.batch_size * units * 3 * 4


def test_an_mlp_name_spells_every_width():
    assert mlp_variant((20, 7, 20), "relu").name == "mlp-20x7x20-relu"
    assert mlp_variant((4,) * 3, "tanh").name == "mlp-4x4x4-tanh"
    assert mlp_variant((4,), "tanh", name="mlp").name == "mlp"


def test_the_activation_names_are_the_rows_of_the_table():
    assert ACTIVATION_NAMES == tuple(ACTIVATIONS)
