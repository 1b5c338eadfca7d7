"""The ``lockcloud`` group, its commands, and ``main()`` for the console script."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

import click

from lockcloud._version import __version__
from lockcloud.cli._demo import demo
from lockcloud.cli._doctor import doctor
from lockcloud.cli._listen import listen
from lockcloud.cli._locks import enroll, keys, remote_unlock, unlock
from lockcloud.cli._output import PROG
from lockcloud.cli._run import EXIT_INTERRUPTED
from lockcloud.cli._sim import sim

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, "--version", "-V", prog_name=PROG, message="%(prog)s %(version)s")
def cli() -> None:
    """Drive Tuya cloud smart locks, or try everything on the embedded simulator (`lockcloud demo`).

    Commands that talk to a cloud take credentials from --access-id / --access-secret / --region or from
    LOCKCLOUD_ACCESS_ID, LOCKCLOUD_ACCESS_SECRET, LOCKCLOUD_REGION; --sim runs them on an embedded simulator.
    """


for command in (demo, sim, keys, enroll, unlock, remote_unlock, listen, doctor):
    cli.add_command(command)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    # One line a user can act on, not Python's file name, line number and source line.
    text = " ".join(str(message).split())
    print(f"{PROG}: warning: {text}", file=file or sys.stderr)


def _usage_line(error: click.UsageError) -> str:
    """A usage error in one line: what is wrong, naming the flag, and where the help is."""
    command = error.ctx.command_path if error.ctx is not None else PROG
    return f"{command}: {' '.join(error.format_message().split())} (see `{command} --help`)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lockcloud`` console script: returns 0, or raises ``SystemExit`` with the status."""
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            status = cli.main(
                args=list(argv) if argv is not None else None, prog_name=PROG, standalone_mode=False
            )
    except click.UsageError as exc:
        click.echo(_usage_line(exc), err=True)
        raise SystemExit(exc.exit_code) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except click.Abort:
        click.echo(f"{PROG}: interrupted", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    if isinstance(status, int) and status != 0:
        raise SystemExit(status)
    return 0
