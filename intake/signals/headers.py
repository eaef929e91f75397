"""The signals read from header fields, MIME parts and sender addresses (pure).

Each function here takes the message's `Facts` and returns what fired (a header, an
address, a part's type), or None. `intake.signals` puts them in order with their kind
and source; docs/classification.md lists them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from intake.signals.facts import Facts

Test = Callable[[Facts], str | None]


def report(types: set[str], report_types: set[str] | None) -> Test:
    """Fire on a report part of `types`, or a multipart/report of `report_types` (None: any)."""

    def test(facts: Facts) -> str | None:
        for part in facts.parts:
            if part.ctype in types:
                return part.ctype
            if part.ctype == "multipart/report" and (
                report_types is None or part.report_type in report_types
            ):
                return f"multipart/report; report-type={part.report_type or '(none)'}"
        return None

    return test


def headers(*names: str) -> Test:
    """Fire when any of the headers is present with a value."""
    return lambda facts: facts.has(*names)


def sender(pattern: str) -> Test:
    """Fire on a From, Sender or Return-Path address whose local part matches."""
    local = re.compile(pattern, re.I)

    def test(facts: Facts) -> str | None:
        return next((a for a in facts.senders if local.fullmatch(a.rpartition("@")[0] or a)), None)

    return test


def auto_submitted(facts: Facts) -> str | None:
    """Fire on Auto-Submitted with any value but "no", comments and parameters aside."""
    value = facts.value("auto-submitted").split(";")[0].split("(")[0].strip()
    return f"Auto-Submitted: {value}" if value and value != "no" else None


def vendor_auto_reply(facts: Facts) -> str | None:
    """Fire on the auto-reply headers of vendors and of ezmlm-weed(1)."""
    found = facts.has("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply",
                      "x-mail-autoreply", "x-autoreply-from", "x-amazon-auto-reply")  # fmt: skip
    if found:
        return found
    checks = (
        ("x-apple-action", "vacation"),  # iCloud vacation (sisimai)
        ("x-post-messageclass", "autoresponder"),  # "9; Autoresponder"
        ("x-mailer", "vacation"),  # vacation(1), per MIT's auto-responder rules
        ("thread-topic", "autoresponse"),  # ezmlm-weed(1)
        ("precedence", "auto_reply"),
    )
    return next((f"{n}: {w}" for n, w in checks if w in facts.value(n)), None)


_SUPPRESS = frozenset({"all", "oof", "autoreply", "dr", "ndr"})


def suppress(facts: Facts) -> str | None:
    """Fire on X-Auto-Response-Suppress asking to suppress auto-replies or reports."""
    tokens = {t.strip() for t in facts.value("x-auto-response-suppress").split(",")}
    found = tokens & _SUPPRESS
    return f"X-Auto-Response-Suppress: {', '.join(sorted(found))}" if found else None


_ITIP_REPLIES = frozenset({"reply", "counter", "declinecounter", "refresh"})


def calendar_reply(facts: Facts) -> str | None:
    """Fire on a text/calendar part that answers an invitation."""
    hit = next(
        (p for p in facts.parts if p.ctype == "text/calendar" and p.method in _ITIP_REPLIES), None
    )
    return f"text/calendar; method={hit.method}" if hit else None


def challenge(facts: Facts) -> str | None:
    """Fire on a challenge-response system's request."""
    if facts.value("x-delivery-agent").startswith("tmda"):
        return "X-Delivery-Agent: TMDA"
    return facts.has("x-bluebottle-request")


def helpdesk(facts: Facts) -> str | None:
    """Fire on the loop stamps of ticket systems and procmail."""
    if facts.value("x-mailer").startswith("zendesk"):
        return "X-Mailer: Zendesk Mailer"
    return facts.has("x-zendesk-from-account-id", "x-rt-loop-prevention", "rt-ticket",
                     "x-rt-ticket", "x-otrs-loop", "x-loop")  # fmt: skip


def precedence(facts: Facts) -> str | None:
    """Fire on Precedence: bulk, list or junk."""
    value = facts.value("precedence")
    return f"Precedence: {value}" if value in ("bulk", "list", "junk") else None


def null_from(facts: Facts) -> str | None:
    """Fire on a From without an address."""
    return "From: <>" if facts.null_from else None


def null_return_path(facts: Facts) -> str | None:
    """Fire on the null Return-Path."""
    return "Return-Path: <>" if facts.return_path == "" else None


_PROVIDER_ROLES = frozenset(
    {f"staff@{d}" for d in ("hotmail.com", "outlook.com", "live.com", "msn.com")}
    | {"scomp@aol.net"}
)
_REPORT_LOCALS = re.compile(
    r"abuse|fbl|feedback-?loop|(?:noreply-)?dmarc[-_.a-z]*|tlsrpt[-_.a-z]*", re.I
)


def report_sender(facts: Facts) -> str | None:
    """Fire on the senders of abuse, DMARC, TLS and feedback-loop reports."""
    for addr in facts.senders:
        if addr in _PROVIDER_ROLES or _REPORT_LOCALS.fullmatch(addr.rpartition("@")[0]):
            return addr
    return None


# The default envelope domains of email service providers (their sending documentation):
# Amazon SES, Postmark, SendGrid, Mailchimp and Mandrill, SparkPost, Mailjet, Brevo,
# Campaign Monitor, Marketo, HubSpot, Salesforce Marketing Cloud.
_ESP_DOMAINS = (
    "amazonses.com", "mtasv.net", "sendgrid.net", "mcsv.net", "rsgsv.net", "mcdlv.net",
    "mandrillapp.com", "sparkpostmail.com", "mailjet.com", "sendinblue.com", "brevo.com",
    "createsend.com", "mktomail.com", "hubspotemail.net", "exacttarget.com",
)  # fmt: skip
# VERP return paths that ESPs and list servers give each message: bounce-md_1.2@,
# bounces+123-abc@, bounces-main+x@, list-bounces@, pm_bounces@, bounce.mc.us5_1@.
_BOUNCE_LOCAL = re.compile(r"(?:[a-z0-9]+[-_.])?bounces?(?:[-_.+=].*)?", re.I)


def esp_bounce(facts: Facts) -> str | None:
    """Fire on an ESP's VERP return path or default envelope domain."""
    for addr in facts.senders:
        local, _, domain = addr.rpartition("@")
        labels = domain.split(".")
        if _BOUNCE_LOCAL.fullmatch(local) or {"bounce", "bounces"} & set(labels[:-2]):
            return addr
        if any(domain == d or domain.endswith("." + d) for d in _ESP_DOMAINS):
            return addr
    return None


# The headers a bulk mailer stamps on each message it sends, by name, each seen on the
# mailer's own mail: Mailchimp (X-MC-User, and X-Campaign/X-CampaignID, which Infusionsoft
# sets too), Mandrill, SendGrid, Salesforce Marketing Cloud, HubSpot, Constant Contact
# (Roving), Brevo (Sendinblue), Newsletter2Go, and the complaints office of the Certified
# Senders Alliance, which certified bulk senders name on their mail. Left out on purpose:
# Amazon SES's X-SES-Outgoing and Mailgun's X-Mailgun-* (SES relays Amazon WorkMail's
# person-to-person mail; Mailgun stamps mail it receives), Klaviyo's X-Kmail-* (KDE KMail
# writes X-KMail-* headers of its own; Klaviyo's mail carries SendGrid's stamp anyway), and
# X-MC-* beyond X-MC-User (X-MC-Unique is Mimecast's, on people's mail).
BULK_MAILER_HEADERS = (
    "x-mc-user", "x-campaign", "x-campaignid", "x-mandrill-user", "x-sg-eid", "x-sg-id",
    "x-sfmc-stack", "x-hs-cid", "x-roving-id", "x-roving-campaignid", "x-sib-id",
    "x-rpcampaign", "x-csa-complaints",
)  # fmt: skip

# Role mailboxes that only ever send to many: newsletters, news, announcements, marketing,
# promotions and offers, alone or with a qualifier (newsletter-uk@, shop.news@). Not
# info@, sales@, support@ or deals@: RFC 2142 gives those to people a customer writes to,
# and a partner's deal desk writes from them.
BULK_ROLES = (
    r"(?:[a-z0-9]+[-_.])?(?:newsletters?|e?news|announcements?|announce|marketing"
    r"|promos?|promotions?|offers|mailings?)(?:[-_.+][a-z0-9]+)*"
)
bulk_role_sender = sender(BULK_ROLES)
