"""Types of the C kernel ``hefl.crypto._multiexp`` (``_multiexp.c``)."""

from collections.abc import Sequence
from typing import SupportsIndex

#: This CPU has AVX-512 IFMA: ``wnaf_rows`` runs on it unless told ``vector=False``.
VECTOR: bool

def wnaf_rows(
    bases: Sequence[SupportsIndex],
    rows: Sequence[Sequence[SupportsIndex]],
    modulus: SupportsIndex,
    window: int,
    vector: bool = True,
    /,
) -> list[int]:
    """y_j = Π_k bases[k]^rows[j][k] mod modulus for every row j (odd modulus > 1; w-NAF
    window in [2, 16]), on AVX-512 IFMA if ``vector`` and :data:`VECTOR`, else on GMP's mpn
    layer; ZeroDivisionError if a base some row uses is not invertible."""
