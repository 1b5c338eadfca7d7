"""The shared converter: open enums, aliases, camelCase or snake_case keys, epoch times, round trips."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Self

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockcloud._core.converter import OpenIntEnum, OpenStrEnum, from_epoch, snake_case, structure, unstructure

UTC = dt.UTC


class Method(OpenStrEnum):
    FINGERPRINT = "fingerprint"
    CARD = "card"

    @classmethod
    def _aliases(cls) -> Mapping[str, Self]:
        return {"unlock_fingerprint": cls.FINGERPRINT, "unlock_card": cls.CARD}


class Kind(OpenIntEnum):
    DOORBELL = 1
    ALARM = 2


@attrs.frozen
class Media:
    file_url: str
    event_type: Kind
    upload_time: dt.datetime
    method: Method = Method.CARD
    tags: list[str] = attrs.Factory(list)
    note: str | None = None


@attrs.frozen
class Album:
    album_list: list[Media]
    order_code: str | None = None


MOMENT = dt.datetime(2020, 5, 8, 8, 16, 18, tzinfo=UTC)


def test_open_str_enum_keeps_unknown_values() -> None:
    new = Method("palmVein")
    assert new.value == "palmVein"
    assert new == "palmVein"
    assert new.name == "UNKNOWN"
    assert not new.is_known
    assert Method("card") is Method.CARD
    assert Method.CARD.is_known
    assert structure("palmVein", Method) == "palmVein"
    assert unstructure(new) == "palmVein"


def test_open_str_enum_aliases() -> None:
    assert Method("unlock_fingerprint") is Method.FINGERPRINT
    assert structure("unlock_card", Method) is Method.CARD
    assert unstructure(Method("unlock_card")) == "card"


def test_open_str_enum_rejects_non_strings() -> None:
    with pytest.raises(ValueError):
        Method(3.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Method(None)  # type: ignore[arg-type]


def test_open_str_enum_reads_an_integer_as_its_string() -> None:
    """The documents type orderCode as Integer while their sample sends a string: both decode."""
    assert Method(3) == "3"  # type: ignore[arg-type]
    assert not Method(3).is_known  # type: ignore[arg-type]


def test_open_int_enum_keeps_unknown_values() -> None:
    new = Kind(28)
    assert new == 28
    assert not new.is_known
    assert new.name == "UNKNOWN"
    assert Kind(2) is Kind.ALARM
    assert Kind("2") is Kind.ALARM  # type: ignore[arg-type]
    assert structure(99, Kind) == 99
    assert not structure(99, Kind).is_known
    assert unstructure(Kind(99)) == 99
    with pytest.raises(ValueError):
        Kind("two")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Kind(2.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", [1588925778000, 1588925778, "1588925778000", "1588925778", 1588925778000.0, MOMENT]
)
def test_epoch_ms_and_s_become_aware_utc(value: object) -> None:
    moment = from_epoch(value)
    assert moment == MOMENT
    assert moment.tzinfo is not None
    assert moment.utcoffset() == dt.timedelta(0)


def test_epoch_keeps_milliseconds_and_naive_datetimes_become_utc() -> None:
    assert from_epoch(1588925778123) == MOMENT.replace(microsecond=123000)
    assert from_epoch(dt.datetime(2020, 5, 8, 8, 16, 18)) == MOMENT


@pytest.mark.parametrize("value", [None, True, [1], {"t": 1}])
def test_epoch_rejects_non_numbers(value: object) -> None:
    with pytest.raises(TypeError):
        from_epoch(value)


def test_snake_case() -> None:
    assert snake_case("albumList") == "album_list"
    assert snake_case("fileUrl") == "file_url"
    assert snake_case("already_snake") == "already_snake"


CAMEL = {
    "albumList": [
        {"fileUrl": "https://x/1", "eventType": 1, "uploadTime": 1588925778000, "method": "unlock_card"},
        {"fileUrl": "https://x/2", "eventType": 27, "uploadTime": 1588925778, "brandNewKey": {"a": 1}},
    ],
    "orderCode": "oc1",
    "unknownTopLevel": True,
}
SNAKE = {
    "album_list": [
        {"file_url": "https://x/1", "event_type": 1, "upload_time": 1588925778000, "method": "card"},
        {"file_url": "https://x/2", "event_type": 27, "upload_time": 1588925778},
    ],
    "order_code": "oc1",
}


def test_camel_and_snake_keys_give_the_same_model() -> None:
    camel, snake = structure(CAMEL, Album), structure(SNAKE, Album)
    assert camel == snake
    assert camel.order_code == "oc1"
    first, second = camel.album_list
    assert first.method is Method.CARD
    assert first.event_type is Kind.DOORBELL
    assert first.upload_time == MOMENT
    assert second.event_type == 27
    assert not second.event_type.is_known
    assert second.method is Method.CARD  # the default


def test_mixed_keys() -> None:
    media = structure({"file_url": "u", "eventType": 2, "upload_time": 1588925778000, "note": "n"}, Media)
    assert media == Media(file_url="u", event_type=Kind.ALARM, upload_time=MOMENT, note="n")


def test_model_needs_an_object() -> None:
    with pytest.raises(Exception, match="expects an object"):
        structure([1, 2], Media)


def test_unstructure_gives_snake_case_and_epoch_ms() -> None:
    media = Media(
        file_url="u", event_type=Kind(27), upload_time=MOMENT, method=Method("palmVein"), tags=["a"]
    )
    assert unstructure(media) == {
        "file_url": "u",
        "event_type": 27,
        "upload_time": 1588925778000,
        "method": "palmVein",
        "tags": ["a"],
        "note": None,
    }


millisecond_datetimes = st.datetimes(
    min_value=dt.datetime(2001, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))
methods = st.one_of(st.sampled_from(Method), st.text(min_size=1, max_size=12).map(Method))
kinds = st.one_of(st.sampled_from(Kind), st.integers(-(2**40), 2**40).map(Kind))
medias = st.builds(
    Media,
    file_url=st.text(max_size=20),
    event_type=kinds,
    upload_time=millisecond_datetimes,
    method=methods,
    tags=st.lists(st.text(max_size=5), max_size=3),
    note=st.none() | st.text(max_size=5),
)


@given(
    album=st.builds(
        Album, album_list=st.lists(medias, max_size=4), order_code=st.none() | st.text(max_size=8)
    )
)
def test_unstructure_structure_round_trip(album: Album) -> None:
    assert structure(unstructure(album), Album) == album
