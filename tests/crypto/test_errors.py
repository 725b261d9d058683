"""The engine's and the secure-aggregation protocols' exceptions live in hefl.errors, each one a
HeflError and the built-in a caller would expect, and the old import paths still name them."""

from __future__ import annotations

import warnings

import pytest

import hefl.crypto
import hefl.crypto.encoding
import hefl.crypto.keys
import hefl.crypto.vector
import hefl.secagg
import hefl.secagg.errors
from hefl import errors


@pytest.mark.parametrize(
    ("name", "builtin", "old_homes"),
    [
        ("CryptoValueError", ValueError, (hefl.crypto, hefl.crypto.encoding)),
        ("ShapeMismatchError", ValueError, (hefl.crypto, hefl.crypto.vector)),
        ("InsecureKeyWarning", UserWarning, (hefl.crypto, hefl.crypto.keys)),
        ("ProtocolError", RuntimeError, (hefl.secagg, hefl.secagg.errors)),
        ("LoneClientError", RuntimeError, (hefl.secagg, hefl.secagg.errors)),
        ("RoundRestartRequired", RuntimeError, (hefl.secagg, hefl.secagg.errors)),
        ("DecryptionError", ValueError, (hefl.secagg, hefl.secagg.errors)),
    ],
)
def test_moved_exceptions_keep_their_old_names(name, builtin, old_homes) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, errors.HeflError) and issubclass(cls, builtin)
    assert issubclass(cls, errors.CryptoError)
    for module in old_homes:
        assert getattr(module, name) is cls


def test_restart_carries_the_remaining_clients() -> None:
    exc = errors.RoundRestartRequired(remaining=[0, 2], missing=[1])
    assert exc.remaining == frozenset({0, 2}) and exc.missing == frozenset({1})
    assert "[1]" in str(exc)


def test_insecure_key_warning_is_a_warning() -> None:
    with pytest.warns(errors.InsecureKeyWarning):
        warnings.warn("small key", errors.InsecureKeyWarning, stacklevel=1)
