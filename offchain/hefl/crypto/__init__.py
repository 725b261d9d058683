"""hefl.crypto — a fast Paillier engine for fixed-point vectors (gmpy2), interoperable with phe.

Public API
----------
Keys (:mod:`hefl.crypto.keys`)::

    generate_keypair(bits=2048, *, allow_insecure=False) -> tuple[PublicKey, PrivateKey]
    PublicKey(n)            .n .nsquare .bits .max_int .fingerprint_hex
                            .fingerprint (keccak256 of n, 32 bytes)
                            .encrypt_int(m) / .encrypt_ints(ms)   residues in [0, n), DJN randomiser
                            .to_json() / .from_json(s) / .save(path) / .load(path)
                            .from_phe(phe_pk) / .to_phe()         (phe imported lazily, test-only)
                            .precompute()                          build the fixed-base table now
    PrivateKey(pk, p, q)    .public_key .decrypt_int(c) .decrypt_ints(cs, workers=None)
                            .encrypt_int(m) (CRT) .save(path) (mode 0600) .load(path)
                            .from_phe(phe_sk) / .to_phe()

Key files (:mod:`hefl.crypto.keyfile`: JSON format, atomic writes with mode 0600/0644) and phe
interop (:mod:`hefl.crypto.interop`) are modules of their own behind those methods; fixed-base
comb and multi-exponentiation tables in :mod:`hefl.crypto.multiexp`; parallel CRT decryption in
:mod:`hefl.crypto.pool`.

Fixed-point codec (:mod:`hefl.crypto.encoding`): value v ↦ x = round(v·2^f) (ties to even, exact),
stored as x mod n (negatives on top); |x| ≤ max_int = n//3 − 1; the middle band is refused::

    encode_float(v, f) -> int    encode_array(vs, f) -> list[int]    to_float(x, f) -> float
    encode_residue(x, n) -> int  decode_residue(r, n) -> int         max_int(n) -> int

Encrypted vectors (:mod:`hefl.crypto.vector`), immutable, deterministic operations::

    EncryptedVector.encrypt(key, values, scale_bits=32, *, value_bound=None, randomizer="djn")
    EncryptedVector.encrypt_ints(key, ints, scale_bits=0, *, bound=None)
    ev.public_key  ev.scale_bits (f)  ev.bound (|x| ≤ bound)  ev.ciphertexts  len(ev)  ev[i:j]
    ev + ev2, ev - ev2, -ev, ev + array, ev - array (add_plain), k * ev (int)
    ev.add_plain(values)  ev.add_plain_ints(ints)  ev.mul_int(k | ints)
    ev.mul_fixed(s | array, precision_bits)        scale f + precision_bits
    ev.align_to(f2)  ev.scale_by_pow2(e)  ev.sum()  ev.dot(plain, precision_bits)
    matvec(M, ev, precision_bits)   matvec_int(K, ev)
    weighted_sum(vectors, weights, precision_bits)   weighted_sum_int(vectors, int_weights)
    EncryptedVector.concat(vectors)   ev.rerandomize(*, randomizer="djn")   ev.headroom_bits
    ev.decrypt(sk, workers=None) -> np.ndarray[float64]    ev.decrypt_ints(sk) -> list[int]
    decrypt_vectors(sk, vectors, workers=None) -> list[np.ndarray]   (one batch for all)
    ev.to_bytes()  EncryptedVector.from_bytes(data, pk)
    ev.hash() (keccak256 of to_bytes(), 32 bytes)  ev.hash_hex()
    ev.to_phe() / EncryptedVector.from_phe(numbers, pk, bound=None)
    keccak256(data) -> bytes                                         (from :mod:`hefl.canonical`)

Budget rule of thumb: a fresh vector with |v| ≤ 2^e at scale f has a bound ≈ 2^(e+f); mul_fixed
by |s| ≤ 2^e' at p bits multiplies it by ≈ 2^(e'+p); matvec by max_j Σ_k |M_jk|·2^p; additions
add at most one bit. A 2048-bit key allows ≈ 2046 bits (``ev.headroom_bits`` says what is left).

Every operation checks, before it computes, that the bound of its result stays ≤ max_int and
otherwise raises :class:`hefl.errors.EncodingOverflowError` naming the operation and the bits
needed and available. Different keys raise :class:`hefl.errors.KeyMismatchError`; incompatible
lengths :class:`~hefl.errors.ShapeMismatchError`; other bad arguments
:class:`~hefl.errors.CryptoValueError` (both CryptoError and ValueError); malformed bytes
:class:`hefl.errors.SerializationError`; small keys without ``allow_insecure``
:class:`hefl.errors.InsecureParameterError` (with it, an :class:`~hefl.errors.InsecureKeyWarning`).
All are defined in :mod:`hefl.errors` and re-exported here.

Encryption by public-key holders uses the Damgård–Jurik–Nielsen short-exponent randomiser h^α
(h derived from n, α of 448 bits at 2048-bit n) with fixed-base comb tables; the key owner
encrypts by CRT; decryption is CRT with both halves on parallel threads. Assumptions and
formulas: :mod:`hefl.crypto.keys`. Byte layout: :mod:`hefl.crypto.serialize`.
"""

from hefl.canonical import keccak256
from hefl.crypto.encoding import (
    decode_residue,
    encode_array,
    encode_float,
    encode_residue,
    max_int,
    to_float,
)
from hefl.crypto.keys import DEFAULT_KEY_BITS, PrivateKey, PublicKey, generate_keypair
from hefl.crypto.vector import (
    DEFAULT_SCALE_BITS,
    EncryptedVector,
    decrypt_vectors,
    encrypt,
    matvec,
    matvec_int,
    matvec_stack,
    weighted_sum,
    weighted_sum_int,
)
from hefl.errors import CryptoValueError, InsecureKeyWarning, ShapeMismatchError

__all__ = [
    "DEFAULT_KEY_BITS",
    "DEFAULT_SCALE_BITS",
    "CryptoValueError",
    "EncryptedVector",
    "InsecureKeyWarning",
    "PrivateKey",
    "PublicKey",
    "ShapeMismatchError",
    "decode_residue",
    "decrypt_vectors",
    "encode_array",
    "encode_float",
    "encode_residue",
    "encrypt",
    "generate_keypair",
    "keccak256",
    "matvec",
    "matvec_int",
    "matvec_stack",
    "max_int",
    "to_float",
    "weighted_sum",
    "weighted_sum_int",
]
