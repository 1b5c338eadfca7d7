"""Unlocking methods: ``cloud.unlock_methods`` (defined in :mod:`lockcloud.resources.unlock_methods`)."""

from lockcloud.resources.unlock_methods import UnlockMethods

__all__ = ["UnlockMethods"]
