"""API keys: created once and shown once, stored only as hashes, each with its scopes.

A key is 32 random bytes (``sqi_`` + URL-safe base64). Keys that random need no slow password
hash: the file keeps their SHA-256, which nobody can turn back into a key, and a request's key is
checked by hashing it and looking the hash up. Scopes: ``read`` (answers) and ``write`` (events).

The key file (JSON)::

    {"kind": "seqintent.keys", "format_version": 1,
     "keys": [{"id": "k1a2b3c4", "name": "...", "sha256": "...", "scopes": ["read"], "created": "..."}]}

>>> ring = KeyRing.from_plain(["local-key"])
>>> sorted(ring.scopes_of("local-key")), ring.scopes_of("wrong")
(['read', 'write'], None)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from seqintent.errors import ArtifactError, ConfigError, close_names

SCOPES = ("read", "write")
KEYS_KIND = "seqintent.keys"
KEYS_FORMAT_VERSION = 1
KEY_PREFIX = "sqi_"
API_KEYS_ENV = "SEQINTENT_API_KEYS"  # comma-separated plain keys with every scope (local use)


def hash_key(key: str) -> str:
    """SHA-256 of a key, hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    """One key as the ring knows it (never the key itself)."""

    id: str
    name: str
    scopes: frozenset[str]


class KeyRing:
    """The keys a service accepts, by hash.

    Parameters
    ----------
    entries:
        SHA-256 hex of each key → what it may do.
    """

    def __init__(self, entries: dict[str, KeyInfo]) -> None:
        self._by_hash = dict(entries)

    def __len__(self) -> int:
        return len(self._by_hash)

    def lookup(self, key: str) -> KeyInfo | None:
        """The key's info, or None when it is not one of the ring's."""
        return self._by_hash.get(hash_key(key))

    def scopes_of(self, key: str) -> frozenset[str] | None:
        info = self.lookup(key)
        return None if info is None else info.scopes

    def infos(self) -> list[KeyInfo]:
        return list(self._by_hash.values())

    def merged(self, other: KeyRing) -> KeyRing:
        return KeyRing({**self._by_hash, **other._by_hash})

    @classmethod
    def from_plain(cls, keys: Iterable[str], *, name: str = "environment") -> KeyRing:
        """Keys given in plain text (``SEQINTENT_API_KEYS``): each gets every scope."""
        entries = {}
        for i, key in enumerate(k.strip() for k in keys):
            if key:
                entries[hash_key(key)] = KeyInfo(id=f"env{i + 1}", name=name, scopes=frozenset(SCOPES))
        return cls(entries)

    @classmethod
    def from_sources(cls, keyfile: str | Path | None = None) -> KeyRing:
        """The keys of ``keyfile`` (when given) and of the environment variable ``SEQINTENT_API_KEYS``."""
        ring = cls({}) if keyfile is None else cls.from_file(keyfile)
        return ring.merged(cls.from_plain(os.environ.get(API_KEYS_ENV, "").split(",")))

    @classmethod
    def from_file(cls, path: str | Path) -> KeyRing:
        """Read a key file written by :func:`add_key`.

        Raises
        ------
        ArtifactError
            If the file is missing, not JSON, or not a key file of a supported version.
        """
        data = _read(Path(path))
        entries = {}
        for i, entry in enumerate(data["keys"]):
            try:
                entries[entry["sha256"]] = KeyInfo(
                    id=entry["id"], name=entry.get("name", ""), scopes=frozenset(entry["scopes"])
                )
            except (KeyError, TypeError):
                raise ArtifactError(
                    "a key entry needs 'id', 'sha256' and 'scopes'", file=str(path), key=f"keys[{i}]"
                ) from None
        return cls(entries)


def parse_scopes(text: str | Iterable[str]) -> list[str]:
    """Scopes from ``"read,write"`` (or a list), checked.

    Raises
    ------
    ConfigError
        If a scope is unknown (the message lists the valid ones) or none is given.
    """
    scopes = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    if not scopes:
        raise ConfigError("give at least one scope", key="scopes", candidates=SCOPES)
    for scope in scopes:
        if scope not in SCOPES:
            raise ConfigError(
                "unknown scope", key="scopes", value=scope, candidates=close_names(scope, SCOPES)
            )
    return sorted(set(scopes))


def add_key(path: str | Path, scopes: str | Iterable[str], *, name: str = "") -> tuple[str, KeyInfo]:
    """Create a key, add its hash to the key file (created when missing), and return the key.

    The key itself is not stored anywhere: show it to the user once.

    Returns
    -------
    (str, KeyInfo)
        The new key and its entry.

    Raises
    ------
    ConfigError
        If a scope is unknown.
    ArtifactError
        If the file exists and is not a key file.
    """
    path = Path(path)
    checked = parse_scopes(scopes)
    data = (
        _read(path)
        if path.exists()
        else {"kind": KEYS_KIND, "format_version": KEYS_FORMAT_VERSION, "keys": []}
    )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = "k" + secrets.token_hex(4)
    data["keys"].append(
        {
            "id": key_id,
            "name": name,
            "sha256": hash_key(key),
            "scopes": checked,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return key, KeyInfo(id=key_id, name=name, scopes=frozenset(checked))


def _read(path: Path) -> dict:
    if not path.is_file():
        raise ArtifactError(
            "key file not found", file=str(path), fix=f"create one: seqintent keys add {path} --scopes read"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    if not isinstance(data, dict) or data.get("kind") != KEYS_KIND or not isinstance(data.get("keys"), list):
        raise ArtifactError(
            f"not a seqintent key file (expected kind {KEYS_KIND!r} with a 'keys' list)", file=str(path)
        )
    if data.get("format_version") != KEYS_FORMAT_VERSION:
        raise ArtifactError(
            f"key file format version {data.get('format_version')} is not supported "
            f"(expected {KEYS_FORMAT_VERSION})",
            file=str(path),
        )
    return data
