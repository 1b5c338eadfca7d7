"""Where undecodable messages go: a bounded in-memory list, a directory, or any callable."""

from __future__ import annotations

import asyncio
import collections
import inspect
import itertools
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeAlias

from lockcloud._errors import ValidationError
from lockcloud.events._models import DeadLetter

__all__ = ["DeadLetterSink", "DirectoryDeadLetters", "MemoryDeadLetters", "as_sink"]

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
