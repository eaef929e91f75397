import pytest

from core.domains import display_domain, normalise_domain
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
