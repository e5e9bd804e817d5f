"""The `deepsets` command: `deepsets run [STUDY] [OPTIONS]` parses a study's settings and runs it.

A study is an entry of `deepsets.studies.STUDIES` (a `lab.study.Study`): its settings dataclass
(fields and their docstrings become the options and `--help`, tyro), its `--quick` preset, its
check, its run and its summary. The check comes before any work. Signals are handled here, once
(`stopping_on_signals`): SIGINT and SIGTERM end a run with exit status 130 and 143 and one line,
its output committed whole or removed (`lab.output`).
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import fields
from pathlib import Path
from types import FrameType
from typing import Any

import tyro
from tqdm.contrib.logging import logging_redirect_tqdm

from deepsets import __version__
from deepsets.cluster import session
from deepsets.engine.forked import WorkerDied
from deepsets.engine.remote import ExecutorFailed
from deepsets.export import ExportSettings, export_file
from deepsets.lab.memory import flag
from deepsets.lab.output import OutputError, recording_commits, seen_at_start
from deepsets.studies import DEFAULT_STUDY, STUDIES
from deepsets.training import progress_by_default

RETRY_SECONDS = 0.01  # a signal that landed where raising is unsafe comes again after this
WEAKREF = ("/weakref.py", "/_weakrefset.py")  # where weakref callbacks run, which swallow errors

# `--out STR` and `--threads INT`, not `{None}|STR`: None is their default, not a value to type
TYRO_CONFIG = (tyro.conf.DisallowNone,)
EXAMPLE = "Example: deepsets run --quick --out runs/smoke   (a small run in seconds)"


def example(name: str) -> str:
    """The example command of study `name`'s --help."""
    return f"Example: deepsets run {name} --quick --out runs/{name}-smoke   (a smoke test)"


def flags(changes: dict[str, object]) -> str:
    """{"sweep_widths": (4, 16)} -> "--sweep-widths 4 16", the way a user would type it."""
    return " ".join(flag(name, value) for name, value in changes.items())


def description(name: str) -> str:
    """The text above the options of `deepsets run NAME --help`."""
    study = STUDIES[name]
    default, quick = study.settings(), study.quick()
    changes = {
        f.name: getattr(quick, f.name)
        for f in fields(quick)
        if f.name != "quick" and getattr(quick, f.name) != getattr(default, f.name)
    }
    others = ", ".join(
        f"{n} (the default)" if n == DEFAULT_STUDY else n for n in STUDIES if n != name
    )
    paragraphs = [
        f"Run {study.about}; write report.html, metrics.json, figures and weights.",
        f"With --quick: {flags(changes)}; any of these given explicitly wins.",
        *([f"Other studies: {others} (deepsets run NAME --help)."] if others else []),
    ]
    return "\n\n".join([*paragraphs, example(name)])


def parse(name: str, args: Sequence[str], prog: str) -> Any:
    """The study's settings from `args`, over its defaults, or over its quick preset if `--quick`
    (parsed again on top of it, so an explicit flag wins). tyro exits on --help and bad flags."""
    study, about = STUDIES[name], description(name)

    def over(default: Any) -> Any:
        return tyro.cli(
            study.settings,
            args=args,
            prog=prog,
            default=default,
            description=about,
            config=TYRO_CONFIG,
        )

    settings = over(study.settings())
    if getattr(settings, "quick", False):
        settings = over(study.quick())
    return settings


def usage() -> str:
    """The text of `deepsets --help`."""
    width = max(len(name) for name in STUDIES) + 2
    studies = [
        f"  {name:{width}}{s.about}{' (the default)' if name == DEFAULT_STUDY else ''}"
        for name, s in STUDIES.items()
    ]
    return "\n".join(
        [
            "usage: deepsets [-h] [--version] {run [STUDY],export WEIGHTS OUT,grade SUBMISSION...} "
            "[OPTIONS]",
            "",
            "DeepSets: the exercise as a tested library and a study.",
            "",
            "commands:",
            "  run [STUDY] [OPTIONS]  run a study and write its report "
            "(deepsets run [STUDY] --help lists its options)",
            "  export WEIGHTS OUT     write a saved model as an ONNX file, checked in "
            "onnxruntime (deepsets export --help)",
            "  grade SUBMISSION...    grade students' solutions of the exercise "
            "(deepsets grade --help)",
            "",
            "studies:",
            *studies,
            "",
            "options:",
            "  -h, --help             show this help and exit",
            "  --version              show the version and exit",
            "",
            EXAMPLE,
        ]
    )


def error(prog: str, message: str) -> int:
    """Print `prog: error: message` to stderr; the exit status of a usage error."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def export(args: Sequence[str], prog: str = "deepsets export") -> int:
    """`deepsets export WEIGHTS OUT [--max-objects N] [--overwrite]`; returns the exit status.
    Its flags and paths are checked first (`export.export_file`)."""
    try:
        settings = tyro.cli(ExportSettings, args=list(args), prog=prog)
    except SystemExit as e:  # tyro has printed the help (status 0) or the usage error (2)
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 2
    try:
        with stopping_on_signals():  # its temporary files are removed as it unwinds
            done = export_file(settings)
    except (OSError, ImportError, ValueError, TypeError) as e:  # OSError: exists, missing, denied
        return error(prog, str(e))
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; nothing was written", file=sys.stderr)
        return 130
    except Terminated as e:
        print(f"{prog}: {e}; nothing was written", file=sys.stderr)
        return e.exit_status
    X = f"X (batch, objects, {done.x.features}) {str(done.x.dtype)[6:]}"
    print(
        f"Wrote {done.path}: inputs {X}, mask (batch, objects) bool -> y ({', '.join(done.y)}); "
        f"checked in onnxruntime on {done.sets_checked} sets of 0 to {done.max_objects} "
        f"objects, largest difference to torch {done.max_difference:.2g}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `deepsets` console script; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0
    if args[0] == "--version":
        print(f"deepsets {__version__}")
        return 0
    if args[0] == "export":
        return export(args[1:])
    if args[0] == "grade":
        from deepsets.grade.command import main as grade

        return grade(args[1:])
    if args[0] != "run":
        print(usage().splitlines()[0], file=sys.stderr)
        return error("deepsets", f"unknown command {args[0]!r} (the commands: run, export, grade)")
    if len(args) > 1 and not args[1].startswith("-"):
        if args[1] not in STUDIES:
            return error("deepsets run", unknown_study(args[1]))
        return run(args[1], args[2:], f"deepsets run {args[1]}")
    return run(DEFAULT_STUDY, args[1:], "deepsets run")


def unknown_study(name: str) -> str:
    """The error for an unknown study name, with the closest known one if any (difflib)."""
    close = difflib.get_close_matches(name, STUDIES, n=1)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown study {name!r}{guess}; the studies: {', '.join(STUDIES)}"


def run(name: str, args: Sequence[str], prog: str) -> int:
    """Parse, check, then run study `name`; returns the exit status."""
    study = STUDIES[name]
    try:
        settings = parse(name, args, prog)
    except SystemExit as e:  # tyro has printed the help (status 0) or the usage error (2)
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # for the whole run, so that a signal after the run was written (while the summary prints,
    # or a cluster closes) is answered too, with where the run is
    with recording_commits() as written, stopping_on_signals():
        try:
            settings = study.check(settings)  # the check comes first: a mistake costs no training
            # progress in a terminal or a log alike, the run's log lines above its bars
            on = session(getattr(settings, "scheduler", None), "--scheduler")  # None: here
            with seen_at_start(settings.out), on, progress_by_default(), logging_redirect_tqdm():
                study.summary(study.run(settings))
        except (
            FileExistsError, OutputError, ValueError, TypeError, ExecutorFailed, WorkerDied
        ) as e:
            return error(prog, str(e))
        except KeyboardInterrupt:
            print(f"{prog}: interrupted; {outcome(written)}", file=sys.stderr)
            return 130
        except Terminated as e:
            print(f"{prog}: {e}; {outcome(written)}", file=sys.stderr)
            return e.exit_status  # 143, as a shell reports a SIGTERM
    return 0


class Terminated(BaseException):
    """SIGTERM (or another terminating signal) arrived: unwind, clean up, exit 128 + signum.
    A BaseException, like KeyboardInterrupt, so that `except Exception` does not swallow it."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.exit_status = 128 + signum  # 143 for SIGTERM, as a shell reports it


@contextlib.contextmanager
def stopping_on_signals() -> Iterator[None]:
    """For the block, in the main thread: SIGINT raises KeyboardInterrupt and SIGTERM
    `Terminated`, so that a run unwinds (its staged output removed); the previous handlers come
    back after it. A signal the process ignores (as under `nohup`) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in caught}
    installed = [s for s in caught if previous[s] is not signal.SIG_IGN]
    for s in installed:
        signal.signal(s, stop)
    try:
        yield
    finally:
        for s in installed:
            handler = previous[s]
            signal.signal(s, signal.SIG_DFL if handler is None else handler)


def stop(signum: int, frame: FrameType | None) -> None:
    """The handler of `stopping_on_signals`. Where an exception would be swallowed or leave the
    logging lock held (`unsafe_here`), the signal comes again RETRY_SECONDS later."""
    if unsafe_here(frame):
        main = threading.main_thread().ident
        assert main is not None  # the main thread has started: this runs in its handler
        timer = threading.Timer(RETRY_SECONDS, signal.pthread_kill, (main, signum))
        timer.daemon = True
        timer.start()
        return
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)


def unsafe_here(frame: FrameType | None) -> bool:
    """Whether an exception raised in `frame` now would be swallowed (a finalizer, a GC or a
    weakref callback: the standard library's are in weakref.py and _weakrefset.py) or leave the
    logging module's lock held by this thread."""
    lock = getattr(logging, "_lock", None)
    if lock is not None and getattr(lock, "_is_owned", lambda: False)():
        return True
    callbacks = {getattr(c, "__code__", None) for c in gc.callbacks}
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or code in callbacks or code.co_filename.endswith(WEAKREF):
            return True
        frame = frame.f_back
    return False


def outcome(written: list[Path]) -> str:
    """What a signal left: nothing, or (it came after the run was put in place) a complete run."""
    if not written:
        return "nothing was written"
    return f"the run had been written and is complete in {written[-1]}"


if __name__ == "__main__":
    sys.exit(main())
