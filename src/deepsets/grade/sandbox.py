"""One submission run contained: on a copy, in a scratch folder, in its own process session,
with time, memory, file-size and process limits, as an unprivileged user when the grader is
root, with the network off where the OS allows (`harness.py` applies the limits).

Every process the submission made is killed at the end: its session, and, as root, every
process of the user it ran as (each parallel slot has a user of its own, so a fork bomb in
one slot cannot starve another).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepsets.grade.submissions import Submission, where

FILE_BYTES = 64 * 2**20  # a file the submission writes (its log too) stops at 64 MB
PROCESSES = 64  # processes and threads of a slot's user: torch needs a few; a fork bomb stops
FIRST_UID = 64000  # the sandbox users: free uids from here on (no account is made), none
# that owns a process, since a slot's processes are ended by killing all of its uid's
KILL = shutil.which("kill") or "/bin/kill"  # the kill program: as a user, `kill -- -1` ends
# every process of that user (python itself may not be runnable by that user)
LOG_CHARS = 4000  # the end of a submission's stderr kept for its feedback
STOP = threading.Event()  # set when the grader is interrupted: every running submission ends


@dataclass(frozen=True)
class Limits:
    """What one submission may use."""

    timeout: float
    """Seconds of wall time, loading and measuring together."""
    memory_bytes: int
    """Address space of its process."""
    seed: int
    """The seed of the probes' draws."""
    steps: int
    """The grader's training steps (deepset.learns)."""


@dataclass(frozen=True)
class Run:
    """What a submission's process reported, unjudged."""

    status: str
    """graded, timeout, memory or error."""
    message: str
    """Why, for a status other than graded; else empty."""
    raw: dict[str, dict[str, Any]] = field(default_factory=dict)
    """probe name -> {"raw": values} or {"failed": {"kind", "message", "line"}}."""
    log: str = ""
    """The end of what the submission printed."""
    seconds: float = 0.0
    """Wall time of its process."""
    network_off: bool = False
    """Whether it ran without a network."""


def sandbox_uids(count: int) -> list[int | None]:
    """`count` uids with no account, one per parallel slot; None (the grader's own) if not root."""
    if os.geteuid() != 0:
        return [None] * count
    busy = set()  # uids that own a process: another grading run's slots, say
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            busy.add(proc.stat().st_uid)
        except OSError:  # ended meanwhile
            pass
    uids: list[int | None] = []
    uid = FIRST_UID + 8 * (os.getpid() % 1000)  # two runs at once start apart
    while len(uids) < count:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if uid not in busy:
                uids.append(uid)
        uid += 1
    return uids


def syntax_error(submission: Submission) -> str | None:
    """'syntax error in line 3: ...' if the code does not compile (compiling runs nothing)."""
    try:
        compile(submission.code, "submission.py", "exec")
    except SyntaxError as e:
        return f"syntax error in {where(submission, e.lineno or 0)}: {e.msg}"
    except (ValueError, RecursionError, MemoryError, OverflowError) as e:
        return f"the code cannot be compiled: {e!r}"
    return None


def run(submission: Submission, limits: Limits, uid: int | None) -> Run:
    """Run `submission` in a scratch folder under `limits` as `uid`; never raises for its faults."""
    error = syntax_error(submission)
    if error:
        return Run("error", error)
    scratch = Path(tempfile.mkdtemp(prefix="deepsets-grade-"))
    try:
        (scratch / "submission.py").write_text(submission.code, encoding="utf-8")
        if uid is not None:
            for path in (scratch, scratch / "submission.py"):
                os.chown(path, uid, uid)
        with tempfile.TemporaryFile() as log:
            events, seconds, code = contained(scratch, limits, uid, log)
            log.seek(0)
            text = log.read().decode("utf-8", "replace")[-LOG_CHARS:]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return outcome(submission, events, seconds, code, limits, text)


def contained(
    scratch: Path, limits: Limits, uid: int | None, log: Any
) -> tuple[list[dict[str, Any]], float, int | None]:
    """Start the harness, read its events until it ends or times out, then kill all it made.

    Returns the events, the wall time and the exit status (None after a timeout; -9 if it
    was still ending when the grader had read all it needed).
    """
    config = {
        "seed": limits.seed, "steps": limits.steps, "memory_bytes": limits.memory_bytes,
        "cpu_seconds": int(limits.timeout) + 5, "file_bytes": FILE_BYTES,
        "processes": PROCESSES, "uid": uid, "gid": uid,
    }  # fmt: skip
    env = {
        "PATH": "/usr/bin:/bin", "HOME": str(scratch), "TMPDIR": str(scratch),
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(scratch / ".matplotlib"),
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1", "LANG": "C.UTF-8",
    }  # fmt: skip
    harness = str(Path(__file__).with_name("harness.py"))
    command = [sys.executable, "-s", harness, json.dumps(config)]
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=log, start_new_session=True,
    )  # fmt: skip
    events: list[dict[str, Any]] = []
    over = threading.Event()  # the harness is done, or the student's code failed to load

    def read() -> None:
        for event in parse(process.stdout or ()):
            events.append(event)
            if event.get("event") in ("done", "load_failed"):
                over.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    code: int | None = None
    deadline = start + limits.timeout
    while time.perf_counter() < deadline and not (over.is_set() or STOP.is_set()):
        try:
            code = process.wait(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            pass
    timed_out = code is None and not over.is_set()
    seconds = time.perf_counter() - start
    kill_all(process, uid)
    reader.join(timeout=10)
    if process.stdout is not None:
        process.stdout.close()
    return list(events), seconds, None if timed_out else process.returncode


def kill_all(process: subprocess.Popen[bytes], uid: int | None) -> None:
    """Kill the submission's session, and, as root, every process of its user (fork bombs)."""
    for _ in range(3):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if uid is not None:  # kill(-1) as that user signals all of its processes but itself
            subprocess.run(
                [KILL, "-s", "KILL", "--", "-1"],
                user=uid, group=uid, extra_groups=[], check=False, stderr=subprocess.DEVNULL,
            )  # fmt: skip
    process.wait()


def parse(lines: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """The harness's events; a line that is not one (a forged or cut line) is dropped."""
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            yield event


def ended(code: int | None) -> str:
    """How the process ended, in words."""
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else -code
        return f"was killed by signal {name}"
    return f"ended with exit status {code}"


def outcome(
    submission: Submission, events: list[dict[str, Any]], seconds: float, code: int | None,
    limits: Limits, log: str,
) -> Run:  # fmt: skip
    """The status and message of a run from its events (the first of each kind counts)."""
    first = {e.get("event"): e for e in reversed(events) if "event" in e}
    raw: dict[str, dict[str, Any]] = {}
    for e in events:
        if isinstance(e.get("probe"), str) and e["probe"] not in raw:
            raw[e["probe"]] = {k: v for k, v in e.items() if k in ("raw", "failed")}
    network = bool(first.get("confined", {}).get("network_off"))
    done = Run("graded", "", raw, log, seconds, network)
    if "confined" not in first:
        return Run("error", f"the grader could not start its process: it {ended(code)}", {}, log)
    if "load_failed" in first:
        failed = first["load_failed"]
        at = f" ({where(submission, failed['line'])})" if failed.get("line") else ""
        if failed.get("kind") == "memory":
            limit = f"{limits.memory_bytes / 2**20:.0f} MB"
            message = f"it ran out of memory while it was loaded{at} (the limit is {limit})"
            return Run("memory", message, {}, log, seconds, network)
        if failed.get("kind") == "exit":
            message = f"it called {failed['message']} while it was loaded{at}"
        else:
            message = f"it raised {failed['message']} while it was loaded{at}"
        return Run("error", message + "; nothing could be measured", {}, log, seconds, network)
    measuring = [e["measuring"] for e in events if "measuring" in e]
    stage = "while it was loaded" if "loaded" not in first or not measuring else (
        f"while {measuring[-1]} was measured, after {len(raw)} measurements"
    )  # fmt: skip
    if code is None:
        message = f"it ran longer than the time limit of {limits.timeout:g} s ({stage})"
        return Run("timeout", message, raw, log, seconds, network)
    if "done" not in first:
        return Run("error", f"its process {ended(code)} {stage}", raw, log, seconds, network)
    return done
