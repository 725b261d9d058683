"""The four-node example's job: owners and aggregators on one PowLedger, racing by proof of work.

Rounds (steps ①–⑤ of the notes). Block 0 holds the hash of w^0. In round t: ① every node reads
the head block's model hash from the chain and fetches that blob (the blob store checks it against
the hash); ② each owner (:class:`DataOwner`) computes g_k(w^{t−1}) (:mod:`hefl.pow.model`);
③ broadcasts it: the blob goes to the blob store, its keccak256 to the contract
(``submitGradient``); ④ each aggregator (:class:`Aggregator`) fetches the gradients named on
chain, computes w^t = w^{t−1} − α(Σ_k g_k + 2γ w^{t−1}), and searches a nonce for its own puzzle
(:mod:`hefl.pow.puzzle`, :mod:`hefl.pow.miner`); the first valid block is accepted by the
contract, later ones revert with ``RoundAlreadyMined``; ⑤ repeat. Anyone can re-derive w^t from
the blobs named on chain: :mod:`hefl.pow.audit` does, for ``hefl race verify``.

Encrypted gradients (optional, ``secagg``). With a scheme of :mod:`hefl.secagg` (``multikey``:
Yang et al.), each owner sends its gradient as that scheme's wire message instead of in the clear;
the blob store keeps the ciphertext and its hash goes on chain as before. The aggregators form one
aggregation committee (:class:`Committee`) holding the scheme's server key: they decrypt only
Σ_k g_k (ChelGen, the owners' responses, Agg, Dec), never an individual g_k. The block's blob then
carries (w^t, Σ_k g_k, the hashes of the messages summed) as a bundle
(:func:`hefl.pow.model.secagg_block_blob`), so anyone still re-derives w^t from public data;
whether Σ_k g_k is the true decryption of the messages is the committee's word (checking it needs
the server key), as in the multi-key paper's honest-but-curious server. Gradients are quantised
with an explicit clip bound and scale (the sum is exact to |S|/(2s) per coordinate); an owner
whose gradient exceeds the clip bound refuses to send rather than let it be clipped silently. The
scheme simulates the owners' client side in the committee's process, as :mod:`hefl.secagg` does.

Data (:mod:`hefl.data.images`). scikit-learn's bundled handwritten digits (8×8, no download) by
default: one-vs-rest "is it class k", y = +1 / −1, pixels scaled to [0, 1]. The notes' face
recognition model uses the Olivetti faces (64×64, 40 people), fetched once by scikit-learn.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hefl.canonical import canonical_json
from hefl.chain import BlobStore, Chain
from hefl.chain.pow_ledger import PowLedgerClient, deploy_pow_ledger
from hefl.data.images import IMAGE_DATASETS, load_images, split_owners
from hefl.errors import ConfigError, ContractRevertError
from hefl.learning.plain import decode_plain_vector, encode_plain_vector
from hefl.pow.miner import RACES, Puzzle, Race, RaceOutcome
from hefl.pow.model import (
    aggregate_step,
    block_model,
    closed_form,
    default_alpha,
    local_gradient,
    objective,
    secagg_block_blob,
)
from hefl.pow.puzzle import PuzzleHeader, difficulty_to_target, target_to_difficulty
from hefl.secagg import SCHEMES, SecureAggregationScheme, make_scheme
from hefl.secagg.quantise import Quantiser

#: Version of the configuration document, pow_history.json and pow_report.json.
POW_FORMAT = 1
#: Default ridge γ: strong enough that the digits problem is well conditioned (κ ≈ 200).
DEFAULT_GAMMA = 50.0
#: Default expected hashes per block: 2¹⁸ ≈ a quarter of a second for one worker.
DEFAULT_DIFFICULTY = float(1 << 18)
#: Default target block time T (seconds) and retarget interval k (blocks). A round takes three
#: chain blocks (two gradients and the PoW block), and dev chains advance the timestamp by at least
#: one second per block, so T = 3 s keeps the difficulty steady when mining is fast.
DEFAULT_BLOCK_TIME_S = 3
DEFAULT_RETARGET_EVERY = 5
#: Quantiser of the encrypted gradients: clip bound ∇_max = 2¹⁴ (a digits gradient coordinate is
#: at most a few thousand) and scale s = 2²⁰ (the sum is exact to about 10⁻⁶).
DEFAULT_SECAGG_CLIP = float(2**14)
DEFAULT_SECAGG_SCALE = float(2**20)


# --- configuration ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PowRaceConfig:
    """Everything that defines a pow-race job; its canonical JSON is committed on chain.

    Attributes:
        dataset: ``digits`` (bundled, default) or ``olivetti`` (fetched once).
        target_class: the class k of the one-vs-rest model (y = +1 for k).
        samples: keep only the first that many images (None: all).
        owners: names of the data owners (the notes' Alice and Bob).
        aggregators: names of the aggregators (Agg1, Agg2).
        hash_power: worker processes (or virtual hash rate) per aggregator.
        gamma: ridge γ of γ‖w‖².
        alpha: step α; None for :func:`hefl.pow.model.default_alpha`.
        rounds: blocks to mine.
        difficulty: expected hashes per block at the start (target = 2²⁵⁶ / difficulty).
        block_time: target block time T (s) of the retarget rule.
        retarget_every: retarget every k blocks (0: fixed difficulty).
        race: ``processes`` (real worker processes) or ``virtual`` (seeded, deterministic).
        seed: seeds the owners' split, the initial model and the nonce offsets.
        init: ``zeros`` or ``random`` (w^0 ~ N(0, 0.01²), as the notes allow).
        secagg: a :mod:`hefl.secagg` scheme name to send the gradients encrypted (None: clear).
        secagg_clip: the quantiser's clip bound ∇_max for gradient coordinates.
        secagg_scale: the quantiser's fixed-point scale s.
        secagg_insecure: permit the scheme's test-size keys (tests only).
    """

    dataset: str = "digits"
    target_class: int = 0
    samples: int | None = None
    owners: tuple[str, ...] = ("Alice", "Bob")
    aggregators: tuple[str, ...] = ("Agg1", "Agg2")
    hash_power: tuple[int, ...] = (1, 1)
    gamma: float = DEFAULT_GAMMA
    alpha: float | None = None
    rounds: int = 50
    difficulty: float = DEFAULT_DIFFICULTY
    block_time: int = DEFAULT_BLOCK_TIME_S
    retarget_every: int = DEFAULT_RETARGET_EVERY
    race: str = "processes"
    seed: int = 0
    init: str = "zeros"
    secagg: str | None = None
    secagg_clip: float = DEFAULT_SECAGG_CLIP
    secagg_scale: float = DEFAULT_SECAGG_SCALE
    secagg_insecure: bool = False

    def __post_init__(self) -> None:
        if self.dataset not in IMAGE_DATASETS:
            raise ConfigError(f"pow-race data set {self.dataset!r} unknown; use {IMAGE_DATASETS}")
        if not self.owners or not self.aggregators:
            raise ConfigError("pow-race needs at least one owner and one aggregator")
        names = [*self.owners, *self.aggregators]
        if len(set(names)) != len(names):
            raise ConfigError(f"node names must be distinct, got {names}")
        if len(self.hash_power) != len(self.aggregators) or min(self.hash_power) < 1:
            raise ConfigError(
                f"hash power {list(self.hash_power)} must give each of the "
                f"{len(self.aggregators)} aggregators ≥ 1 worker"
            )
        if not self.gamma > 0:
            raise ConfigError(f"ridge γ must be > 0 for a unique solution, got {self.gamma}")
        if self.alpha is not None and not self.alpha > 0:
            raise ConfigError(f"step α must be > 0, got {self.alpha}")
        if self.rounds < 1:
            raise ConfigError(f"rounds must be ≥ 1, got {self.rounds}")
        if not self.difficulty >= 1:
            raise ConfigError(f"difficulty must be ≥ 1 hash per block, got {self.difficulty}")
        if self.retarget_every < 0 or (self.retarget_every and self.block_time < 1):
            raise ConfigError(
                f"retargeting every {self.retarget_every} blocks needs a block time ≥ 1 s "
                f"(got {self.block_time})"
            )
        if self.race not in RACES:
            raise ConfigError(f"race {self.race!r} unknown; use one of {', '.join(RACES)}")
        if self.init not in ("zeros", "random"):
            raise ConfigError(f"init {self.init!r} unknown; use zeros or random")
        if self.secagg is not None:
            if self.secagg not in SCHEMES:
                raise ConfigError(
                    f"secure-aggregation scheme {self.secagg!r} unknown; use one of "
                    f"{', '.join(sorted(SCHEMES))}"
                )
            if len(self.owners) < 2:
                raise ConfigError("secure aggregation needs at least two owners")
            Quantiser(self.secagg_clip, self.secagg_scale)  # validates clip and scale

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --- results ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PowRound:
    """One mined block, as the run saw it.

    ``seconds_to_block``: from the start of the nonce search to the block's receipt;
    ``search_seconds``: to the first valid nonce. ``late`` names the aggregators whose valid
    but late blocks the contract refused (``RoundAlreadyMined``).
    """

    round: int
    winner: str
    nonce: int
    hashes: dict[str, int]
    difficulty: float
    search_seconds: float
    seconds_to_block: float
    objective: float
    distance: float
    accuracy: float
    gradient_gas: int
    block_gas: int
    late: tuple[str, ...] = ()
    model_hash: str = ""

    @property
    def total_hashes(self) -> int:
        return sum(self.hashes.values())


@dataclass
class PowRaceResult:
    config: PowRaceConfig
    ledger: PowLedgerClient
    names: dict[str, str]
    alpha: float
    rounds: list[PowRound] = field(default_factory=list)
    model: np.ndarray | None = None
    optimum: np.ndarray | None = None

    def wins(self) -> dict[str, int]:
        tally = dict.fromkeys(self.config.aggregators, 0)
        for r in self.rounds:
            tally[r.winner] += 1
        return tally


# --- nodes --------------------------------------------------------------------------------------
class Committee:
    """The aggregators' shared secure-aggregation server: it decrypts only Σ_k g_k."""

    def __init__(self, config: PowRaceConfig, model_size: int) -> None:
        import warnings

        options: dict[str, Any] = {"quantiser": Quantiser(config.secagg_clip, config.secagg_scale)}
        if config.secagg_insecure and config.secagg != "plaintext":
            options["allow_insecure"] = True
        self.name = str(config.secagg)
        self.clip = config.secagg_clip
        self.scheme: SecureAggregationScheme = make_scheme(self.name, **options)
        with warnings.catch_warnings():
            if config.secagg_insecure:
                warnings.simplefilter("ignore")
            self.scheme.setup(model_size, len(config.owners))
        self._sums: dict[int, np.ndarray] = {}

    def begin(self, round: int, owners: int) -> None:
        self.scheme.begin_round(round, range(owners))

    def encrypt(self, owner: int, gradient: np.ndarray) -> bytes:
        """Owner ``owner``'s wire message (its client side of the scheme)."""
        largest = float(np.max(np.abs(gradient)))
        if largest > self.clip:
            raise ConfigError(
                f"a gradient coordinate of {largest:.4g} exceeds the secure-aggregation clip bound "
                f"{self.clip:g}; raise it (secagg_clip)"
            )
        return self.scheme.client_encrypt(owner, gradient)

    def total(self, round: int, messages: Sequence[bytes]) -> np.ndarray:
        """Σ_k g_k of the round, decrypted once and shared by the committee's members."""
        if round not in self._sums:
            self._sums = {round: self.scheme.aggregate(dict(enumerate(messages)))}
        return self._sums[round]

    def describe(self) -> dict[str, Any]:
        return {"scheme": self.name, "clip": self.clip, "scale": self.scheme.quantiser.scale}


class DataOwner:
    """Alice or Bob: holds (X_k, y_k), reads w^{t−1} from the head block, broadcasts g_k."""

    def __init__(
        self, name: str, address: str, X: np.ndarray, y: np.ndarray, index: int = 0
    ) -> None:
        self.name, self.address, self.X, self.y, self.index = name, address, X, y, index

    def contribute(
        self,
        ledger: PowLedgerClient,
        blobs: BlobStore,
        round: int,
        committee: Committee | None = None,
    ) -> int:
        """Steps ①–③ for round t; returns the gas of the broadcast."""
        w_prev = block_model(blobs.get(ledger.head_model_hash()))
        gradient = local_gradient(w_prev, self.X, self.y)
        blob = (
            encode_plain_vector(gradient)
            if committee is None
            else committee.encrypt(self.index, gradient)
        )
        return ledger.as_sender(self.address).submit_gradient(round, blobs.put(blob)).gas_used


class Aggregator:
    """Agg1 or Agg2: re-derives w^t from the broadcast gradients and builds its puzzle."""

    def __init__(self, name: str, address: str, alpha: float, gamma: float) -> None:
        self.name, self.address, self.alpha, self.gamma = name, address, alpha, gamma

    def candidate(
        self,
        ledger: PowLedgerClient,
        blobs: BlobStore,
        round: int,
        committee: Committee | None = None,
    ) -> tuple[bytes, bytes, PuzzleHeader]:
        """Step ④ before the race: (previous model hash, new model blob, the puzzle header)."""
        previous = ledger.head_model_hash()
        w_prev = block_model(blobs.get(previous))
        hashes = ledger.gradients(round)
        if committee is None:
            gradients = [decode_plain_vector(blobs.get(h)) for h in hashes]
            blob = encode_plain_vector(aggregate_step(w_prev, gradients, self.alpha, self.gamma))
        else:
            total = committee.total(round, [blobs.get(h) for h in hashes])
            w = aggregate_step(w_prev, [total], self.alpha, self.gamma)
            blob = secagg_block_blob(w, total, hashes)
        header = PuzzleHeader(
            chain_id=ledger.chain.chain_id,
            contract=ledger.address,
            round=round,
            previous_model_hash=previous,
            new_model_hash=blobs.put(blob),
            aggregator=self.address,  # type: ignore[arg-type]
        )
        return previous, blob, header


# --- the job ------------------------------------------------------------------------------------
class PowRaceJob:
    """The four-node example on one chain, all nodes in this process, miners in workers."""

    def __init__(self, config: PowRaceConfig, chain: Chain, blobs: BlobStore) -> None:
        self.config, self.chain, self.blobs = config, chain, blobs
        self.data = load_images(config.dataset, config.target_class, config.samples)
        parts = split_owners(self.data, len(config.owners), config.seed)
        self.alpha = (
            config.alpha if config.alpha is not None else default_alpha(parts, config.gamma)
        )
        accounts = chain.accounts_for(1 + len(config.owners) + len(config.aggregators))
        self.deployer = accounts[0]
        owner_accounts = accounts[1 : 1 + len(config.owners)]
        agg_accounts = accounts[1 + len(config.owners) :]
        self.owners = [
            DataOwner(name, a, X, y, k)
            for k, (name, a, (X, y)) in enumerate(
                zip(config.owners, owner_accounts, parts, strict=True)
            )
        ]
        self.aggregators = [
            Aggregator(name, a, self.alpha, config.gamma)
            for name, a in zip(config.aggregators, agg_accounts, strict=True)
        ]
        nodes: list[DataOwner | Aggregator] = [*self.owners, *self.aggregators]
        self.names = {n.address: n.name for n in nodes}
        self.optimum = closed_form(self.data.X, self.data.y, config.gamma)
        rng = np.random.default_rng(config.seed)
        w0 = (
            np.zeros(self.data.model_size)
            if config.init == "zeros"
            else rng.normal(0.0, 0.01, self.data.model_size)
        )
        genesis = blobs.put(encode_plain_vector(w0))
        self.committee = (
            Committee(config, self.data.model_size) if config.secagg is not None else None
        )
        self.config_document = {
            "format": POW_FORMAT,
            "scheme": "pow-race",
            "job": config.to_json(),
            "alpha": self.alpha,
            "gamma": config.gamma,
            "model_size": self.data.model_size,
            "owners": [{"name": o.name, "address": o.address} for o in self.owners],
            "aggregators": [
                {"name": a.name, "address": a.address, "hash_power": p}
                for a, p in zip(self.aggregators, config.hash_power, strict=True)
            ],
            "update": "w^t = w^{t-1} - alpha * (sum_k g_k + 2 gamma w^{t-1}), owners in order",
            "secagg": self.committee.describe() if self.committee is not None else None,
        }
        config_hash = blobs.put(canonical_json(self.config_document))
        self.ledger = deploy_pow_ledger(
            chain,
            self.deployer,
            owner_accounts,
            agg_accounts,
            genesis,
            config_hash,
            initial_target=difficulty_to_target(config.difficulty),
            target_block_time=config.block_time,
            retarget_interval=config.retarget_every,
        )

    def run(
        self, progress: Callable[[PowRound], None] | None = None, *, race: Race | None = None
    ) -> PowRaceResult:
        """Mine ``config.rounds`` blocks; ``race`` overrides the configured engine."""
        cfg = self.config
        result = PowRaceResult(cfg, self.ledger, dict(self.names), self.alpha)
        engine = race or RACES[cfg.race](cfg.hash_power, seed=cfg.seed)
        try:
            for _ in range(cfg.rounds):
                summary = self.mine_round(engine)
                result.rounds.append(summary)
                if progress is not None:
                    progress(summary)
        finally:
            if race is None:
                engine.close()
        result.model = block_model(self.blobs.get(self.ledger.head_model_hash()))
        result.optimum = self.optimum
        return result

    def mine_round(self, race: Race) -> PowRound:
        """One round: gradients broadcast, the race, the winner's block, the late blocks."""
        ledger, t = self.ledger, self.ledger.current_round()
        if self.committee is not None:
            self.committee.begin(t, len(self.owners))
        gradient_gas = sum(o.contribute(ledger, self.blobs, t, self.committee) for o in self.owners)
        candidates = [a.candidate(ledger, self.blobs, t, self.committee) for a in self.aggregators]
        target = ledger.current_target()
        started = time.monotonic()
        outcome: RaceOutcome = race.race([Puzzle(c[2].prefix) for c in candidates], target)
        receipt = None
        late: list[str] = []
        for solution in outcome.solutions:
            agg = self.aggregators[solution.aggregator]
            previous, _, header = candidates[solution.aggregator]
            try:
                sent = ledger.as_sender(agg.address).submit_block(
                    t, previous, header.new_model_hash, solution.nonce
                )
            except ContractRevertError as error:
                if error.error_name != "RoundAlreadyMined" or receipt is None:
                    raise
                late.append(agg.name)
                continue
            if receipt is None:
                receipt = sent
        assert receipt is not None  # the first solution is valid by construction
        elapsed = time.monotonic() - started
        winner = self.aggregators[outcome.winner.aggregator]
        w = block_model(self.blobs.get(candidates[outcome.winner.aggregator][2].new_model_hash))
        X, y, g = self.data.X, self.data.y, self.config.gamma
        return PowRound(
            round=t,
            winner=winner.name,
            nonce=outcome.winner.nonce,
            hashes={a.name: n for a, n in zip(self.aggregators, outcome.hashes, strict=True)},
            difficulty=target_to_difficulty(target),
            search_seconds=outcome.seconds,
            seconds_to_block=elapsed,
            objective=objective(w, X, y, g),
            distance=float(np.linalg.norm(w - self.optimum) / np.linalg.norm(self.optimum)),
            accuracy=float(np.mean(np.where(X @ w >= 0, 1.0, -1.0) == y)),
            gradient_gas=gradient_gas,
            block_gas=receipt.gas_used,
            late=tuple(late),
            model_hash="0x" + candidates[outcome.winner.aggregator][2].new_model_hash.hex(),
        )


# --- history and outputs ------------------------------------------------------------------------
def export_pow_history(
    ledger: PowLedgerClient, names: dict[str, str] | None = None
) -> dict[str, Any]:
    """Everything the PowLedger holds, as JSON (what ``hefl race verify`` checks offline)."""
    blocks = ledger.blocks()
    owners = ledger.owners()
    return {
        "format": POW_FORMAT,
        "scheme": "pow-race",
        "chain_id": ledger.chain.chain_id,
        "address": ledger.address,
        "config_hash": "0x" + ledger.config_hash().hex(),
        "target_block_time": ledger.target_block_time(),
        "retarget_interval": ledger.retarget_interval(),
        "owners": list(owners),
        "aggregators": list(ledger.aggregators()),
        "names": dict(names or {}),
        "blocks": [b.to_json() for b in blocks],
        "gradients": {
            str(t): ["0x" + h.hex() for h in ledger.gradients(t)] for t in range(1, len(blocks))
        },
    }


def save_pow_run(result: PowRaceResult, out: Path) -> dict[str, Path]:
    """Write pow_history.json (the chain's record) and pow_report.json (the run's measurements)."""
    out.mkdir(parents=True, exist_ok=True)
    history = out / "pow_history.json"
    history.write_text(json.dumps(export_pow_history(result.ledger, result.names), indent=2))
    report = out / "pow_report.json"
    report.write_text(
        json.dumps(
            {
                "format": POW_FORMAT,
                "config": result.config.to_json(),
                "alpha": result.alpha,
                "wins": result.wins(),
                "rounds": [{**asdict(r), "late": list(r.late)} for r in result.rounds],
            },
            indent=2,
        )
    )
    return {"history": history, "report": report}
