"""Errors of the secure-aggregation protocols, defined in :mod:`hefl.errors` and re-exported here.

Malformed, truncated or tampered messages raise :class:`hefl.errors.SerializationError`; parameters
below hefl's floor raise :class:`hefl.errors.InsecureParameterError`; bad configuration raises
:class:`hefl.errors.ConfigError`. The classes here cover the protocol's own outcomes (all rooted in
:class:`hefl.errors.CryptoError`).
"""

from __future__ import annotations

from hefl.errors import DecryptionError, LoneClientError, ProtocolError, RoundRestartRequired

__all__ = ["DecryptionError", "LoneClientError", "ProtocolError", "RoundRestartRequired"]
