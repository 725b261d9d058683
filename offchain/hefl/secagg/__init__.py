"""hefl.secagg: secure aggregation strategies behind one interface.

:mod:`hefl.secagg.multikey` implements Yang et al.'s multi-private-key scheme;
:mod:`hefl.secagg.base` holds the :class:`SecureAggregationScheme` interface, the plaintext and two
Paillier baselines and the :data:`SCHEMES` registry; :mod:`hefl.secagg.wire` the message format and
ledger hashes; :mod:`hefl.secagg.analysis` the §4.1.3 collusion analysis computed for real.
"""

from __future__ import annotations

from hefl.errors import (
    DecryptionError,
    LoneClientError,
    ProtocolError,
    RoundRestartRequired,
)
from hefl.secagg.base import (
    SCHEMES,
    MultiKeyScheme,
    PackedPaillierScheme,
    PerElementPaillierScheme,
    PlaintextScheme,
    RoundResult,
    SchemeSetup,
    SecureAggregationScheme,
    make_scheme,
    run_round,
)
from hefl.secagg.multikey import (
    GroupParams,
    MultiKeyClient,
    MultiKeyServer,
    SuperIncreasingVector,
    SysPara,
    generate_group,
)
from hefl.secagg.quantise import Quantiser
from hefl.secagg.wire import aggregate_commitment, message_hash

__all__ = [
    "SCHEMES",
    "DecryptionError",
    "GroupParams",
    "LoneClientError",
    "MultiKeyClient",
    "MultiKeyScheme",
    "MultiKeyServer",
    "PackedPaillierScheme",
    "PerElementPaillierScheme",
    "PlaintextScheme",
    "ProtocolError",
    "Quantiser",
    "RoundRestartRequired",
    "RoundResult",
    "SchemeSetup",
    "SecureAggregationScheme",
    "SuperIncreasingVector",
    "SysPara",
    "aggregate_commitment",
    "generate_group",
    "make_scheme",
    "message_hash",
    "run_round",
]
