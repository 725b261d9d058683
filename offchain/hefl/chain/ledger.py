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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_typing import ChecksumAddress
from eth_utils import is_address, keccak, to_checksum_address
from hexbytes import HexBytes
from web3.contract import Contract
from web3.types import TxReceipt

from hefl.chain.artifact import LedgerArtifact, load_artifact
from hefl.chain.node import Chain
from hefl.chain.revert import RevertDecoder, abi_signature
from hefl.errors import ChainError, ConfigError

ZERO_HASH = b"\x00" * 32


class RoundStatus(enum.IntEnum):
    """``FLLedger.RoundStatus``; ``NONE`` only for a round that does not exist."""

    NONE = 0
    OPEN = 1
    AGGREGATED = 2
    FINALISED = 3
    DISPUTED = 4


class HashField(enum.IntEnum):
    """``FLLedger.HashField``: which hash argument a ``ZeroHash`` error is about."""

    PUBLIC_KEY = 0
    CONFIG = 1
    GLOBAL_MODEL = 2
    MODEL = 3
    AGGREGATE = 4
    RECOMPUTED = 5


_ENUMS: dict[str, type[enum.IntEnum]] = {
    "enum FLLedger.RoundStatus": RoundStatus,
    "enum FLLedger.HashField": HashField,
}


def quorum_for(participants: int) -> int:
    """q = ⌈(n + F + 1)/2⌉ with n = N + 1 consensus nodes and F = ⌊(n − 1)/3⌋."""
    nodes = participants + 1
    faults = (nodes - 1) // 3
    return -(-(nodes + faults + 1) // 2)


def fault_tolerance_for(participants: int) -> int:
    """F = ⌊(n − 1)/3⌋ for n = N + 1 consensus nodes."""
    return participants // 3


def to_hash32(value: bytes | str, what: str = "hash") -> bytes:
    """A 32-byte hash from bytes or a 0x hex string."""
    if isinstance(value, str):
        try:
            raw = bytes(HexBytes(value))
        except ValueError as error:
            raise ConfigError(f"{what} {value!r} is not hex") from error
    elif isinstance(value, bytes | bytearray):
        raw = bytes(value)
    else:
        raise ConfigError(f"{what} must be bytes or a hex string, got {type(value).__name__}")
    if len(raw) != 32:
        raise ConfigError(f"{what} must be 32 bytes, got {len(raw)} ({raw.hex() or 'empty'})")
    return raw


def _address(value: str, what: str = "address") -> ChecksumAddress:
    if not isinstance(value, str) or not is_address(value):
        raise ConfigError(f"{what} {value!r} is not an Ethereum address")
    return to_checksum_address(value)


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

    @property
    def included_indices(self) -> tuple[int, ...]:
        """Bit indices of the participants whose submissions the aggregate covers."""
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


@dataclass(frozen=True)
class LedgerEvent:
    """One decoded log of the ledger."""

    name: str
    args: Mapping[str, Any]
    block_number: int
    transaction_hash: str
    log_index: int


@dataclass(frozen=True)
class TxResult:
    """A mined transaction: its hash, block, gas used and the ledger events it emitted."""

    transaction_hash: str
    block_number: int
    gas_used: int
    sender: ChecksumAddress
    events: tuple[LedgerEvent, ...] = field(default_factory=tuple)

    def event(self, name: str) -> LedgerEvent:
        """The single event called ``name`` (``KeyError`` if there is none or several)."""
        found = [e for e in self.events if e.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} {name} events in {self.transaction_hash}")
        return found[0]

    def event_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.events)


def _bits(mask: int) -> tuple[int, ...]:
    return tuple(i for i in range(mask.bit_length()) if mask >> i & 1)


# --- the client -----------------------------------------------------------------------------------
class _Abi:
    """ABI-derived tables shared by every client of one artifact."""

    def __init__(self, artifact: LedgerArtifact) -> None:
        self.artifact = artifact
        self.decoder = RevertDecoder(artifact.abi, contract="FLLedger", enums=_ENUMS)
        self.event_by_topic: dict[bytes, str] = {
            keccak(text=abi_signature(e)): str(e["name"])
            for e in artifact.abi
            if e.get("type") == "event"
        }


_ABI_CACHE: dict[str, _Abi] = {}


def _abi_for(artifact: LedgerArtifact) -> _Abi:
    cached = _ABI_CACHE.get(artifact.artifact_sha256)
    if cached is None:
        cached = _ABI_CACHE[artifact.artifact_sha256] = _Abi(artifact)
    return cached


class LedgerClient:
    """Typed access to one deployed ``FLLedger``, sending transactions from ``sender``."""

    def __init__(
        self,
        chain: Chain,
        address: str,
        *,
        sender: str | None = None,
        artifact: LedgerArtifact | None = None,
        deploy_result: TxResult | None = None,
    ) -> None:
        self.chain = chain
        self.address = _address(address, "ledger address")
        self.artifact = artifact or load_artifact()
        self._abi = _abi_for(self.artifact)
        self.contract: Contract = chain.w3.eth.contract(
            address=self.address, abi=self.artifact.abi_list
        )
        self.sender: ChecksumAddress | None = _address(sender, "sender") if sender else None
        #: The deployment transaction, when this client deployed the contract.
        self.deploy_result = deploy_result

    def __repr__(self) -> str:
        return f"LedgerClient({self.address}, sender={self.sender})"

    @classmethod
    def at(
        cls,
        chain: Chain,
        address: str,
        *,
        sender: str | None = None,
        artifact: LedgerArtifact | None = None,
    ) -> LedgerClient:
        """A client for the ledger already deployed at ``address``; checks that code is there."""
        client = cls(chain, address, sender=sender, artifact=artifact)
        code = chain.w3.eth.get_code(client.address)
        if not code:
            raise ChainError(f"no contract at {client.address} on chain {chain.chain_id}")
        if not client.artifact.matches_runtime_code(bytes(code)):
            raise ChainError(
                f"the code at {client.address} is not the FLLedger of artifact "
                f"{client.artifact.path} (sha256 {client.artifact.artifact_sha256[:12]}…)"
            )
        return client

    def as_sender(self, sender: str) -> LedgerClient:
        """The same deployment, sending from ``sender``."""
        return LedgerClient(
            self.chain,
            self.address,
            sender=sender,
            artifact=self.artifact,
            deploy_result=self.deploy_result,
        )

    # --- transactions -----------------------------------------------------------------------------
    def open_round(self, iteration: int, tau: int, global_model_hash: bytes | str) -> TxResult:
        """Open round g = :meth:`round_count` (party only); the new g is in ``RoundOpened``."""
        return self._transact(
            "openRound", iteration, tau, to_hash32(global_model_hash, "global model hash")
        )

    def submit(
        self, round: int, model_hash: bytes | str, extra_hash: bytes | str | None = None
    ) -> TxResult:
        """Submit the hashes of this participant's blobs for an open round (``None``: no extra)."""
        extra = ZERO_HASH if extra_hash is None else to_hash32(extra_hash, "extra hash")
        return self._transact("submit", round, to_hash32(model_hash, "model hash"), extra)

    def commit_aggregate(
        self, round: int, aggregate_hash: bytes | str, included: Iterable[int] | None = None
    ) -> TxResult:
        """Commit the aggregate's hash and close submissions (party only).

        ``included`` lists the participant indices the aggregate covers; the contract refuses the
        commit (``IncludedMismatch``) unless they are exactly those that submitted. ``None`` takes
        the submitters as the chain shows them now — only for callers with no race to fear.
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
        return to_checksum_address(self._call("party"))

    def public_key_hash(self) -> bytes:
        return bytes(self._call("publicKeyHash"))

    def config_hash(self) -> bytes:
        return bytes(self._call("configHash"))

    def total_data_size(self) -> int:
        return int(self._call("totalDataSize"))

    def participant_count(self) -> int:
        return int(self._call("participantCount"))

    def consensus_nodes(self) -> int:
        return int(self._call("consensusNodes"))

    def quorum(self) -> int:
        return int(self._call("quorum"))

    def fault_tolerance(self) -> int:
        return int(self._call("faultTolerance"))

    def max_participants(self) -> int:
        return int(self._call("MAX_PARTICIPANTS"))

    def participants(self) -> tuple[ParticipantRecord, ...]:
        accounts, sizes = self._call("participants")
        return tuple(
            ParticipantRecord(index=i, address=to_checksum_address(a), data_size=int(s))
            for i, (a, s) in enumerate(zip(accounts, sizes, strict=True))
        )

    def participant_index(self, address: str) -> int:
        return int(self._call("participantIndex", _address(address, "participant")))

    def round_count(self) -> int:
        return int(self._call("roundCount"))

    def get_round(self, round: int) -> RoundRecord:
        raw = self._call("getRound", round)
        (it, tau, status, gm, agg, subs, incl, att_n, dis_n, att, dis, ob, ab, cb) = raw
        return RoundRecord(
            round=round,
            iteration=int(it),
            tau=int(tau),
            status=RoundStatus(status),
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
        )

    def get_submission(self, round: int, participant: str) -> SubmissionRecord:
        who = _address(participant, "participant")
        model, extra = self._call("getSubmission", round, who)
        return SubmissionRecord(
            round=round, participant=who, model_hash=bytes(model), extra_hash=bytes(extra)
        )

    def history(self, start: int = 0, stop: int | None = None) -> tuple[RoundRecord, ...]:
        """Rounds ``start`` .. ``stop - 1`` (default: all), read one call per round."""
        end = self.round_count() if stop is None else stop
        return tuple(self.get_round(g) for g in range(start, end))

    def submissions(self, round: int) -> tuple[SubmissionRecord, ...]:
        """Every participant's submission record for ``round``, in bit-index order."""
        return tuple(self.get_submission(round, p.address) for p in self.participants())

    def events(
        self,
        name: str | None = None,
        *,
        from_block: int | None = None,
        to_block: int | str = "latest",
    ) -> tuple[LedgerEvent, ...]:
        """Decoded ledger logs in the block range, optionally only those called ``name``.

        ``from_block`` defaults to the deployment block when this client knows it (it deployed
        the ledger), else to 0; pass it explicitly to spare the node a scan from genesis.
        """
        if from_block is None:
            from_block = self.deploy_result.block_number if self.deploy_result else 0
        logs = self.chain.w3.eth.get_logs(
            {"address": self.address, "fromBlock": from_block, "toBlock": to_block}  # type: ignore[typeddict-item]
        )
        decoded = tuple(self._decode_log(log) for log in logs)
        return tuple(e for e in decoded if e is not None and (name is None or e.name == name))

    # --- plumbing ---------------------------------------------------------------------------------
    def _call(self, fn: str, *args: Any) -> Any:
        try:
            return self.contract.functions[fn](*args).call()
        except Exception as error:
            decoded = self._abi.decoder.from_exception(error)
            if decoded is not None:
                raise decoded from None
            raise ChainError(f"FLLedger.{fn} call failed at {self.address}: {error}") from error

    def _transact(self, fn: str, *args: Any) -> TxResult:
        if self.sender is None:
            raise ConfigError(f"FLLedger.{fn} needs a sender; use client.as_sender(address)")
        try:
            data = self.contract.encode_abi(fn, list(args))
        except Exception as error:  # web3 validation: out-of-range integers, bad types
            raise ConfigError(
                f"FLLedger.{fn}{tuple(args)!r}: arguments do not fit: {error}"
            ) from error
        receipt = self.chain.transact(
            {"from": self.sender, "to": self.address, "data": data},
            on_revert=self._abi.decoder.from_exception,
        )
        return self._result(receipt, self.sender)

    def _result(self, receipt: TxReceipt, sender: ChecksumAddress) -> TxResult:
        events = tuple(
            e
            for e in (
                self._decode_log(log)
                for log in receipt["logs"]
                if to_checksum_address(log["address"]) == self.address
            )
            if e is not None
        )
        return TxResult(
            transaction_hash=HexBytes(receipt["transactionHash"]).to_0x_hex(),
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            sender=sender,
            events=events,
        )

    def _decode_log(self, log: Any) -> LedgerEvent | None:
        topics = log["topics"]
        if not topics:
            return None
        name = self._abi.event_by_topic.get(bytes(HexBytes(topics[0])))
        if name is None:
            return None
        data = self.contract.events[name]().process_log(log)
        args = {k: _plain(v) for k, v in dict(data["args"]).items()}
        return LedgerEvent(
            name=name,
            args=args,
            block_number=int(data["blockNumber"]),
            transaction_hash=HexBytes(data["transactionHash"]).to_0x_hex(),
            log_index=int(data["logIndex"]),
        )


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, str) and is_address(value):
        return to_checksum_address(value)
    return value


def deploy_ledger(
    chain: Chain,
    party: str,
    participants: Sequence[str],
    sizes: Sequence[int],
    public_key_hash: bytes | str,
    config_hash: bytes | str,
    *,
    artifact: LedgerArtifact | None = None,
) -> LedgerClient:
    """Deploy a new ``FLLedger`` from ``party`` (the computing party); return its client as party.

    ``participants[i]`` gets bit index i and data-set size ``sizes[i]`` (|D_i|, Eq. 10's weight).
    """
    artifact = artifact or load_artifact()
    abi = _abi_for(artifact)
    if len(participants) != len(sizes):
        raise ConfigError(
            f"{len(participants)} participants but {len(sizes)} data-set sizes; give one each"
        )
    sender = _address(party, "party")
    accounts = [_address(p, f"participant {i}") for i, p in enumerate(participants)]
    factory = chain.w3.eth.contract(abi=artifact.abi_list, bytecode=artifact.bytecode)
    pk = to_hash32(public_key_hash, "public key hash")
    cfg = to_hash32(config_hash, "config hash")
    try:
        data = factory.constructor(accounts, [int(s) for s in sizes], pk, cfg).data_in_transaction
    except Exception as error:  # web3 validation: sizes outside uint64
        raise ConfigError(
            f"FLLedger constructor arguments do not fit (data-set sizes must be uint64): {error}"
        ) from error
    receipt = chain.transact({"from": sender, "data": data}, on_revert=abi.decoder.from_exception)
    address = receipt.get("contractAddress")
    if not address:
        raise ChainError("the deployment receipt has no contract address")
    client = LedgerClient(chain, address, sender=sender, artifact=artifact)
    result = client._result(receipt, sender)
    client.deploy_result = result
    return client
