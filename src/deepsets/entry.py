"""The `deepsets` console script: light to import, so that a Ctrl-C while the libraries load
(torch takes a second or more) ends the command with exit status 130 and one line.

An interrupt that lands inside an import can leave a library half-imported and surface as an
unrelated error later (an AttributeError from numpy, say), so SIGINT is only recorded while
`deepsets.cli` loads, and acted on once it has loaded (`signals.recording_interrupts`; the CLI
does the same while a study's run modules, and torch with them, load after its check, and while
`deepsets export` loads its exporter). A SIGINT the process ignores (as under `nohup`) stays
ignored.
"""

from __future__ import annotations

import sys

from deepsets.signals import INTERRUPTED, recording_interrupts


def main() -> int:
    """Import the command (SIGINT recorded meanwhile), then run it; returns the exit status."""
    with recording_interrupts() as caught:
        from deepsets.cli import main as command
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
