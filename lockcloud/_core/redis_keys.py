"""Key names that Redis Cluster keeps together: the keys one operation touches must hash to one slot.

Redis Cluster hashes only the part of a key between the first ``{`` and the next ``}`` (its *hash tag*) when
there is one, and the whole key otherwise. So ``{K}:bell`` lands in the slot of ``K`` itself when ``K`` has no tag,
and ``K:bell`` in the slot of ``K`` when it has one: either way a key's companions live beside it, on the same node,
while the key itself keeps the name it always had.
"""

from __future__ import annotations

from lockcloud._core.errors import ValidationError

__all__ = ["beside", "hash_tag"]


def hash_tag(key: str) -> str | None:
    """The part of ``key`` Redis Cluster hashes, when it is not the whole key (``None`` then)."""
    start = key.find("{")
    if start == -1:
        return None
    end = key.find("}", start + 1)
    if end in (-1, start + 1):
        return None  # no closing brace, or "{}": the whole key is hashed
    return key[start + 1 : end]


def beside(key: str, suffix: str, *, option: str = "key") -> str:
    """A key named after ``key`` + ``suffix`` in the same Redis Cluster hash slot as ``key``."""
    if hash_tag(key) is not None:
        return key + suffix
    if "}" in key:
        # A "}" would end the tag early: no name wrapping this key hashes like it.
        raise ValidationError(
            f"{option} must not hold a '}}' outside a {{hash tag}}: its companion keys could not share its "
            "Redis Cluster slot (put a hash tag in it, e.g. 'lockcloud:{project}:events')"
        )
    return "{" + key + "}" + suffix
