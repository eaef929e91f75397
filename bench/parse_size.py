"""Reading one message against its size: 100 KB to 10 MB, in the shapes that cost most.

Each message is read by `readahead.read`, what the intake runs on every message (MIME,
headers, classification, form, reply text). Time grows linearly when the time per byte
stays flat: the growth ratio (time per byte at 10 MB over time per byte at 100 KB) is
about 1, or below 1 where a fixed cost dominates the small message.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

from bench.common import Scale, log
from intake import readahead

SIZES = (100_000, 300_000, 1_000_000, 3_000_000, 10_000_000)
QUICK_SIZES = (100_000, 1_000_000, 10_000_000)
OWN = frozenset({"deals@dealreg.localhost"})
HEAD = b"From: Ann Lee <ann@northwind.example>\nTo: deals@dealreg.localhost\nMessage-ID: <m@x>\n"
FORM = b"Company Name: Acme\nDomain: acme.example\nProduct: Email Archive\n"


def encoded_subject(size: int) -> bytes:
    """A registration whose Subject is RFC 2047 encoded words, folded (the issue's case)."""
    word = b" =?utf-8?q?Die_hei=C3=9Fe_Zypernsonne_qu=C3=A4lte_Max?=\n"
    return HEAD + b"Subject:" + word * (size // len(word)) + b"\n" + FORM


def plain_text(size: int) -> bytes:
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit: sed do eiusmod.\n"
    return HEAD + b"Subject: New deal\n\n" + FORM + line * (size // len(line))


def html_table(size: int) -> bytes:
    row = b"<tr><td>Users</td><td>20</td></tr>\n"
    body = b"<table>" + row * (size // len(row)) + b"</table>"
    return HEAD + b"Subject: New deal\nContent-Type: text/html\n\n" + body


def attachment(size: int) -> bytes:
    data = base64.encodebytes(b"\x00\x01\x02" * (size // 4))
    return (
        HEAD + b'Subject: New deal\nContent-Type: multipart/mixed; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\n" + FORM + b"--b\nContent-Type: application/pdf\n"
        b"Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=a.pdf\n\n"
        + data + b"--b--\n"
    )  # fmt: skip


def many_parts(size: int) -> bytes:
    part = b"--b\nContent-Type: text/plain\n\nhello there\n"
    body = part * (size // len(part)) + b"--b--\n"
    return HEAD + b'Subject: New deal\nContent-Type: multipart/mixed; boundary="b"\n\n' + body


def header_lines(size: int) -> bytes:
    line = b"X-Filler: a header line that repeats itself\n"
    return HEAD + line * (size // len(line)) + b"Subject: New deal\n\n" + FORM


SHAPES: dict[str, Callable[[int], bytes]] = {
    "encoded_subject": encoded_subject,
    "plain_text": plain_text,
    "html_table": html_table,
    "attachment": attachment,
    "many_parts": many_parts,
    "header_lines": header_lines,
}


def best_of(raw: bytes, runs: int) -> float:
    """The fastest of `runs` reads of one message, in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        readahead.read(raw, headers_only=False, own_addresses=OWN)
        times.append(time.perf_counter() - started)
    return min(times)


def measure(make: Callable[[int], bytes], sizes: tuple[int, ...], runs: int) -> dict[str, Any]:
    """Time one shape at each size; its growth ratio from the smallest to the largest."""
    points = []
    for size in sizes:
        raw = make(size)
        seconds = best_of(raw, runs)
        points.append({"bytes": len(raw), "s": round(seconds, 4)})
    first, last = points[0], points[-1]
    ratio = (last["s"] / last["bytes"]) / (first["s"] / first["bytes"])
    return {"points": points, "growth_ratio": round(ratio, 3)}


def run(scale: Scale) -> dict[str, Any]:
    """Every shape at every size; the headline is the slowest 10 MB read and worst growth."""
    quick = scale.emails < 1000
    sizes, runs = (QUICK_SIZES, 1) if quick else (SIZES, 3)
    shapes: dict[str, Any] = {}
    for name, make in SHAPES.items():
        shapes[name] = measure(make, sizes, runs)
        log(f"parse_size: {name} {_row(shapes[name])}")
    mb_subject = best_of(encoded_subject(1_000_000), runs)
    _print(shapes)
    return {
        "parse_size": {
            "max_10mb_s": max(s["points"][-1]["s"] for s in shapes.values()),
            "max_growth_ratio": max(s["growth_ratio"] for s in shapes.values()),
            "subject_1mb_s": round(mb_subject, 4),
            "shapes": shapes,
        }
    }


def _row(shape: dict[str, Any]) -> str:
    cells = [f"{p['bytes'] / 1e6:.1f} MB {p['s']:.3f} s" for p in shape["points"]]
    return " | ".join(cells) + f" | growth {shape['growth_ratio']:.2f}"


def _print(shapes: dict[str, Any]) -> None:
    print(f"\n{'shape':<16} {'size':>10} {'seconds':>9} {'us/KB':>8}")
    for name, shape in shapes.items():
        for point in shape["points"]:
            per_kb = point["s"] / point["bytes"] * 1e9
            print(f"{name:<16} {point['bytes']:>10,} {point['s']:>9.3f} {per_kb:>8.1f}")
        print(f"{name:<16} growth ratio (per byte, largest / smallest): {shape['growth_ratio']}")
