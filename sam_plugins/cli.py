"""The ``sam-plugins`` command line: it builds the parser from the command table
(`sam_plugins.commands`) and prints errors; the commands do the work, each in its own module,
imported only when it runs (so ``--version`` and ``--help`` answer without importing torch).

Errors a user can fix are raised as `sam_plugins.commands.arguments.CLIError` (or
`sam_plugins.io.LoadError`) and printed as one line, exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

from . import __version__
from .commands import Command, command_table
from .commands.arguments import CLIError, HelpFormatter


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors are one line (with where to find help), exit status 2,
    and whose help shows each default once."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"sam-plugins: error: {message} (see {self.prog} --help)\n")


def build_parser(
    command: str | None = None, table: dict[str, Command] | None = None
) -> argparse.ArgumentParser:
    """The parser of every command in `table` (default: `command_table()`); only `command`'s
    module is imported, to add its options (the others are listed with their summary)."""
    parser = Parser(
        prog="sam-plugins",
        description="Spike Activation Maps (Kim & Panda 2021) for already-trained SNNs.",
        epilog="Plugins add commands (entry-point group sam_plugins.commands). "
        "sam-plugins COMMAND --help: the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for name, row in (command_table() if table is None else table).items():
        if name == command:
            _add(row, subparsers)
        else:
            subparsers.add_parser(name, help=row.summary, add_help=False)
    return parser


def _add(row: Command, subparsers) -> None:
    """Add `row`'s command with its options; a plugin that fails to load is a one-line error."""
    try:
        row.load()(subparsers)
    except Exception as exc:
        if row.origin is None:
            raise  # the core's own: a bug, with its traceback
        text = str(exc).strip().splitlines()
        raise CLIError(
            f"the command {row.name!r} of {row.origin} ({row.target}) could not be loaded: "
            f"{type(exc).__name__}: {text[0] if text else ''}"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # like `python -m`, find models in the current directory (package.module:factory)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    # the top level has only flags, so the first other word is the command
    command = next((word for word in argv if not word.startswith("-")), None)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", RuntimeWarning)
        table = command_table()
    for warning in said:  # a plugin left out: one line each, the other commands work
        if issubclass(warning.category, RuntimeWarning):
            print(f"sam-plugins: warning: {warning.message}", file=sys.stderr)
    try:
        args = build_parser(command, table).parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else 2
    except CLIError as exc:
        print(f"sam-plugins: error: {exc}", file=sys.stderr)
        return 2
    try:
        args.func(args)
    except CLIError as exc:
        print(f"sam-plugins: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        from .io.models import LoadError  # a file or name that cannot be used

        if not isinstance(exc, LoadError):
            raise
        print(f"sam-plugins: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
