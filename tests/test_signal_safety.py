"""During a run, a signal that lands where an exception would be swallowed or would leave the
logging lock held is delivered again a moment later (deepsets.cli.unsafe_here), not lost, not
deadly."""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time
import weakref

import pytest

from deepsets.cli import stopping_on_signals, unsafe_here


def interrupted_within(seconds: float) -> bool:
    """Whether a KeyboardInterrupt arrives while this thread waits `seconds`."""
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(0.001)
    except KeyboardInterrupt:
        return True
    return False


def test_a_signal_inside_the_logging_lock_waits_until_it_is_released():
    with stopping_on_signals():
        with logging._lock:  # as inside Logger.isEnabledFor's critical section
            signal.raise_signal(signal.SIGINT)  # the handler runs here, at once
            assert not interrupted_within(0.2)  # held back while the lock is held ...
        assert interrupted_within(2.0)  # ... and delivered once it is released
    assert not logging._lock._is_owned()


class Finalized:
    """Raises SIGINT in its finalizer, where an exception is swallowed ("Exception ignored")."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)


def test_a_signal_inside_a_finalizer_is_not_swallowed():
    with stopping_on_signals():
        Finalized()  # collected at once: its __del__ runs the handler
        assert interrupted_within(2.0)


def test_a_signal_inside_a_gc_callback_is_not_swallowed():
    sent: list[str] = []

    def callback(phase: str, info: dict[str, int]) -> None:
        # only this thread's collection (pytest's workers run threads of their own)
        if phase == "start" and not sent and threading.current_thread() is threading.main_thread():
            sent.append(phase)
            signal.raise_signal(signal.SIGINT)

    with stopping_on_signals(), pytest.raises(KeyboardInterrupt):
        gc.callbacks.append(callback)
        try:
            gc.collect()  # the callback's interrupt comes after it (at the first safe point)
            time.sleep(2.0)
        finally:
            gc.callbacks.remove(callback)
    assert sent == ["start"]


class Dies:
    """An object with a weakref.finalize that raises SIGINT when it dies."""


def test_a_signal_inside_a_weakref_callback_is_not_swallowed():
    dies = Dies()
    weakref.finalize(dies, signal.raise_signal, signal.SIGINT)  # runs inside weakref.py
    with stopping_on_signals():
        del dies  # its callback runs the handler at once, where an exception is swallowed
        assert interrupted_within(2.0)


def test_elsewhere_the_signal_raises_at_once():
    with stopping_on_signals(), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_unsafe_here_sees_the_lock_and_finalizers_only():
    import sys

    assert not unsafe_here(sys._getframe())
    with logging._lock:
        assert unsafe_here(sys._getframe())

    def __del__():  # a frame named as a finalizer's, further down the stack
        return unsafe_here(sys._getframe())

    assert __del__()
