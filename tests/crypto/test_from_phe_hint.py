"""A vector wrapped from phe without ``bound=`` claims the whole safe band: the overflow that
follows says to pass ``bound=`` (it used to say only "needs 2046.07 bits … has 2046.07")."""

from __future__ import annotations

import numpy as np
import pytest

phe = pytest.importorskip("phe")

from hefl.crypto import PrivateKey, PublicKey  # noqa: E402
from hefl.crypto.vector import EncryptedVector  # noqa: E402
from hefl.errors import EncodingOverflowError  # noqa: E402


@pytest.fixture(scope="module")
def keys():
    public, private = phe.paillier.generate_paillier_keypair(n_length=512)
    return public, PublicKey.from_phe(public), PrivateKey.from_phe(private)


def test_an_operation_on_an_unbounded_phe_vector_hints_to_pass_bound(keys) -> None:
    phe_pk, pk, _ = keys
    vector = EncryptedVector.from_phe([phe_pk.encrypt(1.5), phe_pk.encrypt(-2.25)], pk)
    with pytest.raises(EncodingOverflowError, match=r"without bound=.*pass bound="):
        vector + vector


def test_with_a_bound_the_same_operation_works(keys) -> None:
    phe_pk, pk, sk = keys
    numbers = [phe_pk.encrypt(1.5), phe_pk.encrypt(-2.25)]
    vector = EncryptedVector.from_phe(numbers, pk, bound=2**80)
    np.testing.assert_allclose((vector + vector).decrypt(sk), [3.0, -4.5])


def test_an_ordinary_overflow_far_beyond_the_band_carries_no_such_hint(keys) -> None:
    _, pk, _ = keys
    vector = EncryptedVector.encrypt(pk, [1.0], 16)
    with pytest.raises(EncodingOverflowError) as caught:
        vector.mul_int([2**600])
    assert "bound=" not in str(caught.value)
