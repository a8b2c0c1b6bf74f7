"""The errors seqintent raises.

Every error is a :class:`SeqintentError` and also the builtin that fits it, so callers can catch
either. Each carries structured fields (file, line, key, ...) that ``--json`` output and HTTP
responses return as they are, and its message answers: what was given, where, what was expected,
and how to fix it.

Examples
--------
>>> from seqintent.errors import ConfigError
>>> err = ConfigError("must be one of 's', 'ms', 'us', 'ns'", key="sources[0].time.unit", value="sec")
>>> print(err)
sources[0].time.unit: must be one of 's', 'ms', 'us', 'ns' (got 'sec')
>>> isinstance(err, ValueError)
True
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class SeqintentError(Exception):
    """Base of every seqintent error.

    Parameters
    ----------
    message:
        What is wrong and what was expected.
    file, line, column, key:
        Where: a path, a 1-based line number, a column name, or a config key (dotted path).
    value:
        The offending value, shown as ``(got ...)``.
    fix:
        How to fix it, shown on its own line.
    candidates:
        Valid names close to an unknown one.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: str | None = None,
        key: str | None = None,
        value: Any = None,
        fix: str | None = None,
        candidates: Iterable[str] | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.line = line
        self.column = column
        self.key = key
        self.value = value
        self.fix = fix
        self.candidates = list(candidates) if candidates is not None else None
        super().__init__(self._render())

    def _where(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file + (f":{self.line}" if self.line is not None else ""))
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.column:
            parts.append(f"column {self.column!r}")
        if self.key:
            parts.append(self.key)
        return ", ".join(parts)

    def _render(self) -> str:
        where = self._where()
        text = f"{where}: {self.message}" if where else self.message
        if self.value is not None:
            text += f" (got {self.value!r})"
        if self.candidates:
            text += "\n  candidates: " + ", ".join(repr(c) for c in self.candidates)
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text

    def __str__(self) -> str:  # KeyError would otherwise print the repr of its argument
        return self._render()

    def to_dict(self) -> dict[str, Any]:
        """The error as a JSON-able object (for ``--json`` and HTTP error bodies)."""
        out: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
        for name in ("file", "line", "column", "key", "fix", "candidates"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.value is not None:
            out["value"] = self.value if isinstance(self.value, (str, int, float, bool)) else repr(self.value)
        return out


class ConfigError(SeqintentError, ValueError):
    """A configuration (YAML file, preset, keyword argument) is invalid.

    >>> raise ConfigError("unknown key", key="cleaning.min_dwel_s", candidates=["min_dwell_s"])
    Traceback (most recent call last):
    seqintent.errors.ConfigError: cleaning.min_dwel_s: unknown key
      candidates: 'min_dwell_s'
    """


class ColumnError(SeqintentError, KeyError):
    """A column the configuration names is not in the input (or a required one is missing).

    >>> raise ColumnError("no such column", file="log.csv", column="userid", candidates=["user_id"])
    Traceback (most recent call last):
    seqintent.errors.ColumnError: log.csv, column 'userid': no such column
      candidates: 'user_id'
    """


class DataError(SeqintentError, ValueError):
    """A row or value of the input cannot be used (malformed line, unparseable time, unknown action).

    >>> raise DataError("not epoch seconds", file="log.csv", line=7, column="ts", value="yesterday")
    Traceback (most recent call last):
    seqintent.errors.DataError: log.csv:7, column 'ts': not epoch seconds (got 'yesterday')
    """


class ArtifactError(SeqintentError, ValueError):
    """A Dataset / Model / Runtime folder is missing, of another kind, or of an unsupported version.

    >>> raise ArtifactError("not a seqintent dataset: manifest.json is missing", file="out/")
    Traceback (most recent call last):
    seqintent.errors.ArtifactError: out/: not a seqintent dataset: manifest.json is missing
    """


class NotFittedError(SeqintentError, AttributeError):
    """A predict-style method was called before ``fit``.

    >>> raise NotFittedError("PopularityBaseline is not fitted yet", fix="call fit(dataset) first")
    Traceback (most recent call last):
    seqintent.errors.NotFittedError: PopularityBaseline is not fitted yet
      fix: call fit(dataset) first
    """


class MissingDependencyError(SeqintentError, ImportError):
    """An optional dependency is not installed; the message names the exact install command.

    >>> raise MissingDependencyError("lightgbm is needed for the gradient-boosted baseline",
    ...                              fix='pip install "seqintent[evaluate]"')
    Traceback (most recent call last):
    seqintent.errors.MissingDependencyError: lightgbm is needed for the gradient-boosted baseline
      fix: pip install "seqintent[evaluate]"
    """


def close_names(name: str, valid: Iterable[str], n: int = 3) -> list[str]:
    """Valid names closest to ``name`` (for "did you mean" candidates); all of them when few."""
    valid = list(valid)
    if len(valid) <= n:
        return sorted(valid)
    return difflib.get_close_matches(name, valid, n=n, cutoff=0.5) or sorted(valid)[:n]
