"""Machine mail known by its words and its sender: out-of-office replies in twenty languages,
Outlook's automatic replies without their headers, and newsletters from bulk mailers.

A registration form outranks what only marks how mail was sent, or what a person might
write above a form: those messages still register.
"""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from intake.parser import parse_message
from intake.signals import SIGNALS
from intake.signals.phrases import LANGUAGES
from tests.factories import ROOT

OWN = frozenset({"deals@dealreg.localhost"})
FORM = (
    "Company Name: Acme Ltd\nDomain: acme.example\nProduct: Email Archive\n"
    "Number of Users: 250\nProjected Value: 12000\n"
)
NO_FORM = "Spring sale: 20% off everything this week.\n"
NEUTRAL_SUBJECT = "Re: Deal DR-000123"
KINDS = {"bounce", "report", "auto_reply", "bulk"}


def _raw(
    subject: str,
    body: str,
    *,
    sender: str = "Ann Lee <ann@northwind.example>",
    headers: tuple[tuple[str, str], ...] = (),
    html: bool = False,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "deals@dealreg.localhost"
    msg["Subject"] = subject
    for name, value in headers:
        msg[name] = value
    msg.set_content(body, subtype="html" if html else "plain")
    return msg.as_bytes()


def _kind(raw: bytes) -> str:
    return parse_message(raw, own_addresses=OWN).classification.kind


# Out-of-office subjects, as each language writes them and as old clients send them,
# without diacritics (the two are the same where the words have none).
OOO_SUBJECTS = [
    ("en", "I’m out of the office until 5 May", "I'm out of the office until 5 May"),
    ("de", "Ich bin nicht im Büro", "Ich bin nicht im Buero"),
    ("de", "Außer Haus bis 5. Mai", "Ausser Haus bis 5. Mai"),
    ("de", "Abwesenheitsmeldung: Jürgen Weiß", "Abwesenheitsmeldung: Juergen Weiss"),
    ("fr", "Réponse automatique : Deal DR-000123", "Reponse automatique : Deal DR-000123"),
    ("fr", "À l'extérieur du bureau", "A l'exterieur du bureau"),
    ("fr", "Je suis absent du bureau", "Je suis absent du bureau"),
    ("es", "Respuesta automática: Deal DR-000123", "Respuesta automatica: Deal DR-000123"),
    ("es", "Fuera de la oficina hasta el día 5", "Fuera de la oficina hasta el dia 5"),
    ("pt", "Resposta automática: Deal DR-000123", "Resposta automatica: Deal DR-000123"),
    ("pt", "Fora do escritório até 5 de maio", "Fora do escritorio ate 5 de maio"),
    ("it", "Risposta automatica - Mario Rossi", "Risposta automatica - Mario Rossi"),
    ("it", "Fuori sede fino al 5 maggio", "Fuori sede fino al 5 maggio"),
    ("nl", "Afwezigheidsmelding", "Afwezigheidsmelding"),
    ("nl", "Automatisch antwoord - Jan de Vries", "Automatisch antwoord - Jan de Vries"),
    ("sv", "Frånvaro: Deal DR-000123", "Franvaro: Deal DR-000123"),
    ("sv", "Autosvar – Åsa är ledig", "Autosvar - Asa ar ledig"),
    ("nb", "Fraværsmelding", "Fravaersmelding"),
    ("da", "Jeg er fraværende", "Jeg er fravaerende"),
    ("fi", "Poissa toimistolta 5.5. asti", "Poissa toimistolta 5.5. asti"),
    ("fi", "Automaattinen vastaus – Mikä Häkkinen", "Automaattinen vastaus - Mika Hakkinen"),
    ("pl", "Automatyczna odpowiedź: Deal DR-000123", "Automatyczna odpowiedz: Deal DR-000123"),
    ("pl", "Nieobecność w biurze", "Nieobecnosc w biurze"),
    ("cs", "Automatická odpověď: Deal DR-000123", "Automaticka odpoved: Deal DR-000123"),
    ("cs", "Mimo kancelář do 5. 5.", "Mimo kancelar do 5. 5."),
    ("sk", "Automatická odpoveď: Deal DR-000123", "Automaticka odpoved: Deal DR-000123"),
    ("sk", "Mimo pracoviska do 5. mája", "Mimo pracoviska do 5. maja"),
    ("hu", "Házon kívül: Deal DR-000123", "Hazon kivul: Deal DR-000123"),
    ("hu", "Automatikus válasz: Deal DR-000123", "Automatikus valasz: Deal DR-000123"),
    ("ro", "Răspuns automat: Deal DR-000123", "Raspuns automat: Deal DR-000123"),
    ("tr", "Otomatik yanıt: Deal DR-000123", "Otomatik yanit: Deal DR-000123"),
    ("tr", "Ofis dışında", "Ofis disinda"),
    ("ru", "Автоответ: Deal DR-000123", "Автоответ: Deal DR-000123"),
    ("ja", "不在のお知らせ", "不在のお知らせ"),
    ("zh", "外出: Deal DR-000123", "外出: Deal DR-000123"),
    ("zh", "我目前不在辦公室", "我目前不在辦公室"),
]


@pytest.mark.parametrize(("lang", "written", "plain"), OOO_SUBJECTS)
def test_an_out_of_office_subject_is_an_auto_reply_with_or_without_diacritics(lang, written, plain):
    assert _kind(_raw(written, "Back soon.\n")) == "auto_reply", lang
    assert _kind(_raw(plain, "Back soon.\n")) == "auto_reply", lang


# The first lines of out-of-office replies that carry no other sign: a neutral subject, no
# header of RFC 3834 or of the vendor.
OOO_OPENINGS = [
    (
        "en",
        "Thank you for your email. I’m currently out of the office until 5 May.",
        "Thank you for your email. I'm currently out of the office until 5 May.",
    ),
    ("en", "Dear Sender,\nI am away until Monday.", "Dear Sender,\nI am away until Monday."),
    (
        "de",
        "Vielen Dank für Ihre Nachricht. Ich bin bis einschließlich 5. Mai nicht im Büro.",
        "Vielen Dank fuer Ihre Nachricht. Ich bin bis einschliesslich 5. Mai nicht im Buero.",
    ),
    (
        "fr",
        "Merci pour votre message. Je suis actuellement en congé jusqu'au 5 mai.",
        "Merci pour votre message. Je suis actuellement en conge jusqu'au 5 mai.",
    ),
    (
        "es",
        "Gracias por su correo. Estoy fuera de la oficina hasta el día 5.",
        "Gracias por su correo. Estoy fuera de la oficina hasta el dia 5.",
    ),
    (
        "pt",
        "Obrigado pelo seu e-mail. Estou fora do escritório até 5 de maio.",
        "Obrigado pelo seu e-mail. Estou fora do escritorio ate 5 de maio.",
    ),
    (
        "it",
        "Grazie per la sua e-mail. Sono fuori sede fino al 5 maggio e risponderò al rientro.",
        "Grazie per la sua e-mail. Sono fuori sede fino al 5 maggio e rispondero al rientro.",
    ),
    (
        "nl",
        "Bedankt voor uw bericht. Ik ben tot en met 5 mei afwezig.",
        "Bedankt voor uw bericht. Ik ben tot en met 5 mei afwezig.",
    ),
    (
        "sv",
        "Tack för ditt mejl. Jag är inte på kontoret förrän den 5 maj.",
        "Tack for ditt mejl. Jag ar inte pa kontoret forran den 5 maj.",
    ),
    (
        "nb",
        "Takk for e-posten. Jeg er borte fra kontoret til og med 5. mai.",
        "Takk for e-posten. Jeg er borte fra kontoret til og med 5. mai.",
    ),
    (
        "da",
        "Tak for din mail. Jeg er fraværende indtil 5. maj.",
        "Tak for din mail. Jeg er fravaerende indtil 5. maj.",
    ),
    (
        "fi",
        "Kiitos viestistäsi. Olen poissa toimistolta 5.5. asti.",
        "Kiitos viestistasi. Olen poissa toimistolta 5.5. asti.",
    ),
    (
        "pl",
        "Dziękuję za wiadomość. Jestem poza biurem do 5 maja.",
        "Dziekuje za wiadomosc. Jestem poza biurem do 5 maja.",
    ),
    (
        "cs",
        "Děkuji za zprávu. Jsem mimo kancelář do 5. 5.",
        "Dekuji za zpravu. Jsem mimo kancelar do 5. 5.",
    ),
    (
        "sk",
        "Ďakujem za správu. Som mimo pracoviska do 5. mája.",
        "Dakujem za spravu. Som mimo pracoviska do 5. maja.",
    ),
    (
        "hu",
        "Köszönöm a levelét. Házon kívül vagyok május 5-ig.",
        "Koszonom a levelet. Hazon kivul vagyok majus 5-ig.",
    ),
    (
        "ro",
        "Vă mulțumesc pentru mesaj. Sunt absentă de la birou până pe 5 mai.",
        "Va multumesc pentru mesaj. Sunt absenta de la birou pana pe 5 mai.",
    ),
    (
        "tr",
        "Mesajınız için teşekkürler. 5 Mayıs'a kadar ofis dışındayım.",
        "Mesajiniz icin tesekkurler. 5 Mayis'a kadar ofis disindayim.",
    ),
    (
        "ru",
        "Спасибо за письмо. Я отсутствую на рабочем месте до 5 мая.",
        "Спасибо за письмо. Я отсутствую на рабочем месте до 5 мая.",
    ),
    (
        "ja",
        "お問い合わせありがとうございます。現在不在にしております。",
        "お問い合わせありがとうございます。現在不在にしております。",
    ),
    ("zh", "您好，我目前不在办公室，5月5日返回。", "您好，我目前不在辦公室，5月5日返回。"),
]


@pytest.mark.parametrize(("lang", "written", "plain"), OOO_OPENINGS)
def test_an_out_of_office_first_line_is_an_auto_reply_with_or_without_diacritics(
    lang, written, plain
):
    tail = "\n\nFor urgent matters please call +44 20 7946 0000.\n"
    assert _kind(_raw(NEUTRAL_SUBJECT, written + tail)) == "auto_reply", lang
    assert _kind(_raw(NEUTRAL_SUBJECT, plain + tail)) == "auto_reply", lang


def test_an_invisible_character_before_the_first_line_does_not_hide_it():
    body = "\ufeffI am\u200b out of the office until Monday.\n"
    assert _kind(_raw(NEUTRAL_SUBJECT, body)) == "auto_reply"


@pytest.mark.parametrize(
    "prefix",
    [
        "Reponse automatique :",
        "Respuesta automatica:",
        "Resposta automatica:",
        "Odpowiedz automatyczna:",
        "Automaticka odpoved:",
        "Fravaersmelding:",
        "Automatikus valasz:",
        "Raspuns automat:",
        "Otomatik yanit:",
    ],
)
def test_outlook_s_prefix_typed_without_diacritics_is_an_auto_reply_even_quoting_a_form(
    prefix,
):
    # Outlook's localised "Automatic reply:" as old clients and gateways pass it on, and
    # no Auto-Submitted, no X-Auto-Response-Suppress: a relay dropped them. The reply
    # quotes the confirmation it answers, form labels and all.
    body = "Back on Monday.\n\n-----Original Message-----\n" + FORM
    assert _kind(_raw(f"{prefix} Deal DR-000123", body)) == "auto_reply"


def test_an_outlook_out_of_office_in_html_with_a_plain_subject_is_an_auto_reply():
    html = (
        "<html><head><style>p { margin: 0 }</style></head><body>"
        "<p>Hello,</p><p>I am currently out of the office with no access to email.</p>"
        "<p>Kind regards,<br>Ann</p></body></html>"
    )
    assert _kind(_raw("RE: Deal DR-000123", html, html=True)) == "auto_reply"


# A retailer's newsletter: a role sender and a bulk mailer's own headers, without the
# list headers of RFC 2369 (which the intake knew before).
BULK_MAILER_HEADERS = [
    ("X-MC-User", "5e78d7ef2297cc80842b7591e"),
    ("X-Campaign", "mailchimp5e78d7ef2297cc80842b7591e.2ed1232679"),
    ("X-CampaignID", "infusion_healthmarketing615054"),
    ("X-Mandrill-User", "md_30112948"),
    ("X-SG-EID", "yJhHf9PUSG+Y7wYIm5ZPoh6TENvP2fM1rzIQv8cFhJP0"),
    ("X-SG-ID", "N2C25iY2uzGMFz6rgvQsb8raWjw0ZPf1VmjsCkspi"),
    ("X-SFMC-Stack", "7"),
    ("X-HS-Cid", "1axe7t3rcjxusl6j2ajxiy9nriv74kj7tc6hc6"),
    ("X-Roving-Id", "1133104752381.1111111111"),
    ("X-SIB-ID", "OuuTDMOgyILaB-QPLOstM2ycp4V3N8ccC76V0wBQv"),
    ("X-RPCampaign", "RPk6h71u6r"),
    ("X-CSA-Complaints", "csa-complaints@eco.de"),
]


@pytest.mark.parametrize(("name", "value"), BULK_MAILER_HEADERS)
def test_a_bulk_mailer_s_own_header_marks_a_newsletter_but_not_a_registration(name, value):
    sender = "Northwind Shop <shop@northwind.example>"
    newsletter = _raw("Spring sale", NO_FORM, sender=sender, headers=((name, value),))
    registration = _raw("New deal", FORM, sender=sender, headers=((name, value),))
    assert _kind(newsletter) == "bulk"
    assert _kind(registration) == "registration"


def test_a_retailer_newsletter_from_announcements_with_its_mailer_s_headers_is_bulk():
    headers = (
        ("X-MC-User", "5e78d7ef2297cc80842b7591e"),
        ("X-Campaign", "mailchimp5e78d7ef2297cc80842b7591e.2ed1232679"),
    )
    raw = _raw(
        "New in: the spring collection",
        NO_FORM,
        sender="Northwind <announcements@northwind.example>",
        headers=headers,
    )
    assert _kind(raw) == "bulk"


@pytest.mark.parametrize(
    "header",
    [
        ("X-SES-Outgoing", "2016.01.14-54.240.27.5"),  # Amazon WorkMail's person-to-person mail
        ("X-Mailgun-Incoming", "Yes"),  # stamped by Mailgun on mail it receives
        ("X-KMail-Transport", "1234567"),  # KDE KMail, a person's client
    ],
)
def test_a_relay_s_or_a_client_s_header_is_not_a_bulk_mailer_s(header):
    person = _raw("A question", "Could you send me the registration form?\n", headers=(header,))
    mailer = _raw(
        "A question",
        "Could you send me the registration form?\n",
        headers=(header, ("X-SG-EID", "yJhHf9PUSG")),
    )
    assert _kind(person) == "form_request"
    assert _kind(mailer) == "bulk"


@pytest.mark.parametrize(
    "address",
    [
        "newsletter@northwind.example",
        "newsletters@northwind.example",
        "news@northwind.example",
        "announcements@northwind.example",
        "announce@northwind.example",
        "marketing@northwind.example",
        "promo@northwind.example",
        "promotions@northwind.example",
        "offers@northwind.example",
        "newsletter-uk@northwind.example",
        "shop.news@northwind.example",
    ],
)
def test_a_bulk_role_sender_marks_a_newsletter_but_not_a_registration(address):
    assert _kind(_raw("Spring sale", NO_FORM, sender=address)) == "bulk"
    assert _kind(_raw("New deal", FORM, sender=address)) == "registration"


@pytest.mark.parametrize(
    "local",
    ["info", "sales", "deals", "support", "hello", "partners", "ann.newman", "newsom"],
)
def test_a_partner_s_own_mailbox_is_not_a_bulk_sender(local):
    ask = "Could you send me the registration form?\n"
    assert _kind(_raw("A question", ask, sender=f"{local}@northwind.example")) == "form_request"
    assert _kind(_raw("A question", ask, sender="newsletter@northwind.example")) == "bulk"


def test_out_of_office_deep_in_a_message_is_not_an_auto_reply():
    absence = "I am out of the office until Monday."
    ask = "Hi, could you send me the registration form?\nThanks, Ann\n"
    assert _kind(_raw(NEUTRAL_SUBJECT, absence + "\n")) == "auto_reply"
    assert _kind(_raw(NEUTRAL_SUBJECT, ask + "\n" + absence + "\n")) == "form_request"
    assert _kind(_raw("New deal", FORM + "\n" + absence + "\n")) == "registration"


def test_a_registration_that_opens_with_an_absence_still_registers():
    opening = "I am out of the office from Friday, so here is the deal now.\n\n"
    assert _kind(_raw(NEUTRAL_SUBJECT, opening)) == "auto_reply"
    assert _kind(_raw(NEUTRAL_SUBJECT, opening + FORM)) == "registration"


def test_a_registration_whose_subject_mentions_an_absence_still_registers():
    subject = "Out of office next week - please register Acme"
    assert _kind(_raw(subject, "Thanks.\n")) == "auto_reply"
    assert _kind(_raw(subject, FORM)) == "registration"


def test_a_person_quoting_an_out_of_office_below_their_own_text_gets_the_form():
    quoted = "I am out of the office until Monday."
    body = f"Hi, could you send me the registration form?\nThanks, Ann\n\n> {quoted}\n"
    assert _kind(_raw(NEUTRAL_SUBJECT, body)) == "form_request"
    assert _kind(_raw(NEUTRAL_SUBJECT, quoted + "\n")) == "auto_reply"


@pytest.mark.parametrize(
    "opening",
    [
        "Sorry, I was out of the office last week. Could you send me the form?",
        "I'll be out of the office next week, so please send me the form today.",
        "Ich war letzte Woche nicht im Büro. Können Sie mir das Formular schicken?",
    ],
)
def test_a_person_who_mentions_an_absence_in_the_past_or_future_gets_the_form(opening):
    assert _kind(_raw("Registration form", opening + "\n")) == "form_request"
    assert _kind(_raw("Registration form", "I am out of the office.\n")) == "auto_reply"


@pytest.mark.parametrize("subject", ["Auto parts for Acme", "Office move", "Away team deal"])
def test_a_subject_that_only_shares_a_word_with_an_auto_reply_is_a_person_s(subject):
    assert _kind(_raw(subject, "Could you send me the registration form?\n")) == "form_request"
    assert _kind(_raw("Reponse automatique: " + subject, "Back soon.\n")) == "auto_reply"


REQUIRED_LANGUAGES = {
    "en", "de", "fr", "es", "pt", "it", "nl", "sv", "nb", "da", "fi", "pl", "cs", "sk", "hu",
    "ro", "tr", "ru", "ja", "zh",
}  # fmt: skip


def test_every_required_language_has_out_of_office_phrases_with_a_source():
    languages = {lang.code: lang for lang in LANGUAGES}
    assert set(languages) >= REQUIRED_LANGUAGES
    for lang in languages.values():
        assert lang.source.strip() and lang.phrases, lang.code


def test_the_documented_signals_are_the_code_s_in_its_order():
    doc = (ROOT / "docs" / "classification.md").read_text(encoding="utf-8")
    rows = [line.split("|") for line in doc.splitlines() if line.startswith("| ")]
    documented = [cells[2].strip() for cells in rows if cells[1].strip() in KINDS]
    assert documented == [signal.name for signal in SIGNALS]
    marked = {
        cells[2].strip() for cells in rows if cells[1].strip() in KINDS and "form" in cells[5]
    }
    assert marked == {signal.name for signal in SIGNALS if signal.form_outranks}
