"""Shared CLI plumbing: turning library errors into clear messages and exit codes, JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from seqintent.errors import SeqintentError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_ERROR = 2


def print_json(data: Any) -> None:
    """One JSON object on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def handle_errors(func: F) -> F:
    """Print a :class:`SeqintentError` as ``error: ...`` (or a JSON error object with --json) and exit 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SeqintentError as exc:
            if kwargs.get("as_json"):
                print_json(exc.to_dict())
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ERROR)

    return wrapper  # type: ignore[return-value]


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
