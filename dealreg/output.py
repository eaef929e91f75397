"""What a command prints: its result as JSON or text, or one line saying why it cannot run."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


class CommandError(Exception):
    """A command that cannot run as asked; printed as one line."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def emit(args: argparse.Namespace, data: Any, text: str) -> int:
    """Print `data` as JSON with `--json`, else `text`; return the exit status 0."""
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, indent=2, default=str, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(text)
    return 0
