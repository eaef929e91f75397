"""The reader's locale, from the partner record (English wording, local formats)."""

from __future__ import annotations

from functools import lru_cache

from babel import Locale, UnknownLocaleError


@lru_cache(maxsize=256)
def locale_for(country: str | None, explicit: str | None = None) -> str:
    """Return a babel locale id: the explicit one if valid, else English as used in `country`."""
    for candidate in (explicit, f"en_{country}" if country else None):
        if not candidate:
            continue
        try:
            return str(Locale.parse(candidate))
        except (ValueError, UnknownLocaleError):
            continue
    return "en_GB"
