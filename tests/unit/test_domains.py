import pytest

from core.domains import (
    Suspicion,
    describe,
    display_both,
    display_domain,
    normalise_domain,
    skeleton,
    suspicion,
)
from core.errors import Invalid


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("https://www.Example.co.uk/x", "example.co.uk"),
        ("  EXAMPLE.COM  ", "example.com"),
        ("mail.acme.co.uk", "acme.co.uk"),
        ("http://user@www.acme.com:8080/path?q=1#f", "acme.com"),
        ("jo@contoso.com", "contoso.com"),
        ("Bücher.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("shop.example.com.au", "example.com.au"),
        ("example.com.", "example.com"),
    ],
)
def test_domain_is_normalised_to_registrable_domain(typed: str, stored: str) -> None:
    assert normalise_domain(typed) == stored


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "co.uk", "localhost", "192.168.1.1", "http://[::1]/", "ex ample", "a..b.com"],
)
def test_non_registrable_input_is_refused_on_the_domain_field(typed: str) -> None:
    with pytest.raises(Invalid) as err:
        normalise_domain(typed)
    assert err.value.errors[0].field == "domain"


def test_idn_is_shown_in_unicode() -> None:
    assert display_domain("xn--bcher-kva.de") == "bücher.de"


# Lookalikes: Unicode TR39 confusable skeletons and mixed scripts.

HARBOUR = "harbourlights.co.uk"
HARBOUR_CYRILLIC_A = normalise_domain("h\u0430rbourlights.co.uk")  # Cyrillic а


def test_a_cyrillic_letter_gives_the_latin_domains_skeleton() -> None:
    assert HARBOUR_CYRILLIC_A == "xn--hrbourlights-x9j.co.uk"
    assert skeleton(HARBOUR_CYRILLIC_A) == skeleton(HARBOUR)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("rnicrosoft.com", "microsoft.com"),  # rn and m
        ("app1e.com", "apple.com"),  # 1 and l
        (normalise_domain("\u0440\u0430ypal.com"), "paypal.com"),  # Cyrillic р and а
        (normalise_domain("bu\u0308cher.de"), normalise_domain("bücher.de")),  # NFD, NFC
    ],
)
def test_domains_that_look_alike_share_a_skeleton(one: str, other: str) -> None:
    assert skeleton(one) == skeleton(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (HARBOUR, "harbourlights.com"),  # same name, another suffix: not a lookalike
        ("example.co.uk", "examples.co.uk"),
        (normalise_domain("bücher.de"), "bucher.de"),
    ],
)
def test_domains_that_differ_to_the_eye_have_different_skeletons(one: str, other: str) -> None:
    assert skeleton(one) != skeleton(other)


def test_a_label_mixing_latin_and_cyrillic_is_suspicious() -> None:
    found = suspicion(HARBOUR_CYRILLIC_A)
    assert found == Suspicion("h\u0430rbourlights", "mixed_scripts", ("Latin", "Cyrillic"))
    assert describe(found) == "“h\u0430rbourlights” mixes Latin and Cyrillic letters in one label"


def test_an_all_cyrillic_label_that_reads_as_latin_is_suspicious() -> None:
    found = suspicion(normalise_domain("\u0430\u0440\u0440.com"))  # "арр": Cyrillic
    assert found is not None and found.kind == "looks_latin"


@pytest.mark.parametrize(
    "typed",
    ["пример.рф", "ελληνικά.gr", "пример.com", "bücher.de", "sony日本.jp", "example.co.uk"],
)
def test_single_script_and_ascii_domains_are_not_suspicious(typed: str) -> None:
    assert suspicion(normalise_domain(typed)) is None


def test_an_idn_is_shown_with_its_punycode_and_ascii_alone() -> None:
    assert display_both(HARBOUR_CYRILLIC_A) == (
        "h\u0430rbourlights.co.uk (xn--hrbourlights-x9j.co.uk)"
    )
    assert display_both(HARBOUR) == HARBOUR
