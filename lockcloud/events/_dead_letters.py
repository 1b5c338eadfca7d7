"""Where undecodable messages go (a bounded in-memory list, a directory, or any callable), and how many may."""

from __future__ import annotations

import asyncio
import collections
import inspect
import itertools
import json
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeAlias

from lockcloud._core.errors import ValidationError
from lockcloud._core.validation import seconds
from lockcloud.events._models import DeadLetter

__all__ = ["DeadLetterQuota", "DeadLetterSink", "DirectoryDeadLetters", "MemoryDeadLetters", "as_sink"]

#: A sink takes one dead letter; it may be a coroutine function. If it raises, the message stays unacknowledged.
DeadLetterSink: TypeAlias = Callable[[DeadLetter], Awaitable[None] | None]


class MemoryDeadLetters:
    """Keeps the last ``maxlen`` dead letters in memory (the default sink); ``count`` counts every one taken."""

    def __init__(self, maxlen: int = 1000) -> None:
        self._letters: collections.deque[DeadLetter] = collections.deque(maxlen=maxlen)
        self.count = 0

    def __call__(self, letter: DeadLetter) -> None:
        self._letters.append(letter)
        self.count += 1

    @property
    def letters(self) -> list[DeadLetter]:
        """The kept dead letters, oldest first."""
        return list(self._letters)

    def __len__(self) -> int:
        return len(self._letters)

    def __iter__(self) -> Iterator[DeadLetter]:
        return iter(list(self._letters))

    def clear(self) -> None:
        self._letters.clear()

    def __repr__(self) -> str:
        return f"MemoryDeadLetters(kept={len(self._letters)}, count={self.count})"


class DirectoryDeadLetters:
    """Writes each dead letter's raw payload to ``<directory>/<name>.payload`` and its metadata beside it.

    ``<name>.json`` holds the reason, message id, properties and time. Files appear atomically (written under a
    temporary name, then renamed), so a watcher never sees half a payload. Writing happens in a worker thread.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._sequence = itertools.count()
        self.count = 0

    async def __call__(self, letter: DeadLetter) -> None:
        name = f"{letter.received_at:%Y%m%dT%H%M%S%f}-{os.getpid()}-{next(self._sequence):06d}"
        await asyncio.to_thread(self._write, name, letter)
        self.count += 1

    def _write(self, name: str, letter: DeadLetter) -> None:
        metadata = {
            "reason": letter.reason,
            "message_id": letter.message_id,
            "properties": dict(letter.properties),
            "received_at": letter.received_at.isoformat(),
            "payload_file": f"{name}.payload",
            "payload_size": len(letter.payload),
        }
        _write_atomically(self.directory / f"{name}.payload", letter.payload)
        _write_atomically(self.directory / f"{name}.json", json.dumps(metadata, indent=2).encode())

    def __repr__(self) -> str:
        return f"DirectoryDeadLetters({str(self.directory)!r}, count={self.count})"


class DeadLetterQuota:
    """At most ``count`` dead letters and ``size`` payload bytes in any ``per`` seconds.

    A stream whose quota is used up does not hand further undecodable messages to its sink: it leaves them
    unacknowledged, so the transport keeps them (a webhook answers 429 and its sender retries later), and counts
    them in ``stats.dead_letters_refused``. That bounds what a flood of garbage can write, without dropping any.
    """

    def __init__(self, count: int = 1000, size: int = 16 * 1024 * 1024, per: float = 60.0) -> None:
        seconds(per, "per")
        if count < 1 or size < 1:
            raise ValidationError("a dead-letter quota needs a positive count, size and period")
        self.count = count
        self.size = size
        self.per = per
        self._taken: collections.deque[tuple[float, int]] = collections.deque()
        self._bytes = 0

    def __repr__(self) -> str:
        return f"DeadLetterQuota(count={self.count}, size={self.size}, per={self.per:g})"

    def admit(self, size: int, now: float | None = None) -> bool:
        """Take one letter of ``size`` bytes from the quota; False (nothing taken) if it does not fit now."""
        now = time.monotonic() if now is None else now
        while self._taken and self._taken[0][0] <= now - self.per:
            self._bytes -= self._taken.popleft()[1]
        if len(self._taken) >= self.count or self._bytes + size > self.size:
            return False
        self._taken.append((now, size))
        self._bytes += size
        return True

    def retry_after(self, now: float | None = None) -> float:
        """Seconds until the oldest letter leaves the window (0 when there is room)."""
        now = time.monotonic() if now is None else now
        if not self._taken:
            return 0.0
        return max(0.0, self._taken[0][0] + self.per - now)


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def as_sink(dead_letters: DeadLetterSink | str | os.PathLike[str] | None) -> DeadLetterSink:
    """The sink for a stream's ``dead_letters`` option: None -> in memory, a path -> a directory, else as given."""
    if dead_letters is None:
        return MemoryDeadLetters()
    if isinstance(dead_letters, str | os.PathLike):
        return DirectoryDeadLetters(dead_letters)
    if not callable(dead_letters):
        raise ValidationError("dead_letters must be a callable, a directory path or None")
    return dead_letters


async def deliver(sink: DeadLetterSink, letter: DeadLetter) -> None:
    result = sink(letter)
    if inspect.isawaitable(result):
        await result
