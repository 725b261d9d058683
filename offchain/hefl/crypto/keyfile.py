"""Key files: the JSON format of Paillier keys, reading, and writing them atomically.

A public key file holds ``{"type": "hefl-paillier-public", "version": 1, "bits", "n",
"fingerprint"}`` (integers as ``0x`` hex strings); a private key file has type
``hefl-paillier-private`` and adds ``p`` and ``q``. Private key files are written with mode
0600, public ones 0644, both through a temporary file renamed into place
(:func:`hefl.files.atomic_write`), so a reader never sees half a key and a private key is never
readable by others, not even briefly.

This module knows the format only; :mod:`hefl.crypto.keys` builds and checks the keys
(``PublicKey.save`` / ``load`` / ``to_json`` / ``from_json`` use the functions here).
Anything malformed raises :class:`~hefl.errors.SerializationError` naming what is wrong.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hefl.errors import SerializationError
from hefl.files import PRIVATE_FILE_MODE, atomic_write

__all__ = [
    "JSON_PRIVATE_TYPE",
    "JSON_PUBLIC_TYPE",
    "JSON_VERSION",
    "PRIVATE_KEY_FILE_MODE",
    "PUBLIC_KEY_FILE_MODE",
    "check_key_header",
    "check_recorded_facts",
    "dump_key_json",
    "parse_key_int",
    "parse_key_json",
    "read_key_file",
    "write_key_file",
]

JSON_PUBLIC_TYPE = "hefl-paillier-public"
JSON_PRIVATE_TYPE = "hefl-paillier-private"
JSON_VERSION = 1
#: A public key file may be read by anyone; a private one by its owner only.
PUBLIC_KEY_FILE_MODE = 0o644
PRIVATE_KEY_FILE_MODE = PRIVATE_FILE_MODE


def dump_key_json(data: dict[str, Any]) -> str:
    """The text of a key file (indented JSON)."""
    return json.dumps(data, indent=2)


def parse_key_json(text: str) -> Any:
    """JSON text to a document; invalid JSON raises SerializationError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SerializationError(f"key file is not valid JSON: {exc}") from exc


def check_key_header(data: Any, expected_type: str) -> dict[str, Any]:
    """Return ``data`` if it is a key document of ``expected_type`` in the supported version."""
    if not isinstance(data, dict):
        raise SerializationError("key file must hold a JSON object")
    if data.get("type") != expected_type:
        raise SerializationError(
            f"key file has type {data.get('type')!r}, expected {expected_type!r}"
        )
    if data.get("version") != JSON_VERSION:
        raise SerializationError(
            f"key file version {data.get('version')!r} is not supported (expected {JSON_VERSION})"
        )
    return data


def parse_key_int(value: Any, what: str) -> int:
    """An integer field: a JSON integer or a string in any base with prefix (``0x…``)."""
    try:
        if isinstance(value, str):
            return int(value, 0)
        if isinstance(value, float | bool) or value is None:
            raise TypeError
        return int(value)
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"{what} must be an integer, got {value!r}") from exc


def check_recorded_facts(data: dict[str, Any], fingerprint_hex: str, bits: int) -> None:
    """The optional ``fingerprint`` and ``bits`` fields must match the key built from n."""
    if "fingerprint" in data and str(data["fingerprint"]).lower() != fingerprint_hex:
        raise SerializationError(
            f"key file fingerprint {data['fingerprint']} does not match n "
            f"({fingerprint_hex}); the file is corrupt"
        )
    if "bits" in data and data["bits"] != bits:
        raise SerializationError(f"key file says {data['bits']} bits but n has {bits}")


def read_key_file(path: str | os.PathLike[str]) -> str:
    """The text of a key file; an unreadable file raises SerializationError."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SerializationError(f"cannot read key file {path}: {exc.strerror}") from exc


def write_key_file(path: str | os.PathLike[str], text: str, mode: int) -> Path:
    """Write a key file atomically with ``mode`` (a trailing newline is added)."""
    return atomic_write(path, text + "\n", mode=mode)
