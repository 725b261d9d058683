"""Errors of the secure-aggregation protocols (all rooted in :class:`hefl.errors.CryptoError`).

Malformed, truncated or tampered messages raise :class:`hefl.errors.SerializationError`; parameters
below hefl's floor raise :class:`hefl.errors.InsecureParameterError`; bad configuration raises
:class:`hefl.errors.ConfigError`. The classes here cover the protocol's own outcomes.
"""

from __future__ import annotations

from collections.abc import Iterable

from hefl.errors import CryptoError


class ProtocolError(CryptoError, RuntimeError):
    """A secure-aggregation round cannot go on as asked (wrong round, missing data...)."""


class LoneClientError(ProtocolError):
    """Only one client is online (pk_S = pk_i, §3.2 / Theorem 4): it must not upload anything.

    Decrypting a one-client "aggregate" would hand the server that client's gradient, so the
    client stops and the server refuses to run a round with fewer than two clients.
    """


class RoundRestartRequired(ProtocolError):
    """Some clients of S sent nothing or did not answer the challenge R.

    Their sk_i is inside pk_S and T = Π T_i, so the server cannot cancel it without them. The round
    restarts over ``remaining`` (the clients that did everything), who encrypt afresh under the new
    pk_S (§4.2: the round runs over the set S of clients that are actually online).
    """

    def __init__(self, remaining: Iterable[int], missing: Iterable[int]) -> None:
        self.remaining = frozenset(remaining)
        self.missing = frozenset(missing)
        super().__init__(
            f"clients {sorted(self.missing)} did not complete the round; restart it over "
            f"the {len(self.remaining)} clients {sorted(self.remaining)}"
        )


class DecryptionError(CryptoError, ValueError):
    """The aggregate does not decrypt to a valid plaintext (inconsistent ciphertexts/responses)."""
