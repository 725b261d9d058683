"""Keys: generation, encryption paths, CRT decryption, JSON files, phe interop of keys."""

from __future__ import annotations

import json
import stat
import warnings

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hefl.crypto import InsecureKeyWarning, PrivateKey, PublicKey, generate_keypair
from hefl.crypto.keys import djn_exponent_bits, security_bits
from hefl.errors import CryptoError, InsecureParameterError, KeyMismatchError, SerializationError

phe = pytest.importorskip("phe")
from phe import paillier  # noqa: E402


def test_default_key_is_2048_bits(keypair) -> None:
    pk, sk = keypair
    assert pk.bits == 2048
    assert sk.p * sk.q == pk.n
    assert sk.p < sk.q
    assert sk.p.bit_length() == sk.q.bit_length() == 1024
    assert gmpy2.is_prime(sk.p) and gmpy2.is_prime(sk.q)
    assert pk.alpha_bits == 448
    assert pk.ciphertext_bytes == 512
    assert pk.max_int == pk.n // 3 - 1


def test_security_levels() -> None:
    assert security_bits(2048) == 112 and djn_exponent_bits(2048) == 448
    assert security_bits(3072) == 128 and djn_exponent_bits(3072) == 512
    assert djn_exponent_bits(2048) >= 2 * security_bits(2048)


def test_small_keys_need_explicit_consent() -> None:
    with pytest.raises(InsecureParameterError, match="allow_insecure"):
        generate_keypair(1024)
    with pytest.warns(InsecureKeyWarning):
        pk, _ = generate_keypair(256, allow_insecure=True)
    assert pk.bits == 256
    with pytest.raises(InsecureParameterError):
        generate_keypair(64, allow_insecure=True)
    with pytest.raises(InsecureParameterError):
        generate_keypair(2047)


@pytest.mark.parametrize("randomizer", ["djn", "full"])
def test_encrypt_decrypt_both_randomizers_both_holders(keypair, randomizer) -> None:
    pk, sk = keypair
    for m in (0, 1, 12345678901234567890, int(pk.n) - 1):
        for key in (pk, sk):
            c = key.encrypt_int(m, randomizer=randomizer)
            assert 0 < c < pk.nsquare
            assert sk.decrypt_int(c) == m


def test_encryption_is_randomised(small_keypair) -> None:
    pk, sk = small_keypair
    cs = {int(pk.encrypt_int(7)) for _ in range(20)} | {int(sk.encrypt_int(7)) for _ in range(20)}
    assert len(cs) == 40


def test_djn_randomiser_is_an_nth_residue(small_keypair) -> None:
    """h^α must be r^n for some r: decrypting it gives 0, and h = (−x²)^n is fixed by n."""
    pk, sk = small_keypair
    assert sk.decrypt_int(pk.randomizer_djn()) == 0
    assert PublicKey(int(pk.n)).h == pk.h
    alpha = pk.random_alpha()
    assert pk.randomizer_djn(alpha) == gmpy2.powmod(pk.h, alpha, pk.nsquare)


def test_owner_crt_encryption_matches_public_formula(small_keypair) -> None:
    pk, sk = small_keypair
    # With the same α both paths must give the identical ciphertext.
    from hefl.crypto.multiexp import COMB_AFTER_USES, fixed_base_pow

    alpha = pk.random_alpha()
    (hp, psq), (hq, qsq) = sk._crt_bases()
    for _ in range(COMB_AFTER_USES + 2):  # by powmod first, then from the comb table
        rp = fixed_base_pow(hp, alpha, psq, pk.alpha_bits)
        rq = fixed_base_pow(hq, alpha, qsq, pk.alpha_bits)
        assert pk.randomizer_djn(alpha) % sk.psquare == rp
        assert pk.randomizer_djn(alpha) % sk.qsquare == rq
        assert rp == gmpy2.powmod(pk.h, alpha, sk.psquare)


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_decrypt_batch_equals_single(small_keypair, data) -> None:
    pk, sk = small_keypair
    ms = data.draw(st.lists(st.integers(0, int(pk.n) - 1), max_size=9))
    cs = pk.encrypt_ints(ms)
    for workers in (1, 2, 3):
        assert sk.decrypt_ints(cs, workers=workers) == ms
    assert [sk.decrypt_int(c) for c in cs] == ms


def test_plaintext_out_of_range_refused(small_keypair) -> None:
    pk, sk = small_keypair
    for key in (pk, sk):
        with pytest.raises(CryptoError):
            key.encrypt_int(-1)
        with pytest.raises(CryptoError):
            key.encrypt_int(int(pk.n))
        with pytest.raises(CryptoError):
            key.encrypt_int(1, randomizer="weak")  # type: ignore[arg-type]


def test_fingerprint_is_keccak_of_n(keypair) -> None:
    from eth_hash.auto import keccak

    pk, _ = keypair
    assert pk.fingerprint == keccak(int(pk.n).to_bytes(256, "big"))
    assert pk.fingerprint_hex == "0x" + pk.fingerprint.hex()


def test_json_round_trip_and_private_file_mode(tmp_path, keypair) -> None:
    pk, sk = keypair
    pub_path = pk.save(tmp_path / "pub.json")
    sec_path = sk.save(tmp_path / "keys" / "secret.json")
    assert stat.S_IMODE(sec_path.stat().st_mode) == 0o600
    assert PublicKey.load(pub_path) == pk
    loaded = PrivateKey.load(sec_path)
    assert loaded == sk and loaded.public_key == pk
    assert "p" not in json.loads(pub_path.read_text())
    # overwriting an existing, world-readable file still ends with 0600
    victim = tmp_path / "old.json"
    victim.write_text("{}")
    victim.chmod(0o644)
    sk.save(victim)
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600


def test_json_rejects_corruption(tmp_path, keypair, small_keypair) -> None:
    pk, sk = keypair
    data = json.loads(sk.to_json())
    bad = dict(data, fingerprint="0x" + "00" * 32)
    with pytest.raises(SerializationError, match="fingerprint"):
        PrivateKey.from_json(json.dumps(bad))
    bad = dict(data, p=hex(int(sk.p) + 2))
    with pytest.raises(SerializationError):
        PrivateKey.from_json(json.dumps(bad))
    with pytest.raises(SerializationError, match="type"):
        PrivateKey.from_json(pk.to_json())
    with pytest.raises(SerializationError, match="JSON"):
        PublicKey.from_json("{not json")
    with pytest.raises(SerializationError, match="version"):
        PublicKey.from_json(json.dumps(dict(json.loads(pk.to_json()), version=99)))
    with pytest.raises(SerializationError, match="cannot read"):
        PublicKey.load(tmp_path / "missing.json")
    small_pk, _ = small_keypair
    with pytest.raises(InsecureParameterError):
        PublicKey.from_json(small_pk.to_json())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyWarning)
        assert PublicKey.from_json(small_pk.to_json(), allow_insecure=True) == small_pk


def test_private_key_must_match(small_keypair, other_keypair) -> None:
    pk, _ = small_keypair
    _, other = other_keypair
    with pytest.raises(KeyMismatchError):
        PrivateKey(pk, other.p, other.q)


def test_keys_to_and_from_phe(keypair) -> None:
    pk, sk = keypair
    phe_pk, phe_sk = pk.to_phe(), sk.to_phe()
    assert isinstance(phe_pk, paillier.PaillierPublicKey) and phe_pk.n == pk.n
    assert PublicKey.from_phe(phe_pk) == pk
    assert PrivateKey.from_phe(phe_sk) == sk


def test_phe_generated_keys_work_here() -> None:
    phe_pk, phe_sk = paillier.generate_paillier_keypair(n_length=2048)
    pk, sk = PublicKey.from_phe(phe_pk), PrivateKey.from_phe(phe_sk)
    c = pk.encrypt_int(424242)
    assert phe_sk.raw_decrypt(int(c)) == 424242
    assert sk.decrypt_int(phe_pk.raw_encrypt(99)) == 99


def test_3072_bit_keys() -> None:
    pk, sk = generate_keypair(3072)
    assert pk.bits == 3072 and pk.alpha_bits == 512
    for key in (pk, sk):
        assert sk.decrypt_int(key.encrypt_int(31337)) == 31337


@pytest.mark.parametrize("randomizer", ["djn", "full"])
def test_an_opening_proves_a_ciphertexts_plaintext_to_anyone_with_the_public_key(
    keypair, randomizer
) -> None:
    """PrivateKey.open gives (m, r) with c = (1 + n)^m·r^n mod n², whatever randomiser made c:
    phe's raw_encrypt(m, r_value=r) rebuilds the very ciphertext; any other m or r fails."""
    pk, sk = keypair
    for m in (0, 1, 12345, int(pk.n) - 1, int(pk.max_int) + 7):
        c = pk.encrypt_int(m, randomizer=randomizer)
        plaintext, nonce = sk.open(c)
        assert plaintext == m and 0 < nonce < pk.n
        assert pk.to_phe().raw_encrypt(m, r_value=int(nonce)) == c  # the reference
        assert pk.opens(c, m, nonce)
        assert not pk.opens(c, (m + 1) % int(pk.n), nonce)
        assert not pk.opens(c, m, nonce + 1)
        assert not pk.opens(c, m + int(pk.n), nonce)  # m outside [0, n)
        assert not pk.opens(c, m, 0) and not pk.opens(c, m, nonce + pk.n)
    with pytest.raises(CryptoError, match="not a ciphertext"):
        sk.open(pk.n)  # shares a factor with n: no ciphertext
