"""Running a command's coroutine: its errors become one line and an exit status, Ctrl-C a prompt exit."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, NoReturn

import click

from lockcloud._core.errors import LockCloudError
from lockcloud.cli._errors import CommandError, describe_error, one_line
from lockcloud.cli._output import Output

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "run"]

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def _fail(out: Output, message: str, code: int = EXIT_FAILED) -> NoReturn:
    out.note(message)
    raise click.exceptions.Exit(code)


def run(out: Output, command: Coroutine[Any, Any, None]) -> None:
    """Run ``command`` on a new event loop.

    The first Ctrl-C cancels it (asyncio's own handling): the code on the way out says what it left behind, e.g.
    an enrollment cancelled at the lock, and exits 130. A second Ctrl-C stops waiting for that.
    """
    try:
        asyncio.run(command)
    except KeyboardInterrupt:
        _fail(out, "interrupted", EXIT_INTERRUPTED)
    except CommandError as exc:
        _fail(out, one_line(exc))
    except LockCloudError as exc:
        _fail(out, describe_error(exc))
    except OSError as exc:
        _fail(out, f"{type(exc).__name__}: {one_line(exc)}")
