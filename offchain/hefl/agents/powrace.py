"""The notes' four-node example as a hefl mode: gradient-sum ridge regression with aggregators
racing for each block by proof of work (``hefl run --scheme pow-race``).

Model (``notes-gradient-sum-on-blockchain.txt``). Linear model on vectorised images,
x = [vec(X); 1] ∈ ℝ^{mn+1}, objective

    L(w) = Σ_i ½(y_i − wᵀx_i)² + γ‖w‖²,      ∇L(w) = Σ_i x_i(wᵀx_i − y_i) + 2γw.

The data term is a sum over samples, so it splits over the data owners: with owner k's local
gradient g_k(w) = Σ_{i∈D_k} x_i(wᵀx_i − y_i) (a sum, not a mean), ∇L(w) = Σ_k g_k(w) + 2γw.

Where the ridge term is counted. The notes add the penalty's gradient inside every owner's local
gradient ("… + 2w" twice), which would count it once per owner, i.e. minimise L with γ replaced by
N·γ. Here it is counted exactly once, by the aggregators, who hold w^{t−1} anyway; owners send
only their data terms. The update written into block B_t is therefore

    w^t = w^{t−1} − α (Σ_k g_k(w^{t−1}) + 2γ w^{t−1}),

gradient descent on L itself, whose fixed point is the ridge solution (XᵀX + 2γI) w* = Xᵀy
(:func:`closed_form`). With 0 < α < 2/λ_max(XᵀX + 2γI) it converges linearly; the default
α = 1/(Σ_k ‖X_k‖_F² + 2γ) (:func:`default_alpha`) needs only each owner's Frobenius norm, a single
number, and is safe because λ_max(XᵀX) ≤ tr(XᵀX) = Σ_k ‖X_k‖_F².

Rounds (steps ①–⑤ of the notes). Block 0 holds the hash of w^0. In round t: ① every node reads
the head block's model hash from the chain and fetches that blob (the blob store checks it against
the hash); ② each owner computes g_k(w^{t−1}); ③ broadcasts it: the blob goes to the blob store,
its keccak256 to the contract (``submitGradient``); ④ each aggregator fetches the gradients named
on chain, computes w^t, and searches a nonce for its own puzzle (:mod:`hefl.agents.powminer`); the
first valid block is accepted by the contract, later ones revert with ``RoundAlreadyMined``;
⑤ repeat. Anyone can re-derive w^t from the blobs named on chain: :mod:`hefl.agents.powaudit`
does, for ``hefl verify``. The sums run in the owners' on-chain order with IEEE doubles, so every
honest node computes the same bytes.

Encrypted gradients (optional, ``secagg``). With a scheme of :mod:`hefl.secagg` (``multikey``:
Yang et al.), each owner sends its gradient as that scheme's wire message instead of in the clear;
the blob store keeps the ciphertext and its hash goes on chain as before. The aggregators form one
aggregation committee holding the scheme's server key: they decrypt only Σ_k g_k (ChelGen, the
owners' responses, Agg, Dec), never an individual g_k. The block's blob then carries
(w^t, Σ_k g_k, the hashes of the messages summed) as a bundle, so anyone still re-derives
w^t = w^{t−1} − α(Σ_k g_k + 2γ w^{t−1}) from public data; whether Σ_k g_k is the true decryption
of the messages is the committee's word (checking it needs the server key), as in the multi-key
paper's honest-but-curious server. Gradients are quantised with an explicit clip bound and scale
(the sum is exact to |S|/(2s) per coordinate); an owner whose gradient exceeds the clip bound
refuses to send rather than let it be clipped silently. The scheme simulates the owners' client
side in the committee's process, as :mod:`hefl.secagg` does.

Data. scikit-learn's bundled handwritten digits (8×8, no download) by default: one-vs-rest
"is it class k", y = +1 / −1, pixels scaled to [0, 1]. The notes' face recognition model uses the
Olivetti faces (64×64, 40 people), fetched once by scikit-learn's fetcher; offline, the loader
says so and names the fix.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hefl.agents.powminer import RACES, Puzzle, Race, RaceOutcome
from hefl.chain import BlobStore, Chain
from hefl.chain.pow import (
    PowLedgerClient,
    PuzzleHeader,
    deploy_pow_ledger,
    difficulty_to_target,
    target_to_difficulty,
)
from hefl.errors import ConfigError, ContractRevertError, DatasetError
from hefl.learning.blobs import pack_bundle, unpack_bundle
from hefl.learning.plain import decode_plain_vector, encode_plain_vector
from hefl.secagg import SCHEMES, SecureAggregationScheme, make_scheme
from hefl.secagg.quantise import Quantiser

#: Data sets of the mode.
POW_DATASETS = ("digits", "olivetti")
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
#: First bytes of a bundle (:func:`hefl.learning.blobs.pack_bundle`): a secagg block blob.
BUNDLE_MAGIC = pack_bundle([])[:8]


# --- data -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageData:
    """Vectorised images: rows x_i = [vec(X_i); 1], targets y_i = ±1 (is it class k)."""

    name: str
    X: np.ndarray
    y: np.ndarray
    image_shape: tuple[int, int]
    target_class: int

    @property
    def model_size(self) -> int:
        return int(self.X.shape[1])


def _fetch_olivetti() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import fetch_olivetti_faces

    try:
        bunch = fetch_olivetti_faces(shuffle=False)
    except Exception as error:  # URLError, OSError, HTTPError: no network or no cache
        raise DatasetError(
            "the Olivetti faces are not cached and could not be downloaded by scikit-learn's "
            f"fetcher ({error}); run once with network access (they are cached in "
            "~/scikit_learn_data), or use --dataset digits, which needs no download"
        ) from error
    return np.asarray(bunch.images, dtype=np.float64), np.asarray(bunch.target)


def load_images(name: str, target_class: int = 0, samples: int | None = None) -> ImageData:
    """x = [vec(X); 1] with pixels in [0, 1]; y = +1 for ``target_class``, −1 otherwise.

    ``samples`` keeps the first that many images (None: all).
    """
    if name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images, labels = np.asarray(bunch.images, dtype=np.float64) / 16.0, bunch.target
    elif name == "olivetti":
        images, labels = _fetch_olivetti()
    else:
        raise DatasetError(f"pow-race data set {name!r} unknown; use one of {POW_DATASETS}")
    classes = np.unique(labels)
    if target_class not in classes:
        raise ConfigError(
            f"class {target_class} is not in {name} (classes {classes.min()}…{classes.max()})"
        )
    if samples is not None:
        if samples < 2:
            raise ConfigError(f"samples must be ≥ 2, got {samples}")
        images, labels = images[:samples], labels[:samples]
    n = images.shape[0]
    X = np.hstack([images.reshape(n, -1), np.ones((n, 1))])
    y = np.where(labels == target_class, 1.0, -1.0)
    return ImageData(name, X, y, (images.shape[1], images.shape[2]), target_class)


def split_owners(data: ImageData, owners: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """A seeded shuffle of the samples cut into ``owners`` near-equal parts."""
    if owners < 1 or owners > data.X.shape[0]:
        raise ConfigError(f"cannot split {data.X.shape[0]} samples among {owners} owners")
    order = np.random.default_rng(seed).permutation(data.X.shape[0])
    return [(data.X[idx], data.y[idx]) for idx in np.array_split(order, owners)]


# --- the math -----------------------------------------------------------------------------------
def local_gradient(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """g_k(w) = Σ_{i∈D_k} x_i (wᵀx_i − y_i) = X_kᵀ(X_k w − y_k): an owner's data term."""
    return X.T @ (X @ w - y)


def ridge_gradient(w: np.ndarray, gamma: float) -> np.ndarray:
    """∇(γ‖w‖²) = 2γw, counted once, by the aggregators."""
    return 2.0 * gamma * w


def sum_gradients(gradients: Sequence[np.ndarray]) -> np.ndarray:
    """Σ_k g_k, added in the given (on-chain owner) order so every node gets the same bits."""
    if not gradients:
        raise ConfigError("no gradients to sum")
    total = np.array(gradients[0], dtype=np.float64, copy=True)
    for g in gradients[1:]:
        total = total + g
    return total


def aggregate_step(
    w_prev: np.ndarray, gradients: Sequence[np.ndarray], alpha: float, gamma: float
) -> np.ndarray:
    """w^t = w^{t−1} − α(Σ_k g_k + 2γ w^{t−1}): the block's model."""
    return w_prev - alpha * (sum_gradients(gradients) + ridge_gradient(w_prev, gamma))


def objective(w: np.ndarray, X: np.ndarray, y: np.ndarray, gamma: float) -> float:
    """L(w) = Σ_i ½(y_i − wᵀx_i)² + γ‖w‖²."""
    r = y - X @ w
    return float(0.5 * r @ r + gamma * w @ w)


def closed_form(X: np.ndarray, y: np.ndarray, gamma: float) -> np.ndarray:
    """argmin L: the solution of (XᵀX + 2γI) w = Xᵀy (γ > 0 makes it unique)."""
    d = X.shape[1]
    return np.linalg.solve(X.T @ X + 2.0 * gamma * np.eye(d), X.T @ y)


def default_alpha(parts: Sequence[tuple[np.ndarray, np.ndarray]], gamma: float) -> float:
    """α = 1/(Σ_k ‖X_k‖_F² + 2γ) ≤ 1/λ_max(XᵀX + 2γI): a safe step from one number per owner."""
    return 1.0 / (sum(float(np.sum(X * X)) for X, _ in parts) + 2.0 * gamma)


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
        alpha: step α; None for :func:`default_alpha`.
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
        if self.dataset not in POW_DATASETS:
            raise ConfigError(f"pow-race data set {self.dataset!r} unknown; use {POW_DATASETS}")
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


def canonical_json(document: Any) -> bytes:
    """Sorted keys, no spaces: the bytes whose keccak256 goes on chain."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


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
def block_model(blob: bytes) -> np.ndarray:
    """w from a block's blob: a plain vector, or the first part of a secagg block bundle."""
    if blob.startswith(BUNDLE_MAGIC):
        return decode_plain_vector(unpack_bundle(blob, 3)[0])
    return decode_plain_vector(blob)


def secagg_block_blob(w: np.ndarray, total: np.ndarray, message_hashes: Sequence[bytes]) -> bytes:
    """The block blob with encrypted gradients: (w^t, Σ_k g_k, hashes of the summed messages)."""
    hashes = canonical_json({"message_hashes": ["0x" + h.hex() for h in message_hashes]})
    return pack_bundle([encode_plain_vector(w), encode_plain_vector(total), hashes])


def read_secagg_block(blob: bytes) -> tuple[bytes, np.ndarray, list[str]]:
    """(the encoded w^t, Σ_k g_k, the message hashes) of a secagg block blob."""
    model, total, hashes = unpack_bundle(blob, 3)
    return model, decode_plain_vector(total), list(json.loads(hashes)["message_hashes"])


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
        self.names = {n.address: n.name for n in [*self.owners, *self.aggregators]}
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
    """Everything the PowLedger holds, as JSON (what ``hefl verify`` checks offline)."""
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


def pow_history_rows(
    blocks: Sequence[Any], names: dict[str, str] | None = None
) -> list[dict[str, str]]:
    """One display row per block: the winner per round (``hefl history``)."""
    names = names or {}
    rows = []
    for b in blocks:
        winner = "genesis" if b.is_genesis else names.get(b.winner, b.winner)
        rows.append(
            {
                "block": str(b.round),
                "winner": winner,
                "nonce": "-" if b.is_genesis else str(b.nonce),
                "difficulty": f"{b.difficulty:.4g}",
                "timestamp": str(b.timestamp),
                "model": "0x" + b.model_hash.hex()[:8] + "…",
            }
        )
    return rows


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


# --- command line ---------------------------------------------------------------------------
def add_pow_race_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``hefl run --scheme pow-race`` (a group of their own)."""
    group = parser.add_argument_group("pow-race (with --scheme pow-race)")
    group.add_argument("--images", choices=POW_DATASETS, default="digits", help="image data set")
    group.add_argument("--target-class", type=int, default=0, help="class k of 'is it k'")
    group.add_argument("--samples", type=int, help="use only the first S images")
    group.add_argument("--owners", default="Alice,Bob", help="data owners' names")
    group.add_argument("--aggregators", default="Agg1,Agg2", help="aggregators' names")
    group.add_argument(
        "--hash-power", default="1,1", help="worker processes per aggregator (e.g. 1,3)"
    )
    group.add_argument("--blocks", type=int, default=50, help="blocks to mine")
    group.add_argument("--gamma", type=float, default=DEFAULT_GAMMA, help="ridge γ")
    group.add_argument("--alpha", type=float, help="step α (default 1/(Σ‖X_k‖²_F + 2γ))")
    group.add_argument(
        "--difficulty", type=float, default=DEFAULT_DIFFICULTY, help="expected hashes per block"
    )
    group.add_argument(
        "--block-time", type=int, default=DEFAULT_BLOCK_TIME_S, help="retarget aim T (s)"
    )
    group.add_argument(
        "--retarget-every", type=int, default=DEFAULT_RETARGET_EVERY, help="k blocks (0: off)"
    )
    group.add_argument("--race", choices=tuple(RACES), default="processes", help="race engine")
    group.add_argument(
        "--secagg",
        choices=tuple(sorted(SCHEMES)),
        help="send the gradients encrypted with this hefl.secagg scheme (multikey: the "
        "aggregators learn only the sum)",
    )


def _names(text: str, what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise ConfigError(f"{what} {text!r}: give comma-separated names")
    return names


def config_from_args(args: argparse.Namespace) -> PowRaceConfig:
    try:
        power = tuple(int(p) for p in args.hash_power.split(","))
    except ValueError as error:
        raise ConfigError(f"--hash-power {args.hash_power!r}: give integers like 1,3") from error
    return PowRaceConfig(
        dataset=args.images,
        target_class=args.target_class,
        samples=args.samples,
        owners=_names(args.owners, "--owners"),
        aggregators=_names(args.aggregators, "--aggregators"),
        hash_power=power,
        gamma=args.gamma,
        alpha=args.alpha,
        rounds=args.blocks,
        difficulty=args.difficulty,
        block_time=args.block_time,
        retarget_every=args.retarget_every,
        race=args.race,
        seed=args.seed,
        secagg=args.secagg,
    )


def render_rows(rows: Sequence[dict[str, str]]) -> str:
    """Left-aligned columns from rows sharing the same keys."""
    if not rows:
        return ""
    heads = list(rows[0])
    width = {h: max(len(h), *(len(r[h]) for r in rows)) for h in heads}
    lines = ["  ".join(h.ljust(width[h]) for h in heads).rstrip()]
    lines += ["  ".join(r[h].ljust(width[h]) for h in heads).rstrip() for r in rows]
    return "\n".join(lines)


def round_row(r: PowRound) -> dict[str, str]:
    return {
        "block": str(r.round),
        "winner": r.winner,
        **{f"hashes {k}": str(v) for k, v in r.hashes.items()},
        "difficulty": f"{r.difficulty:.4g}",
        "to nonce s": f"{r.search_seconds:.3f}",
        "to block s": f"{r.seconds_to_block:.3f}",
        "late": ",".join(r.late) or "-",
        "L(w)": f"{r.objective:.2f}",
        "‖w−w*‖/‖w*‖": f"{r.distance:.4f}",
        "accuracy": f"{r.accuracy:.3f}",
    }


def race_summary(result: PowRaceResult) -> str:
    """Wins against the hash-power share, hashes per block against the difficulty, times, gas."""
    cfg, rounds = result.config, result.rounds
    total_power = sum(cfg.hash_power)
    wins = result.wins()
    lines = []
    for name, power in zip(cfg.aggregators, cfg.hash_power, strict=True):
        lines.append(
            f"  {name}: {wins[name]}/{len(rounds)} blocks "
            f"({wins[name] / len(rounds):.0%}; hash-power share {power / total_power:.0%})"
        )
    hashes = np.array([r.total_hashes for r in rounds], dtype=float)
    difficulty = np.array([r.difficulty for r in rounds])
    to_block = np.array([r.seconds_to_block for r in rounds])
    lines.append(
        f"  hashes per block: mean {hashes.mean():.0f} (mean difficulty {difficulty.mean():.0f}); "
        f"time to block: mean {to_block.mean():.3f} s, median {np.median(to_block):.3f} s, "
        f"max {to_block.max():.3f} s"
    )
    lines.append(
        f"  gas per round: gradients {rounds[-1].gradient_gas} (all owners), "
        f"block {int(np.median([r.block_gas for r in rounds]))} (median)"
    )
    late = sum(len(r.late) for r in rounds)
    lines.append(f"  late blocks refused on chain (RoundAlreadyMined): {late}")
    return "\n".join(lines)


def run_pow_race(args: argparse.Namespace) -> int:
    """``hefl run --scheme pow-race``: the four-node example end to end, then its own audit."""
    import datetime as dt

    from hefl.agents.powaudit import ExportedPowHistory, audit_pow
    from hefl.chain import LocalBlobStore, connect_embedded, connect_rpc
    from hefl.errors import VerificationError

    config = config_from_args(args)
    out = args.out or Path("runs") / dt.datetime.now().strftime("pow-%Y%m%d-%H%M%S")
    chain = connect_rpc(args.rpc) if args.rpc else connect_embedded()
    blobs = LocalBlobStore(out / "blobs")
    job = PowRaceJob(config, chain, blobs)
    cast = ", ".join(
        [*(f"{o.name} ({o.X.shape[0]} images)" for o in job.owners)]
        + [
            f"{a.name} ({p} worker{'s' * (p > 1)})"
            for a, p in zip(job.aggregators, config.hash_power, strict=True)
        ]
    )
    print(
        f"hefl run: pow-race on {config.dataset} ('is it {config.target_class}', "
        f"{job.data.X.shape[0]}×{job.data.model_size}), γ={config.gamma}, α={job.alpha:.4g}, "
        f"difficulty {config.difficulty:.4g}, {config.race} race"
        f"{f', gradients encrypted ({config.secagg})' if config.secagg else ''}; {cast}",
        flush=True,
    )
    print(
        f"PowLedger deployed at {job.ledger.address} (chain {chain.chain_id}); "
        f"{config.rounds} blocks to mine",
        flush=True,
    )

    def progress(r: PowRound) -> None:
        if not args.quiet:
            late = f", late: {','.join(r.late)}" if r.late else ""
            print(
                f"block {r.round}: {r.winner} after {r.total_hashes} hashes, "
                f"{r.seconds_to_block:.3f} s{late}; ‖w−w*‖/‖w*‖ = {r.distance:.4f}",
                flush=True,
            )

    result = job.run(progress)
    paths = save_pow_run(result, out)
    print("\nBlocks:")
    print(render_rows([round_row(r) for r in result.rounds]))
    print("\nRace:")
    print(race_summary(result))
    report = audit_pow(ExportedPowHistory.load(out), blobs)
    print(f"\nverify: {report.summary()}")
    for problem in report.problems:
        print(f"  - {problem}")
    print(f"wrote {', '.join(str(p) for p in paths.values())} and {out / 'blobs'}")
    if not report.ok:
        raise VerificationError(f"the run failed its own audit ({len(report.problems)} problems)")
    return 0


def print_pow_history(client: PowLedgerClient, *, as_json: bool = False) -> None:
    """``hefl history`` for a PowLedger: the winner of every block."""
    blocks = client.blocks()
    if as_json:
        print(json.dumps(export_pow_history(client), indent=2))
        return
    names = {a: f"aggregator {i} ({a[:6]}…{a[-4:]})" for i, a in enumerate(client.aggregators())}
    print(
        f"PowLedger {client.address} on chain {client.chain.chain_id}: "
        f"{len(client.owners())} owners, {len(names)} aggregators, {len(blocks) - 1} blocks mined, "
        f"retarget every {client.retarget_interval() or '-'} blocks towards "
        f"{client.target_block_time()} s"
    )
    print(render_rows(pow_history_rows(blocks, names)))
