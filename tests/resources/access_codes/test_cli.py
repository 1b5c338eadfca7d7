"""``lockcloud codes``: every subcommand through ``main()`` against a simulator served over loopback from a thread of
its own (the CLI runs its own event loop), times read and shown in the local zone, errors in one line naming the
flag."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from lockcloud.cli import main
from lockcloud.sim import Simulator, running

pytestmark = pytest.mark.usefixtures("without_lockcloud_environment")

FROM = "2030-05-03 15:00"
UNTIL = "2030-05-05 11:00"


class Served:
    """A simulator served by uvicorn on a thread with its own event loop, until ``stop()``."""

    def __init__(self) -> None:
        self.simulator = Simulator()
        self.simulator.world.access_codes.delivery_delay = 0.05
        self.loop = asyncio.new_event_loop()
        self._ready: Future[str] = Future()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self._serve(),), daemon=True
        )
        self._thread.start()
        self.base_url = self._ready.result(timeout=30)

    async def _serve(self) -> None:
        try:
            async with running(self.simulator, broker=False) as server:
                self._ready.set_result(server.base_url)
                await self._stop.wait()
        except BaseException as error:
            if not self._ready.done():
                self._ready.set_exception(error)
            raise

    def call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
        self.loop.close()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    server = Served()
    monkeypatch.setenv("LOCKCLOUD_ACCESS_ID", server.simulator.access_id)
    monkeypatch.setenv("LOCKCLOUD_ACCESS_SECRET", server.simulator.access_secret)
    monkeypatch.setenv("LOCKCLOUD_BASE_URL", server.base_url)
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    try:
        yield server
    finally:
        server.stop()
        monkeypatch.undo()
        time.tzset()


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def test_create_list_show_freeze_delete_clear(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    front = "sim-front-door"
    common = ["--name", "Guest", "--from", FROM, "--until", UNTIL, "--radio", "zigbee", "--json"]
    assert main(["codes", "create", front, "--pin", "482913", *common]) == 0
    created = _json(capsys)
    assert created["state"] == "active"
    assert created["delivery_status"] == "succeeded"
    # Read and shown in the local zone (TZ=Europe/Paris here): the same wall-clock times come back.
    assert (created["valid_from"], created["valid_until"]) == (FROM, UNTIL)
    code = served.simulator.world.access_codes.codes_of(front)[created["id"]]
    start = dt.datetime(2030, 5, 3, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert code.effective_time == int(start.timestamp())
    number = str(created["id"])
    assert main(["codes", "list", front, "--valid", "--json"]) == 0
    assert [row["id"] for row in _json(capsys)["codes"]] == [created["id"]]
    assert main(["codes", "freeze", front, number, "--json"]) == 0
    assert _json(capsys)["frozen"] is True
    assert main(["codes", "show", front, number, "--json"]) == 0
    assert _json(capsys)["state"] == "frozen"
    assert main(["codes", "unfreeze", front, number]) == 0
    assert f"code #{number} unfrozen" in capsys.readouterr().out
    assert main(["codes", "list", front]) == 0
    text = capsys.readouterr().out
    assert f"#{number}  Guest  active  {FROM} -> {UNTIL}" in text
    assert main(["codes", "delete", front, number]) == 0
    assert f"code #{number} deleted" in capsys.readouterr().out
    assert main(["codes", "clear", front, "--yes", "--json"]) == 0
    assert _json(capsys)["cleared"] is True
    assert main(["codes", "list", front, "--valid", "--json"]) == 0
    assert _json(capsys)["codes"] == []


def test_a_schedule_and_a_pin_from_stdin(
    served: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("4829137\n"))
    args = [
        "codes",
        "create",
        "sim-back-door",
        "--name",
        "Office",
        "--pin",
        "-",
        "--from",
        FROM,
        "--until",
        UNTIL,
    ]
    args += ["--radio", "wifi", "--days", "mon,tue,wed,thu,fri", "--hours", "09:00-17:00", "--json"]
    assert main([*args, "--time-zone", "Europe/Paris"]) == 0
    created = _json(capsys)
    assert created["schedules"] == [{"days": ["fri", "mon", "thu", "tue", "wed"], "hours": "09:00-17:00"}]
    friday_noon = dt.datetime(2030, 5, 3, 16, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))).timestamp()
    saturday = friday_noon + 86400
    assert served.call(served.simulator.type_code("sim-back-door", "4829137", at=friday_noon)) is True
    assert served.call(served.simulator.type_code("sim-back-door", "4829137", at=saturday)) is False


def test_offline_and_dynamic_codes_are_printed(served: Served, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "codes",
                "offline",
                "sim-back-door",
                "--from",
                "2030-05-03 15:20",
                "--until",
                UNTIL,
                "--round",
                "--json",
            ]
        )
        == 0
    )
    offline = _json(capsys)
    assert offline["code"].isdigit()
    assert (offline["valid_from"], offline["valid_until"], offline["kind"]) == (FROM, UNTIL, "multiple")
    assert main(["codes", "offline", "sim-back-door", "--once", "--json"]) == 0
    assert _json(capsys)["kind"] == "once"
    assert main(["codes", "offline", "sim-back-door", "--clear", str(offline["id"]), "--json"]) == 0
    assert _json(capsys)["kind"] == "clear_one"
    assert main(["codes", "offline", "sim-back-door", "--clear-all"]) == 0
    assert "clear_all" in capsys.readouterr().out
    assert main(["codes", "dynamic", "sim-back-door", "--json"]) == 0
    assert _json(capsys)["code"].isdigit()


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (
            [
                "create",
                "sim-front-door",
                "--name",
                "G",
                "--pin",
                "48291",
                "--from",
                FROM,
                "--until",
                UNTIL,
                "--radio",
                "zigbee",
            ],
            "--pin:",
        ),
        (
            [
                "create",
                "sim-front-door",
                "--name",
                "G",
                "--pin",
                "482913",
                "--from",
                "Friday",
                "--until",
                UNTIL,
                "--radio",
                "zigbee",
            ],
            "--from:",
        ),
        (
            [
                "create",
                "sim-front-door",
                "--name",
                "G",
                "--pin",
                "482913",
                "--from",
                UNTIL,
                "--until",
                FROM,
                "--radio",
                "zigbee",
            ],
            "--until:",
        ),
        (
            [
                "create",
                "sim-front-door",
                "--name",
                "x" * 51,
                "--pin",
                "482913",
                "--from",
                FROM,
                "--until",
                UNTIL,
                "--radio",
                "zigbee",
            ],
            "--name:",
        ),
        (
            [
                "create",
                "sim-back-door",
                "--name",
                "G",
                "--pin",
                "4829137",
                "--from",
                FROM,
                "--until",
                UNTIL,
                "--radio",
                "wifi",
                "--days",
                "mon",
                "--hours",
                "09:00-24:00",
            ],
            "--hours:",
        ),
        (
            [
                "create",
                "sim-back-door",
                "--name",
                "G",
                "--pin",
                "4829137",
                "--from",
                FROM,
                "--until",
                UNTIL,
                "--radio",
                "wifi",
                "--days",
                "funday",
                "--hours",
                "09:00-17:00",
            ],
            "--days:",
        ),
        (
            [
                "create",
                "sim-back-door",
                "--name",
                "G",
                "--pin",
                "4829137",
                "--from",
                FROM,
                "--until",
                UNTIL,
                "--radio",
                "wifi",
                "--time-zone",
                "Mars/Base",
            ],
            "--time-zone:",
        ),
        (["offline", "sim-back-door", "--from", "2030-05-03 15:20", "--until", UNTIL], "--from/--until:"),
        (["offline", "sim-back-door", "--once", "--clear-all"], "--once and --clear-all:"),
    ],
    ids=["pin", "from", "until", "name", "hours", "days", "zone", "offline hours", "two kinds"],
)
def test_bad_values_are_one_line_naming_the_flag(
    served: Served, capsys: pytest.CaptureFixture[str], args: list[str], flag: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["codes", *args])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"lockcloud: {flag}"), err
    assert "Traceback" not in err
    assert "482913" not in err
    assert served.simulator.executed("create_temp_password") == []


def test_a_refused_code_is_one_line_with_the_reason(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    from lockcloud import DeliveryStatus

    served.simulator.world.access_codes.delivery_failure = DeliveryStatus.CAPACITY_REACHED
    args = ["codes", "create", "sim-front-door", "--name", "G", "--pin", "482913", "--radio", "zigbee"]
    with pytest.raises(SystemExit) as exited:
        main([*args, "--from", FROM, "--until", UNTIL])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "not delivered" in err
    assert "capacity_reached" in err
    assert "482913" not in err
