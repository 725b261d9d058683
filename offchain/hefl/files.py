"""Atomic file writes: a reader sees the old content or the new one, never half of it; and the
one reader of a JSON-object file that names what it expected.

A bottom-layer module (it imports only :mod:`hefl.errors`), for every layer that writes files
which must not be torn or briefly readable by others: key files (:mod:`hefl.crypto.keyfile`),
blobs, agent identities, downloaded data sets.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from hefl.errors import ConfigError

__all__ = ["PRIVATE_FILE_MODE", "atomic_write", "read_json_object"]

#: Mode of files only their owner may read (private keys, keystores); also mkstemp's default.
PRIVATE_FILE_MODE = 0o600


def atomic_write(
    path: str | os.PathLike[str], data: bytes | str, *, mode: int = PRIVATE_FILE_MODE
) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same directory, then rename.

    The temporary file is created with ``mode`` (never wider, not even for an instant), flushed
    to disk, and renamed over ``path`` (``os.replace`` is atomic on POSIX); missing parent
    directories are created. Text is written as UTF-8. On any error the temporary file is removed
    and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; an unreadable file, bad JSON or another JSON type is one
    :class:`~hefl.errors.ConfigError` naming ``what`` the file should hold."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read the {what} {path}: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"the {what} {path} is not a JSON object")
    return document
