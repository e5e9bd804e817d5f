"""Inside a submission's process: confine it, load the student's code, measure, report.

`python harness.py CONFIG` is started by the sandbox (`sandbox.py`) as root or as
the grader's user. Before any student code it turns the network off (a new network namespace,
where the OS allows), sets the resource limits and, as root, becomes the unprivileged user the
sandbox chose. It then runs the submission as a module named `submission`, and each probe in
turn (`probes.py`), writing one JSON line per event to its original stdout; the student's own
prints go to stderr. It judges nothing: the grader's process reads the lines and decides.
"""

from __future__ import annotations

import ctypes
import glob
import json
import os
import resource
import sys
import time
import traceback
from typing import Any, TextIO

CLONE_NEWNET = 0x40000000  # <sched.h>: a new network namespace holds only a loopback, down
PR_SET_DUMPABLE = 4  # <linux/prctl.h>: changing user makes /proc/self root's unless reset
FILENAME = "submission.py"


def network_off() -> bool:
    """Move this process into a network namespace of its own; False where the OS refuses."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.unshare(CLONE_NEWNET) == 0)
    except (OSError, AttributeError):
        return False


def others_may_enter(folder: str) -> bool:
    """Whether a user with no rights of owner or group may enter `folder` (and its parents)."""
    path = os.path.abspath(folder)
    while True:
        if not os.stat(path).st_mode & 0o001:
            return False
        if path == os.path.dirname(path):
            return True
        path = os.path.dirname(path)


def keep_imports_reachable() -> None:
    """Open the folders of sys.path that the sandbox user may not enter (a Python installed
    under /root) and import through the open folders, so `import` works as that user too."""
    opened = {}
    for i, folder in enumerate(sys.path):
        if folder and os.path.isdir(folder) and not others_may_enter(folder):
            opened[folder] = f"/proc/self/fd/{os.open(folder, os.O_RDONLY | os.O_DIRECTORY)}"
            sys.path[i] = opened[folder]
    for module in list(sys.modules.values()):  # packages already loaded (importlib, json...)
        paths = getattr(module, "__path__", None)
        if isinstance(paths, list):
            for folder, fd in opened.items():
                paths[:] = [fd + p[len(folder) :] if p.startswith(folder) else p for p in paths]


def tasks_of(uid: int) -> int:
    """Processes and threads of `uid` now (what RLIMIT_NPROC counts)."""
    count = 0
    for task in glob.glob("/proc/[0-9]*/task/[0-9]*"):
        try:
            count += os.stat(task).st_uid == uid
        except OSError:  # ended meanwhile
            pass
    return count


def confine(config: dict[str, Any]) -> dict[str, Any]:
    """Limits, network and user, in that order (the first two need root where they need it).

    RLIMIT_NPROC counts every process and thread of the user: as root the submission's user is
    its slot's own; otherwise it is the grader's, so its present tasks are added to the limit.
    """
    root = os.geteuid() == 0
    network = network_off() if root else False
    limits = {
        resource.RLIMIT_AS: config["memory_bytes"],
        resource.RLIMIT_CPU: config["cpu_seconds"],
        resource.RLIMIT_FSIZE: config["file_bytes"],
        resource.RLIMIT_NPROC: config["processes"] + (0 if root else tasks_of(os.getuid())),
        resource.RLIMIT_CORE: 0,
    }
    for limit, value in limits.items():
        resource.setrlimit(limit, (value, value))
    if config["uid"] is not None:
        os.setgroups([])
        os.setgid(config["gid"])
        keep_imports_reachable()
        os.setuid(config["uid"])
        libc = ctypes.CDLL(None)
        libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # /proc/self/fd is the process's own again
    return {"network_off": network, "user": os.getuid()}


def emit(out: TextIO, event: dict[str, Any]) -> None:
    """One JSON line to the grader."""
    out.write(json.dumps(event) + "\n")
    out.flush()


def failure(e: BaseException) -> dict[str, Any]:
    """What went wrong, for the grader: the kind, a message and the submission's line."""
    lines = [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == FILENAME]
    kind = "memory" if is_memory(e) else "exit" if isinstance(e, SystemExit) else "error"
    message = f"sys.exit({e.code!r})" if isinstance(e, SystemExit) else repr(e)[:500]
    return {"kind": kind, "message": message, "line": lines[-1] if lines else None}


def is_memory(e: BaseException) -> bool:
    """A MemoryError, or torch's allocator failing (a RuntimeError naming the allocation)."""
    return isinstance(e, MemoryError) or "can't allocate memory" in str(e)


def main(argv: list[str]) -> int:
    """Run CONFIG's submission and its probes; every outcome is reported, none raised."""
    config = json.loads(argv[0])
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # the student's prints go to the log, not into the grader's stream
    emit(out, {"event": "confined", **confine(config)})

    import torch  # after the limits: loading torch counts against them too

    from deepsets.grade.probes import PROBES, reseed

    torch.set_num_threads(1)
    reseed(config["seed"])
    namespace: dict[str, Any] = {
        "__name__": "submission", "__file__": FILENAME,
        "display": lambda *objects, **_: print(*objects),  # a notebook's IPython built-in
    }  # fmt: skip
    start = time.perf_counter()
    try:
        with open(FILENAME, encoding="utf-8") as f:
            code = compile(f.read(), FILENAME, "exec")
        exec(code, namespace)
    except BaseException as e:  # noqa: B036 (sys.exit, KeyboardInterrupt: all are the student's)
        emit(out, {"event": "load_failed", **failure(e)})
        return 0
    emit(out, {"event": "loaded", "seconds": time.perf_counter() - start})
    context: dict[str, Any] = {"steps": config["steps"]}
    for i, (probe, measure) in enumerate(PROBES.items()):
        reseed(config["seed"] * 1000 + i)
        emit(out, {"measuring": probe})
        start = time.perf_counter()
        try:
            raw = measure(namespace, context)
        except BaseException as e:  # noqa: B036
            emit(out, {"probe": probe, "failed": failure(e)})
        else:
            emit(out, {"probe": probe, "raw": raw, "seconds": time.perf_counter() - start})
    emit(out, {"event": "done"})
    return 0


if __name__ == "__main__":
    # Started as a script, not with -m: `-m deepsets.grade.harness` would import the package,
    # torch and matplotlib with it, before the limits and the change of user (whose imports
    # `keep_imports_reachable` redirects). Its own folder must not shadow a top-level module.
    if os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    sys.exit(main(sys.argv[1:]))
