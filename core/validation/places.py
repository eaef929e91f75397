"""Countries and their subdivisions."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pycountry

from core.fields import label_for
from core.validation._common import _as_text, _Bad, _is_blank, _key, _show, _single_line

# -- country and state ----------------------------------------------------------------------------

COUNTRY_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(
        ["uk", "britain", "great britain", "england", "scotland", "wales", "northern ireland"],
        "GB",
    ),
    **dict.fromkeys(["america", "united states of america"], "US"),
    **dict.fromkeys(["uae", "emirates"], "AE"),
    "russia": "RU",
    "turkey": "TR",
    "holland": "NL",
    "vatican": "VA",
    "ivory coast": "CI",
    "cape verde": "CV",
    "swaziland": "SZ",
    "macedonia": "MK",
    "brunei": "BN",
    "drc": "CD",
    "dr congo": "CD",
}


@lru_cache(maxsize=1)
def _country_index() -> dict[str, str]:
    """Map folded codes, names and common names to alpha-2 codes."""
    index: dict[str, str] = {}
    short: dict[str, set[str]] = {}
    for c in pycountry.countries:
        for name in (c.alpha_2, c.alpha_3, c.name, *_optional_names(c)):
            index.setdefault(_key(name), c.alpha_2)
        short.setdefault(_key(c.name.split(",")[0]), set()).add(c.alpha_2)
    for name, codes in short.items():  # "Moldova" for "Moldova, Republic of", when unique
        if len(codes) == 1:
            index.setdefault(name, codes.pop())
    index.update({_key(k): v for k, v in COUNTRY_SYNONYMS.items()})
    return index


def _optional_names(country: Any) -> list[str]:
    return [n for n in (getattr(country, a, None) for a in ("common_name", "official_name")) if n]


def _country(value: Any) -> str:
    text = _single_line(_as_text(value))
    code = _country_index().get(_key(text))
    if code is None:
        raise _Bad(f"{_show(text)} is not a country (use a name or a code such as GB or US)")
    return code


def _country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return str(country.name) if country else code


def _country_or_none(value: Any) -> str | None:
    try:
        return None if _is_blank(value) else _country(value)
    except _Bad:
        return None


def _subdivisions(country: str) -> list[Any]:
    found = pycountry.subdivisions.get(country_code=country.upper())  # type: ignore[no-untyped-call]
    return list(found or [])


def states_for(country: str) -> list[tuple[str, str]]:
    """Return the top-level subdivisions of a country as (code, name), sorted by name."""
    subs = _subdivisions(country)
    return sorted(((s.code, s.name) for s in subs if s.parent_code is None), key=lambda s: s[1])


STATE_OPTIONAL = frozenset({"GB"})


def _state_required(country: str | None) -> bool:
    return country is not None and country not in STATE_OPTIONAL and bool(states_for(country))


@lru_cache(maxsize=64)
def _state_index(country: str) -> tuple[dict[str, str], dict[str, str]]:
    """A country's subdivisions by upper-case code and by folded name, built once."""
    subs = sorted(_subdivisions(country), key=lambda s: (s.parent_code is not None, s.code))
    by_code: dict[str, str] = {s.code.upper(): s.code for s in subs}
    by_name: dict[str, str] = {}
    for sub in subs:
        by_name.setdefault(_key(sub.name), str(sub.code))  # the first in order wins, as before
    return by_code, by_name


def _state(value: Any, country: str | None) -> str | None:
    if country is None:
        return None  # the country's own error says what to fix
    text = _single_line(_as_text(value))
    by_code, by_name = _state_index(country)
    upper = text.upper().replace(" ", "")
    for code in (upper, f"{country}-{upper}"):
        if code in by_code:
            return by_code[code]
    if _key(text) in by_name:
        return by_name[_key(text)]
    if not by_code:
        return None  # nothing to choose from: a state is not part of this address
    word = label_for("state", country).lower()
    name = _country_name(country)
    example = f"{states_for(country)[0][1]} or {states_for(country)[0][0]}"
    raise _Bad(f"{_show(text)} is not a {word} of {name} (e.g. {example})")
