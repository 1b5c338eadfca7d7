"""Where a command's words go: human text through rich on stdout, or JSON documents with ``--json``."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console, RenderableType

__all__ = ["PROG", "Output"]

PROG = "lockcloud"


class Output:
    """Human text, or one JSON document per line with ``--json``; notes and warnings always go to stderr.

    The consoles look up ``sys.stdout`` / ``sys.stderr`` when they write, so redirected streams are honoured.
    On a terminal lines are wrapped between words at its width; a pipe or a file gets every line whole.
    """

    def __init__(self, *, json_mode: bool) -> None:
        self.json_mode = json_mode
        self.console = Console(highlight=False)
        self.errors = Console(stderr=True, highlight=False)

    def say(self, text: str = "") -> None:
        if not self.json_mode:
            self.console.print(text, markup=False, emoji=False, soft_wrap=not self.console.is_terminal)

    def show(self, renderable: RenderableType) -> None:
        """A rich renderable (a table) in human mode."""
        if not self.json_mode:
            self.console.print(renderable)

    def note(self, text: str) -> None:
        self.errors.print(f"{PROG}: {text}", markup=False, emoji=False, soft_wrap=not self.errors.is_terminal)

    def emit(self, document: Any) -> None:
        if self.json_mode:
            print(json.dumps(document, default=str), file=sys.stdout, flush=True)

    @property
    def interactive(self) -> bool:
        """A terminal a live display can redraw (not with ``--json``, not through a pipe)."""
        return not self.json_mode and self.console.is_terminal
