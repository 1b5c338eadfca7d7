"""The simulator's URL map: the 20 lock endpoints and the two token calls, keyed by method and path."""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from lockcloud._core.redaction import redact_path
from lockcloud._core.wire import ACCESS_CODE_ENDPOINTS, ENDPOINTS, HISTORY_ENDPOINTS
from lockcloud.sim._call import fail

__all__ = ["ROUTES", "Route", "find_routes", "pick_route"]

_PARAM = re.compile(r"\{(\w+)\}")


@attrs.frozen
class Route:
    """``method`` + ``template`` (``{name}`` matches one path segment) served by the action ``action``."""

    method: str
    template: str
    action: str
    pattern: re.Pattern[str] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        parts = _PARAM.split(self.template)
        regex = "".join(
            f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part) for index, part in enumerate(parts)
        )
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))


ROUTES: tuple[Route, ...] = tuple(
    Route(e.method, e.template, e.action) for e in (*ENDPOINTS, *ACCESS_CODE_ENDPOINTS, *HISTORY_ENDPOINTS)
)


def find_routes(path: str) -> list[tuple[Route, dict[str, str]]]:
    """Every route whose template matches ``path`` (whatever its method), with the path parameters."""
    found = []
    for route in ROUTES:
        match = route.pattern.match(path)
        if match is not None:
            found.append((route, match.groupdict()))
    return found


def pick_route(
    method: str, path: str, routes: Sequence[tuple[Route, dict[str, str]]]
) -> tuple[Route, dict[str, str]]:
    """The route among ``routes`` (those of ``path``) served for ``method``.

    1108 when there is none: Tuya keys an API by method *and* path, so a known path with another method is just
    another unknown API (the message names the right method).
    """
    for route, params in routes:
        if route.method == method:
            return route, params
    if routes:
        allowed = ", ".join(sorted({route.method for route, _ in routes}))
        raise fail(1108, f"{method} is not served at this path (use {allowed})")
    raise fail(1108, f"no API at {redact_path(path)}")
