"""History: who opened the door and how, and the alarms, as async iterators that fetch page after page.

Reach it as ``cloud.history``. Each method checks its arguments when called (a :class:`~lockcloud.ValidationError`
before anything is sent) and returns a :class:`HistoryPages`; iterating it fetches one page at a time, so memory
stays bounded however long the history. An item that cannot be read does not end the iteration: it is yielded as
a record of type :attr:`~lockcloud.RecordType.UNKNOWN` (``problem`` says why, ``raw`` keeps it) and counted in
:attr:`HistoryPages.stats`.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

import attrs

from lockcloud._core import validation as check
from lockcloud._core.errors import UnexpectedResponseError, ValidationError
from lockcloud.history_models import (
    ALARM_CODES,
    ALARM_LOCK_CODE,
    AlarmKind,
    HistoryRecord,
    HistoryStats,
    UnlockMethod,
    read_alarm_log,
    read_open_log,
    read_record,
    unreadable,
)
from lockcloud.resources._base import Resource

__all__ = ["MAX_PAGE_SIZE", "History", "HistoryPages", "Page", "checked_page_size", "time_range"]

T = TypeVar("T")

#: The largest page asked for (the pages document no limit; 100 is what their samples use).
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50

HistoryKind = UnlockMethod | AlarmKind | str
TimeBound = _dt.datetime | int | float | None


@attrs.frozen
class Page:
    """One fetched page: its raw items and whether another page follows."""

    items: list[Any]
    more: bool


class HistoryPages(Generic[T]):
    """An async iterator over items fetched page by page (``async for record in cloud.history.records(...)``).

    Each ``async for`` starts again from the first page. :attr:`stats` counts pages, items and unreadable items of
    the iteration under way (or the last one).
    """

    def __init__(
        self,
        fetch: Callable[[int], Awaitable[Page]],
        read: Callable[[Any], T],
        unknown: Callable[[Any, str], T],
        keep: Callable[[T], bool] = lambda item: True,
    ) -> None:
        self._fetch = fetch
        self._read = read
        self._unknown = unknown
        self._keep = keep
        self.stats = HistoryStats()

    def __repr__(self) -> str:
        return f"HistoryPages(stats={self.stats!r})"

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        self.stats = stats = HistoryStats()
        page_no = 1
        while True:
            page = await self._fetch(page_no)
            stats.pages += 1
            for raw in page.items:
                try:
                    item = self._read(raw)
                except (TypeError, ValueError, KeyError, OverflowError, RecursionError) as exc:
                    item = self._unknown(raw, str(exc) or type(exc).__name__)
                    stats.unreadable += 1
                    stats.records += 1
                    yield item
                    continue
                if self._keep(item):
                    stats.records += 1
                    yield item
            # An empty page ends it even if the server says there is more: it would say so forever.
            if not page.more or not page.items:
                return
            page_no += 1

    async def collect(self, limit: int | None = None) -> list[T]:
        """The items as a list (at most ``limit``): for small histories; iterate for long ones."""
        items: list[T] = []
        async for item in self:
            items.append(item)
            if limit is not None and len(items) >= limit:
                break
        return items


def checked_page_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"page_size must be an integer, got {type(value).__name__}")
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ValidationError(f"page_size must be from 1 to {MAX_PAGE_SIZE}, got {value}")
    return value


def _instant(value: TimeBound, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            raise ValidationError(f"{name} must be a timezone-aware datetime (e.g. datetime.now(UTC))")
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{name} must be a datetime or epoch seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or value >= 1e11:
        raise ValidationError(f"{name} must be epoch seconds from 0 to 1e11, got {value!r}")
    return float(value)


def time_range(since: TimeBound, until: TimeBound) -> tuple[float | None, float | None]:
    """``since`` and ``until`` as epoch seconds; a range that ends before it starts is refused."""
    start, end = _instant(since, "since"), _instant(until, "until")
    if start is not None and end is not None and end < start:
        raise ValidationError("until is before since: the time range ends before it starts")
    return start, end


def _in_range(at: _dt.datetime | None, start: float | None, end: float | None) -> bool:
    if at is None:
        return True
    stamp = at.timestamp()
    return (start is None or stamp >= start) and (end is None or stamp <= end)


def _kind(value: object) -> UnlockMethod | AlarmKind | str:
    if isinstance(value, UnlockMethod | AlarmKind):
        if not value.is_known:
            raise ValidationError(f"unknown history kind {str(value.value)[:64]!r}")
        return value
    if not isinstance(value, str):
        raise ValidationError(f"a history kind must be a string, got {type(value).__name__}")
    if value == ALARM_LOCK_CODE:
        return value
    method = UnlockMethod(value)
    if method.is_known:
        return method
    alarm = AlarmKind(value)
    if alarm.is_known:
        return alarm
    shown = value[:64]
    raise ValidationError(
        f"unknown history kind {shown!r} (an UnlockMethod such as 'unlock_fingerprint', an AlarmKind such as "
        "'hijack' or 'low_battery', or 'alarm_lock' for every general alarm)"
    )


@attrs.frozen
class _Filter:
    """The DP codes to ask for, and the ``alarm_lock`` values to keep (``None``: all of them)."""

    codes: tuple[str, ...]
    alarm_values: frozenset[AlarmKind] | None

    def keeps(self, record: HistoryRecord) -> bool:
        if self.alarm_values is None or record.alarm is None:
            return True
        if record.alarm.dp_code != ALARM_LOCK_CODE:
            return True
        return record.alarm in self.alarm_values


def _filter(kinds: Iterable[HistoryKind] | HistoryKind | None, default: Iterable[str]) -> _Filter:
    if kinds is None:
        return _Filter(tuple(default), None)
    if isinstance(kinds, str):
        kinds = [kinds]
    codes: dict[str, None] = {}
    alarm_values: set[AlarmKind] = set()
    every_alarm = False
    for raw in kinds:
        kind = _kind(raw)
        if isinstance(kind, AlarmKind):
            codes[kind.dp_code] = None
            if kind.dp_code == ALARM_LOCK_CODE:
                alarm_values.add(kind)
        elif isinstance(kind, UnlockMethod):
            codes[str(kind.value)] = None
        else:
            codes[kind] = None
            every_alarm = True
    if not codes:
        raise ValidationError("kinds must name at least one kind, or be None for all")
    return _Filter(tuple(codes), None if every_alarm or not alarm_values else frozenset(alarm_values))


_EVERY_RECORD_CODE = tuple(str(member.value) for member in UnlockMethod) + tuple(sorted(ALARM_CODES))


def _epoch(value: float | None, scale: int) -> int:
    return 0 if value is None else int(value * scale)


class History(Resource):
    """The history endpoints of one :class:`~lockcloud.LockCloud` (``History(cloud)``)."""

    def records(
        self,
        device_id: str,
        *,
        since: TimeBound = None,
        until: TimeBound = None,
        kinds: Iterable[HistoryKind] | HistoryKind | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> HistoryPages[HistoryRecord]:
        """Unlock and alarm records, newest first as Tuya serves them (GET ``.../door-lock/records``).

        ``since``/``until`` bound the time (aware datetimes or epoch seconds; sent as milliseconds). ``kinds``
        limits them: :class:`~lockcloud.UnlockMethod` values, :class:`~lockcloud.AlarmKind` values (general
        alarms such as ``low_battery`` are asked for as ``alarm_lock`` and narrowed here), or ``"alarm_lock"``.
        """
        device = check.device_id(device_id)
        start, end = time_range(since, until)
        wanted = _filter(kinds, _EVERY_RECORD_CODE)
        size = checked_page_size(page_size)
        path = f"/v1.0/devices/{device}/door-lock/records"

        async def fetch(page_no: int) -> Page:
            params = {
                "target_standard_dp_codes": ",".join(wanted.codes),
                "start_time": str(_epoch(start, 1000)),
                "end_time": str(_epoch(end, 1000)),
                "page_no": str(page_no),
                "page_size": str(size),
            }
            result = await self._get_raw(path, params=params)
            items = _items(result, "records", path)
            more = result.get("has_more")
            if not isinstance(more, bool):
                total_pages = result.get("total_pages")
                more = isinstance(total_pages, int) and page_no < total_pages
            return Page(items, more)

        return HistoryPages(fetch, read_record, unreadable, wanted.keeps)

    def open_logs(
        self,
        device_id: str,
        *,
        since: TimeBound = None,
        until: TimeBound = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> HistoryPages[HistoryRecord]:
        """The legacy unlock history of older locks (GET ``.../door-lock/open-logs``; times in seconds).

        The endpoint requires a time range: without ``since`` it starts at 0, without ``until`` it ends now.
        """
        device = check.device_id(device_id)
        start, end = time_range(since, until)
        size = checked_page_size(page_size)
        path = f"/v1.0/devices/{device}/door-lock/open-logs"
        clock = self._cloud

        async def fetch(page_no: int) -> Page:
            stop = end if end is not None else _server_now(clock)
            params = {
                "page_no": str(page_no),
                "page_size": str(size),
                "start_time": str(_epoch(start, 1)),
                "end_time": str(_epoch(stop, 1)),
            }
            result = await self._get_raw(path, params=params)
            items = _items(result, "logs", path)
            return Page(items, _more_by_total(result, page_no, size, items))

        return HistoryPages(fetch, read_open_log, unreadable)

    def alarms(
        self,
        device_id: str,
        *,
        since: TimeBound = None,
        until: TimeBound = None,
        kinds: Iterable[AlarmKind | str] | AlarmKind | str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> HistoryPages[HistoryRecord]:
        """Alarm logs (GET ``.../door-lock/alarm-logs?codes=``): duress, doorbell, wrong attempts, tamper, low
        battery ... The endpoint takes no time range, so ``since``/``until`` are applied to what it returns."""
        device = check.device_id(device_id)
        start, end = time_range(since, until)
        wanted = _filter(kinds, sorted(ALARM_CODES))
        if any(code not in ALARM_CODES for code in wanted.codes):
            raise ValidationError("alarm kinds must be AlarmKind values (unlock methods are not alarms)")
        size = checked_page_size(page_size)
        path = f"/v1.0/devices/{device}/door-lock/alarm-logs"

        async def fetch(page_no: int) -> Page:
            params = {"page_no": str(page_no), "page_size": str(size), "codes": ",".join(wanted.codes)}
            result = await self._get_raw(path, params=params)
            items = _items(result, "records", path)
            return Page(items, _more_by_total(result, page_no, size, items))

        def keep(record: HistoryRecord) -> bool:
            return wanted.keeps(record) and _in_range(record.at, start, end)

        return HistoryPages(fetch, read_alarm_log, unreadable, keep)


def _server_now(cloud: Any) -> float:
    now = getattr(cloud, "server_time", None)
    return float(now()) if callable(now) else _dt.datetime.now(_dt.UTC).timestamp()


def _items(result: Any, key: str, path: str) -> list[Any]:
    if isinstance(result, dict):
        items = result.get(key)
        if items is None:
            return []
        if isinstance(items, list):
            return items
    raise UnexpectedResponseError(
        f"the result has no {key!r} list", method="GET", path=path, status_code=200, body=b""
    )


def _more_by_total(result: Mapping[str, Any], page_no: int, size: int, items: list[Any]) -> bool:
    more = result.get("has_more")
    if isinstance(more, bool):
        return more
    total = result.get("total")
    if isinstance(total, int) and not isinstance(total, bool):
        return page_no * size < total
    return len(items) >= size
