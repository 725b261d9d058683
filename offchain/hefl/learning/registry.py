"""Strategies by name, and rebuilding one from a job's public description.

A job's configuration document (committed on chain by its hash) carries
:meth:`Strategy.describe`; :func:`strategy_from_description` turns it back into a strategy with
public material only, which is all a replica or an auditor needs to recompute Eq. 10.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hefl.crypto import PrivateKey, PublicKey
from hefl.errors import ConfigError
from hefl.learning.paillier import FixedPointConfig, PaillierStrategy
from hefl.learning.plain import PlainStrategy
from hefl.learning.secure import PREFIX, SecureAggregationStrategy, secagg_names
from hefl.learning.strategy import LearningConfig, Strategy

#: Names accepted by ``hefl run --strategy``: the main paper's, the plaintext reference, and
#: FedAvg through each secure-aggregation scheme of :mod:`hefl.secagg`.
STRATEGY_NAMES: tuple[str, ...] = (PaillierStrategy.name, PlainStrategy.name, *secagg_names())


def build_strategy(
    name: str,
    learning: LearningConfig,
    *,
    public_key: PublicKey | None = None,
    private_key: PrivateKey | None = None,
    fixed_point: FixedPointConfig | None = None,
    sizes: tuple[int, ...] = (),
    model_size: int = 0,
    scheme_options: Mapping[str, Any] | None = None,
) -> Strategy:
    """A strategy by name; Paillier needs the public key (and the private key for the party);
    secure aggregation the participants' sizes and |w| (the party's instance sets the scheme up)."""
    if name == PlainStrategy.name:
        return PlainStrategy(learning)
    if name.startswith(PREFIX):
        return SecureAggregationStrategy.create(
            name[len(PREFIX) :], learning, sizes, model_size, **(scheme_options or {})
        )
    if name == PaillierStrategy.name:
        if public_key is None:
            raise ConfigError("the paillier strategy needs a public key")
        return PaillierStrategy(public_key, learning, fixed_point, private_key=private_key)
    raise ConfigError(f"unknown strategy {name!r}; use one of {', '.join(STRATEGY_NAMES)}")


def strategy_from_description(
    description: Mapping[str, Any], public_key: PublicKey | None = None
) -> Strategy:
    """Rebuild a (public) strategy from :meth:`Strategy.describe`'s output."""
    try:
        learning = LearningConfig(
            eta=float(description["eta"]),
            ridge=float(description["ridge"]),
            mode=str(description.get("mode", "fused")),
        )
        name = str(description["strategy"])
        if name.startswith(PREFIX):  # a checking instance: no scheme, no secrets
            return SecureAggregationStrategy(
                name[len(PREFIX) :], learning, sizes=[int(s) for s in description["sizes"]]
            )
        fixed_point = None
        if name == PaillierStrategy.name:
            fixed_point = FixedPointConfig(
                model_scale_bits=int(description["model_scale_bits"]),
                significant_bits=int(description["significant_bits"]),
            )
        return build_strategy(
            str(description["strategy"]), learning, public_key=public_key, fixed_point=fixed_point
        )
    except KeyError as missing:
        raise ConfigError(f"strategy description lacks {missing}; it is not a hefl job") from None
