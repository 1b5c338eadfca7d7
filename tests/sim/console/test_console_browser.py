"""The console's page in a real browser: Debian's chromium, headless, driven by selenium over loopback.

Skipped, saying why, only where chromium or chromedriver is not installed (``.ci/run`` installs both). Selenium's
calls block, so they run in a worker thread while the simulator serves on the test's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio

from lockcloud.enrollment import EnrollmentStatus
from lockcloud.enums import UnlockType, UserType
from lockcloud.events import StatusReport
from lockcloud.sim import DEMO_PIN, SimServer

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: How long the browser is given for one thing to appear (a guard against hanging, not a measurement).
PATIENCE = 20

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(
        not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
        reason=f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): "
        "apt-get install chromium chromium-driver",
    ),
]

webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the [tests] extra)")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

T = TypeVar("T")


class Browser:
    """A headless chromium whose blocking calls run in a thread."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    async def run(self, call: Callable[[], T]) -> T:
        return await asyncio.to_thread(call)

    async def until(self, condition: Callable[[Any], T]) -> T:
        wait = WebDriverWait(self.driver, PATIENCE, poll_frequency=0.05)
        return await asyncio.to_thread(wait.until, condition)

    def card(self, device_id: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, f'article[data-device-id="{device_id}"]')

    async def open(self, server: SimServer) -> None:
        assert server.console_url is not None
        await self.run(lambda: self.driver.get(server.console_url))
        await self.until(lambda d: d.find_element(By.ID, "connection").text == "live")


def _chromium(profile: Path) -> Any:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1200,900",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest_asyncio.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    driver = await asyncio.to_thread(_chromium, tmp_path / "chromium-profile")
    try:
        yield Browser(driver)
    finally:
        await asyncio.to_thread(driver.quit)


async def _reported_until(reports: Any, code: str) -> dict[str, Any]:
    """The status codes of the lock's reports on the client's stream, up to the one that carries ``code`` (a lock
    may say it all in one report or in several)."""
    reported: dict[str, Any] = {}
    async with asyncio.timeout(PATIENCE):
        while code not in reported:
            event = await anext(reports)
            reports.ack(event)
            assert isinstance(event, StatusReport)
            reported.update({item.code: item.value for item in event.status})
    return reported


@pytest.mark.lockcloud_sim(presses={"fingerprint": 3})
async def test_place_finger_in_the_page_completes_the_clients_enrollment(
    browser: Browser, server: SimServer
) -> None:
    front = server.devices["front_door"]
    await browser.open(server)
    async with server.client() as cloud, cloud.events(url=server.pulsar_url) as stream:
        async with cloud.enroll(
            front,
            user_id="sim-alice",
            user_type=UserType.HOME_USER,
            unlock_type=UnlockType.FINGERPRINT,
            events=stream,
        ) as enrollment:
            periods = []
            async for progress in enrollment:
                periods.append(progress.period)
                if len(periods) < 2:  # the lock says the count twice before the first press
                    continue
                done = 3 - progress.period
                if progress.finish:
                    break

                def shown(driver: Any, done: int = done) -> Any:
                    card = browser.card(front)
                    text = card.find_element(By.CSS_SELECTOR, ".enroll-text").text
                    button = card.find_element(By.CSS_SELECTOR, 'button[data-action="press"]')
                    return button if f"{done} of 3 done" in text and button.is_displayed() else False

                button = await browser.until(shown)
                assert button.text == "Place finger"
                await browser.run(button.click)
        result = enrollment.result
    assert result.status is EnrollmentStatus.COMPLETED
    assert result.key is not None
    assert periods == [3, 3, 2, 1, 0]
    # The page shows the new key under its member, and the enrollment box is gone.
    await browser.until(
        lambda d: f"#{result.key.unlock_no} fingerprint" in browser.card(front).text  # type: ignore[union-attr]
    )
    assert not browser.card(front).find_element(By.CSS_SELECTOR, ".enrolling").is_displayed()


async def test_typed_pin_reaches_the_clients_stream_and_the_feeds(
    browser: Browser, server: SimServer
) -> None:
    front = server.devices["front_door"]
    await browser.open(server)
    async with server.client() as cloud, cloud.events(url=server.pulsar_url) as stream:
        reports = stream.subscribe(device_id=front, where=lambda event: event.protocol == 4)
        pin = browser.card(front).find_element(By.CSS_SELECTOR, 'input[data-field="pin"]')
        # From the keyboard: type into the keypad field and press Enter.
        await browser.run(lambda: pin.send_keys(DEMO_PIN + Keys.ENTER))
        reported = await _reported_until(reports, "closed_opened")
    assert (reported["unlock_password"], reported["closed_opened"]) == (1, "open")
    await browser.until(lambda d: "unlocked with key #1" in d.find_element(By.ID, "outcome").text)
    assert pin.get_attribute("value") == ""
    door = browser.card(front).find_element(By.CSS_SELECTOR, 'dd[data-field="door"]')
    await browser.until(lambda d: door.text == "open")
    pushes = browser.driver.find_element(By.ID, "push-list")
    await browser.until(lambda d: "unlock_password" in pushes.text)
    assert DEMO_PIN not in browser.driver.page_source


async def test_outside_text_is_shown_as_text_and_the_page_fits_360_px(
    browser: Browser, server: SimServer
) -> None:
    hostile = "<img src=x onerror=\"document.title='owned'\"><b>bold</b>"
    lock = server.simulator.add_lock("wifi", "sim-hostile", name=hostile)
    await browser.open(server)
    await browser.run(lambda: browser.driver.set_window_size(360, 800))
    card = browser.card(lock.device_id)
    assert card.find_element(By.CSS_SELECTOR, "h3").text == hostile
    assert card.find_elements(By.CSS_SELECTOR, "img, b") == []
    assert browser.driver.title != "owned"
    width = await browser.run(
        lambda: browser.driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
    )
    assert width[0] <= width[1]
    # The page's own assets only: nothing it loads shows up among the app's REST calls.
    assert server.simulator.requests == []
    # The server refuses what the page's own form would let through.
    pin = card.find_element(By.CSS_SELECTOR, 'input[data-field="pin"]')
    await browser.run(lambda: pin.send_keys("12ab" + Keys.ENTER))
    await browser.until(lambda d: d.find_element(By.ID, "outcome").text.startswith("pin:"))
    assert "bad" in (browser.driver.find_element(By.ID, "outcome").get_attribute("class") or "")


async def test_buttons_act_through_the_simulator(browser: Browser, server: SimServer) -> None:
    back = server.devices["back_door"]
    sim = server.simulator
    await browser.open(server)
    card = browser.card(back)

    async def press(action: str) -> None:
        button = card.find_element(By.CSS_SELECTOR, f'button[data-action="{action}"]')
        before = browser.driver.find_element(By.ID, "outcome").text
        await browser.run(button.click)
        await browser.until(lambda d: d.find_element(By.ID, "outcome").text not in ("", before))

    await press("ring_doorbell")
    assert sim.lock(back).pending_remote_request is True
    await press("battery")
    await browser.until(
        lambda d: card.find_element(By.CSS_SELECTOR, 'dd[data-field="battery"]').text == "75%"
    )
    await press("online")
    assert sim.lock(back).online is False
    await browser.until(
        lambda d: card.find_element(By.CSS_SELECTOR, 'button[data-action="online"]').text == "Bring online"
    )
    await press("door")
    assert sim.lock(back).door_open is True
    calls = browser.driver.find_element(By.ID, "call-list")
    async with server.client() as cloud:
        await cloud.unlock_methods.list_unassigned(server.devices["front_door"])
    await browser.until(lambda d: "/unassigned" in calls.text or "unassigned" in calls.text)


async def test_live_updates_keep_focus_and_typed_input(browser: Browser, server: SimServer) -> None:
    front, back = server.devices["front_door"], server.devices["back_door"]
    await browser.open(server)
    pin = browser.card(front).find_element(By.CSS_SELECTOR, 'input[data-field="pin"]')
    await browser.run(lambda: pin.send_keys("12"))
    server.simulator.report_status(back, {"doorbell": True})
    server.simulator.notify_watchers()
    pushes = browser.driver.find_element(By.ID, "push-list")
    await browser.until(lambda d: "doorbell" in pushes.text)
    assert browser.driver.switch_to.active_element == pin
    assert pin.get_attribute("value") == "12"


async def test_the_faults_form_reaches_the_client(browser: Browser, server: SimServer) -> None:
    from selenium.webdriver.support.ui import Select

    from lockcloud import DeviceOfflineError

    await browser.open(server)
    form = browser.driver.find_element(By.ID, "fault-form")
    await browser.run(lambda: Select(form.find_element(By.NAME, "kind")).select_by_value("fail_next"))
    assert not form.find_element(By.NAME, "seconds").is_displayed()
    action = form.find_element(By.NAME, "action")
    await browser.run(lambda: action.send_keys("list_unassigned_keys"))
    await browser.run(form.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click)
    await browser.until(lambda d: "answered 2001" in d.find_element(By.ID, "outcome").text)
    await browser.until(lambda d: "code 2001" in d.find_element(By.ID, "faults-now").text)
    async with server.client() as cloud:
        with pytest.raises(DeviceOfflineError):
            await cloud.unlock_methods.list_unassigned(server.devices["front_door"])
    await browser.until(lambda d: "code 2001" in d.find_element(By.ID, "call-list").text)


@pytest.mark.skipif(
    not hasattr(__import__("lockcloud.sim", fromlist=["Simulator"]).Simulator, "type_code"),
    reason="this simulator keeps no guest access codes (Simulator.type_code)",
)
async def test_typed_guest_code_reaches_the_clients_stream(browser: Browser, server: SimServer) -> None:
    import datetime as dt

    front = server.devices["front_door"]
    now = dt.datetime.now(dt.UTC)
    server.simulator.world.access_codes.delivery_delay = 0.01  # type: ignore[attr-defined]
    async with server.client() as cloud, cloud.events(url=server.pulsar_url) as stream:
        delivery = await cloud.access_codes.create(  # type: ignore[attr-defined]
            front,
            name="Cleaner <b>Tuesdays</b>",
            pin="482913",
            radio="zigbee",
            valid_from=now - dt.timedelta(hours=1),
            valid_until=now + dt.timedelta(days=1),
        )
        code = await delivery.delivered(timeout=PATIENCE, poll_interval=0.02)
        await browser.open(server)
        card = browser.card(front)
        await browser.until(lambda d: "Cleaner <b>Tuesdays</b>" in card.text)
        assert "482913" not in browser.driver.page_source
        reports = stream.subscribe(device_id=front, where=lambda event: event.protocol == 4)
        pin = card.find_element(By.CSS_SELECTOR, 'input[data-field="pin"]')
        await browser.run(lambda: pin.send_keys("482913" + Keys.ENTER))
        reported = await _reported_until(reports, "unlock_temporary")
    assert reported["unlock_temporary"] == code.id
    await browser.until(lambda d: "guest code" in d.find_element(By.ID, "outcome").text)
