"""A quote as a PDF document: the same quote gives the same bytes (no clock, no random id).

Every number, amount, percentage and date is formatted by `core.formatting` in the
partner's locale, as in the emails; the wording is English. The page is US Letter in the
countries that use it and A4 elsewhere.

Fonts: DejaVu Sans (bundled in core/fonts) draws Latin, Greek, Cyrillic and the currency
signs. Characters DejaVu lacks are drawn, one by one, with the first CJK TrueType font of
`CJK_FONT_PATHS` that exists (the Debian packages fonts-wqy-zenhei, fonts-wqy-microhei,
fonts-droid-fallback); a deployment with another font sets that tuple.

Where no font has a character, `core.quote_fonts` draws a stand-in (see there). The
prospect's domain is always shown in its ASCII (punycode) form too, so a name drawn as "?"
still names the customer.
"""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from core import formatting
from core.domains import display_both
from core.locales import locale_for
from core.models import Quote
from core.quote_fonts import Fonts, bundled, first_cjk, markup

FONT_DIR = Path(__file__).resolve().parent / "fonts"
CJK_FONT_PATHS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)
# CLDR supplementalData.xml, measurementData/paperSize type="US-Letter": Babel's CLDR data
# leaves measurementData out. Every other country uses A4.
LETTER_COUNTRIES = (
    "BZ",
    "CA",
    "CL",
    "CO",
    "CR",
    "GT",
    "MX",
    "NI",
    "PA",
    "PH",
    "PR",
    "SV",
    "US",
    "VE",
)

_REGULAR = "Quote-DejaVuSans"  # the bundled font's registered name; its bold adds "-Bold"
_MARGIN = 18 * mm
_PAD = 4  # a table cell's padding: text outside tables is indented as much
_GREY = colors.HexColor("#6b7280")
_RULE = colors.HexColor("#d1d5db")
_SHADE = colors.HexColor("#f3f4f6")


def filename(quote: Quote) -> str:
    """Name the quote's PDF file: "Q-000001.pdf"."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", quote.number) + ".pdf"


def render(quote: Quote, vendor_name: str) -> bytes:
    """Render `quote` as a PDF for its partner, in the partner's locale."""
    fonts = Fonts(
        bundled(FONT_DIR / "DejaVuSans.ttf", _REGULAR),
        bundled(FONT_DIR / "DejaVuSans-Bold.ttf", _REGULAR + "-Bold"),
        first_cjk(tuple(CJK_FONT_PATHS)),
    )
    out = io.BytesIO()
    doc = _document(out, quote, vendor_name)
    writer = _Writer(fonts, locale_for(quote.partner.country, quote.partner.locale), doc.width)
    doc.build(writer.story(quote, vendor_name))
    return out.getvalue()


def _document(out: io.BytesIO, quote: Quote, vendor_name: str) -> BaseDocTemplate:
    """The page: its size, margins, metadata and footer."""
    doc = BaseDocTemplate(
        out,
        pagesize=LETTER if quote.partner.country.upper() in LETTER_COUNTRIES else A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN,
        title=f"Quote {quote.number}",
        author=vendor_name,
        creator=vendor_name,
        invariant=1,  # no timestamp or random id in the file
        initialFontName=_REGULAR,  # not Helvetica: every font in the file is embedded
    )
    number = quote.number

    def footer(canvas: Any, page: Any) -> None:
        canvas.setFont(_REGULAR, 8)
        canvas.setFillColor(_GREY)
        right = doc.pagesize[0] - _MARGIN - _PAD
        canvas.drawRightString(right, _MARGIN / 2, f"{number} · page {page.page}")

    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, 0, 0, 0, 0)
    doc.addPageTemplates([PageTemplate("page", frames=[frame], onPage=footer)])
    return doc


# A quote kept as a document after it stopped standing says so at its top.
_NO_LONGER_STANDS = {
    "superseded": "SUPERSEDED by a later quote",
    "void": "VOID: the deal was withdrawn",
}


class _Writer:
    """Builds the page's flowables for one locale and frame width."""

    def __init__(self, fonts: Fonts, locale: str, width: float) -> None:
        self.fonts, self.locale, self.width = fonts, locale, width
        body = ParagraphStyle("body", fontName=fonts.regular.name, fontSize=9.5, leading=12.5)
        bold = ParagraphStyle("bold", body, fontName=fonts.bold.name)
        title = ParagraphStyle("title", bold, fontSize=16, leading=20)
        self.styles = {
            "body": body,
            "bold": bold,
            "label": ParagraphStyle("label", body, textColor=_GREY),
            "right": ParagraphStyle("right", body, alignment=TA_RIGHT),
            "right_bold": ParagraphStyle("right_bold", bold, alignment=TA_RIGHT),
            "title": title,
            "title_right": ParagraphStyle("title_right", title, alignment=TA_RIGHT),
            "note": ParagraphStyle(
                "note", body, fontSize=8.5, textColor=_GREY, leftIndent=_PAD, rightIndent=_PAD
            ),
        }

    def p(self, text: str, style: str = "body") -> Paragraph:
        st = self.styles[style]
        base = self.fonts.bold if st.fontName == self.fonts.bold.name else self.fonts.regular
        return Paragraph(markup(text, base, self.fonts.cjk), st)

    def money(self, amount: Decimal, currency: str) -> str:
        return formatting.money(amount, currency, self.locale)

    def story(self, quote: Quote, vendor_name: str) -> list[Any]:
        valid = formatting.day(quote.valid_until, self.locale)
        standing = _NO_LONGER_STANDS.get(quote.status or "valid")
        notice = [self.p(standing, "title"), Spacer(1, 3 * mm)] if standing else []
        return [
            self.heading(quote, vendor_name),
            Spacer(1, 5 * mm),
            *notice,
            self.details(quote),
            Spacer(1, 7 * mm),
            self.items(quote),
            Spacer(1, 5 * mm),
            self.p(f"Prices in {quote.currency} · quote valid until {valid}", "note"),
        ]

    def heading(self, quote: Quote, vendor_name: str) -> Table:
        title = [self.p(vendor_name, "title"), self.p(f"Quote {quote.number}", "title_right")]
        w = self.width
        rule = ("LINEBELOW", (0, 0), (-1, 0), 1, colors.black)
        return Table([title], colWidths=[0.62 * w, 0.38 * w], style=_style(rule))

    def details(self, quote: Quote) -> Table:
        """Who the quote is for (left) and its numbers and dates (right), each its own column."""
        deal, loc = quote.deal, self.locale
        # The deal's own company name: the prospect keeps its first registration's, which
        # may be another partner's.
        company = deal.company_name if deal is not None else quote.prospect.company_name
        left = [
            ("Partner", quote.partner.name),
            ("Customer", company),
            ("Domain", display_both(quote.prospect.domain)),
            ("Product", quote.product.name),
        ]
        right = [
            ("Quote", quote.number),
            ("Deal", deal.number if deal is not None else ""),
            ("Issued", formatting.day(quote.created_at, loc)),
            ("Valid until", formatting.day(quote.valid_until, loc)),
            ("Protection ends", formatting.day(deal.protection_expires_at, loc) if deal else ""),
            ("Currency", quote.currency),
        ]
        w = self.width
        columns = [self.pairs(left, 0.13 * w, 0.42 * w), self.pairs(right, 0.19 * w, 0.26 * w)]
        flush = [("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)]
        return Table([columns], colWidths=[0.55 * w, 0.45 * w], style=_style(*flush))

    def pairs(self, pairs: list[tuple[str, str]], label_w: float, value_w: float) -> Table:
        """Label and value rows, leaving out the empty ones."""
        rows = [[self.p(k, "label"), self.p(v, "bold")] for k, v in pairs if v]
        return Table(rows, colWidths=[label_w, value_w], style=_style())

    def items(self, quote: Quote) -> Table:
        """The lines: items, then the list amount, the deductions and the total."""
        cur, loc = quote.currency, self.locale
        head = ["Item", "Unit price", "Users", "Term", "Amount"]
        rows = [[self.p(h, "right_bold" if i else "bold") for i, h in enumerate(head)]]
        for line in (line for line in quote.lines if line.kind == "list"):
            cells = [
                self.money(line.unit_price, cur),
                formatting.number(line.quantity, loc),
                f"{formatting.number(line.term_months, loc)} months",
                self.money(line.amount, cur),
            ]
            rows.append([self.p(line.description), *(self.p(c, "right") for c in cells)])
        first = len(rows)
        rows.append(self.summary("List amount", quote.list_amount, cur))
        for line in (line for line in quote.lines if line.kind != "list"):
            label = line.description
            if line.pct is not None:
                label += f" ({formatting.pct(line.pct, loc)})"
            rows.append(self.summary(label, -abs(line.amount), cur))
        rows.append(self.summary(f"Total ({cur})", quote.total, cur, bold=True))
        spans = [("SPAN", (0, r), (3, r)) for r in range(first, len(rows))]
        return Table(
            rows,
            colWidths=[self.width - 300, 88, 50, 66, 96],
            repeatRows=1,
            style=_style(
                ("BACKGROUND", (0, 0), (-1, 0), _SHADE),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, _RULE),
                ("LINEABOVE", (0, first), (-1, first), 0.75, _RULE),
                ("LINEABOVE", (0, -1), (-1, -1), 1, colors.black),
                *spans,
            ),
        )

    def summary(self, label: str, amount: Decimal, currency: str, bold: bool = False) -> list[Any]:
        """A row with a label across the first four columns and an amount."""
        styles = ("bold", "right_bold") if bold else ("body", "right")
        money = self.p(self.money(amount, currency), styles[1])
        return [self.p(label, styles[0]), "", "", "", money]


def _style(*commands: Any) -> TableStyle:
    pads = [(f"{side}PADDING", (0, 0), (-1, -1), _PAD) for side in ("LEFT", "RIGHT")]
    return TableStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("FONTNAME", (0, 0), (-1, -1), _REGULAR),  # the tables' own default is Helvetica
            *pads,
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            *commands,
        ]
    )
