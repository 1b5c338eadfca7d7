"""Sessions: ``nox -s tests``, ``lint``, ``typecheck``, ``bench``, ``docs``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
# A Python the package claims and this machine lacks fails the run instead of skipping its session quietly
# (pyenv's shims offer only the selected versions: name all three in `pyenv global` or PYENV_VERSION).
nox.options.error_on_missing_interpreters = True

#: Every Python the package supports (the classifiers in pyproject.toml say the same); tests run on each.
PYTHONS = ["3.11", "3.12", "3.13"]
#: Lint, typecheck and benchmarks need one interpreter: the oldest supported, which mypy also targets.
PYTHON = PYTHONS[0]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    session.install("-e", ".[tests]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("-e", ".[lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[tests]")
    session.run("mypy", "--strict", "lockcloud")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks print a table and write benchmarks/results.json. The official SDK is installed only here."""
    session.install("-e", ".[tests]", "tuya-connector-python")
    session.run("python", "benchmarks/run_all.py", *session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/; any warning (a broken link, a docstring griffe cannot read) fails."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})
