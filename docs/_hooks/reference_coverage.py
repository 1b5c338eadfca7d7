"""An MkDocs hook that keeps the API reference complete as the code changes.

The reference pages place most names by hand (``::: lockcloud.LockCloud`` under "The client"), so a name added to
a module's ``__all__`` would otherwise go undocumented without anyone noticing. Two steps prevent that:

* **Placing the rest.** A page may hold the marker ``<!-- reference: the rest of MODULE -->``. It is replaced by a
  section rendering every name ``MODULE`` exports that no ``:::`` directive of the reference pages renders already
  (by its own path, where it is defined, or as part of a whole module), or by nothing when there is none.
* **Checking.** After the build, each name exported by a module listed in ``extra.api_modules`` of ``mkdocs.yml``
  must have an anchor on some page; a missing one is a warning, which fails ``mkdocs build --strict``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import griffe

log = logging.getLogger("mkdocs.hooks.reference_coverage")

_ANCHOR = re.compile(r'\bid="([A-Za-z_]\w*(?:\.\w+)+)"')
_DIRECTIVE = re.compile(r"^::: *(\S+)", re.MULTILINE)
_REST_MARKER = re.compile(r"^<!-- reference: the rest of (\S+) -->$", re.MULTILINE)

_packages: dict[str, griffe.Module] = {}


def on_pre_build(config: Any, **kwargs: Any) -> None:
    # Every build (mkdocs serve rebuilds) reads the code afresh.
    _packages.clear()


def on_page_markdown(markdown: str, *, page: Any, config: Any, **kwargs: Any) -> str:
    if not _REST_MARKER.search(markdown):
        return markdown
    placed = _placed(Path(config.docs_dir), _root(config))
    return _REST_MARKER.sub(lambda match: _rest_of(match[1], placed, _root(config)), markdown)


def on_post_build(config: Any, **kwargs: Any) -> None:
    anchors: set[str] = set()
    for page in Path(config.site_dir).rglob("*.html"):
        anchors.update(_ANCHOR.findall(page.read_text(encoding="utf-8")))
    for module_path in config.extra.get("api_modules", []):
        module = _module(module_path, _root(config))
        for name in _exports(module):
            if _paths_of(module, name).isdisjoint(anchors):
                log.warning(
                    "%s.%s is public, but no page of the API reference renders it: add it to docs/reference/",
                    module_path,
                    name,
                )


def _root(config: Any) -> str:
    return str(Path(config.config_file_path).parent)


def _module(path: str, root: str) -> griffe.Object:
    top, _, rest = path.partition(".")
    if top not in _packages:
        _packages[top] = griffe.load(top, search_paths=[root], resolve_aliases=True)
    return _packages[top][rest] if rest else _packages[top]


def _exports(module: griffe.Object) -> list[str]:
    """``__all__``, or without one the public names the module defines itself (not what it imports)."""
    exports = getattr(module, "exports", None)
    if exports is not None:
        return [str(export) for export in exports]
    return [
        name for name, member in module.members.items() if not name.startswith("_") and not member.is_alias
    ]


def _paths_of(module: griffe.Object, name: str) -> set[str]:
    """Every path a name is known by: under the module, where it is defined, and each re-export of it."""
    paths = {f"{module.path}.{name}"}
    member = module.members.get(name)
    if member is not None:
        try:
            target = member.final_target if member.is_alias else member
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return paths
        paths.add(target.path)
        paths.update(target.aliases)
    return paths


def _placed(docs_dir: Path, root: str) -> set[str]:
    """Paths the reference pages render through their ``:::`` directives (a module renders what it exports)."""
    placed: set[str] = set()
    for page in (docs_dir / "reference").rglob("*.md"):
        for identifier in _DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            placed.add(identifier)
            try:
                obj = _module(identifier, root)
            except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
                continue
            if obj.is_module:
                for name in _exports(obj):
                    placed.update(_paths_of(obj, name))
            else:
                placed.add(obj.final_target.path if obj.is_alias else obj.path)  # type: ignore[union-attr]
    return placed


def _rest_of(module_path: str, placed: set[str], root: str) -> str:
    module = _module(module_path, root)
    rest = [name for name in _exports(module) if _paths_of(module, name).isdisjoint(placed)]
    if not rest:
        return ""
    directives = "\n\n".join(
        f"::: {module_path}.{name}\n    options:\n      heading_level: 3" for name in rest
    )
    return f"## More from `{module_path}`\n\n{directives}\n"
