"""A signal that lands where an exception would be swallowed, would leave the logging lock
held or a module half-imported is delivered again a moment later (deepsets.signals.unsafe_here),
not lost, not deadly."""

from __future__ import annotations

import gc
import logging
import signal
import sys
import time

import pytest

from deepsets.signals import catching_signals, unsafe_here


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


def test_a_signal_inside_an_import_comes_once_the_module_is_imported(tmp_path, monkeypatch):
    """As when Ctrl-C lands while torch loads, after a run's check has passed."""
    (tmp_path / "slow_module.py").write_text(
        "import signal, time\n"
        "signal.raise_signal(signal.SIGINT)  # the handler runs here, inside the import\n"
        "time.sleep(0.2)\n"
        "DONE = True\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_module", raising=False)
    with catching_signals():
        import slow_module  # noqa: F401  (no KeyboardInterrupt inside: it is held back ...)

        assert slow_module.DONE and interrupted_within(2.0)  # ... and delivered after it


def test_elsewhere_the_signal_raises_at_once():
    with catching_signals(), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_unsafe_here_sees_the_lock_and_finalizers_only():
    assert not unsafe_here(sys._getframe())
    with logging._lock:
        assert unsafe_here(sys._getframe())

    def __del__():  # a frame named as a finalizer's, further down the stack
        return unsafe_here(sys._getframe())

    assert __del__()
