"""The quote PDF: what it shows, in the partner's formats, fonts and paper, byte for byte."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from reportlab.pdfbase.ttfonts import TTFont

from core import formatting, quote_pdf
from core.locales import locale_for
from core.models import Deal, Partner, Product, Prospect, Quote, Tier
from core.pricing import ListPrice, price_quote
from core.services.quotes import QuoteBasis, priced_quote
from tests.servers import unavailable

HOSTILE = "<script>alert(1)</script> & Co"
DROID = Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")
CREATED = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
PROTECTED_UNTIL = datetime(2027, 2, 23, 23, 30, tzinfo=UTC)
VALID_UNTIL = date(2026, 12, 25)
# As long as the columns allow (200 characters), one word longer than any line.
LONG_NAME = (
    "The Extraordinarily Long-Named International Consolidated Holdings of Greater "
    "Metropolitan Areas Incorporated " + "Supercalifragilistic" * 6
)[:200]


def make_quote(
    *,
    country: str = "GB",
    currency: str = "GBP",
    locale: str | None = None,
    company: str = "Example Holdings Ltd",
    domain: str = "example.co.uk",
    partner_name: str = "Northwind IT",
    unit: str = "3.50",
    users: int = 1000,
    with_deal: bool = True,
) -> Quote:
    """Build a priced quote in memory, with its deal, as the services would leave it."""
    tier = Tier(name="gold", discount_pct=Decimal("15"), reward_margin_pct=Decimal("12.5"))
    partner = Partner(
        name=partner_name, tier=tier, country=country, currency=currency, locale=locale
    )
    product = Product(
        code="esg",
        name="Email Security Cloud Gateway",
        unit_price=Decimal(unit),
        currency=currency,
        term_months=12,
    )
    prospect = Prospect(domain=domain, company_name=company, skeleton=domain, created_at=CREATED)
    priced = price_quote(
        ListPrice(product.name, Decimal(unit), currency, 12),
        users,
        discount_pct=Decimal("15"),
        reward_margin_pct=Decimal("12.5"),
    )
    deal = Deal(
        number="DR-000123",
        company_name=company,
        partner=partner,
        prospect=prospect,
        product=product,
        protection_expires_at=PROTECTED_UNTIL,
    )
    quote = priced_quote(
        priced,
        QuoteBasis(partner, prospect, product, users, deal=None, with_margin=True),
        quote_id=1,
        valid_until=VALID_UNTIL,
        now=CREATED,
        created_by="ann@northwind.example",
    )
    quote.deal = deal if with_deal else None
    return quote


@dataclass(frozen=True)
class Run:
    """One piece of text drawn on the page: where it starts and ends, in which font."""

    text: str
    font: str  # the embedded font's name without its subset tag: "DejaVuSans"
    x: float
    y: float
    end: float


_FONT_FILES = {
    "DejaVuSans": quote_pdf.FONT_DIR / "DejaVuSans.ttf",
    "DejaVuSans-Bold": quote_pdf.FONT_DIR / "DejaVuSans-Bold.ttf",
    "DroidSansFallback": DROID,
}
_fonts: dict[str, TTFont] = {}


def font_file(name: str) -> TTFont:
    if name not in _fonts:
        _fonts[name] = TTFont(f"test-{name}", str(_FONT_FILES[name]))
    return _fonts[name]


def runs(pdf: bytes, page: int = 0) -> list[Run]:
    """Every piece of text on a page, with its position and font (read back by pypdf)."""
    found: list[Run] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        text = text.rstrip("\n")
        if not text.strip() or font is None:
            return
        name = str(font["/BaseFont"]).lstrip("/").split("+")[-1]
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        width = font_file(name).stringWidth(text, size * tm[0] * cm[0])
        found.append(Run(text, name, x, y, x + width))

    PdfReader(io.BytesIO(pdf)).pages[page].extract_text(visitor_text=visit)
    return found


def text_of(pdf: bytes) -> str:
    """The document's text, one space for a no-break space (the font draws it as one)."""
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(p.extract_text() for p in reader.pages).replace("\xa0", " ")


def shown(value: str) -> str:
    return value.replace("\xa0", " ")


def assert_every_glyph_is_in_its_font(pdf: bytes) -> None:
    """No missing-glyph boxes: each drawn character is in the cmap of the font drawing it."""
    for run in runs(pdf):
        cmap = font_file(run.font).face.charToGlyph
        missing = [c for c in run.text if ord(c) not in cmap]
        assert not missing, f"{run.font} has no glyph for {missing} in {run.text!r}"


@pytest.fixture
def no_cjk_font(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(quote_pdf, "CJK_FONT_PATHS", (tmp_path / "no-such-font.ttf",))


@pytest.fixture
def cjk_font(monkeypatch: pytest.MonkeyPatch) -> None:
    if not DROID.is_file():
        reason = f"{DROID} is missing (the Makefile's system-packages installs it)"
        unavailable(reason)
    monkeypatch.setattr(quote_pdf, "CJK_FONT_PATHS", (DROID,))


def test_gbp_quote_shows_parties_numbers_and_dates_as_formatted_for_en_gb() -> None:
    quote = make_quote(domain="xn--bcher-kva.co.uk")
    text = text_of(quote_pdf.render(quote, "Mimecast"))
    loc = locale_for("GB")
    expected = [
        "Mimecast",
        "Northwind IT",
        "Example Holdings Ltd",
        "bücher.co.uk (xn--bcher-kva.co.uk)",
        "DR-000123",
        "Q-000001",
        "Email Security Cloud Gateway",
        "GBP",
        formatting.day(CREATED, loc),
        formatting.day(VALID_UNTIL, loc),
        formatting.day(PROTECTED_UNTIL, loc),
        formatting.number(1000, loc),
        formatting.pct(Decimal("15"), loc),
        formatting.pct(Decimal("12.5"), loc),
        *(formatting.money(m, "GBP", loc) for m in ("3.50", "42000", "-6300", "-5250", "30450")),
    ]
    for value in expected:
        assert shown(value) in text
    # ... and those are the British forms.
    for value in ("25 Nov 2026", "25 Dec 2026", "23 Feb 2027", "£42,000.00", "-£5,250.00"):
        assert value in text
    assert "Partner tier discount (15%)" in text
    assert "Deal registration reward margin (12.5%)" in text
    assert "Total (GBP)" in text and "£30,450.00" in text


def test_jpy_amounts_have_no_minor_unit() -> None:
    quote = make_quote(country="JP", currency="JPY", unit="350")
    text = text_of(quote_pdf.render(quote, "Mimecast"))
    loc = locale_for("JP")
    for amount in ("350", "4200000", "-630000", "-525000", "3045000"):
        assert shown(formatting.money(amount, "JPY", loc)) in text
    assert "¥4,200,000" in text and "¥3,045,000" in text
    assert "4,200,000.00" not in text


def test_bhd_amounts_keep_three_decimals() -> None:
    quote = make_quote(country="BH", currency="BHD", unit="1.2345", users=10)
    text = text_of(quote_pdf.render(quote, "Mimecast"))
    loc = locale_for("BH")
    assert quote.list_amount == Decimal("148.140")
    for amount in (quote.list_amount, quote.total, *(line.amount for line in quote.lines)):
        assert shown(formatting.money(amount, "BHD", loc)) in text
    assert "148.140" in text and "18.518" in text


def test_german_partner_reads_german_grouping_dates_and_euro_sign() -> None:
    quote = make_quote(country="DE", currency="EUR", locale="de_DE", unit="2.80")
    text = text_of(quote_pdf.render(quote, "Mimecast"))
    assert shown(formatting.money(Decimal("33600.00"), "EUR", "de_DE")) in text
    for value in ("33.600,00 €", "2,80 €", "1.000", "25.11.2026", "25.12.2026", "(12,5%)"):
        assert value in text


def test_company_name_with_markup_appears_literally() -> None:
    quote = make_quote(company=HOSTILE, partner_name=HOSTILE + " Partners")
    pdf = quote_pdf.render(quote, "Vendor & <b>Sons</b>")
    text = " ".join(text_of(pdf).split())
    assert HOSTILE in text
    assert HOSTILE + " Partners" in text
    assert "Vendor & <b>Sons</b>" in text


@pytest.mark.parametrize(
    "company",
    ["ООО «Ромашка» Торговый дом", "Ελληνικά Συστήματα Α.Ε."],
    ids=["cyrillic", "greek"],
)
def test_cyrillic_and_greek_names_are_drawn_with_real_glyphs(company: str) -> None:
    pdf = quote_pdf.render(make_quote(company=company, domain="xn--80aswg.xn--p1ai"), "Vendor")
    assert company in text_of(pdf)
    assert "сайт.рф (xn--80aswg.xn--p1ai)" in text_of(pdf)
    assert_every_glyph_is_in_its_font(pdf)


def test_inr_quote_shows_the_rupee_sign() -> None:
    pdf = quote_pdf.render(make_quote(country="IN", currency="INR", unit="300"), "Vendor")
    text = text_of(pdf)
    assert "₹" in text
    assert shown(formatting.money(Decimal("3600000"), "INR", locale_for("IN"))) in text
    assert_every_glyph_is_in_its_font(pdf)


def test_long_names_wrap_inside_the_margins_on_one_page() -> None:
    quote = make_quote(company=LONG_NAME, partner_name=LONG_NAME, domain="a" * 60 + ".com")
    quote.lines[0].description = LONG_NAME
    pdf = quote_pdf.render(quote, LONG_NAME)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    width = float(reader.pages[0].mediabox.width)
    drawn = runs(pdf)
    assert drawn
    for run in drawn:
        assert run.x >= 36, run
        assert run.end <= width - 36, run  # at least half an inch clear of the right edge
    # The name is broken over lines, not drawn on one.
    assert len({round(r.y) for r in drawn if "Consolidated" in r.text}) >= 4
    assert LONG_NAME.split()[-1] in text_of(pdf).replace("\n", "")  # split, nothing lost


def test_same_quote_gives_the_same_bytes_at_any_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    quote = make_quote()
    first = quote_pdf.render(quote, "Mimecast")
    assert quote_pdf.render(quote, "Mimecast") == first
    later = time.time() + 400 * 86400
    monkeypatch.setattr(time, "time", lambda: later)
    assert quote_pdf.render(quote, "Mimecast") == first
    assert datetime.now(UTC).strftime("%Y%m%d").encode() not in first


def test_us_partner_gets_letter_and_british_partner_a4() -> None:
    us = PdfReader(io.BytesIO(quote_pdf.render(make_quote(country="US", currency="USD"), "V")))
    gb = PdfReader(io.BytesIO(quote_pdf.render(make_quote(country="GB"), "V")))
    assert [round(float(v)) for v in us.pages[0].mediabox.upper_right] == [612, 792]
    assert [round(float(v)) for v in gb.pages[0].mediabox.upper_right] == [595, 842]


def test_quote_without_a_deal_leaves_deal_and_protection_out() -> None:
    text = text_of(quote_pdf.render(make_quote(with_deal=False), "Vendor"))
    assert "Q-000001" in text and "Example Holdings Ltd" in text
    assert "DR-" not in text
    assert "Protection ends" not in text


def test_customer_is_named_as_the_partners_deal_names_it() -> None:
    quote = make_quote(company="Example Holdings Ltd")
    assert quote.deal is not None
    quote.prospect.company_name = "Name From Another Partner's Registration"
    text = text_of(quote_pdf.render(quote, "Vendor"))
    assert "Example Holdings Ltd" in text
    assert "Another Partner" not in text


@pytest.mark.parametrize(
    ("status", "banner"),
    [("superseded", "SUPERSEDED"), ("void", "VOID"), ("ordered", None), ("valid", None)],
)
def test_a_quote_that_no_longer_stands_says_so_at_its_top(status: str, banner: str | None) -> None:
    quote = make_quote()
    quote.status = status
    text = text_of(quote_pdf.render(quote, "Vendor"))
    if banner is None:
        assert "SUPERSEDED" not in text and "VOID" not in text
    else:
        assert text.index(banner) < text.index("Partner")  # above the quote's details


@pytest.mark.usefixtures("cjk_font")
def test_cjk_name_is_drawn_with_the_cjk_font_when_one_is_installed() -> None:
    company = "東京商事株式会社"
    quote = make_quote(
        country="JP",
        currency="JPY",
        locale="ja_JP",
        company=company + " 한국",
        domain="xn--wgv71a.jp",
    )
    pdf = quote_pdf.render(quote, "Vendor")
    text = text_of(pdf)
    assert company in text
    assert "日本.jp (xn--wgv71a.jp)" in text
    assert "￥" in text  # ja_JP's own yen sign, which only the CJK font has
    assert company + " ??" in text  # Hangul: in neither font
    assert "DroidSansFallback" in {run.font for run in runs(pdf)}
    assert_every_glyph_is_in_its_font(pdf)


@pytest.mark.usefixtures("no_cjk_font")
def test_cjk_name_falls_back_to_question_marks_without_a_cjk_font() -> None:
    quote = make_quote(
        country="JP",
        currency="JPY",
        locale="ja_JP",
        company="東京商事株式会社",
        domain="xn--wgv71a.jp",
        unit="350",
    )
    pdf = quote_pdf.render(quote, "Vendor")
    text = text_of(pdf)
    assert "????????" in text
    assert "??.jp (xn--wgv71a.jp)" in text  # the ASCII form still names the customer
    assert not any("\u3000" <= c <= "\u9fff" for c in text)
    assert "¥4,200,000" in text  # the fullwidth ￥ folded to ¥, which DejaVu has
    assert {run.font for run in runs(pdf)} <= {"DejaVuSans", "DejaVuSans-Bold"}
    assert_every_glyph_is_in_its_font(pdf)


def test_filename_is_the_quote_number() -> None:
    assert quote_pdf.filename(make_quote()) == "Q-000001.pdf"
