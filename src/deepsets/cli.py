"""The `deepsets` command: parse arguments into StudySettings and call `run_study`.

`--help` is generated from the settings dataclass: one flag per field, its doc as the help.
"""

from __future__ import annotations

import argparse
import logging
import sys
import types
import typing
from dataclasses import MISSING, fields, replace

from deepsets import __version__
from deepsets.study.settings import StudySettings, field_docs

EPILOG = "Example: deepsets run --quick --out runs/smoke   (a small run in seconds)"


def add_settings(parser: argparse.ArgumentParser) -> None:
    """One option per StudySettings field, with the field's doc as help."""
    docs = field_docs()
    hints = typing.get_type_hints(StudySettings)
    for f in fields(StudySettings):
        flag = "--" + f.name.replace("_", "-")
        hint, default = hints[f.name], f.default
        assert default is not MISSING
        doc = docs.get(f.name, "")
        if hint is bool:
            if default:
                parser.add_argument(
                    f"--no-{f.name.replace('_', '-')}",
                    dest=f.name,
                    action="store_false",
                    help=f"Skip {doc[0].lower()}{doc[1:]}",
                )
            else:
                parser.add_argument(flag, action="store_true", help=doc)
            continue
        args = typing.get_args(hint)
        if typing.get_origin(hint) is tuple:
            parser.add_argument(
                flag,
                type=args[0],
                nargs="+",
                metavar=f.name[:1].upper(),
                help=f"{doc} (default: {' '.join(map(str, default))})",
            )
            continue
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            hint = next(a for a in args if a is not type(None))
        choices = ("auto", "cpu", "cuda") if f.name == "device" else None
        parser.add_argument(
            flag,
            type=hint,
            choices=choices,
            metavar=None if choices else f.name.upper(),
            help=f"{doc} (default: {default})",
        )
    parser.set_defaults(**{f.name: f.default for f in fields(StudySettings)})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepsets", description="DeepSets: the exercise as a tested library and a study."
    )
    parser.add_argument("--version", action="version", version=f"deepsets {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run the whole study and write its report",
        description="Train the DeepSet and the MLPs over seeds, answer the exercise's questions "
        "by measurement, and write report.html, metrics.json, figures and weights.",
        epilog=EPILOG,
    )
    add_settings(run)
    return parser


def settings_from_args(args: argparse.Namespace) -> StudySettings:
    values = {f.name: getattr(args, f.name) for f in fields(StudySettings)}
    for f in fields(StudySettings):
        if isinstance(values[f.name], list):
            values[f.name] = tuple(values[f.name])
    return replace(StudySettings(), **values)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `deepsets` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from deepsets.study.console import print_summary
    from deepsets.study.run import run_study

    try:
        results = run_study(settings_from_args(args))
    except (FileExistsError, ValueError, TypeError) as e:
        print(f"deepsets run: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deepsets run: interrupted; nothing was written", file=sys.stderr)
        return 130
    print_summary(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
