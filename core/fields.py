"""The registration fields of the SPEC: names, labels, sections and choices (one source for
Slack, email and the CLI)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SECTIONS: dict[str, str] = {
    "company": "Company",
    "partner": "Partner",
    "end_user": "End User",
    "opportunity": "Opportunity",
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    section: str
    required: bool = True
    # text | email | phone | domain | choice | country | state | int | money | date | bool
    # | longtext
    kind: str = "text"
    max_length: int = 200


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("company_name", "Company Name", "company"),
    FieldSpec("domain", "Domain", "company", kind="domain", max_length=253),
    FieldSpec("contact_name", "Contact Name", "partner"),
    FieldSpec("contact_phone", "Contact Phone", "partner", kind="phone", max_length=40),
    FieldSpec("partner_sales_lead_name", "Partner Sales Lead", "partner", required=False),
    FieldSpec(
        "partner_sales_lead_email",
        "Partner Sales Lead Email",
        "partner",
        required=False,
        kind="email",
        max_length=320,
    ),
    FieldSpec("end_user_first_name", "Contact First Name", "end_user"),
    FieldSpec("end_user_last_name", "Contact Last Name", "end_user"),
    FieldSpec("end_user_position", "Position", "end_user"),
    FieldSpec("end_user_email", "Email", "end_user", kind="email", max_length=320),
    FieldSpec("end_user_phone", "Contact Phone", "end_user", kind="phone", max_length=40),
    FieldSpec("end_user_role", "Contact Role", "end_user", kind="choice"),
    FieldSpec("address_line1", "Address Line 1", "end_user"),
    FieldSpec("address_line2", "Address Line 2", "end_user", required=False),
    FieldSpec("country", "Country", "end_user", kind="country"),
    FieldSpec("state", "State / County", "end_user", kind="state"),
    FieldSpec("postcode", "Zip Code / Postcode", "end_user", max_length=20),
    FieldSpec("product", "Product", "opportunity", kind="choice"),
    FieldSpec("number_of_users", "Number of Users", "opportunity", kind="int"),
    FieldSpec("projected_value", "Projected Value", "opportunity", kind="money"),
    FieldSpec("close_date", "Close Date", "opportunity", kind="date"),
    FieldSpec("budget_approved", "Budget Approved", "opportunity", kind="bool"),
    FieldSpec("project_priority", "Project Priority", "opportunity", kind="choice"),
    FieldSpec(
        "problems_to_solve",
        "What Problems Will It Solve",
        "opportunity",
        kind="longtext",
        max_length=3000,
    ),
    FieldSpec("meeting_date", "WebEx or Meeting", "opportunity", required=False, kind="date"),
    FieldSpec("migrating_to", "Migrating To", "opportunity", kind="choice"),
)

FIELDS_BY_NAME: dict[str, FieldSpec] = {f.name: f for f in FIELDS}

END_USER_ROLES: dict[str, str] = {
    "decision_maker": "Decision Maker",
    "economic_buyer": "Economic Buyer",
    "technical_buyer": "Technical Buyer",
    "influencer": "Influencer",
    "end_user": "End User",
    "other": "Other",
}
PRIORITIES: dict[str, str] = {
    "low": "Low",
    "medium": "Medium",
    "high": "High",
    "critical": "Critical",
}
MIGRATING_TO: dict[str, str] = {
    "microsoft_365": "Microsoft 365 / Exchange Online",
    "exchange_on_premises": "Exchange on-premises",
    "google_workspace": "Google Workspace",
    "hcl_domino": "HCL Notes/Domino",
    "other": "Other",
    "none": "None",
}
REJECT_REASONS: dict[str, str] = {
    "duplicate": "Duplicate registration",
    "existing_customer": "Existing customer",
    "insufficient_information": "Insufficient information",
    "not_qualified": "Not qualified",
    "partner_not_authorised": "Partner not authorised",
    "other": "Other",
}
WITHDRAW_REASONS: dict[str, str] = {
    "lost_to_competitor": "Lost to a competitor",
    "no_budget": "No budget",
    "no_decision": "No decision",
    "project_cancelled": "Project cancelled",
    "registered_in_error": "Registered in error",
    "other": "Other",
}
STAGES: dict[str, str] = {
    "opportunity": "Opportunity",
    "approved": "Approved",
    "order_started": "Start Order",
    "order_submitted": "Submit Order",
    "rejected": "Rejected",
    "expired": "Expired",
    "withdrawn": "Withdrawn",
}
PROGRESS: tuple[str, ...] = ("opportunity", "approved", "order_started", "order_submitted")

# Labels that follow the country's own words for them.
_POSTCODE_LABELS = {"US": "Zip Code", "PH": "Zip Code", "IN": "PIN Code", "IE": "Eircode"}
_STATE_LABELS = {
    "US": "State",
    "AU": "State",
    "GB": "County",
    "IE": "County",
    "CA": "Province",
    "DE": "State",
    "FR": "Region",
    "IT": "Province",
    "ES": "Province",
    "JP": "Prefecture",
    "IN": "State",
}


def label_for(name: str, country: str | None = None) -> str:
    """The label of a field as a person in `country` expects to read it."""
    if name == "postcode":
        return _POSTCODE_LABELS.get(country or "", "Postcode") if country else "Zip Code / Postcode"
    if name == "state":
        return _STATE_LABELS.get(country or "", "State / Region") if country else "State / County"
    return FIELDS_BY_NAME[name].label


def progress(stage: str, reached: str | None = None) -> list[dict[str, object]]:
    """The four stages of the progress bar, each marked done, current or to come; a deal in
    a side exit (withdrawn) shows the stage it had `reached` as done."""
    if stage not in PROGRESS and reached in PROGRESS:
        done = PROGRESS.index(reached)
        return [
            {"key": key, "label": STAGES[key], "state": "done" if i <= done else "todo"}
            for i, key in enumerate(PROGRESS)
        ]
    current = PROGRESS.index(stage) if stage in PROGRESS else -1
    return [
        {
            "key": key,
            "label": STAGES[key],
            "state": "done" if i < current else "current" if i == current else "todo",
        }
        for i, key in enumerate(PROGRESS)
    ]


def field_label(name: str | None, country: str | None = None) -> str | None:
    """The label of a registration field (and of `currency`), or None for any other name."""
    if name == "currency":
        return "Currency"
    return label_for(name, country) if name in FIELDS_BY_NAME else None


def change_lines(changes: Mapping[str, Sequence[Any]], country: str | None = None) -> list[str]:
    """A line per change, `{field: [old, new]}`, as a person reads it: `Number of Users: 250 →
    300`; labels as `country` words them."""
    return [
        f"{field_label(name, country)}: {_shown(old)} → {_shown(new)}"
        for name, (old, new) in changes.items()
    ]


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "(none)"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)
