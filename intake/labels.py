"""The labels people type for registration fields, matched loosely (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.fields import FIELDS, FIELDS_BY_NAME

# Labels the form repeats for the partner; their values come from the partner record.
PARTNER_COMPANY = "partner_company_name"
PARTNER_EMAIL = "partner_contact_email"
# "Contact Name" under End User: one name, split into first and last.
END_USER_NAME = "end_user_name"
_PSEUDO_SECTIONS = {PARTNER_COMPANY: "partner", PARTNER_EMAIL: "partner", END_USER_NAME: "end_user"}

_ALIASES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("company_name", PARTNER_COMPANY), "company name|company|customer name|prospect name"),
    (("company_name",), "end user company|customer company|organisation|organization"),
    (("domain",), "domain|website|web site|primary domain|company domain|url|web address"),
    (("contact_name", END_USER_NAME), "contact name|contact"),
    (("contact_name",), "partner contact|partner contact name|contact full name"),
    (("contact_phone", "end_user_phone"), "contact phone|contact phone number|contact telephone"),
    (("contact_phone",), "partner contact phone"),
    ((PARTNER_EMAIL, "end_user_email"), "contact email|contact email address"),
    (("partner_sales_lead_name",), "partner sales lead|partner sales lead name|sales lead"),
    (("partner_sales_lead_email",), "partner sales lead email|sales lead email"),
    (("end_user_first_name",), "contact first name|first name|given name|forename"),
    (("end_user_last_name",), "contact last name|last name|surname|family name"),
    (("end_user_position",), "position|job title|title|contact position|role title"),
    (("end_user_email",), "email|email address|end user email"),
    (("end_user_phone",), "end user phone|phone number|telephone|end user telephone"),
    (("end_user_role",), "contact role|role|end user role|buying role"),
    (("address_line1",), "address line 1|address 1|address|street|street address|address1"),
    (("address_line2",), "address line 2|address 2|address2|city"),
    (("country",), "country|country code"),
    (
        ("state",),
        "state|county|province|region|prefecture|state/county|state/province|county/state"
        "|state/region|state or province",
    ),
    (
        ("postcode",),
        "zip code|zip|zipcode|postcode|post code|postal code|zip code/postcode|zip/postcode"
        "|postcode/zip code|pin code|eircode",
    ),
    (("product",), "product|products|solution|service|mimecast product|product name"),
    (
        ("number_of_users",),
        "number of users|users|seats|no of users|number of seats|user count|seat count"
        "|licences|licenses|mailboxes|number of mailboxes",
    ),
    (
        ("projected_value",),
        "projected value|deal value|value|estimated value|project value|amount|deal size",
    ),
    (("close_date",), "close date|expected close date|closing date|estimated close date"),
    (("budget_approved",), "budget approved|budget|budget in place|approved budget"),
    (("project_priority",), "project priority|priority"),
    (
        ("problems_to_solve",),
        "problems to solve|problems|business problem|business problems|pain points|requirements",
    ),
    (
        ("meeting_date",),
        "webex or meeting|meeting date|webex|webex date|meeting|webex or meeting date"
        "|webex/meeting|webex/meeting date|meeting/webex",
    ),
    (("migrating_to",), "migrating to|migrating|migration|migrating to platform|mail platform"),
)
_PROBLEMS = re.compile(r"^what (?:problems?|issues?) (?:will|would|does|do|can|should) .* solve$")
# Lines that look like labels but are mail or signature headers: never fields, never unknown.
_NOT_LABELS = frozenset(
    [
        "from",
        "to",
        "cc",
        "bcc",
        "date",
        "sent",
        "subject",
        "reply-to",
        "http",
        "https",
        "mailto",
        "tel",
        "mobile",
        "phone",
        "fax",
        "web",
        "www",
        "m",
        "t",
        "e",
        "p",
        "w",
        "importance",
        "attachments",
    ]
)
_SECTIONS = {
    "company": "company",
    "prospect": "company",
    "partner": "partner",
    "reseller": "partner",
    "end user": "end_user",
    "end-user": "end_user",
    "enduser": "end_user",
    "end customer": "end_user",
    "opportunity": "opportunity",
    "deal": "opportunity",
}
_SECTION_SUFFIX = re.compile(r"\s+(?:section|details|information|info)$")
_BULLET = re.compile(r"^(?:[-*•·–—▪►◦]\s+|\d{1,2}[.)]\s+)")
_PARENS = re.compile(r"\s*[(\[][^)\]]{0,40}[)\]]")


@dataclass(frozen=True)
class LabelHit:
    label: str  # normalised label text
    candidates: tuple[str, ...]  # fields it may mean, in form order; () when unknown
    value: str


def _build() -> dict[str, tuple[str, ...]]:
    """Index every alias, core label and field name by its normalised form."""
    table: dict[str, tuple[str, ...]] = {}
    for names, variants in _ALIASES:
        for variant in variants.split("|"):
            table.setdefault(normalise(variant), names)
    for spec in FIELDS:
        table.setdefault(normalise(spec.label), (spec.name,))
        table.setdefault(normalise(spec.name), (spec.name,))
    return table


def normalise(label: str) -> str:
    """Reduce a label to lower-case words: no markers, notes, bullets or punctuation."""
    text = label.lower().replace("_", " ").replace("*", "").replace("e-mail", "email")
    text = _BULLET.sub("", text.strip())
    text = _PARENS.sub("", text)
    text = re.sub(r"\s*/\s*", "/", text).replace("&", "and").replace("no.", "no")
    text = re.sub(r"[\s\u00a0]+", " ", text)
    return text.strip(" :.?-–—#=|\t")


def section_of(name: str) -> str:
    """Return the form section a field (or a pseudo field) belongs to."""
    if name in _PSEUDO_SECTIONS:
        return _PSEUDO_SECTIONS[name]
    return FIELDS_BY_NAME[name].section


def lookup(label: str) -> tuple[str, ...] | None:
    """Return the fields a label may mean, or None when it is not a known label."""
    norm = normalise(label)
    if norm in _TABLE:
        return _TABLE[norm]
    if _PROBLEMS.match(norm):
        return ("problems_to_solve",)
    return None


def section_heading(line: str) -> str | None:
    """Return the section a heading line opens (`== Company ==`, `**End User**`), or None."""
    text = _BULLET.sub("", line.strip()).strip(" \t=#*_-–—[]:|").lower()
    text = _SECTION_SUFFIX.sub("", re.sub(r"\s+", " ", text))
    return _SECTIONS.get(text)


def _splits(line: str) -> list[tuple[str, str]]:
    """Return the ways a line divides into label and value, the likeliest first."""
    out: list[tuple[str, str]] = []
    if "|" in line:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2:
            out.append((cells[0], cells[1]))
    match = re.match(r"^([^:：]{1,80}?)\s*[:：]\s*(.*)$", line)
    if match:
        out.append((match.group(1), match.group(2)))
    match = re.match(r"^(.{1,80}?)\s+[-–—=]+>?(?:\s+(.*))?$", line)
    if match:
        out.append((match.group(1), match.group(2) or ""))
    if "\t" in line:
        left, _, right = line.strip().partition("\t")
        out.append((left, right))
    match = re.match(r"^(\S.{0,80}?)\s{2,}(\S.*)$", line)
    if match:
        out.append((match.group(1), match.group(2)))
    out.append((line, ""))
    return out


def match_label(line: str) -> LabelHit | None:
    """Split a line into a known label and its value; an unknown `Label: value` has no
    candidates; None for prose."""
    line = _BULLET.sub("", line.strip())
    for label, value in _splits(line):
        names = lookup(label)
        if names:
            return LabelHit(normalise(label), names, value.strip())
    match = re.match(r"^([A-Za-z][^:：]{0,39}?)\s*[:：]\s*(\S.*)$", line)
    if match:
        label = normalise(match.group(1))
        if label and label not in _NOT_LABELS and len(label.split()) <= 4:
            return LabelHit(label, (), match.group(2).strip())
    return None


_TABLE = _build()
