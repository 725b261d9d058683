"""The strategies as one table of specs, and rebuilding one from a job's public description.

Each row (:class:`StrategySpec`) says everything the orchestration needs to know about a scheme
so that it never branches on the name: how the computing party's instance is built, how any
instance is rebuilt from the public description, whether the job needs a Paillier key pair, which
scheme option ``--key-bits`` sets, and whether the multi-process mode can run it.

A job's configuration document (committed on chain by its hash) carries
:meth:`Strategy.describe`; :func:`strategy_from_description` turns it back into a strategy with
public material only, which is all a replica or an auditor needs to recompute Eq. 10 (and, given
the private key, into the computing party's instance).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args

from hefl.crypto import PrivateKey, PublicKey
from hefl.errors import ConfigError
from hefl.learning.paillier import FixedPointConfig, PaillierStrategy
from hefl.learning.plain import PlainStrategy
from hefl.learning.secure import PREFIX, SecureAggregationStrategy, secagg_names
from hefl.learning.strategy import LearningConfig, Strategy, update_mode

#: Names accepted by ``hefl run --strategy``: the main paper's, the plaintext reference, and
#: FedAvg through each secure-aggregation scheme of :mod:`hefl.secagg`.
StrategyName = Literal[
    "paillier",
    "plain",
    "secagg-plaintext",
    "secagg-paillier",
    "secagg-packed-paillier",
    "secagg-multikey",
]


@dataclass(frozen=True)
class StrategyInputs:
    """What a strategy may be built from; each scheme's factory takes what it needs.

    Attributes:
        learning: η, ridge γ, update mode.
        public_key / private_key: the job's Paillier key pair (schemes that need one).
        fixed_point: the encrypted model's fixed-point budget (Paillier).
        sizes: |D_i| of the participants (secure aggregation sets its scheme up for N clients).
        model_size: |w|.
        scheme_options: options of the secure-aggregation scheme (its key size).
    """

    learning: LearningConfig
    public_key: PublicKey | None = None
    private_key: PrivateKey | None = None
    fixed_point: FixedPointConfig | None = None
    sizes: tuple[int, ...] = ()
    model_size: int = 0
    scheme_options: Mapping[str, Any] = field(default_factory=dict)


#: Rebuilds a strategy from its description, the learning configuration read from it, the public
#: key (schemes with a key pair) and, for the computing party's instance, the private key.
Rebuild = Callable[
    [Mapping[str, Any], LearningConfig, PublicKey | None, PrivateKey | None], Strategy
]


@dataclass(frozen=True)
class StrategySpec:
    """One row of the strategy table.

    Attributes:
        name: the name on the command line and in the job configuration.
        build: the computing party's instance (the one holding the secrets).
        rebuild: an instance from the public description (see :data:`Rebuild`).
        needs_keypair: whether the job generates a Paillier key pair: the party keeps the
            secret, the ledger records the hash of the public key.
        key_option: the secure-aggregation scheme's option that ``--key-bits`` sets (``None``:
            the scheme takes no key size).
        multi_process: whether the multi-process mode can run it: the party's instance is
            rebuilt from the description and its key file, and keeps no state between rounds.
    """

    name: str
    build: Callable[[StrategyInputs], Strategy]
    rebuild: Rebuild
    needs_keypair: bool = False
    key_option: str | None = None
    multi_process: bool = False

    @property
    def takes_key_size(self) -> bool:
        """Whether ``--key-bits`` / ``--allow-insecure-keys`` mean anything to this scheme."""
        return self.needs_keypair or self.key_option is not None

    def scheme_options(self, key_bits: int, allow_insecure: bool) -> dict[str, Any]:
        """Options of a secure-aggregation scheme: its key size, and leave to insecure sizes."""
        if self.key_option is None:
            return {}
        return {self.key_option: key_bits, "allow_insecure": allow_insecure}


# --- the main paper's scheme --------------------------------------------------------------------
def _require_public_key(public_key: PublicKey | None) -> PublicKey:
    if public_key is None:
        raise ConfigError("the paillier strategy needs a public key")
    return public_key


def _build_paillier(inputs: StrategyInputs) -> Strategy:
    return PaillierStrategy(
        _require_public_key(inputs.public_key),
        inputs.learning,
        inputs.fixed_point,
        private_key=inputs.private_key,
    )


def _rebuild_paillier(
    description: Mapping[str, Any],
    learning: LearningConfig,
    public_key: PublicKey | None,
    private_key: PrivateKey | None,
) -> Strategy:
    fixed_point = FixedPointConfig(
        model_scale_bits=int(description["model_scale_bits"]),
        significant_bits=int(description["significant_bits"]),
    )
    return PaillierStrategy(
        _require_public_key(public_key), learning, fixed_point, private_key=private_key
    )


# --- the plaintext reference --------------------------------------------------------------------
def _build_plain(inputs: StrategyInputs) -> Strategy:
    return PlainStrategy(inputs.learning)


def _rebuild_plain(
    description: Mapping[str, Any],
    learning: LearningConfig,
    public_key: PublicKey | None,
    private_key: PrivateKey | None,
) -> Strategy:
    return PlainStrategy(learning)


# --- secure aggregation -------------------------------------------------------------------------
def _secagg_spec(scheme: str, key_option: str | None) -> StrategySpec:
    def build(inputs: StrategyInputs) -> Strategy:
        return SecureAggregationStrategy.create(
            scheme, inputs.learning, inputs.sizes, inputs.model_size, **inputs.scheme_options
        )

    def rebuild(
        description: Mapping[str, Any],
        learning: LearningConfig,
        public_key: PublicKey | None,
        private_key: PrivateKey | None,
    ) -> Strategy:
        # A checking instance: no scheme, no secrets (the scheme's state lives in the server).
        return SecureAggregationStrategy(
            scheme, learning, sizes=[int(s) for s in description["sizes"]]
        )

    return StrategySpec(name=PREFIX + scheme, build=build, rebuild=rebuild, key_option=key_option)


_SPECS: tuple[StrategySpec, ...] = (
    StrategySpec(
        name=PaillierStrategy.name,
        build=_build_paillier,
        rebuild=_rebuild_paillier,
        needs_keypair=True,
        multi_process=True,
    ),
    StrategySpec(name=PlainStrategy.name, build=_build_plain, rebuild=_rebuild_plain),
    _secagg_spec("plaintext", None),
    _secagg_spec("paillier", "key_bits"),
    _secagg_spec("packed-paillier", "key_bits"),
    _secagg_spec("multikey", "kappa1"),
)

#: The table: every strategy by name.
STRATEGIES: Mapping[str, StrategySpec] = MappingProxyType({s.name: s for s in _SPECS})
#: Names accepted by ``hefl run --strategy``, in the table's order.
STRATEGY_NAMES: tuple[StrategyName, ...] = get_args(StrategyName)

if set(STRATEGY_NAMES) != set(STRATEGIES) or not set(secagg_names()) <= set(STRATEGIES):
    raise ImportError(  # pragma: no cover - a scheme was added to one list and not the other
        f"strategy table {sorted(STRATEGIES)} does not match the names {STRATEGY_NAMES} and the "
        f"secure-aggregation schemes {secagg_names()}"
    )


def strategy_spec(name: str) -> StrategySpec:
    """The table's row for ``name``; :class:`ConfigError` naming the choices if there is none."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigError(
            f"unknown strategy {name!r}; use one of {', '.join(STRATEGY_NAMES)}"
        ) from None


def build_strategy(
    name: str,
    learning: LearningConfig,
    *,
    public_key: PublicKey | None = None,
    private_key: PrivateKey | None = None,
    fixed_point: FixedPointConfig | None = None,
    sizes: Sequence[int] = (),
    model_size: int = 0,
    scheme_options: Mapping[str, Any] | None = None,
) -> Strategy:
    """The computing party's instance of strategy ``name``: Paillier needs the public key (and
    the private key for the party); secure aggregation the participants' sizes and |w| (the
    party's instance sets the scheme up). Participants take :meth:`Strategy.for_participant`."""
    inputs = StrategyInputs(
        learning=learning,
        public_key=public_key,
        private_key=private_key,
        fixed_point=fixed_point,
        sizes=tuple(int(s) for s in sizes),
        model_size=model_size,
        scheme_options=dict(scheme_options or {}),
    )
    return strategy_spec(name).build(inputs)


def strategy_from_description(
    description: Mapping[str, Any],
    public_key: PublicKey | None = None,
    private_key: PrivateKey | None = None,
) -> Strategy:
    """Rebuild a strategy from :meth:`Strategy.describe`'s output: a public instance, or the
    computing party's own when ``private_key`` is given."""
    try:
        learning = LearningConfig(
            eta=float(description["eta"]),
            ridge=float(description["ridge"]),
            mode=update_mode(description.get("mode", "fused")),
        )
        spec = strategy_spec(str(description["strategy"]))
        return spec.rebuild(description, learning, public_key, private_key)
    except KeyError as missing:
        raise ConfigError(f"strategy description lacks {missing}; it is not a hefl job") from None
