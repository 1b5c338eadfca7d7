"""`import lockcloud` loads its public names on first use, and the lazy map cannot drift from what it exports."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import lockcloud

INIT = Path(lockcloud.__file__)


def _type_checking_imports() -> dict[str, str]:
    """Name -> module of every import under ``if TYPE_CHECKING:`` in lockcloud/__init__.py (what type checkers see)."""
    tree = ast.parse(INIT.read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom)
                assert statement.module is not None
                for alias in statement.names:
                    found[alias.asname or alias.name] = statement.module
    return found


def test_every_exported_name_has_one_home_that_type_checkers_see_too() -> None:
    homes = lockcloud._HOMES
    # __version__ is the one name imported eagerly.
    assert set(homes) == {*lockcloud.__all__, "RedisTokenStore"} - {"__version__"}
    assert _type_checking_imports() == homes


def test_every_exported_name_resolves_to_its_home() -> None:
    for name in set(lockcloud.__all__) - {"__version__"}:
        value = getattr(lockcloud, name)
        assert value is getattr(sys.modules[lockcloud._HOMES[name]], name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        lockcloud.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_import_lockcloud_loads_nothing_until_a_name_is_used() -> None:
    probe = (
        "import sys, json; import lockcloud; before = set(sys.modules); lockcloud.LockCloud; "
        "print(json.dumps({'before': sorted(before), 'after': sorted(sys.modules)}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    before, after = set(loaded["before"]), set(loaded["after"])
    for heavy in ("httpx", "attrs", "lockcloud._client", "lockcloud.models", "lockcloud.events"):
        assert heavy not in before
    assert {"httpx", "lockcloud._client"} <= after
    # The client alone does not pull in the models, the resources or the push side.
    for later in ("lockcloud.models", "lockcloud.history_models", "lockcloud.resources.enrollment", "cattrs"):
        assert later not in after


def test_a_star_import_gives_every_exported_name() -> None:
    namespace: dict[str, object] = {}
    exec("from lockcloud import *", namespace)
    assert set(lockcloud.__all__) <= set(namespace)
    assert "RedisTokenStore" not in namespace
