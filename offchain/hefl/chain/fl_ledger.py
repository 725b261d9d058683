"""Typed client for the ``FLLedger`` contract (``contracts/FLLedger.sol``).

One :class:`LedgerClient` per (deployment, sender): transactions are sent from ``client.sender``;
:meth:`LedgerClient.as_sender` gives a client for another account on the same deployment. Every
transaction is simulated first, so a rule the contract enforces surfaces as
:class:`~hefl.errors.ContractRevertError` naming the custom error (``error_name``) with its
decoded arguments (``error_args``; enum arguments as :class:`RoundStatus` / :class:`HashField`),
and nothing is sent. History comes back as frozen dataclasses.

Hashes are 32-byte keccak256 digests of the off-chain blobs (see :mod:`hefl.chain.blobstore`);
methods accept ``bytes`` or a ``0x`` hex string.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address

from hefl.chain.artifact import LedgerArtifact, load_artifact
from hefl.chain.contract import ContractClient, LedgerEvent, TxResult, to_hash32
from hefl.chain.contract import checksum_address as _address
from hefl.chain.node import Chain
from hefl.errors import ChainError, ConfigError

__all__ = [
    "ZERO_HASH",
    "HashField",
    "LedgerClient",
    "LedgerEvent",
    "ParticipantRecord",
    "RoundRecord",
    "RoundStatus",
    "SubmissionRecord",
    "TxResult",
    "deploy_ledger",
    "fault_tolerance_for",
    "quorum_for",
    "to_hash32",
]

ZERO_HASH = b"\x00" * 32
#: Default seconds after a round's deadline (Open) or commit (Aggregated) from which anyone may
#: void it (``FLLedger.voidRound``); at least the node-outage limit an agent rides out, so an
#: outage alone never lets a round be voided under a live party.
DEFAULT_VOID_TIMEOUT_S = 600
#: ``voidRound``'s "never" for a caller that may not void a round at all.
NEVER = 2**256 - 1


class RoundStatus(enum.IntEnum):
    """``FLLedger.RoundStatus``; ``NONE`` only for a round that does not exist."""

    NONE = 0
    OPEN = 1
    AGGREGATED = 2
    FINALISED = 3
    DISPUTED = 4
    #: Closed without verdict by ``voidRound`` (nothing usable, or the voters fell silent).
    VOIDED = 5

    @property
    def pending(self) -> bool:
        """Whether the round still awaits its outcome (Open or Aggregated)."""
        return self in (RoundStatus.OPEN, RoundStatus.AGGREGATED)


class HashField(enum.IntEnum):
    """``FLLedger.HashField``: which hash argument a ``ZeroHash`` error is about."""

    PUBLIC_KEY = 0
    CONFIG = 1
    GLOBAL_MODEL = 2
    MODEL = 3
    AGGREGATE = 4
    RECOMPUTED = 5


_ENUMS: dict[str, type[enum.IntEnum]] = {
    "enum IFLLedger.RoundStatus": RoundStatus,
    "enum IFLLedger.HashField": HashField,
}


def quorum_for(participants: int) -> int:
    """q = ⌈(n + F + 1)/2⌉ with n = N + 1 consensus nodes and F = ⌊(n − 1)/3⌋."""
    nodes = participants + 1
    faults = (nodes - 1) // 3
    return -(-(nodes + faults + 1) // 2)


def fault_tolerance_for(participants: int) -> int:
    """F = ⌊(n − 1)/3⌋ for n = N + 1 consensus nodes."""
    return participants // 3


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


# --- records --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParticipantRecord:
    """A registered participant: its bit index, account and data-set size |D_i|."""

    index: int
    address: ChecksumAddress
    data_size: int


@dataclass(frozen=True)
class RoundRecord:
    """Everything the ledger holds about round g (``FLLedger.getRound``)."""

    round: int
    iteration: int
    tau: int
    status: RoundStatus
    global_model_hash: bytes
    aggregate_hash: bytes
    submission_count: int
    included: int
    attest_count: int
    dispute_count: int
    attested: int
    disputed: int
    opened_block: int
    aggregated_block: int
    closed_block: int
    deadline: int = 0
    aggregated_at: int = 0

    @property
    def included_indices(self) -> tuple[int, ...]:
        """Bit indices of the submitters (while Open) or of whom the aggregate covers (after)."""
        return _bits(self.included)

    @property
    def attested_indices(self) -> tuple[int, ...]:
        return _bits(self.attested)

    @property
    def disputed_indices(self) -> tuple[int, ...]:
        return _bits(self.disputed)

    @property
    def votes(self) -> int:
        """Votes towards the quorum: the party's commit plus the attestations."""
        return self.attest_count + (1 if self.status >= RoundStatus.AGGREGATED else 0)

    @property
    def committed(self) -> bool:
        return self.aggregate_hash != ZERO_HASH

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "iteration": self.iteration,
            "tau": self.tau,
            "status": self.status.name.lower(),
            "global_model_hash": _hex(self.global_model_hash),
            "aggregate_hash": _hex(self.aggregate_hash) if self.committed else None,
            "submission_count": self.submission_count,
            "included": list(self.included_indices),
            "attest_count": self.attest_count,
            "dispute_count": self.dispute_count,
            "attested": list(self.attested_indices),
            "disputed": list(self.disputed_indices),
            "votes": self.votes,
            "opened_block": self.opened_block,
            "aggregated_block": self.aggregated_block or None,
            "closed_block": self.closed_block or None,
            "deadline": self.deadline or None,
            "aggregated_at": self.aggregated_at or None,
        }


@dataclass(frozen=True)
class SubmissionRecord:
    """A participant's submission for a round; hashes are zero when it did not submit."""

    round: int
    participant: ChecksumAddress
    model_hash: bytes
    extra_hash: bytes

    @property
    def submitted(self) -> bool:
        return self.model_hash != ZERO_HASH

    @property
    def has_extra(self) -> bool:
        return self.extra_hash != ZERO_HASH


def _bits(mask: int) -> tuple[int, ...]:
    return tuple(i for i in range(mask.bit_length()) if mask >> i & 1)


# --- the client -----------------------------------------------------------------------------------
class LedgerClient(ContractClient):
    """Typed access to one deployed ``FLLedger``, sending transactions from ``sender``."""

    CONTRACT = "FLLedger"
    ENUMS = _ENUMS
    ADDRESS_WHAT = "ledger address"

    @classmethod
    def default_artifact(cls) -> LedgerArtifact:
        return load_artifact()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The deployment's constants (the contract's immutables and participant registry), read
        #: once and shared by every :meth:`as_sender` client of this deployment.
        self._constants: dict[tuple[str, tuple[Any, ...]], Any] = {}

    def _artifact_label(self) -> str:
        return f"{self.artifact.path} (sha256 {self.artifact.artifact_sha256[:12]}…)"

    def as_sender(self, sender: str) -> LedgerClient:
        """The same deployment, sending from ``sender`` (sharing the constants already read)."""
        client = super().as_sender(sender)
        client._constants = self._constants
        return client

    def _constant(self, fn: str, *args: Any) -> Any:
        """A view of something the contract never changes after deployment (its immutables,
        the participant registry), read from the node once per deployment and client family."""
        key = (fn, args)
        if key not in self._constants:
            self._constants[key] = self._call(fn, *args)
        return self._constants[key]

    # --- transactions -----------------------------------------------------------------------------
    def open_round(
        self, iteration: int, tau: int, global_model_hash: bytes | str, deadline: int = 0
    ) -> TxResult:
        """Open round g = :meth:`round_count` (party only); the new g is in ``RoundOpened``.

        ``deadline`` (unix time, 0 for none) closes submissions; then the party may leave
        unusable submissions out of the aggregate (see ``commitAggregate``)."""
        return self._transact(
            "openRound",
            iteration,
            tau,
            to_hash32(global_model_hash, "global model hash"),
            deadline,
        )

    def submit(
        self, round: int, model_hash: bytes | str, extra_hash: bytes | str | None = None
    ) -> TxResult:
        """Submit the hashes of this participant's blobs for an open round (``None``: no extra)."""
        extra = ZERO_HASH if extra_hash is None else to_hash32(extra_hash, "extra hash")
        return self._transact("submit", round, to_hash32(model_hash, "model hash"), extra)

    def submit_blobs(self, round: int, model: bytes, extra: bytes = b"") -> TxResult:
        """Submit the blobs themselves (calldata); the contract hashes them (empty extra: none)."""
        return self._transact("submitBlobs", round, bytes(model), bytes(extra))

    def commit_aggregate_blob(
        self, round: int, aggregate: bytes, included: Iterable[int]
    ) -> TxResult:
        """Commit the aggregate's bytes (calldata) over the participants ``included``."""
        bitmap = sum(1 << int(i) for i in set(included))
        return self._transact("commitAggregateBlob", round, bytes(aggregate), bitmap)

    def void_round(self, round: int) -> TxResult:
        """Close a round that can reach no verdict (``FLLedger.voidRound``'s rule)."""
        return self._transact("voidRound", round)

    def void_allowed_from(self, record: RoundRecord, caller: str) -> int:
        """Unix time after which ``caller`` may void ``record``'s round (:data:`NEVER`: never;
        0: at once), by the rule of ``FLLedger.voidRound``."""
        if not record.status.pending:
            return NEVER
        if record.status is RoundStatus.AGGREGATED:
            return record.aggregated_at + self.void_timeout()
        if _address(caller, "caller") == self.party():
            return record.deadline
        return NEVER if not record.deadline else record.deadline + self.void_timeout()

    def commit_aggregate(
        self, round: int, aggregate_hash: bytes | str, included: Iterable[int] | None = None
    ) -> TxResult:
        """Commit the aggregate's hash and close submissions (party only).

        ``included`` lists the participant indices the aggregate covers: exactly the submitters in
        a round without deadline, a nonempty subset of them in a round with one (else the
        contract reverts with ``IncludedMismatch``). ``None`` takes the submitters as the chain
        shows them now — only for callers with no race to fear.
        """
        if included is None:
            bitmap = self.get_round(round).included
        else:
            bitmap = sum(1 << int(i) for i in set(included))
        return self._transact(
            "commitAggregate", round, to_hash32(aggregate_hash, "aggregate hash"), bitmap
        )

    def attest(self, round: int, aggregate_hash: bytes | str) -> TxResult:
        """Attest the committed aggregate (participants only)."""
        return self._transact("attest", round, to_hash32(aggregate_hash, "aggregate hash"))

    def dispute(self, round: int, recomputed_hash: bytes | str) -> TxResult:
        """Dispute the committed aggregate with the hash this participant recomputed."""
        return self._transact("dispute", round, to_hash32(recomputed_hash, "recomputed hash"))

    # --- views ------------------------------------------------------------------------------------
    def party(self) -> ChecksumAddress:
        return to_checksum_address(self._constant("party"))

    def public_key_hash(self) -> bytes:
        return bytes(self._constant("publicKeyHash"))

    def config_hash(self) -> bytes:
        return bytes(self._constant("configHash"))

    def total_data_size(self) -> int:
        return int(self._constant("totalDataSize"))

    def void_timeout(self) -> int:
        return int(self._constant("voidTimeout"))

    def blobs_on_chain(self) -> bool:
        return bool(self._constant("blobsOnChain"))

    def participant_count(self) -> int:
        return int(self._constant("participantCount"))

    def consensus_nodes(self) -> int:
        return int(self._constant("consensusNodes"))

    def quorum(self) -> int:
        return int(self._constant("quorum"))

    def fault_tolerance(self) -> int:
        return int(self._constant("faultTolerance"))

    def max_participants(self) -> int:
        return int(self._constant("MAX_PARTICIPANTS"))

    def participants(self) -> tuple[ParticipantRecord, ...]:
        """The registry (fixed at deployment), read and checksummed once per client family."""
        key = ("participants", ("records",))
        if key not in self._constants:
            accounts, sizes = self._constant("participants")
            self._constants[key] = tuple(
                ParticipantRecord(index=i, address=to_checksum_address(a), data_size=int(s))
                for i, (a, s) in enumerate(zip(accounts, sizes, strict=True))
            )
        records: tuple[ParticipantRecord, ...] = self._constants[key]
        return records

    def participant_index(self, address: str) -> int:
        return int(self._constant("participantIndex", _address(address, "participant")))

    def round_count(self) -> int:
        return int(self._call("roundCount"))

    def get_round(self, round: int) -> RoundRecord:
        """Every field of round ``round``. A decided round (Finalised, Disputed, Voided) never
        changes again, so it is read from the node once per client family. With the chain's
        view cache on, the header is read through the batched view (``getSubmissions``, the same
        ``RoundView``): one answer per block then serves every agent's header and submissions."""
        if self.chain.views.enabled:
            return self._round(round, lambda: self.round_submissions(round)[0])
        return self._round(round, lambda: self._header(round))

    def round_status(self, round: int) -> RoundStatus:
        """Round ``round``'s status alone, from its header (``getRound``: constant work for the
        node, where the batched view reads every submission)."""
        return self._round(round, lambda: self._header(round)).status

    def _header(self, round: int) -> RoundRecord:
        return _round_record(round, self._call("getRound", round))

    def _round(self, round: int, read: Callable[[], RoundRecord]) -> RoundRecord:
        """Round ``round`` as ``read`` gets it from the node, unless already decided: a decided
        round (Finalised, Disputed, Voided) never changes again, so it is kept per client family."""
        key = ("getRound", (round,))
        decided: RoundRecord | None = self._constants.get(key)
        if decided is not None:
            return decided
        record = read()
        if record.status not in (RoundStatus.NONE, RoundStatus.OPEN, RoundStatus.AGGREGATED):
            self._constants[key] = record
        return record

    def get_submission(self, round: int, participant: str) -> SubmissionRecord:
        who = _address(participant, "participant")
        model, extra = self._call("getSubmission", round, who)
        return SubmissionRecord(
            round=round, participant=who, model_hash=bytes(model), extra_hash=bytes(extra)
        )

    def round_submissions(self, round: int) -> tuple[RoundRecord, tuple[SubmissionRecord, ...]]:
        """Round ``round`` and every participant's submission record (bit-index order), in one
        contract call (``getSubmissions``): one consistent snapshot, O(1) node requests."""
        header, models, extras = self._call("getSubmissions", round)
        people = self.participants()
        if not len(models) == len(extras) == len(people):
            raise ChainError(
                f"the node answers getSubmissions({round}) with {len(models)} model and "
                f"{len(extras)} extra hashes for {len(people)} participants"
            )
        return _round_record(round, header), tuple(
            SubmissionRecord(
                round=round, participant=p.address, model_hash=bytes(m), extra_hash=bytes(e)
            )
            for p, m, e in zip(people, models, extras, strict=True)
        )

    def history(self, start: int = 0, stop: int | None = None) -> tuple[RoundRecord, ...]:
        """Rounds ``start`` .. ``stop - 1`` (default: all), read one call per round."""
        end = self.round_count() if stop is None else stop
        return tuple(self.get_round(g) for g in range(start, end))

    def submissions(self, round: int) -> tuple[SubmissionRecord, ...]:
        """Every participant's submission record for ``round``, in bit-index order."""
        return self.round_submissions(round)[1]


def _round_record(round: int, raw: Any) -> RoundRecord:
    """A ``RoundView`` tuple as a :class:`RoundRecord`."""
    (it, tau, status, gm, agg, subs, incl, att_n, dis_n, att, dis, ob, ab, cb, dl, at) = raw
    try:
        known = RoundStatus(status)
    except ValueError:
        raise ChainError(
            f"the node reports round {round} in status {status}, which FLLedger has not"
        ) from None
    return RoundRecord(
        round=round,
        iteration=int(it),
        tau=int(tau),
        status=known,
        global_model_hash=bytes(gm),
        aggregate_hash=bytes(agg),
        submission_count=int(subs),
        included=int(incl),
        attest_count=int(att_n),
        dispute_count=int(dis_n),
        attested=int(att),
        disputed=int(dis),
        opened_block=int(ob),
        aggregated_block=int(ab),
        closed_block=int(cb),
        deadline=int(dl),
        aggregated_at=int(at),
    )


def deploy_ledger(
    chain: Chain,
    party: str,
    participants: Sequence[str],
    sizes: Sequence[int],
    public_key_hash: bytes | str,
    config_hash: bytes | str,
    *,
    artifact: LedgerArtifact | None = None,
    void_timeout_s: int = DEFAULT_VOID_TIMEOUT_S,
    blobs_on_chain: bool = False,
) -> LedgerClient:
    """Deploy a new ``FLLedger`` from ``party`` (the computing party); return its client as party.

    ``participants[i]`` gets bit index i and data-set size ``sizes[i]`` (|D_i|, Eq. 10's weight).
    ``void_timeout_s`` is the contract's ``voidTimeout``; ``blobs_on_chain`` makes the blobs
    travel in calldata (see :func:`hefl.chain.availability.blobs_on_chain_for`).
    """
    artifact = artifact or load_artifact()
    if len(participants) != len(sizes):
        raise ConfigError(
            f"{len(participants)} participants but {len(sizes)} data-set sizes; give one each"
        )
    sender = _address(party, "party")
    accounts = [_address(p, f"participant {i}") for i, p in enumerate(participants)]
    pk = to_hash32(public_key_hash, "public key hash")
    cfg = to_hash32(config_hash, "config hash")
    args = (accounts, [int(s) for s in sizes], pk, cfg, int(void_timeout_s), bool(blobs_on_chain))
    return LedgerClient._deployed(
        chain, sender, artifact, args, rule=" (data-set sizes must be uint64)"
    )
