"""Signals while a run is written: SIGTERM unwinds like Ctrl-C, and the final renames finish.

`kill`, `timeout` and job schedulers send SIGTERM, whose default action ends the process on
the spot, so no `except`/`finally` block runs and a half-written staging directory stays
behind. Inside `catching_signals()` (main thread only: Python delivers signals there), SIGTERM
raises `Terminated` instead, and both SIGINT and SIGTERM are held back while `hold()` is active
(the few renames that put a finished run in place), then delivered once the previous handlers
are back. A signal the process ignores (SIG_IGN, as under `nohup`) stays ignored.

Nor is an exception raised where it would be lost or would leave a lock held (`unsafe_here`):
inside a finalizer (`__del__`) or a garbage-collector callback, which swallow it, or while
this thread holds the logging module's lock, which the exception would leave locked (and
every other thread that logs, Dask's event loop among them, would wait on it forever). There
the signal is delivered again RETRY_SECONDS later, until it lands somewhere safe.

While libraries load, SIGINT is only recorded (`recording_interrupts`): an interrupt inside an
import can leave a library half-imported and surface later as an unrelated error (an
AttributeError from numpy, say); the command acts on it once the imports are done.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

Handler = Callable[[int, FrameType | None], Any] | int | None  # what signal.getsignal returns

CAUGHT = (signal.SIGINT, signal.SIGTERM)
INTERRUPTED = "deepsets: interrupted while starting; nothing was written"  # Ctrl-C while loading
RETRY_SECONDS = 0.01  # a signal that landed where raising is unsafe comes again after this


class Terminated(BaseException):
    """SIGTERM (or another terminating signal) arrived: unwind, clean up, exit 128 + signum.

    A BaseException, like KeyboardInterrupt, so that `except Exception` does not swallow it.
    """

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_status(self) -> int:
        """The shell's status for a process ended by this signal: 143 for SIGTERM."""
        return 128 + self.signum


class SignalGuard:
    """The handlers installed by `catching_signals`; `hold()` defers signals for a moment."""

    def __init__(self, previous: dict[int, Handler]) -> None:
        self.previous = previous
        self.holding = False
        self.pending: list[int] = []

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.holding:
            self.pending.append(signum)
            return
        if unsafe_here(frame):
            redeliver(signum)
            return
        prev = self.previous.get(signum)
        if callable(prev):  # e.g. Python's default_int_handler, which raises KeyboardInterrupt
            prev(signum, frame)
            return
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum)

    @contextlib.contextmanager
    def hold(self, *, until_exit: bool = True) -> Iterator[None]:
        """Defer SIGINT and SIGTERM until `catching_signals` exits (they are not lost); with
        until_exit=False only to the end of the block, where the first one that arrived meanwhile
        is acted on (raised there, once the block has done its steps together)."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if not until_exit and self.pending:
            self.handle(self.pending.pop(0), None)


def unsafe_here(frame: FrameType | None) -> bool:
    """Whether an exception raised in `frame` now would be swallowed (a finalizer, a GC
    callback) or leave the logging module's lock held by this thread."""
    lock = getattr(logging, "_lock", None)
    if lock is not None and getattr(lock, "_is_owned", lambda: False)():
        return True
    callbacks = {getattr(c, "__code__", None) for c in gc.callbacks}
    while frame is not None:
        if frame.f_code.co_name == "__del__" or frame.f_code in callbacks:
            return True
        frame = frame.f_back
    return False


def redeliver(signum: int) -> None:
    """Send `signum` to the main thread again in RETRY_SECONDS (from a timer thread)."""
    main = threading.main_thread().ident
    assert main is not None  # the main thread has started: this runs in its handler
    timer = threading.Timer(RETRY_SECONDS, signal.pthread_kill, (main, signum))
    timer.daemon = True
    timer.start()


@contextlib.contextmanager
def recording_interrupts() -> Iterator[list[int]]:
    """Record SIGINT for the block (a list of the signals caught, for the caller to act on)
    instead of raising KeyboardInterrupt; the previous handler comes back after it. A SIGINT
    the process ignores (as under `nohup`) stays ignored; outside the main thread nothing is
    installed."""
    caught: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = signal.getsignal(signal.SIGINT)
    main = threading.current_thread() is threading.main_thread()
    install = main and previous is not signal.SIG_IGN
    if install:
        signal.signal(signal.SIGINT, record)
    try:
        yield caught
    finally:
        if install:
            restored = signal.default_int_handler if previous is None else previous
            signal.signal(signal.SIGINT, restored)


@contextlib.contextmanager
def catching_signals() -> Iterator[SignalGuard]:
    """SIGTERM raises `Terminated` in the main thread until exit; the old handlers come back.

    Outside the main thread nothing is installed (Python runs handlers only there) and `hold()`
    does nothing. A signal held back by `hold()` is re-sent once the previous handlers are
    restored, so it ends the process (or raises KeyboardInterrupt) as it would have.
    """
    if threading.current_thread() is not threading.main_thread():
        yield SignalGuard({})
        return
    previous: dict[int, Handler] = {int(s): signal.getsignal(s) for s in CAUGHT}
    guard = SignalGuard(previous)
    installed = [s for s, h in previous.items() if h is not signal.SIG_IGN]
    for s in installed:
        signal.signal(s, guard.handle)
    try:
        yield guard
    finally:
        for s in installed:
            prev = previous[s]
            signal.signal(s, signal.SIG_DFL if prev is None else prev)
        for pending in dict.fromkeys(guard.pending):  # each signal once, in order of arrival
            signal.raise_signal(pending)
