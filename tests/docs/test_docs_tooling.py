"""The two pieces of the docs build that are code: the griffe extension and the reference coverage hook.

Both run on a small package written into a temporary directory, so that these tests do not depend on the wording
of lockcloud's own docstrings. ``mkdocs build --strict`` in CI checks them on the real package.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import textwrap
import types
from pathlib import Path

import pytest

griffe = pytest.importorskip("griffe", reason="the docs extra is not installed")

HOOKS = Path(__file__).resolve().parents[2] / "docs" / "_hooks"


def _load_hook(name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(f"lockcloud_docs_{name}", HOOKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


rst = _load_hook("rst_docstrings")
coverage = _load_hook("reference_coverage")


def _write_package(root: Path) -> None:
    package = root / "demo_pkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            '''\
            """Start with :class:`Client`; errors are in :mod:`demo_pkg._errors`, see :func:`~demo_pkg.helpers.ping`."""

            from demo_pkg._client import Client
            from demo_pkg._errors import DemoError

            __all__ = ["Client", "DemoError"]
            '''
        )
    )
    (package / "_errors.py").write_text('class DemoError(Exception):\n    """Base error."""\n')
    (package / "_client.py").write_text(
        textwrap.dedent(
            '''\
            class Client:
                """A client; :meth:`Client.call` sends, :meth:`_secret` is private.

                Use it like this::

                    async with Client() as client:
                        await client.call()
                """

                def call(self) -> None:
                    """Send one call; raises :class:`~demo_pkg.DemoError`."""

                def _secret(self) -> None:
                    """Not documented."""
            '''
        )
    )
    (package / "helpers.py").write_text(
        '"""Helpers."""\n\n__all__ = ["ping", "pong"]\n\n\ndef ping() -> None:\n    """Ping."""\n\n\n'
        'def pong() -> None:\n    """Pong."""\n'
    )


@pytest.fixture
def package_root(tmp_path: Path) -> Path:
    _write_package(tmp_path)
    return tmp_path


def _loaded(package_root: Path, public_modules: list[str]) -> griffe.Module:
    extensions = griffe.load_extensions(rst.RstDocstrings(public_modules=public_modules))
    return griffe.load("demo_pkg", search_paths=[str(package_root)], extensions=extensions)


def test_roles_link_to_rendered_objects_and_fall_back_to_code(package_root: Path) -> None:
    package = _loaded(package_root, ["demo_pkg", "demo_pkg.helpers"])
    summary = package.docstring.value
    assert "[`Client`][demo_pkg._client.Client]" in summary
    # A private module has no page: plain code, not a link that --strict would reject.
    assert "`demo_pkg._errors`" in summary
    assert "[`demo_pkg._errors`]" not in summary
    # ``~`` keeps the last component as the label; functions get their parentheses.
    assert "[`ping()`][demo_pkg.helpers.ping]" in summary

    client = package["_client.Client"].docstring.value
    assert "[`Client.call()`][demo_pkg._client.Client.call]" in client
    assert "`_secret()`" in client
    assert "[`_secret()`]" not in client
    assert "[`DemoError`][demo_pkg._errors.DemoError]" in package["_client.Client.call"].docstring.value


def test_a_module_left_out_of_the_reference_is_not_linked(package_root: Path) -> None:
    package = _loaded(package_root, ["demo_pkg"])
    assert "`ping()`" in package.docstring.value
    assert "[`ping()`]" not in package.docstring.value


def test_literal_blocks_become_fenced_code(package_root: Path) -> None:
    client = _loaded(package_root, ["demo_pkg"])["_client.Client"].docstring.value
    assert (
        "Use it like this:\n\n```python\nasync with Client() as client:\n    await client.call()\n```"
        in client
    )
    assert "::" not in client


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Run::\n\n    x = 1\n\nAfter.", "Run:\n\n```python\nx = 1\n```\n\nAfter."),
        ("A tree ::\n\n    a\n    ├── b\n", "A tree\n\n```text\na\n├── b\n```"),
        ("Intro.\n\n::\n\n    x = 1\n", "Intro.\n\n```python\nx = 1\n```"),
        # A summary line loses its indentation to the docstring's, so its block arrives at the same level.
        (
            "Talks in-process::\n\nawait f()\n\nMore.",
            "Talks in-process:\n\n```python\nawait f()\n```\n\nMore.",
        ),
        ("  * item::\n\n        y = 2\n", "  * item:\n\n  ```python\n  y = 2\n  ```"),
        ("No block follows::\n", "No block follows::\n"),
    ],
)
def test_literal_block_shapes(text: str, expected: str) -> None:
    assert rst._literal_blocks(text) == expected


def _site(tmp_path: Path, package_root: Path, html: str, modules: list[str]) -> types.SimpleNamespace:
    site = tmp_path / "site"
    (site / "reference").mkdir(parents=True)
    (site / "reference" / "index.html").write_text(html)
    return types.SimpleNamespace(
        site_dir=str(site),
        config_file_path=str(package_root / "mkdocs.yml"),
        extra={"api_modules": modules},
    )


def test_coverage_hook_accepts_names_rendered_under_any_of_their_paths(
    tmp_path: Path, package_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Client under its public path, DemoError where it is defined, the helpers under theirs.
    html = (
        '<h2 id="demo_pkg.Client">Client</h2><h2 id="demo_pkg._errors.DemoError">DemoError</h2>'
        '<h2 id="demo_pkg.helpers.ping">ping</h2><h2 id="demo_pkg.helpers.pong">pong</h2>'
    )
    config = _site(tmp_path, package_root, html, ["demo_pkg", "demo_pkg.helpers"])
    with caplog.at_level(logging.WARNING, logger="mkdocs.hooks.reference_coverage"):
        coverage.on_post_build(config)
    assert caplog.records == []


def test_coverage_hook_warns_for_each_public_name_without_an_entry(
    tmp_path: Path, package_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = _site(
        tmp_path, package_root, '<h2 id="demo_pkg.Client">Client</h2>', ["demo_pkg", "demo_pkg.helpers"]
    )
    with caplog.at_level(logging.WARNING, logger="mkdocs.hooks.reference_coverage"):
        coverage.on_post_build(config)
    missing = sorted(record.getMessage().split(" ")[0] for record in caplog.records)
    assert missing == ["demo_pkg.DemoError", "demo_pkg.helpers.ping", "demo_pkg.helpers.pong"]


def _docs(tmp_path: Path, package_root: Path, page: str) -> types.SimpleNamespace:
    reference = tmp_path / "docs" / "reference"
    reference.mkdir(parents=True)
    (reference / "api.md").write_text(page)
    coverage.on_pre_build(None)
    return types.SimpleNamespace(
        docs_dir=str(tmp_path / "docs"), config_file_path=str(package_root / "mkdocs.yml")
    )


def test_the_rest_marker_renders_what_no_directive_places(tmp_path: Path, package_root: Path) -> None:
    page = "# API\n\n::: demo_pkg.Client\n\n<!-- reference: the rest of demo_pkg -->\n"
    config = _docs(tmp_path, package_root, page)
    markdown = coverage.on_page_markdown(page, page=None, config=config)
    assert "<!--" not in markdown
    assert "## More from `demo_pkg`\n\n::: demo_pkg.DemoError\n" in markdown
    assert markdown.count("::: demo_pkg.Client") == 1


def test_the_rest_marker_vanishes_when_everything_is_placed(tmp_path: Path, package_root: Path) -> None:
    # The whole module where DemoError is defined counts as placing it.
    page = "::: demo_pkg.Client\n\n::: demo_pkg._errors\n\n<!-- reference: the rest of demo_pkg -->\n"
    config = _docs(tmp_path, package_root, page)
    assert (
        coverage.on_page_markdown(page, page=None, config=config)
        == "::: demo_pkg.Client\n\n::: demo_pkg._errors\n\n\n"
    )


def test_definition_lists_become_markdown_ones() -> None:
    text = (
        "Fixtures:\n\n``sim``\n    A simulator\n    with the demo world.\n``server`` (async)\n    Served.\n\n"
        "After.\n\n```python\nx = 1\n\nif x:\n    y = 2\n```"
    )
    assert rst._definition_lists(text) == (
        "Fixtures:\n\n``sim``\n:   A simulator\n    with the demo world.\n\n``server`` (async)\n:   Served.\n\n"
        "After.\n\n```python\nx = 1\n\nif x:\n    y = 2\n```"
    )


def test_list_items_and_section_titles_are_not_terms() -> None:
    text = "Intro.\n\n* item\n    continued\n\nOptions:\n    kept as written\n"
    assert rst._definition_lists(text) == text
