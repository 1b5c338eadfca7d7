"""The examples of the testing guide are tests themselves: run them, as a user's project would, with the plugin."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide" / "testing.md"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_the_testing_guide_examples_pass(tmp_path: Path) -> None:
    blocks = _PYTHON_BLOCK.findall(GUIDE.read_text(encoding="utf-8"))
    # Blocks that call the reader's own application (make_app) cannot run here; all the others must.
    runnable = [block for block in blocks if "make_app" not in block]
    assert len(runnable) >= 4, "the guide lost its examples"
    source = "import pytest\n\n" + "\n\n".join(runnable)
    tests = len(re.findall(r"^(?:async )?def test_", source, re.MULTILINE))
    (tmp_path / "test_guide.py").write_text(source)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_guide.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"the guide's examples failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")
    assert f"{tests} passed" in result.stdout, result.stdout
