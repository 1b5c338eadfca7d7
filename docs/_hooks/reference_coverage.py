"""An MkDocs hook: every public name of the documented modules must appear in the API reference.

The reference pages name what they render (``::: lockcloud.LockCloud``), so a name added to a module's ``__all__``
would otherwise go undocumented without anyone noticing. After the build, each name exported by a module listed in
``extra.api_modules`` of ``mkdocs.yml`` must have an anchor on some page, under its public path or where it is
defined; a missing one is a warning, which fails ``mkdocs build --strict``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import griffe

log = logging.getLogger("mkdocs.hooks.reference_coverage")

_ANCHOR = re.compile(r'\bid="([A-Za-z_]\w*(?:\.\w+)+)"')


def on_post_build(config: Any, **kwargs: Any) -> None:
    anchors: set[str] = set()
    for page in Path(config.site_dir).rglob("*.html"):
        anchors.update(_ANCHOR.findall(page.read_text(encoding="utf-8")))
    root = str(Path(config.config_file_path).parent)
    packages: dict[str, griffe.Module] = {}
    for module_path in config.extra.get("api_modules", []):
        top, _, rest = module_path.partition(".")
        if top not in packages:
            packages[top] = griffe.load(top, search_paths=[root], resolve_aliases=True)
        module = packages[top][rest] if rest else packages[top]
        for name in (str(export) for export in module.exports or ()):
            if not _rendered(module, module_path, name, anchors):
                log.warning(
                    "%s.%s is public, but no page of the API reference renders it: add it to docs/reference/",
                    module_path,
                    name,
                )


def _rendered(module: griffe.Object, module_path: str, name: str, anchors: set[str]) -> bool:
    paths = {f"{module_path}.{name}"}
    member = module.members.get(name)
    if member is not None:
        try:
            target = member.final_target if member.is_alias else member
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            pass
        else:
            # Rendered where it is defined, or under any name it is re-exported as (``lockcloud.Region``).
            paths.add(target.path)
            paths.update(target.aliases)
    return not paths.isdisjoint(anchors)
