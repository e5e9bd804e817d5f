"""The `deepsets` command: help, flags, --quick, bad values; main() directly, once as a process."""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path

import pytest

import deepsets
from deepsets import cli
from deepsets.studies.exercise.settings import QUICK, StudySettings

EXE = Path(sys.executable).with_name("deepsets")
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def quick(**explicit: object) -> StudySettings:
    """The quick run with `explicit` values, built from QUICK here (not by quick_settings)."""
    return replace(StudySettings(), **{**QUICK, "quick": True, **explicit})


def parse(*args: str) -> StudySettings:
    return cli.parse(cli.DEFAULT_STUDY, list(args), "deepsets run")


@pytest.fixture
def ran(monkeypatch):
    """Replace the exercise's run function by a recorder: main runs no training."""
    calls: list[StudySettings] = []
    study = cli.STUDIES["exercise"]
    monkeypatch.setitem(cli.STUDIES, "exercise", replace(study, run=calls.append, summary=print))
    return calls


def field_docs() -> dict[str, str]:
    """Field -> the docstring under it (whitespace collapsed), read from the source of
    StudySettings and of the classes it inherits fields from (independently of tyro)."""
    docs = {}
    for base in StudySettings.__mro__[:-1]:  # all but object
        (cls,) = ast.parse(inspect.getsource(base)).body
        assert isinstance(cls, ast.ClassDef)
        for node, after in zip(cls.body, cls.body[1:], strict=False):
            if isinstance(node, ast.AnnAssign) and isinstance(after, ast.Expr):
                docs.setdefault(node.target.id, " ".join(after.value.value.split()))
    return docs


def shown(value: object) -> str:
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def test_run_help_lists_every_setting_in_order_with_its_doc_and_default(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # no wrapping inside a help line
    assert cli.main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    options = " ".join(text[text.index("options") :].replace("│", " ").split())
    docs = field_docs()
    assert set(docs) == {f.name for f in fields(StudySettings)}
    starts = []
    for f in fields(StudySettings):
        flag = "--" + f.name.replace("_", "-")
        found = re.search(rf"(?<![\w-]){flag}(?![\w-])", options)
        assert found, flag
        starts.append(found.start())
    assert starts == sorted(starts), "options in the dataclass's order"
    for f, start, end in zip(fields(StudySettings), starts, [*starts[1:], None], strict=True):
        entry = options[start:end]
        assert docs[f.name] in entry, f.name
        assert f"(default: {shown(f.default)})" in entry, f.name
        if f.type == "bool":
            assert f"--no-{f.name}" in entry, f.name
    assert "--device {auto,cpu,cuda}" in options


def test_run_help_says_what_quick_changes(capsys):
    assert cli.main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    changed = {k: v for k, v in QUICK.items() if v != getattr(StudySettings(), k)}
    assert {"seeds", "steps", "test_size"} <= set(changed)
    for name, value in changed.items():
        assert f"--{name.replace('_', '-')} {shown(value)}" in text, name


def test_no_flags_are_the_exercise():
    assert parse() == StudySettings()


def test_quick_with_steps_keeps_the_steps_and_takes_the_rest_from_quick():
    expected = quick(steps=20)
    assert parse("--quick", "--steps", "20") == expected
    assert parse("--steps", "20", "--quick") == expected  # flag order does not matter
    assert parse("--quick").steps == QUICK["steps"]


def test_an_explicit_flag_wins_even_when_it_repeats_the_full_default():
    s = parse("--quick", "--seeds", "5", "--test-size", "10000")
    assert (s.seeds, s.test_size, s.steps) == (5, 10_000, QUICK["steps"])


def test_no_quick_after_quick_is_the_full_run():
    assert parse("--quick", "--no-quick") == StudySettings()


def test_every_kind_of_flag_reaches_the_settings():
    argv = "--out x --overwrite --seeds 3 --seed 7 --steps 11 --batch-size 10 --lr 0.01 "
    argv += "--hidden 4 --mlp-hidden 8 4 2 --mlp-activation tanh --sweep-widths 4 8 "
    argv += "--sweep-depths 3 --sweep-activations tanh gelu --test-size 100 --final-window 5 "
    argv += "--permutations 2 --device cpu --threads 2 --quick --no-extras --scheduler local:3"
    argv += " --workers 3"
    expected = StudySettings(
        scheduler="local:3",
        out="x",
        overwrite=True,
        seeds=3,
        seed=7,
        steps=11,
        batch_size=10,
        lr=0.01,
        hidden=4,
        mlp_hidden=(8, 4, 2),
        mlp_activation="tanh",
        sweep_widths=(4, 8),
        sweep_depths=(3,),
        sweep_activations=("tanh", "gelu"),
        test_size=100,
        final_window=5,
        permutations=2,
        device="cpu",
        threads=2,
        workers=3,
        quick=True,
        extras=False,
    )
    for f in fields(StudySettings):  # every field differs from both presets: each flag counts
        value = getattr(expected, f.name)
        assert value != f.default and value != QUICK.get(f.name), f.name
    assert parse(*argv.split()) == expected


def test_main_checks_then_runs_what_was_asked(ran):
    assert cli.main(["run", "--quick", "--steps", "60", "--device", "cpu"]) == 0
    assert ran == [quick(steps=60, device="cpu")]
    assert cli.main(["run", "exercise", "--seeds", "1"]) == 0  # the study named
    assert ran[1] == StudySettings(seeds=1)


# Bad values that parse: the check names the field, before any training (exit 2).
CHECKED = [
    ("--seeds 0", "seeds must be a positive integer, got 0"),
    ("--quick --seeds 0", "seeds must be a positive integer, got 0"),
    ("--seeds -2", "seeds must be a positive integer, got -2"),
    ("--seed -1", "seed must be an integer in [0, 2**63 - 1], got -1"),
    ("--seed 4611686018427387905", "seed must be at most 2**62 (the study adds offsets to it)"),
    ("--steps 0", "steps must be a positive integer, got 0"),
    ("--steps -1", "steps must be a positive integer, got -1"),
    ("--batch-size 7", "batch_size must be a positive even integer"),
    ("--batch-size 0", "batch_size must be a positive even integer (a balanced set needs"),
    ("--lr inf", "lr must be a positive finite number, got inf"),
    ("--lr 0", "lr must be a positive finite number, got 0.0"),
    ("--lr nan", "lr must be a positive finite number, got nan"),
    ("--hidden 0", "hidden must be a positive integer, got 0"),
    ("--mlp-hidden 20 0", "mlp_hidden[1] must be a positive integer, got 0"),
    ("--mlp-hidden", "mlp_hidden must be a non-empty list of positive integers, got ()"),
    ("--mlp-activation swish", "mlp_activation must be one of"),
    ("--sweep-widths 4 0", "sweep_widths[1] must be a positive integer, got 0"),
    ("--sweep-depths 0", "sweep_depths[0] must be a positive integer, got 0"),
    ("--sweep-activations relu swish", "sweep_activations[1] must be one of"),
    ("--sweep-activations", "sweep_activations must be a non-empty list of activation names"),
    ("--test-size 7", "test_size must be a positive even integer"),
    ("--final-window 0", "final_window must be a positive integer, got 0"),
    ("--final-window 500 --steps 100", "final_window (500) must not exceed steps (100)"),
    ("--quick --steps 20", "final_window (50) must not exceed steps (20)"),
    ("--permutations 0", "permutations must be a positive integer, got 0"),
    ("--threads 0", "threads must be a positive integer, got 0"),
    ("--workers 0", "workers must be a positive integer, got 0"),
    ("--workers -3", "workers must be a positive integer, got -3"),
    ("--out ''", "out must be a directory path or None, got ''"),
]


@pytest.mark.parametrize("flags, message", CHECKED, ids=[f for f, _ in CHECKED])
def test_bad_values_exit_2_naming_the_field_before_any_work(flags, message, ran, capsys):
    argv = ["run", *(a if a != "''" else "" for a in flags.split())]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"deepsets run: error: {message}"), err
    assert "Traceback" not in err and ran == []


# Flags that do not parse: tyro names the flag and exits 2.
MALFORMED = [
    ("--device tpu", "'tpu'"),
    ("--steps many", "--steps"),
    ("--threads None", "--threads"),
    ("--workers two", "--workers"),
    ("--lr fast", "--lr"),
    ("--stepz 5", "--stepz"),
    ("--quick yes", "Unrecognized options: yes"),
]


@pytest.mark.parametrize("flags, named", MALFORMED, ids=[f for f, _ in MALFORMED])
def test_malformed_flags_exit_2_naming_the_flag(flags, named, ran, capsys):
    assert cli.main(["run", *flags.split()]) == 2
    err = capsys.readouterr().err
    assert named in err and "deepsets run --help" in err and "Traceback" not in err
    assert ran == []


# Refusals of the other studies and of export, not tested elsewhere (memory estimates, devices
# and set sizes: test_hostile_limits.py; export's files and flags: test_export.py)
REFUSED = [
    ("run --scheduler nowhere", "scheduler must be a Dask scheduler's address"),
    ("run digits --st-dim 5", "st_dim must be a multiple of st_heads"),
    ("run theory --train-sets 0", "train_sets must be a positive integer, got 0"),
    ("run popstats --tasks rotation rotation", "tasks must not repeat"),
    ("run attention --paper --quick", "paper and quick exclude each other"),
    ("export /tmp /tmp/deepsets-cli-out.onnx", "it is a directory, not a regular file"),
]


@pytest.mark.parametrize("argv, message", REFUSED, ids=[a for a, _ in REFUSED])
def test_every_study_and_export_refuse_bad_values_naming_them(argv, message, capsys):
    assert cli.main(argv.split()) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err


@pytest.mark.parametrize(
    "argv, message",
    [
        ("run --workers 0", "deepsets run: error: workers must be a positive integer, got 0"),
        ("run --steps nonsense", "'nonsense'"),  # tyro's refusal of a malformed flag
        ("export /no/such.safetensors out.onnx", "/no/such.safetensors is not a readable"),
    ],
)
def test_the_console_script_refuses_in_one_line(argv, message, tmp_path):
    done = deepsets_exe(*argv.split(), cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and list(tmp_path.iterdir()) == []


def test_version_is_the_package_version(capsys):
    assert cli.main(["--version"]) == 0
    version = re.search(r'^version = "(.+)"$', PYPROJECT.read_text(), re.M).group(1)
    assert capsys.readouterr().out == f"deepsets {version}\n"
    assert deepsets.__version__ == version


@pytest.mark.parametrize("argv", [[], ["--help"], ["-h"]])
def test_top_level_help_names_the_command_and_every_study(argv, capsys):
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: deepsets") and "run [STUDY] [OPTIONS]" in out
    for name, study in cli.STUDIES.items():  # names are padded to the longest one's width
        assert re.search(rf"^  {name} +{re.escape(study.about)}", out, flags=re.M), name


def test_unknown_command_or_study_exits_2(ran, capsys):
    assert cli.main(["train"]) == 2
    assert "deepsets: error: unknown command 'train'" in capsys.readouterr().err
    assert cli.main(["run", "digitz", "--steps", "5"]) == 2
    assert "deepsets run: error: unknown study 'digitz' (did you mean 'digits'?); the studies: " \
        "exercise" in capsys.readouterr().err
    assert cli.main(["run", "qwerty"]) == 2
    err = capsys.readouterr().err
    assert "unknown study 'qwerty'; the studies: exercise" in err and "did you mean" not in err
    assert ran == []


@pytest.mark.parametrize("name", list(cli.STUDIES))
def test_each_studys_help_lists_the_others_and_its_own_example(name, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    assert cli.main(["run", name, "--help"]) == 0
    text = capsys.readouterr().out
    others = text[text.index("Other studies: ") :].split("\n")[0]
    listed = re.findall(r"\b(" + "|".join(cli.STUDIES) + r")\b", others)
    assert sorted(listed) == sorted(n for n in cli.STUDIES if n != name)
    assert f"Example: deepsets run {name} --quick" in text


def test_help_texts_are_one_line_each():
    """tyro keeps a field docstring's line breaks: a help text broken mid-sentence."""
    for study in cli.STUDIES.values():
        for cls in study.settings.__mro__[:-1]:
            for node in ast.walk(ast.parse(inspect.getsource(cls))):
                if isinstance(node, ast.ClassDef):
                    for a, b in zip(node.body, node.body[1:], strict=False):
                        if isinstance(a, ast.AnnAssign) and isinstance(b, ast.Expr):
                            assert "\n" not in b.value.value.strip(), (cls.__name__, a.target.id)


def test_a_refused_output_directory_and_ctrl_c_are_reported_not_raised(monkeypatch, capsys):
    def refuse(settings):
        raise FileExistsError("runs/x is not empty; pass --overwrite to replace it")

    def interrupt(settings):
        raise KeyboardInterrupt

    study = cli.STUDIES["exercise"]
    monkeypatch.setitem(cli.STUDIES, "exercise", replace(study, run=refuse))
    assert cli.main(["run"]) == 2
    assert capsys.readouterr().err == (
        "deepsets run: error: runs/x is not empty; pass --overwrite to replace it\n"
    )
    monkeypatch.setitem(cli.STUDIES, "exercise", replace(study, run=interrupt))
    assert cli.main(["run"]) == 130
    assert "interrupted" in capsys.readouterr().err


def deepsets_exe(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [str(EXE), *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )


def test_console_script_runs_a_short_quick_study_then_refuses_to_overwrite(tmp_path):
    argv = ["run", "--quick", "--no-extras", "--steps", "20", "--final-window", "10"]
    argv += ["--seeds", "1"]
    done = deepsets_exe(*argv, "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Report:" in done.stdout and "DeepSet" in done.stdout
    metrics = (tmp_path / "out" / "metrics.json").read_text()
    s = json.loads(metrics)["settings"]
    assert (s["steps"], s["seeds"], s["final_window"], s["quick"]) == (20, 1, 10, True)
    assert s["sweep_widths"] == list(QUICK["sweep_widths"])  # the rest from the quick preset
    again = deepsets_exe(*argv, "--out", "out", cwd=tmp_path)
    assert again.returncode == 2
    assert "--overwrite" in again.stderr and "Traceback" not in again.stderr
    assert (tmp_path / "out" / "metrics.json").read_text() == metrics  # first results intact
