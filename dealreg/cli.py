"""The `dealreg` command: parse the arguments, import and run the one subcommand asked for,
map the errors a user can act on to one line and an exit status.

Nothing of the product is imported before the arguments are parsed, and then only what the
subcommand needs (`dealreg.arguments.HANDLERS` names its module), so `--help` and a listing
start at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from dealreg.arguments import handler_of, parser

if TYPE_CHECKING:
    from core.config import Settings
    from dealreg.wiring import App

Handler = Callable[["App", argparse.Namespace], int]


def handler(args: argparse.Namespace) -> Handler:
    """Import the module of the subcommand `args` name; return the function that runs it."""
    module, _, name = handler_of(args).partition(":")
    run: Handler = getattr(importlib.import_module(module), name)
    return run


def dispatch(app: App, args: argparse.Namespace) -> int:
    """Run the subcommand `args` name with `app`; return its exit status."""
    return handler(args)(app, args)


def _settings() -> Settings | None:
    from pydantic import ValidationError

    from core.config import Settings

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "setting"
        print(f"dealreg: bad setting {name}: {first['msg']}", file=sys.stderr)
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run `dealreg` with `argv`; return the exit status."""
    args = parser().parse_args(argv)
    settings = _settings()
    if settings is None:
        return 2
    from dealreg.wiring import App

    app = App(settings)
    try:
        return dispatch(app, args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        return _told(exc)
    finally:
        app.close()


def _told(exc: Exception) -> int:
    """Tell the user what they can act on in one line; return the exit status.

    Anything else is ours: raised again, with its traceback.
    """
    # Imported here, once a command has failed: a command that runs needs none of them.
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from core.errors import CatalogError, DealError, Invalid
    from dealreg.output import CommandError

    if isinstance(exc, Invalid):
        for e in exc.errors:
            print(f"dealreg: {e.field}: {_labelled(e.field, e.message)}", file=sys.stderr)
        return 1
    if isinstance(exc, DealError):
        print(f"dealreg: {exc.message}", file=sys.stderr)
        return 1
    if isinstance(exc, CatalogError):
        print("dealreg: catalogue refused, nothing loaded:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    if isinstance(exc, CommandError):
        print(f"dealreg: {exc}", file=sys.stderr)
        return exc.code
    if not isinstance(exc, OperationalError | ProgrammingError):
        raise exc
    reason = str(exc.orig).strip().splitlines()[0]
    hint = (
        " (run `dealreg init` first)"
        if "no such table" in reason or ("does not exist" in reason and "relation" in reason)
        else ""
    )
    print(f"dealreg: cannot use the database: {reason}{hint}", file=sys.stderr)
    return 1


def _labelled(field: str, message: str) -> str:
    """A registration field's message after its label, as a person reads it: `Number of
    Users must be a whole number` (other fields' messages as they are)."""
    from core.fields import field_label

    label = field_label(field)
    return f"{label} {message}" if label else message
