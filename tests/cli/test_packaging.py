"""The package says the same thing everywhere: one version, the Pythons it supports, how it is run."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import tomllib
from pathlib import Path

import lockcloud

ROOT = Path(__file__).parents[2]


def test_one_source_for_the_version() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["hatch"]["version"]["path"] == "lockcloud/_version.py"
    written = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "lockcloud").rglob("*.py")
        if re.search(r"^__version__\s*=", path.read_text(), re.MULTILINE)
    ]
    assert written == ["lockcloud/_version.py"]
    # The installed metadata was built from it.
    assert importlib.metadata.version("lockcloud") == lockcloud.__version__


def test_classifiers_and_nox_name_the_same_pythons() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    classified = sorted(
        c.rsplit(" :: ", 1)[1]
        for c in pyproject["project"]["classifiers"]
        if re.fullmatch(r".*Python :: 3\.\d+", c)
    )
    assert classified == ["3.11", "3.12", "3.13"]
    assert pyproject["project"]["requires-python"] == ">=3.11"
    noxfile = ast.parse((ROOT / "noxfile.py").read_text())
    pythons = next(
        node.value
        for node in noxfile.body
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PYTHONS" for t in node.targets)
    )
    assert ast.literal_eval(pythons) == classified
