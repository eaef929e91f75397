"""The quote document's fonts, and text turned into markup that draws each character with a
real glyph.

A character the base font lacks is drawn with the CJK font when that has it; else with its
compatibility form (NFKC) when the base font has that (fullwidth "￥" becomes "¥", fullwidth
letters become ASCII); else as "?". Invisible format characters (joiners, variation
selectors, direction marks) are dropped. The page never shows a missing-glyph box.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

# A font's warning is the quote document's: logged under its name.
log = logging.getLogger("core.quote_pdf")

_SPACES = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029]+")
_lock = threading.Lock()


@dataclass(frozen=True)
class Face:
    name: str  # the name the font is registered under with reportlab
    cmap: Mapping[int, int]  # code point -> glyph


@dataclass(frozen=True)
class Fonts:
    regular: Face
    bold: Face
    cjk: Face | None


_faces: dict[str, Face | None] = {}  # by registered name


def bundled(path: Path, name: str) -> Face:
    """Register a font shipped with the product; one that cannot be read is our bug."""
    face = _register(path, name)
    if face is None:
        raise RuntimeError(f"the bundled font {path} cannot be read")
    return face


def _register(path: Path, name: str) -> Face | None:
    """Register a TrueType font (the first face of a .ttc) once per process."""
    with _lock:  # one font object per name, even when two threads render the first quote
        if name not in _faces:
            try:
                font = TTFont(name, str(path))
            except (OSError, TTFError) as exc:
                log.warning("font %s is unusable: %s", path, exc)
                _faces[name] = None
            else:
                pdfmetrics.registerFont(font)
                _faces[name] = Face(name, font.face.charToGlyph)
        return _faces[name]


@lru_cache(maxsize=8)
def first_cjk(paths: tuple[Path, ...]) -> Face | None:
    """The first of `paths` that exists and reads as a font, registered; None if none does."""
    for path in paths:
        if path.is_file():
            face = _register(path, f"Quote-CJK-{path.stem}")
            if face is not None:
                return face
    return None


def _clean(text: str) -> str:
    """Composed characters, one space for any run of blanks or controls, no format chars."""
    text = _SPACES.sub(" ", unicodedata.normalize("NFC", text))
    return "".join(
        c
        for c in text
        if unicodedata.category(c) != "Cf"
        and not ("\ufe00" <= c <= "\ufe0f" or "\U000e0100" <= c <= "\U000e01ef")
    )


def markup(text: str, base: Face, cjk: Face | None) -> str:
    """Paragraph markup for plain `text`: escaped, each character in a font that has it."""
    runs: list[tuple[str | None, str]] = []
    for char in _clean(text):
        face, shown = _glyph(char, base, cjk)
        if runs and runs[-1][0] == face:
            runs[-1] = (face, runs[-1][1] + shown)
        else:
            runs.append((face, shown))
    return "".join(
        escape(t) if face is None else f'<font face="{face}">{escape(t)}</font>' for face, t in runs
    )


def _glyph(char: str, base: Face, cjk: Face | None) -> tuple[str | None, str]:
    """The font (None: the paragraph's own) and the text that draws `char`."""
    if ord(char) in base.cmap:
        return None, char
    if cjk is not None and ord(char) in cjk.cmap:
        return cjk.name, char
    folded = unicodedata.normalize("NFKC", char)
    if folded != char and all(ord(c) in base.cmap for c in folded):
        return None, folded
    return None, "?"
