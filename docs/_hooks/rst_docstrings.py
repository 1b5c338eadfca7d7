"""A griffe extension that lets mkdocstrings render lockcloud's reStructuredText-flavoured docstrings as Markdown.

lockcloud's docstrings use two pieces of reST that Markdown does not know:

* roles such as ``:class:`~lockcloud.APIError``` or ``:meth:`EventStream.subscribe```. Each becomes a cross-reference
  to the rendered object when the name resolves to something the API reference shows, and inline code otherwise (a
  private helper, a module without a page), so that ``mkdocs build --strict`` never meets a dangling link;
* literal blocks introduced by a paragraph ending in ``::``. Each becomes a fenced code block, marked as Python when
  it parses as Python (top-level ``await`` allowed) and as plain text otherwise;
* definition lists (a term on its own line, its definition indented below it), which Markdown would run together
  into one paragraph. Each becomes a Markdown definition list (the ``def_list`` extension).

Only the docstrings in memory are changed, never the source files. Loaded from ``mkdocs.yml``::

    extensions:
      - docs/_hooks/rst_docstrings.py:RstDocstrings:
          public_modules: [lockcloud, lockcloud.events, ...]   # the modules the reference renders
"""

from __future__ import annotations

import ast
import functools
import re
import textwrap
from collections.abc import Iterable, Iterator
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?P<role>class|meth|func|attr|mod|exc|data|obj|const):`(?P<target>[^`]+)`")
_CALLABLE_ROLES = frozenset({"meth", "func"})


class RstDocstrings(griffe.Extension):
    """Rewrite roles and literal blocks in every docstring of a loaded package."""

    def __init__(self, public_modules: Iterable[str] = ()) -> None:
        super().__init__()
        self.public_modules = tuple(public_modules)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        shown = _shown_paths(pkg, self.public_modules)
        for obj in _walk(pkg):
            if obj.docstring is not None:
                text = _definition_lists(_literal_blocks(obj.docstring.value))
                obj.docstring.value = _ROLE.sub(functools.partial(_role, obj=obj, pkg=pkg, shown=shown), text)


def _walk(obj: griffe.Object) -> Iterator[griffe.Object]:
    yield obj
    for member in obj.members.values():
        # An alias shows its target's docstring, which is rewritten where the target is defined.
        if not member.is_alias:
            yield from _walk(member)  # type: ignore[arg-type]


def _canonical(obj: griffe.Object | griffe.Alias) -> str | None:
    try:
        return obj.final_target.path if obj.is_alias else obj.path  # type: ignore[union-attr]
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _shown_paths(pkg: griffe.Module, modules: Iterable[str]) -> set[str]:
    """Canonical paths of everything the reference pages render: the modules and their public members."""
    shown: set[str] = set()

    def add(obj: griffe.Object | griffe.Alias) -> None:
        path = _canonical(obj)
        if path is None or path in shown:
            return
        shown.add(path)
        target = obj.final_target if obj.is_alias else obj
        if target.is_class:
            for name, member in target.members.items():
                if not name.startswith("_"):
                    add(member)

    for module_path in modules:
        module = _lookup(pkg, module_path)
        if module is None:
            continue
        shown.add(module_path)
        for member in module.members.values():
            if member.is_public and not member.is_module:
                add(member)
    return shown


def _lookup(pkg: griffe.Module, path: str) -> griffe.Object | griffe.Alias | None:
    if path == pkg.path:
        return pkg
    if not path.startswith(pkg.path + "."):
        return None
    try:
        return pkg[path[len(pkg.path) + 1 :]]
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _scopes(obj: griffe.Object) -> Iterator[str]:
    """Where a relative name in ``obj``'s docstring may live: ``obj`` itself, then each enclosing object."""
    current: griffe.Object | None = obj
    while current is not None:
        yield current.path
        current = current.parent


def _role(match: re.Match[str], *, obj: griffe.Object, pkg: griffe.Module, shown: set[str]) -> str:
    written = match["target"].strip()
    short = written.startswith("~")
    name = written.lstrip("~.").removesuffix("()")
    label = name.rsplit(".", 1)[-1] if short else name
    if match["role"] in _CALLABLE_ROLES:
        label += "()"
    candidates = [name, *(f"{scope}.{name}" for scope in _scopes(obj))]
    for candidate in candidates:
        found = _lookup(pkg, candidate)
        if found is not None:
            path = _canonical(found)
            if path in shown:
                return f"[`{label}`][{path}]"
            break
    # Not rendered anywhere (private, or a module without a page): plain code rather than a dead link.
    return f"`{label}`"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _language(code: str) -> str:
    try:
        compile(code, "<docstring>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError:
        return "text"
    return "python"


def _literal_blocks(text: str) -> str:
    """``Paragraph::`` + indented block -> ``Paragraph:`` + fenced block (``::`` alone on its line disappears)."""
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.rstrip()
        if stripped.endswith("::") and not stripped.lstrip().startswith(("```", "..")):
            margin = _indent(line)
            start = index + 1
            while start < len(lines) and not lines[start].strip():
                start += 1
            end = start
            while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > margin):
                end += 1
            if end == start and index == 0:
                # A summary line ending in "::" loses its indentation to the docstring's own, so its block
                # arrives at the same level: take it up to the next blank line.
                while end < len(lines) and lines[end].strip():
                    end += 1
            block = lines[start:end]
            while block and not block[-1].strip():
                block.pop()
            if block:
                lead = stripped[:-2]
                if lead.strip():
                    # reST: "text::" reads "text:", "text ::" reads "text".
                    out.append(lead.rstrip() if lead.endswith(" ") else lead + ":")
                    out.append("")
                code = textwrap.dedent("\n".join(block))
                fence = " " * margin
                out.append(f"{fence}```{_language(code)}")
                out.extend(f"{fence}{code_line}".rstrip() for code_line in code.split("\n"))
                out.append(f"{fence}```")
                if end < len(lines) and lines[end].strip():
                    out.append("")
                index = end
                continue
        out.append(line)
        index += 1
    return "\n".join(out)


_LIST_ITEM = re.compile(r"^\s*(?:[*+-]|\d+[.)])\s")


def _is_term(lines: list[str], index: int, *, after_definition: bool = False) -> bool:
    line = lines[index]
    if not line.strip() or index == 0 or index + 1 >= len(lines):
        return False
    if lines[index - 1].strip() and not after_definition:
        return False
    following = lines[index + 1]
    return (
        bool(following.strip())
        and _indent(following) > _indent(line)
        and not _LIST_ITEM.match(line)
        and not line.rstrip().endswith(":")
    )


def _definition_lists(text: str) -> str:
    """``term`` + indented definition -> ``term`` + ``:   definition``, outside fenced code."""
    lines = text.split("\n")
    out: list[str] = []
    index = 0
    in_fence = False
    after_definition = False
    while index < len(lines):
        line = lines[index]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if in_fence or not _is_term(lines, index, after_definition=after_definition):
            out.append(line)
            index += 1
            after_definition = False
            continue
        if after_definition:
            out.append("")  # Markdown wants the items of a definition list apart
        margin = _indent(line)
        end = index + 1
        while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > margin):
            end += 1
        while not lines[end - 1].strip():
            end -= 1
        body = textwrap.dedent("\n".join(lines[index + 1 : end])).split("\n")
        fence = " " * margin
        out.append(line)
        out.append(f"{fence}:   {body[0]}")
        out.extend(f"{fence}    {body_line}".rstrip() for body_line in body[1:])
        index = end
        # The next term of the same list may follow at once, as reST allows.
        after_definition = (
            index < len(lines) and bool(lines[index].strip()) and _indent(lines[index]) == margin
        )
    return "\n".join(out)
