"""Auditing a pow-race chain from public data alone (``hefl race verify``).

For every block t ≥ 1 of a :class:`~hefl.chain.PowLedgerClient` (live chain) or of an exported
``pow_history.json`` (:class:`ExportedPowHistory`; the embedded chain does not outlive its
process), :func:`audit_pow` checks, with the job configuration blob named on chain (α, γ):

1. every blob named on chain — configuration, genesis model, each owner's gradient, each block's
   model — is in the blob store and hashes to its name;
2. the block's model follows from the broadcast gradients: re-deriving
   w^t = w^{t−1} − α(Σ_k g_k + 2γ w^{t−1}) (:func:`hefl.pow.model.aggregate_step`, owners in
   on-chain order) gives exactly the blob whose hash the block holds. With encrypted gradients
   (``secagg``) the block carries Σ_k g_k and the hashes of the messages it sums: those must be
   the gradients on chain, and w^t must follow from that sum (which only the aggregators' key can
   check against the ciphertexts);
3. the proof of work: keccak256(abi.encode(chainid, contract, t, h(w^{t−1}), h(w^t), winner,
   nonce)) is below the target the block met;
4. that target follows from the initial one by the retarget rule and the blocks' timestamps
   (:func:`hefl.pow.puzzle.retarget`).

The contract itself already enforces the first-valid-block rule and (3); (2) is what no contract
can check, and what a dishonest aggregator would get wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address

from hefl.agents.audit import EXPORTED_SOURCE, LIVE_SOURCE, AuditTrail
from hefl.chain import BlobStore, LocalBlobStore, connect_rpc
from hefl.chain.pow_ledger import PowBlockRecord, PowLedgerClient, is_pow_ledger
from hefl.errors import HeflError, VerificationError
from hefl.learning.plain import decode_plain_vector, encode_plain_vector
from hefl.pow.job import POW_FORMAT
from hefl.pow.model import aggregate_step, block_model, read_secagg_block
from hefl.pow.puzzle import meets_target, pow_digest, retarget

#: The file a pow-race run exports.
POW_HISTORY_FILE = "pow_history.json"


class PowLedgerView(Protocol):
    """The read side of a PowLedger that auditing needs."""

    address: Any

    def chain_id(self) -> int: ...
    def config_hash(self) -> bytes: ...
    def owners(self) -> tuple[ChecksumAddress, ...]: ...
    def blocks(self) -> tuple[PowBlockRecord, ...]: ...
    def gradients(self, round: int) -> tuple[bytes, ...]: ...
    def target_block_time(self) -> int: ...
    def retarget_interval(self) -> int: ...


class LivePowView:
    """A :class:`PowLedgerView` over a live contract."""

    def __init__(self, client: PowLedgerClient) -> None:
        self.client = client
        self.address = client.address

    def chain_id(self) -> int:
        return self.client.chain.chain_id

    def config_hash(self) -> bytes:
        return self.client.config_hash()

    def owners(self) -> tuple[ChecksumAddress, ...]:
        return self.client.owners()

    def blocks(self) -> tuple[PowBlockRecord, ...]:
        return self.client.blocks()

    def gradients(self, round: int) -> tuple[bytes, ...]:
        return self.client.gradients(round)

    def target_block_time(self) -> int:
        return self.client.target_block_time()

    def retarget_interval(self) -> int:
        return self.client.retarget_interval()


class ExportedPowHistory:
    """A :class:`PowLedgerView` over an exported ``pow_history.json`` (no chain consulted)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        if document.get("format") != POW_FORMAT or document.get("scheme") != "pow-race":
            raise VerificationError(
                f"not a pow-race history of format {POW_FORMAT}; export it again with this hefl"
            )
        self.document = document
        self.address = to_checksum_address(document["address"])
        self.names: dict[str, str] = dict(document.get("names", {}))

    @classmethod
    def load(cls, path: str | Path) -> ExportedPowHistory:
        file = Path(path)
        if file.is_dir():
            file = file / POW_HISTORY_FILE
        try:
            return cls(json.loads(file.read_text()))
        except (OSError, ValueError, KeyError) as error:
            raise VerificationError(
                f"cannot read a pow-race history from {file}: {error}"
            ) from error

    def chain_id(self) -> int:
        return int(self.document["chain_id"])

    def config_hash(self) -> bytes:
        return bytes.fromhex(self.document["config_hash"][2:])

    def owners(self) -> tuple[ChecksumAddress, ...]:
        return tuple(to_checksum_address(a) for a in self.document["owners"])

    def blocks(self) -> tuple[PowBlockRecord, ...]:
        return tuple(PowBlockRecord.from_json(b) for b in self.document["blocks"])

    def gradients(self, round: int) -> tuple[bytes, ...]:
        return tuple(bytes.fromhex(h[2:]) for h in self.document["gradients"][str(round)])

    def target_block_time(self) -> int:
        return int(self.document["target_block_time"])

    def retarget_interval(self) -> int:
        return int(self.document["retarget_interval"])


@dataclass
class PowAuditReport(AuditTrail):
    """What :func:`audit_pow` checked, and every problem found."""

    blocks: int = 0
    models: int = 0
    proofs: int = 0
    targets: int = 0
    winners: dict[str, int] = field(default_factory=dict)
    encrypted: bool = False

    def summary(self) -> str:
        verdict = "OK" if self.ok else f"{len(self.problems)} problem(s)"
        wins = ", ".join(f"{k} {v}" for k, v in self.winners.items()) or "none"
        basis = (
            "the decrypted sums the blocks carry (checking a decryption needs the aggregators' key)"
            if self.encrypted
            else "the broadcast gradients"
        )
        return (
            f"{verdict}: {self.blocks} pow blocks, {self.blobs} blobs matched their hashes, "
            f"{self.models} models re-derived from {basis}, {self.proofs} proofs "
            f"of work and {self.targets} targets checked; wins: {wins} ({self.source})"
        )


def audit_pow(
    view: PowLedgerView, blobs: BlobStore, *, names: Mapping[str, str] | None = None
) -> PowAuditReport:
    """Re-check a pow-race chain; see the module docstring."""
    live = isinstance(view, LivePowView)
    report = PowAuditReport(source=LIVE_SOURCE if live else EXPORTED_SOURCE)
    names = dict(names or getattr(view, "names", {}) or {})

    def fetch(blob_id: bytes, what: str) -> bytes | None:
        return report.fetch(blobs, blob_id, what)

    config_blob = fetch(view.config_hash(), "job configuration")
    if config_blob is None:
        return report
    try:
        config = json.loads(config_blob)
        alpha, gamma = float(config["alpha"]), float(config["gamma"])
        encrypted = config.get("secagg") is not None
        report.encrypted = encrypted
    except (ValueError, KeyError, TypeError) as error:
        report.problems.append(f"job configuration is not a pow-race configuration: {error}")
        return report
    owners = view.owners()
    listed = [to_checksum_address(o["address"]) for o in config.get("owners", [])]
    if listed and listed != list(owners):
        report.problems.append("the configuration's owners differ from the contract's owner list")

    blocks = view.blocks()
    chain_id, interval, block_time = (
        view.chain_id(),
        view.retarget_interval(),
        view.target_block_time(),
    )
    genesis = blocks[0]
    previous_blob = fetch(genesis.model_hash, "genesis model")
    expected_target, window_start = genesis.target, genesis.timestamp
    for block in blocks[1:]:
        t = block.round
        report.blocks += 1
        who = names.get(block.winner, block.winner)
        report.winners[who] = report.winners.get(who, 0) + 1
        previous_hash = blocks[t - 1].model_hash
        digest = pow_digest(
            chain_id, view.address, t, previous_hash, block.model_hash, block.winner, block.nonce
        )
        if meets_target(digest, block.target):
            report.proofs += 1
        else:
            report.problems.append(
                f"block {t}: digest 0x{digest.hex()} of nonce {block.nonce} by {who} is not "
                f"below its target {block.target:#x}"
            )
        if block.target == expected_target:
            report.targets += 1
        else:
            report.problems.append(
                f"block {t}: target {block.target:#x} does not follow from the retarget rule "
                f"(expected {expected_target:#x})"
            )
        if interval and t % interval == 0:
            expected_target = retarget(
                block.target, block.timestamp - window_start, interval, block_time
            )
            window_start = block.timestamp
        hashes = view.gradients(t)
        grads = [fetch(g, f"block {t} gradient of owner {k}") for k, g in enumerate(hashes)]
        model_blob = fetch(block.model_hash, f"block {t} model")
        if previous_blob is not None and model_blob is not None and None not in grads:
            try:
                problem = _rederive(
                    previous_blob, model_blob, grads, hashes, alpha, gamma, encrypted
                )
            except (HeflError, ValueError, KeyError, TypeError) as error:
                problem = f"cannot re-derive the model: {error}"
            if problem is None:
                report.models += 1
            else:
                report.problems.append(
                    f"block {t}: the model 0x{block.model_hash.hex()} written by {who} {problem}"
                )
        previous_blob = model_blob
    return report


def _rederive(
    previous_blob: bytes,
    model_blob: bytes,
    gradients: Sequence[bytes | None],
    hashes: Sequence[bytes],
    alpha: float,
    gamma: float,
    encrypted: bool,
) -> str | None:
    """Why the block's blob does not follow from public data, or None when it does.

    In the clear: w^t = w^{t−1} − α(Σ_k g_k + 2γ w^{t−1}) from the gradient blobs, bit for bit.
    With encrypted gradients: the block names exactly the messages on chain, and w^t follows
    from the sum it carries (the sum itself is the aggregators' decryption).
    """
    w_prev = block_model(previous_blob)
    if not encrypted:
        update = [decode_plain_vector(g) for g in gradients if g is not None]
        expected = encode_plain_vector(aggregate_step(w_prev, update, alpha, gamma))
        if expected != model_blob:
            return (
                "does not follow from the previous model and the broadcast gradients "
                "(w^t ≠ w^{t-1} − α(Σ g_k + 2γ w^{t-1}))"
            )
        return None
    model, total, named = read_secagg_block(model_blob)
    if named != ["0x" + h.hex() for h in hashes]:
        return "sums other messages than the gradients broadcast on chain"
    if encode_plain_vector(aggregate_step(w_prev, [total], alpha, gamma)) != model:
        return "does not follow from the previous model and the sum it carries"
    return None


def audit_pow_directory(
    directory: Path, blobs_dir: Path, rpc: str | None = None, address: str | None = None
) -> PowAuditReport | None:
    """``hefl race verify`` (and ``hefl verify``) on a pow-race run, or ``None`` for other runs.

    Offline, the run's ``pow_history.json``; with ``rpc``, the live chain at ``address`` (default:
    the address the history names), if the code there is a PowLedger.
    """
    exported = directory / POW_HISTORY_FILE
    history = ExportedPowHistory.load(exported) if exported.is_file() else None
    if rpc is None:
        return None if history is None else audit_pow(history, LocalBlobStore(blobs_dir))
    chain = connect_rpc(rpc)
    where = address or (history.address if history is not None else None)
    if where is None or not is_pow_ledger(chain, where):
        return None
    names = history.names if history is not None else None
    view = LivePowView(PowLedgerClient.at(chain, where))
    return audit_pow(view, LocalBlobStore(blobs_dir), names=names)
