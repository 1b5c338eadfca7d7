"""The exception tree in ``lockcloud._core.errors``' docstring is the users' map: it must hold every exported exception,
each under its real parent, and name nothing that is not there."""

from __future__ import annotations

import importlib
import pkgutil
import re
from types import ModuleType

import lockcloud
import lockcloud._core.errors

# Drawn like `├── Name (also X)   what it means`: the column of the name is its depth.
_TREE_LINE = re.compile(r"^(?P<lead>[ │├└─]*)(?P<name>[A-Z]\w*)")


def _public_modules() -> list[ModuleType]:
    modules = [lockcloud]
    for info in pkgutil.walk_packages(lockcloud.__path__, "lockcloud."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            modules.append(importlib.import_module(info.name))
    return modules


def _exported_exceptions() -> dict[str, type[BaseException]]:
    """Every exception or warning class a public module of lockcloud lists in ``__all__``, by name."""
    found: dict[str, type[BaseException]] = {}
    for module in _public_modules():
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, BaseException):
                assert found.setdefault(name, value) is value, f"two exported exceptions named {name}"
    return found


def _tree() -> dict[str, str | None]:
    """``{name: parent name}`` as the docstring's tree draws it (None for the root)."""
    doc = lockcloud._core.errors.__doc__ or ""
    block = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        match = _TREE_LINE.match(line)
        assert match, f"not a tree line: {line!r}"
        depth, name = len(match["lead"]), match["name"]
        while stack and stack[-1][0] >= depth:
            stack.pop()
        assert name not in parents, f"{name} is drawn twice"
        parents[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return parents


def test_the_walk_sees_the_exceptions_outside_the_top_level_package() -> None:
    # Guards the walk itself: were it to miss subpackages, the checks below would pass on too little.
    exported = _exported_exceptions()
    assert {
        "LockCloudError",
        "PortUnavailableError",
        "SourceClosed",
        "PlaintextPulsarWarning",
    } <= exported.keys()


def test_every_exported_exception_is_in_the_tree_under_its_real_parent() -> None:
    exported = _exported_exceptions()
    tree = _tree()
    errors = {name: cls for name, cls in exported.items() if issubclass(cls, lockcloud.LockCloudError)}
    assert sorted(errors.keys() - tree.keys()) == [], "exported but missing from the tree"
    assert sorted(tree.keys() - errors.keys()) == [], "drawn in the tree but not exported"
    for name, parent in tree.items():
        cls = errors[name]
        if parent is None:
            assert cls is lockcloud.LockCloudError
            continue
        # The nearest ancestor that the tree draws must be the one it is drawn under.
        nearest = next(base for base in cls.__mro__[1:] if base.__name__ in tree)
        assert nearest.__name__ == parent, (
            f"{name} is drawn under {parent}, but derives from {nearest.__name__}"
        )


def test_the_tree_names_a_second_base_wherever_there_is_one() -> None:
    tree_text = (lockcloud._core.errors.__doc__ or "").split("::\n\n", 1)[1].split("\n\n", 1)[0]
    for name, cls in _exported_exceptions().items():
        if not issubclass(cls, lockcloud.LockCloudError) or name == "LockCloudError":
            continue
        builtin_bases = [base.__name__ for base in cls.__bases__ if base.__module__ == "builtins"]
        for base in builtin_bases:
            assert re.search(rf"\b{name} \(also {base}\)", tree_text), (
                f"{name} should say it is also a {base}"
            )


def test_exported_exceptions_outside_the_tree_are_named_in_the_docstring() -> None:
    doc = lockcloud._core.errors.__doc__ or ""
    outside = {
        name: cls
        for name, cls in _exported_exceptions().items()
        if not issubclass(cls, lockcloud.LockCloudError)
    }
    # The warnings, and the simulator's stand-in for a dropped connection.
    assert {"InsecureTransportWarning", "PlaintextPulsarWarning", "SimulatedDisconnect"} <= outside.keys()
    for name, cls in outside.items():
        assert re.search(rf"\b{name}\b", doc), f"{cls.__module__}.{name} is exported but not described"
