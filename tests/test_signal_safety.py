"""A signal that lands where an exception would be swallowed or would leave the logging lock
held is delivered again a moment later (deepsets.signals.unsafe_here), not lost, not deadly."""

from __future__ import annotations

import gc
import logging
import signal
import time

import pytest

from deepsets.signals import catching_signals, recording_interrupts, unsafe_here


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
    with catching_signals():
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
    with catching_signals():
        Finalized()  # collected at once: its __del__ runs the handler
        assert interrupted_within(2.0)


def test_a_signal_inside_a_gc_callback_is_not_swallowed():
    sent: list[str] = []

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and not sent:
            sent.append(phase)
            signal.raise_signal(signal.SIGINT)

    gc.callbacks.append(callback)
    try:
        with catching_signals(), pytest.raises(KeyboardInterrupt):
            gc.collect()  # the callback's interrupt comes after it (at the first safe point)
            time.sleep(2.0)
    finally:
        gc.callbacks.remove(callback)
    assert sent == ["start"]


def test_while_libraries_load_an_interrupt_is_recorded_then_the_handler_comes_back():
    before = signal.getsignal(signal.SIGINT)
    with recording_interrupts() as caught:
        signal.raise_signal(signal.SIGINT)  # recorded: no KeyboardInterrupt inside the block
        assert not interrupted_within(0.1)
    assert caught == [signal.SIGINT] and signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_elsewhere_the_signal_raises_at_once():
    with catching_signals(), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_unsafe_here_sees_the_lock_and_finalizers_only():
    import sys

    assert not unsafe_here(sys._getframe())
    with logging._lock:
        assert unsafe_here(sys._getframe())

    def __del__():  # a frame named as a finalizer's, further down the stack
        return unsafe_here(sys._getframe())

    assert __del__()
