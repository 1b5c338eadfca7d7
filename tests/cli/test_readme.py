"""The README's enrollment loop, run as written against the simulator: each count of presses is printed once."""

from __future__ import annotations

import contextlib
import io
import re
import textwrap
from pathlib import Path

import pytest

from lockcloud import UnlockType, UserType
from lockcloud.sim import running

pytestmark = pytest.mark.broker

README = Path(__file__).parents[2] / "README.md"


def enrollment_snippet() -> str:
    text = README.read_text()
    section = text[text.index("**Enrollment as one conversation.**") :]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return textwrap.dedent(block.group(1))


async def test_the_readme_enrollment_loop_prints_each_count_once() -> None:
    snippet = enrollment_snippet()
    code = "async def snippet():\n" + textwrap.indent(snippet, "    ") + "    return enrollment\n"
    async with running(press_interval=0.02) as server:
        server.simulator.add_user("u1")  # the README's user
        async with server.client() as cloud, cloud.events(firehose=False) as stream:
            namespace = {
                "cloud": cloud,
                "stream": stream,
                "device_id": server.devices["front_door"],
                "UserType": UserType,
                "UnlockType": UnlockType,
            }
            exec(compile(code, str(README), "exec"), namespace)
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                enrollment = await namespace["snippet"]()
    lines = printed.getvalue().splitlines()
    assert lines[:-1] == [f"{count} presses to go" for count in (5, 4, 3, 2, 1, 0)]
    assert "COMPLETED" in lines[-1]
    assert enrollment.result.ok
