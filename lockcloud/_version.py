"""The one place the version is written; the build reads it from here (hatch's dynamic version)."""

__version__ = "0.1.0.dev0"
