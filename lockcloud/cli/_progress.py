"""The enrollment progress bar: redrawn live on a terminal, one plain line per update anywhere else."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Column

from lockcloud.cli._output import Output

__all__ = ["ProgressBar"]


class ProgressBar:
    """``fingerprint: [#####.....] 3/5 2 to go``.

    On a terminal it is a rich live display: rich measures the terminal at every refresh and draws the bar to fit,
    so a narrow or resized window gets one line, not a stale copy of every wider line. In a pipe or a log each
    update is its own line (with a fixed-width text bar), and nothing at all with ``--json``.
    """

    PLAIN_WIDTH = 30

    def __init__(self, out: Output, label: str) -> None:
        self.out = out
        self.label = label
        self.total: int | None = None
        self._live: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> ProgressBar:
        if self.out.interactive:
            self._live = _MarginProgress(
                TextColumn("  {task.description}"),
                BarColumn(bar_width=None),
                MofNCompleteColumn(),
                # The note gives way (ellipsis) before the line would wrap: one line, whatever the width.
                TextColumn("{task.fields[note]}", table_column=Column(no_wrap=True, overflow="ellipsis")),
                console=self.out.console,
                expand=True,
                refresh_per_second=8,
            )
            self._task = self._live.add_task(self.label, total=None, note="")
            self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def update(self, done: int, total: int | None, note: str = "") -> None:
        if self.out.json_mode:
            return
        self.total = total or self.total
        if self._live is not None and self._task is not None:
            self._live.update(self._task, completed=done, total=self.total, note=note)
            return
        if self.total:
            filled = min(self.PLAIN_WIDTH, round(self.PLAIN_WIDTH * done / self.total))
            bar = f"[{'#' * filled}{'.' * (self.PLAIN_WIDTH - filled)}] {done}/{self.total}"
        else:
            bar = f"[{'.' * self.PLAIN_WIDTH}]"
        self.out.say(f"  {self.label} {bar} {note}".rstrip())


#: Columns left free at the right of the live line: the ``^C`` a terminal echoes when Ctrl-C is typed.
ECHO_ROOM = 2


class _InsideMargin:
    """Renders :data:`ECHO_ROOM` columns short of the terminal's width.

    The cursor waits at the end of the live line. Were the line as wide as the terminal, what the terminal echoes
    there (``^C``) would wrap to the next line, the final redraw would start on that line, and a stale copy of
    the bar would stay above it.
    """

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from console.render(
            self.renderable, options.update_width(max(1, options.max_width - ECHO_ROOM))
        )


class _MarginProgress(Progress):
    def get_renderable(self) -> RenderableType:
        return _InsideMargin(super().get_renderable())
