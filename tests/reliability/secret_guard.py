"""Suite-wide guard: no known secret appears in any log record captured during any test.

``tests/conftest.py`` registers this module as a pytest plugin (by path: tests are not a package). For each test
it captures every log record from the start of setup to the end of teardown (the root logger is set to DEBUG for
the duration, so lockcloud's, httpx's, httpcore's, uvicorn's and asyncio's own lines are all created), and at the
end of teardown fails the test if a known secret appears in a record: its message, its exception and stack text,
or any extra string attribute a handler might render.

Secrets are learnt where they are minted, not listed by hand:

* every :class:`~lockcloud.sim.Simulator`: its access secret, every access and refresh token it issues, every
  password ticket's key (encrypted ``ticket_key`` and the decrypted key) and every media file key;
* every :class:`~lockcloud.LockCloud`: its access secret and each token it holds;
* every :class:`~lockcloud.events.EventStream`: its access secret;
* for each access secret also the Pulsar message key (``secret[8:24]``) and the Pulsar ``auth1`` password;
* anything a test registers through the ``secret_guard`` fixture.

Objects are tracked by wrapping those three constructors once per session. Tokens can be retired (a refresh
replaces both halves), so the live ones are read again at every captured record; everything else is read at the
end of the test. Secrets shorter than 16 characters are not searched for: a 6-digit PIN collides with every other
number in a log line (PINs are checked in reprs and messages by a targeted test instead), and neither are
made-up test values with fewer than six distinct characters (``"x" * 32``). The search is case-insensitive, and
a secret is found inside longer runs of letters and digits too.

A test that logs a secret on purpose (to prove the guard works) wraps it in ``secret_guard.expect_leaks()``.
``pytest -p no:lockcloud-secret-guard`` runs the suite without the guard (the tests that use its fixture then
error). Only this process is watched: subprocesses (the CLI and example runs) and the Pulsar C++ client's own log
are not.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest

MIN_LENGTH = 16
# Test fixtures use secrets like "x" * 32 or "tok" * 8; searching for those finds padding, not leaks. Every secret
# the simulator or Tuya mints has far more distinct characters than this.
MIN_DISTINCT_CHARACTERS = 6
_RUN = re.compile(r"[0-9A-Za-z]{16,}")
_ALNUM = re.compile(r"[0-9A-Za-z]+")
# LogRecord attributes that are not text a handler would print (or are printed through getMessage()).
_PLAIN_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "color_message"}
)


@attrs.frozen
class Leak:
    """A secret found in a log record: which kind, which logger, and the line with the secret masked."""

    kind: str
    logger: str
    level: str
    masked: str

    def __str__(self) -> str:
        return f"{self.kind} in a {self.level} record of logger {self.logger!r}: {self.masked}"


class SecretRegistry:
    """Known secrets by lower-cased value, with the kind each was registered as."""

    def __init__(self) -> None:
        self._kinds: dict[str, str] = {}
        self._by_length: dict[int, set[str]] = {}
        self._odd: set[str] = set()  # secrets with characters outside [0-9A-Za-z]: searched for as substrings

    def __len__(self) -> int:
        return len(self._kinds)

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and value.lower() in self._kinds

    def add(self, value: object, kind: str) -> None:
        if isinstance(value, bytes):
            try:
                value = value.decode("ascii")
            except UnicodeDecodeError:
                return
        if not isinstance(value, str) or len(value) < MIN_LENGTH:
            return
        key = value.lower()
        if len(set(key)) < MIN_DISTINCT_CHARACTERS:
            return
        if key in self._kinds:
            return
        self._kinds[key] = kind
        if _ALNUM.fullmatch(key):
            self._by_length.setdefault(len(key), set()).add(key)
        else:
            self._odd.add(key)

    def kinds(self) -> set[str]:
        return set(self._kinds.values())

    def find(self, text: str) -> list[tuple[str, str]]:
        """``(kind, secret)`` for every known secret in ``text``."""
        found: dict[str, str] = {}
        lowered = text.lower()
        for run in _RUN.findall(lowered):
            for length, secrets in self._by_length.items():
                if length > len(run):
                    continue
                for start in range(len(run) - length + 1):
                    piece = run[start : start + length]
                    if piece in secrets:
                        found[piece] = self._kinds[piece]
        for secret in self._odd:
            if secret in lowered:
                found[secret] = self._kinds[secret]
        # A secret inside another one found here (the message key inside its access secret) adds nothing.
        return [
            (kind, secret)
            for secret, kind in found.items()
            if not any(secret != other and secret in other for other in found)
        ]


class _Tracked:
    """The objects that mint or hold secrets, created so far."""

    def __init__(self) -> None:
        self.simulators: weakref.WeakSet[Any] = weakref.WeakSet()
        self.clouds: weakref.WeakSet[Any] = weakref.WeakSet()
        self.streams: weakref.WeakSet[Any] = weakref.WeakSet()
        # Strong references for the current test, so that its objects are still there to be read at its end.
        self.current: list[Any] = []


_tracked = _Tracked()
_installed = False


def _track_after(cls: type, name: str, into: weakref.WeakSet[Any]) -> None:
    original = cls.__dict__[name]
    is_classmethod = isinstance(original, classmethod)
    function = original.__func__ if is_classmethod else original

    @functools.wraps(function)
    def tracking(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        made = result if is_classmethod else args[0]
        into.add(made)
        _tracked.current.append(made)
        return result

    setattr(cls, name, classmethod(tracking) if is_classmethod else tracking)


def install_tracking() -> None:
    """Wrap the constructors of the objects that hold secrets (once per process)."""
    global _installed
    if _installed:
        return
    from lockcloud import LockCloud
    from lockcloud.events import EventStream
    from lockcloud.sim import Simulator

    _track_after(Simulator, "__init__", _tracked.simulators)
    _track_after(LockCloud, "__init__", _tracked.clouds)
    _track_after(EventStream, "__init__", _tracked.streams)
    _installed = True


def _add_access_secret(registry: SecretRegistry, access_id: object, secret: object) -> None:
    from lockcloud.crypto import pulsar_password

    if not isinstance(secret, str):
        return
    registry.add(secret, "access secret")
    if len(secret) >= 24:
        registry.add(secret[8:24], "Pulsar message key")
    if isinstance(access_id, str) and access_id:
        registry.add(pulsar_password(access_id, secret), "Pulsar auth1 password")


def _live_tokens(registry: SecretRegistry) -> None:
    """The tokens held right now (they may be retired before the test ends)."""
    for sim in list(_tracked.simulators):
        for token in list(sim.world.tokens.values()):
            registry.add(token.access_token, "access token")
            registry.add(token.refresh_token, "refresh token")
    for cloud in list(_tracked.clouds):
        token = cloud.tokens._token
        if token is not None:
            registry.add(token.access_token, "access token")
            registry.add(token.refresh_token, "refresh token")


def harvest(registry: SecretRegistry) -> None:
    """Everything the tracked objects minted or hold, now."""
    from lockcloud.crypto import encrypt_ticket_key

    _live_tokens(registry)
    for sim in list(_tracked.simulators):
        secret = sim.access_secret
        _add_access_secret(registry, sim.access_id, secret)
        for ticket in list(sim.world.tickets.values()):
            registry.add(ticket.key, "decrypted ticket key")
            registry.add(encrypt_ticket_key(ticket.key, secret), "ticket key")
        for lock in list(sim.world.locks.values()):
            for media in lock.media:
                registry.add(media.file_key, "media file key")
                registry.add(media.video_key, "media video key")
    for cloud in list(_tracked.clouds):
        _add_access_secret(registry, cloud.access_id, cloud._access_secret)
    for stream in list(_tracked.streams):
        options = getattr(stream.source, "options", None)
        _add_access_secret(registry, getattr(options, "access_id", None), stream._access_secret)


def record_text(record: logging.LogRecord) -> str:
    """Everything of a record a handler could print."""
    try:
        parts = [record.getMessage()]
    except Exception:
        parts = [str(record.msg), repr(record.args)]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(logging.Formatter().formatException(record.exc_info))
    for extra in (record.exc_text, record.stack_info):
        if extra:
            parts.append(extra)
    for name, value in vars(record).items():
        # type(), not isinstance(): websockets puts a weak proxy of its connection on each record, and
        # isinstance() on a proxy whose connection is gone raises ReferenceError.
        if name not in _PLAIN_ATTRIBUTES and type(value) is str:
            parts.append(value)
    return "\n".join(parts)


class _Capture(logging.Handler):
    def __init__(self, on_record: Callable[[], None]) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []
        self._on_record = on_record

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        with contextlib.suppress(
            Exception
        ):  # another thread may be changing what is read; never break logging
            self._on_record()


class SecretGuard:
    """The guard of one test (the ``secret_guard`` fixture)."""

    def __init__(self, registry: SecretRegistry) -> None:
        self.registry = registry
        self._capture = _Capture(functools.partial(_live_tokens, registry))
        self._root_level: int | None = None

    @property
    def records(self) -> list[logging.LogRecord]:
        return self._capture.records

    def register(self, value: str | bytes, kind: str = "registered by the test") -> None:
        self.registry.add(value, kind)

    def start(self) -> None:
        root = logging.getLogger()
        self._root_level = root.level
        root.setLevel(logging.DEBUG)
        root.addHandler(self._capture)

    def stop(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self._capture)
        if self._root_level is not None:
            root.setLevel(self._root_level)
            self._root_level = None

    def leaks(self, records: list[logging.LogRecord] | None = None) -> list[Leak]:
        harvest(self.registry)
        found = []
        for record in self.records if records is None else records:
            text = record_text(record)
            hits = self.registry.find(text)
            if not hits:
                continue
            masked = text
            for kind, secret in hits:
                masked = re.sub(re.escape(secret), f"<{kind}>", masked, flags=re.IGNORECASE)
            for kind, _ in hits:
                lines = masked.splitlines() or [""]
                line = next((line for line in lines if f"<{kind}>" in line), lines[0])
                found.append(Leak(kind, record.name, record.levelname, line[:300]))
        return found

    @contextlib.contextmanager
    def expect_leaks(self) -> Iterator[list[Leak]]:
        """Records made inside the block are checked at its end into the yielded list, and not at teardown."""
        first = len(self.records)
        leaks: list[Leak] = []
        try:
            yield leaks
        finally:
            inside = self.records[first:]
            del self.records[first:]
            leaks.extend(self.leaks(inside))


_registry = SecretRegistry()
_current: SecretGuard | None = None


def pytest_configure(config: pytest.Config) -> None:
    install_tracking()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    global _current
    _current = SecretGuard(_registry)
    _current.start()
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    global _current
    try:
        result = yield
    finally:
        guard, _current = _current, None
        if guard is not None:
            guard.stop()
    leaks = guard.leaks() if guard is not None else []
    _tracked.current.clear()
    if leaks:
        listed = "\n".join(f"  {leak}" for leak in leaks[:20])
        pytest.fail(f"secrets appeared in {len(leaks)} captured log record(s):\n{listed}", pytrace=False)
    return result


@pytest.fixture
def secret_guard() -> SecretGuard:
    """This test's guard: ``register()`` more secrets, look at ``leaks()``, or ``expect_leaks()`` on purpose."""
    assert _current is not None, "the secret guard plugin is not capturing"
    return _current
