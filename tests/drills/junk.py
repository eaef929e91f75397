"""Seeded generators of malformed input: email the intake must survive, Slack payloads."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from core.fields import FIELDS
from tests.factories import ANN, BOB, JANA, registration_email

SENDERS = [ANN, BOB, JANA, "mallory@unknown.example", "MAILER-DAEMON@mx.example", ""]
CHARSETS = ["utf-8", "x-nonexistent", "utf-7", "iso-2022-jp", "windows-1252", "utf-16", "'\""]
GARBAGE = [
    "",
    " ",
    "\x00",
    "\r\n\r\n",
    "\u202e\u200b",
    "🙂" * 50,
    "9999-99-99",
    "1e999",
    "-0",
    "NaN",
    "<script>alert(1)</script>",
    "'; DROP TABLE deals; --",
    "{{ 7*7 }}",
    "%s%n%x",
    "\\x00\\xff",
    "𝕬𝖈𝖒𝖊",
    "https://",
    "http://[::1]:99999/",
    "xn--",
    "a" * 5000,
    "1" * 400,
    "$-5",
    "31/02/2027",
    "yesno",
    "Microsoft 365 " * 40,
    "ZZ",
    "\ud7ff",
    "\t\t\t",
]


def _random_text(rng: random.Random, n: int) -> str:
    alphabet = "abc XYZ 019:;,.-_@<>=\"'\\/\t\u00e9\u4e2d\u0627\U0001f600\u200f"
    return "".join(rng.choice(alphabet) for _ in range(n))


def _headers(rng: random.Random, index: int, extra: list[str] | None = None) -> list[str]:
    sender = rng.choice(SENDERS)
    lines = [f"From: {sender}" if sender else "From:", "To: deals@dealreg.localhost"]
    lines += [f"Subject: junk {index} {_random_text(rng, rng.randint(0, 40))}"]
    lines += [f"Message-ID: <junk-{index}@fuzz.example>"]
    return lines + (extra or [])


def _join(lines: list[str], body: bytes) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogatepass") + body


def binary_junk(rng: random.Random, index: int) -> bytes:
    return rng.randbytes(rng.randint(0, 4000))


def junk_after_headers(rng: random.Random, index: int) -> bytes:
    return _join(_headers(rng, index), rng.randbytes(rng.randint(0, 3000)))


def broken_mime(rng: random.Random, index: int) -> bytes:
    boundary = rng.choice(["b1", "", '"', "x" * 200, "b1\r\nX: y"])
    parts = rng.choice(
        [
            b"--b1\r\nContent-Type: text/plain\r\n\r\nCompany Name: Acme\r\n",  # never closed
            b"--b2\r\n\r\nwrong boundary\r\n--b2--\r\n",
            b"--b1\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n--b1--",
            b"--b1\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n" * 60,
            b"--b1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n=\r\n--b1--",
            b"--b1\r\nContent-Type: message/rfc822\r\n\r\n" + rng.randbytes(300) + b"\r\n--b1--",
        ]
    )
    ctype = rng.choice(["multipart/mixed", "multipart/alternative", "multipart/report", "text/"])
    extra = [f'Content-Type: {ctype}; boundary="{boundary}"', "MIME-Version: 1.0"]
    return _join(_headers(rng, index, extra), parts)


def bad_charset(rng: random.Random, index: int) -> bytes:
    charset = rng.choice(CHARSETS)
    body = registration_email(index).split(b"\n\n", 1)[-1]
    if rng.random() < 0.5:
        body = body.replace(b"Prospect", b"Prosp\xff\xfe\xc3(ect")
    cte = rng.choice(["8bit", "base64", "quoted-printable", "x-uuencode", "7bit"])
    extra = [f"Content-Type: text/{rng.choice(['plain', 'html'])}; charset={charset}"]
    extra += [f"Content-Transfer-Encoding: {cte}"]
    extra += [f"Subject: =?{charset}?B?{rng.randbytes(12).hex()}?= =?utf-8?Q?=E2=28?="]
    return _join(_headers(rng, index, extra), body)


def huge_headers(rng: random.Random, index: int) -> bytes:
    choice = rng.randrange(4)
    if choice == 0:
        extra = [f"X-Pad-{n}: {_random_text(rng, 30)}" for n in range(rng.randint(500, 3000))]
    elif choice == 1:
        extra = ["Subject: " + "S" * rng.randint(10_000, 200_000)]
    elif choice == 2:
        extra = ["References: " + " ".join(f"<r{n}@x>" for n in range(rng.randint(100, 5000)))]
    else:
        extra = ["no colon on this header line", "From: " + ", ".join([ANN] * 500), ": empty"]
    body = registration_email(index, domain=f"huge{index}.com").split(b"\n\n", 1)[-1]
    return _join(_headers(rng, index, extra), body)


def garbage_form(rng: random.Random, index: int) -> bytes:
    changes: dict[str, Any] = {}
    for f in rng.sample(FIELDS, rng.randint(1, 8)):
        changes[f.name] = rng.choice([*GARBAGE, _random_text(rng, rng.randint(1, 300))])
    if rng.random() < 0.3:
        changes["domain"] = f"garbage{index}.co.uk"
    sender = rng.choice([ANN, BOB, JANA])
    raw = registration_email(index, sender=sender, message_id=f"<form-{index}@fuzz.example>",
                             **{k: v.replace("\n", " ") for k, v in changes.items()})  # fmt: skip
    if rng.random() < 0.3:
        raw = raw.replace(b"\n", b"\r", rng.randint(1, 20))  # stray bare CRs
    return raw


def odd_threading(rng: random.Random, index: int) -> bytes:
    refs = rng.choice(
        ["<>", "<a@b> <", "<" + "x" * 900 + "@y>", "junk", "<drill-1@partner.example>"]
    )
    extra = [f"In-Reply-To: {refs}", f"References: {refs}", "Auto-Submitted: " + rng.choice(
        ["no", "auto-replied", "", "garbage"])]  # fmt: skip
    body = f"Please extend.\r\n{_random_text(rng, 200)}".encode("utf-8", "surrogatepass")
    return _join(_headers(rng, index, extra), body)


def html_only(rng: random.Random, index: int) -> bytes:
    rows = "".join(
        f"<tr><td>{f.label}</td><td>{rng.choice(GARBAGE)}</td></tr>" for f in rng.sample(FIELDS, 10)
    )
    html = f"<html><body><table>{rows}<table><tr><td><td>" + "<div>" * rng.randint(0, 3000)
    extra = ["Content-Type: text/html; charset=utf-8", "MIME-Version: 1.0"]
    return _join(_headers(rng, index, extra), html.encode("utf-8", "surrogatepass"))


EMAIL_KINDS: list[Callable[[random.Random, int], bytes]] = [
    binary_junk, junk_after_headers, broken_mime, bad_charset, huge_headers, garbage_form,
    odd_threading, html_only,
]  # fmt: skip


def malformed_emails(seed: int, total: int) -> list[bytes]:
    """`total` malformed messages, every kind in turn, reproducible from `seed`."""
    rng = random.Random(seed)
    return [EMAIL_KINDS[i % len(EMAIL_KINDS)](rng, i) for i in range(total)]


# ----------------------------------------------------------------------------- Slack

ACTION_IDS = [
    "deal_approve", "deal_reject", "deal_return", "deal_extension_grant",
    "deal_extension_decline", "deal_answer", "deal_advance", "deal_register_open", "domain",
    "country", "no_such_action", "", "deal_approve\x00",
]  # fmt: skip
CALLBACKS = ["deal_register", "deal_reject", "deal_return", "deal_answer", "deal_advance", "x"]
USERS = ["U01ANN", "U0REVIEW", "U0STRANGER", "", None, 12, {"id": []}]


def _junk_value(rng: random.Random) -> Any:
    return rng.choice(
        [None, 1, -1, 1.5, True, [], {}, [1, "a"], {"a": None}, "", "x" * 20_000, "DR-000001",
         "DR-" + "9" * 40, "\u202e", rng.choice(GARBAGE), {"value": {"value": {}}}]
    )  # fmt: skip


def _state(rng: random.Random) -> Any:
    if rng.random() < 0.2:
        return _junk_value(rng)
    values: dict[str, Any] = {}
    for f in rng.sample(FIELDS, rng.randint(0, len(FIELDS))):
        entry = rng.choice(
            [
                {"type": "plain_text_input", "value": _junk_value(rng)},
                {"type": "static_select", "selected_option": _junk_value(rng)},
                {"type": "datepicker", "selected_date": rng.choice(["2027-02-31", "x", None])},
                _junk_value(rng),
            ]
        )
        values[rng.choice([f.name, f.name + "_x"])] = {rng.choice([f.name, "other"]): entry}
    return {"values": values}


def _drop_some(rng: random.Random, payload: dict[str, Any]) -> dict[str, Any]:
    for key in list(payload):
        if key != "type" and rng.random() < 0.2:
            del payload[key]
        elif rng.random() < 0.1:
            payload[key] = _junk_value(rng)
    return payload


def block_actions(rng: random.Random) -> dict[str, Any]:
    action = {"action_id": rng.choice(ACTION_IDS), "block_id": rng.choice(["review", "", "z"]),
              "type": rng.choice(["button", "static_select", "nope"]), "value": _junk_value(rng),
              "selected_option": _junk_value(rng), "action_ts": "1"}  # fmt: skip
    container = rng.choice([{"type": "message", "message_ts": "1"}, {"type": "view"}, {}, None])
    payload = {
        "type": "block_actions", "user": {"id": rng.choice(USERS)}, "team": {"id": "T0TEAM"},
        "container": container, "trigger_id": rng.choice(["t.1", None, 5]),
        "channel": {"id": "C0REVIEW"}, "message": {"ts": "1", "blocks": _junk_value(rng)},
        "view": {"id": "V1", "callback_id": rng.choice(CALLBACKS), "state": _state(rng),
                 "private_metadata": _junk_value(rng), "hash": "h"},
        "actions": rng.choice([[action], [], [action, action], None, "x", [None]]),
    }  # fmt: skip
    return _drop_some(rng, payload)


def view_submission(rng: random.Random) -> dict[str, Any]:
    payload = {
        "type": "view_submission", "team": {"id": "T0TEAM"}, "user": {"id": rng.choice(USERS)},
        "view": {"id": "V1", "callback_id": rng.choice(CALLBACKS), "state": _state(rng),
                 "private_metadata": _junk_value(rng), "hash": "h",
                 "blocks": _junk_value(rng)},
    }  # fmt: skip
    return _drop_some(rng, payload)


def block_suggestion(rng: random.Random) -> dict[str, Any]:
    payload = {
        "type": "block_suggestion", "user": {"id": rng.choice(USERS)}, "team": {"id": "T0TEAM"},
        "action_id": rng.choice(["country", "state", "nope", ""]), "block_id": "country",
        "value": _junk_value(rng), "view": {"id": "V1", "state": _state(rng),
                                            "private_metadata": _junk_value(rng)},
    }  # fmt: skip
    return _drop_some(rng, payload)


def slack_request(rng: random.Random) -> tuple[str, str]:
    """One malformed request body and its content type, as Slack (or an attacker) posts it."""
    from urllib.parse import urlencode

    form = "application/x-www-form-urlencoded"
    kind = rng.randrange(7)
    if kind == 0:
        return json.dumps(rng.choice([block_actions, view_submission, block_suggestion])(rng)), form
    if kind <= 3:
        maker = [block_actions, view_submission, block_suggestion][kind - 1]
        return urlencode({"payload": json.dumps(maker(rng))}), form
    if kind == 4:
        text = rng.choice(
            [
                "register",
                "show",
                "show DR-x",
                "advance",
                "quote DR-999999",
                "check",
                "check http://",
                "search " + "%" * 300,
                "approve",
                "",
                "\x00",
            ]
        )
        fields = {"command": rng.choice(["/deal", "/other", ""]), "text": text,
                  "user_id": rng.choice(["U01ANN", "U0STRANGER", ""]), "team_id": "T0TEAM",
                  "trigger_id": "t.1", "response_url": "http://127.0.0.1:9/r"}  # fmt: skip
        return urlencode(_drop_some(rng, {"type": "x", **fields})), form
    if kind == 5:
        event = rng.choice([{"type": "app_home_opened", "user": rng.choice(USERS),
                             "tab": rng.choice(["home", "messages", None])},
                            {"type": "no_such_event"}, {}, None, "x"])  # fmt: skip
        body = {"type": rng.choice(["event_callback", "url_verification", "junk"]),
                "team_id": "T0TEAM", "event": event, "challenge": _junk_value(rng)}  # fmt: skip
        return json.dumps(_drop_some(rng, body)), "application/json"
    junk = rng.choice(["{", "payload=%7B", "payload=" + "x" * 50_000, "\x00\xff", "[]", "null"])
    return junk, rng.choice([form, "application/json", "text/plain"])
