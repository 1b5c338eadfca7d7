"""The one cattrs converter every model is structured with.

What it does for every attrs model in lockcloud:

* millisecond (or second) epoch numbers become aware UTC datetimes;
* enums derived from :class:`~lockcloud.enums.OpenStrEnum` / :class:`~lockcloud.enums.OpenIntEnum` keep values Tuya adds later instead of failing;
* incoming keys are accepted in camelCase or snake_case (the API documents disagree), and unknown keys are ignored.
"""

from __future__ import annotations

import datetime as _dt
import enum
import functools
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from lockcloud.enums import OpenIntEnum, OpenStrEnum

if TYPE_CHECKING:
    import cattrs

__all__ = [
    "OpenIntEnum",
    "OpenStrEnum",
    "converter",
    "fast_converter",
    "fast_structure",
    "from_epoch",
    "structure",
    "unstructure",
]

T = TypeVar("T")

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake_case(key: str) -> str:
    """``albumList`` -> ``album_list``; snake_case keys pass unchanged."""
    return _CAMEL_BOUNDARY.sub(r"_\1", key).lower()


def from_epoch(value: Any) -> _dt.datetime:
    """An epoch number to an aware UTC datetime; 13-digit values are milliseconds, 10-digit values seconds."""
    if isinstance(value, _dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=_dt.UTC)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"not an epoch timestamp: {type(value).__name__}")
    number = float(value)
    seconds = number / 1000.0 if abs(number) >= 1e11 else number
    return _dt.datetime.fromtimestamp(seconds, tz=_dt.UTC)


def strict_bool(value: Any) -> bool:
    """JSON booleans, and the spellings Tuya uses in strings and numbers; anything else is an error.

    ``bool("false")`` is True, so the default structuring would silently flip a flag.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise ValueError(f"not a boolean: {type(value).__name__}")


def _to_epoch_ms(value: _dt.datetime) -> int:
    return round(value.timestamp() * 1000)


def _make_converter(*, detailed_validation: bool = True) -> cattrs.Converter:
    import cattrs
    from cattrs.gen import make_dict_structure_fn

    conv = cattrs.Converter(forbid_extra_keys=False, detailed_validation=detailed_validation)
    conv.register_structure_hook(_dt.datetime, lambda value, _: from_epoch(value))
    conv.register_structure_hook(bool, lambda value, _: strict_bool(value))
    conv.register_unstructure_hook(_dt.datetime, _to_epoch_ms)
    conv.register_unstructure_hook(enum.Enum, lambda member: member.value)

    def _accepting_both_cases(cls: type[Any]) -> Callable[[Any, type[Any]], Any]:
        structure_fields = make_dict_structure_fn(cls, conv)
        field_names = {f.name for f in attrs.fields(cls)}

        def structure_model(value: Any, type_: type[Any]) -> Any:
            if isinstance(value, cls):
                return value
            if not isinstance(value, Mapping):
                raise TypeError(f"{cls.__name__} expects an object, got {type(value).__name__}")
            if not all(key in field_names for key in value):
                value = {key if key in field_names else snake_case(key): item for key, item in value.items()}
            return structure_fields(value, type_)

        return structure_model

    conv.register_structure_hook_factory(attrs.has, _accepting_both_cases)
    return conv


# Built on first use, not at `import lockcloud`: cattrs and the generated structuring code are only needed once a
# call returns something to structure.
@functools.cache
def converter() -> cattrs.Converter:
    """The shared converter."""
    return _make_converter()


@functools.cache
def fast_converter() -> cattrs.Converter:
    """The same rules without cattrs' error tree: a failure costs microseconds instead of a tenth of a millisecond,
    which matters when an answer holds 100,000 bad items. Used to structure long lists item by item."""
    return _make_converter(detailed_validation=False)


def structure(value: Any, cls: type[T]) -> T:
    """Structure decoded JSON into ``cls`` with the shared converter."""
    return converter().structure(value, cls)


def fast_structure(value: Any, cls: type[T]) -> T:
    """:func:`structure` without the detailed error tree (see :func:`fast_converter`)."""
    return fast_converter().structure(value, cls)


def unstructure(value: Any) -> Any:
    return converter().unstructure(value)
