"""§4.1.3 (Theorem 3) computed for real: what the server learns with N − 2 colluding clients.

The server holds α⃗; the colluders C_k ∈ S \\ U pool K = Σ sk_k and ρ = Σ r_k2 (footnote 3: they
hand over only these sums, never their own sk_k, r_k2 — footnote 4 shows that would expose them).
For a target set U of non-colluding clients the server computes, as in the proof::

    E_U,j = Π_{i∈U} E(∇̂_ij)                          = (p+1)^{Σ_U ∇̂_ij} · β_j^{Σ_U r_i1}  mod p²
    d_U   = Π_{i∈U} B_i                               = g^{Σ_U r_i1} · pk_S^{Σ_U r_i2}
    T_U   = Π_{i∈U} T_i                               = R^{Σ_U sk_i}
    d*_U  = d_U · (Π_{i∈U} A_i)^{−K}                  = g^{Σ_U r_i1} · g^{(Σ_U sk_i)(Σ_U r_i2)}
    T*_U  = T_U · (Π_{i∈U} pk_i)^{−ρ}                 = g^{(Σ_U sk_i)(Σ_U r_i2)}

since pk_S = g^{Σ_U sk_i + K} and R = g^{Σ_U r_i2 + ρ}. When U = S \\ colluders (two clients),
d*/T* = g^{Σ_U r_i1} and E_U,j · lift(d*/T*)^{−α_j} = (p+1)^{Σ_U ∇̂_ij}: the server gets the
sum of the two, and only the sum. For a single target U = {i} (the other honest client j left
out), d*_U/T*_U = g^{r_i1} · g^{sk_j·r_i2 − sk_i·r_j2}: the cross term does not cancel, the
"decryption" is not of the form (p+1)^m, and no value of ∇̂_i comes out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import gmpy2
from gmpy2 import mpz

from hefl.errors import DecryptionError
from hefl.secagg.multikey import ClientCiphertext, MultiKeyServer


@dataclass(frozen=True)
class CollusionOutcome:
    """What the colluding server computes for the targets, per segment.

    ``valid`` says whether every x_j = E_U,j · lift(d*/T*)^{−α_j} is ≡ 1 (mod p), i.e. a
    genuine (p+1)^m; ``packed`` holds L(x_j) = ⌊(x_j − 1)/p⌋ either way (garbage when invalid).
    """

    valid: bool
    packed: tuple[int, ...]


def collude(
    server: MultiKeyServer,
    ciphertexts: Mapping[int, ClientCiphertext],
    responses: Mapping[int, int],
    public_keys: Mapping[int, int],
    targets: Collection[int],
    colluder_sk_sum: int,
    colluder_r2_sum: int,
) -> CollusionOutcome:
    """Run the proof of Theorem 3 on real ciphertexts (see the module docstring)."""
    para = server.para
    grp = para.group
    p, p2, q = mpz(grp.p), grp.p2, mpz(grp.q)
    e_u = [mpz(1)] * para.segments
    d_u, t_u, a_u, pk_u = mpz(1), mpz(1), mpz(1), mpz(1)
    for i in targets:
        ct = ciphertexts[i]
        e_u = [x * e % p2 for x, e in zip(e_u, ct.e1, strict=True)]
        d_u = d_u * ct.b % p
        t_u = t_u * responses[i] % p
        a_u = a_u * ct.a % p
        pk_u = pk_u * public_keys[i] % p
    k_sum, rho = mpz(colluder_sk_sum) % q, mpz(colluder_r2_sum) % q
    d_star = d_u * gmpy2.powmod(a_u, q - k_sum, p) % p
    t_star = t_u * gmpy2.powmod(pk_u, q - rho, p) % p
    z_lift = grp.lift(int(d_star * gmpy2.invert(t_star, p) % p))
    valid, packed = True, []
    for e, alpha in zip(e_u, server.secret_alphas, strict=True):
        x = e * gmpy2.powmod(z_lift, q - alpha, p2) % p2
        valid = valid and (x - 1) % p == 0
        packed.append(int((x - 1) // p))
    return CollusionOutcome(valid, tuple(packed))


def collude_and_unpack(
    server: MultiKeyServer,
    ciphertexts: Mapping[int, ClientCiphertext],
    responses: Mapping[int, int],
    public_keys: Mapping[int, int],
    targets: Collection[int],
    colluder_sk_sum: int,
    colluder_r2_sum: int,
) -> list[int]:
    """:func:`collude`, then Algorithm 2: the targets' summed quantised coordinates.

    Raises :class:`DecryptionError` when the outcome is not a valid plaintext (one target).
    """
    out = collude(
        server, ciphertexts, responses, public_keys, targets, colluder_sk_sum, colluder_r2_sum
    )
    if not out.valid:
        raise DecryptionError(
            f"targets {sorted(targets)}: the colluders' secrets do not cancel the blinding; "
            "no usable plaintext"
        )
    return server.recover(out.packed).tolist()
