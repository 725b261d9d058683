"""Types of the C kernel ``hefl.crypto._multiexp`` (``_multiexp.c``)."""

from collections.abc import Sequence
from typing import SupportsIndex

def wnaf_rows(
    bases: Sequence[SupportsIndex],
    rows: Sequence[Sequence[SupportsIndex]],
    modulus: SupportsIndex,
    window: int,
    /,
) -> list[int]:
    """y_j = Π_k bases[k]^rows[j][k] mod modulus for every row j (odd modulus > 1; w-NAF
    window in [2, 16]); ZeroDivisionError if a base some row uses is not invertible."""
