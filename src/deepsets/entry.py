"""The `deepsets` console script: light to import, so that a Ctrl-C while the libraries load
(torch takes a second or more) ends the command with exit status 130 and one line.

An interrupt that lands inside an import can leave a library half-imported and surface as an
unrelated error later (an AttributeError from numpy, say), so SIGINT is only recorded while
`deepsets.cli` loads, and acted on once it has loaded. (torch loads later, once a run's check
has passed, where `signals.catching_signals` holds an interrupt until the import is done.) A
SIGINT the process ignores (as under `nohup`) stays ignored.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

INTERRUPTED = "deepsets: interrupted while starting; nothing was written"


def main() -> int:
    """Import the command (SIGINT recorded meanwhile), then run it; returns the exit status."""
    caught: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, record)
    try:
        from deepsets.cli import main as command
    finally:
        if previous is not signal.SIG_IGN:
            restored = signal.default_int_handler if previous is None else previous
            signal.signal(signal.SIGINT, restored)
    if caught:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    try:
        return command()
    except KeyboardInterrupt:  # outside the command's own handling (parsing its flags)
        print(INTERRUPTED, file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
