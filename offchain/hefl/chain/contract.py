"""The plumbing every typed contract client shares (:class:`ContractClient`).

One client per (deployment, sender): transactions are sent from ``client.sender``;
:meth:`ContractClient.as_sender` gives a client for another account on the same deployment. Every
transaction is simulated first, so a rule the contract enforces surfaces as
:class:`~hefl.errors.ContractRevertError` naming the custom error with its decoded arguments, and
nothing is sent. A subclass names its contract (``CONTRACT``), the enums its revert decoder maps
(``ENUMS``) and its default artifact (:meth:`ContractClient.default_artifact`), and adds only the
contract's own transactions and views on top of :meth:`~ContractClient._call` and
:meth:`~ContractClient._transact`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from eth_typing import ChecksumAddress
from eth_utils import is_address, to_checksum_address
from hexbytes import HexBytes
from web3.contract import Contract
from web3.types import TxReceipt

from hefl.canonical import keccak256
from hefl.chain.artifact import LedgerArtifact
from hefl.chain.node import Chain
from hefl.chain.revert import RevertDecoder, abi_signature
from hefl.errors import ChainError, ConfigError


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


def checksum_address(value: str, what: str = "address") -> ChecksumAddress:
    """``value`` as a checksummed address; :class:`~hefl.errors.ConfigError` naming ``what``."""
    if not isinstance(value, str) or not is_address(value):
        raise ConfigError(f"{what} {value!r} is not an Ethereum address")
    return to_checksum_address(value)


def plain_value(value: Any) -> Any:
    """An event argument as plain Python: ``bytes`` as bytes, addresses checksummed."""
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, str) and is_address(value):
        return to_checksum_address(value)
    return value


# --- records --------------------------------------------------------------------------------------
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


# --- ABI tables -----------------------------------------------------------------------------------
class ContractAbi:
    """ABI-derived tables shared by every client of one artifact: revert decoder, event topics."""

    def __init__(
        self, artifact: LedgerArtifact, contract: str, enums: Mapping[str, type[enum.IntEnum]]
    ) -> None:
        self.artifact = artifact
        self.decoder = RevertDecoder(artifact.abi, contract=contract, enums=dict(enums))
        self.event_by_topic: dict[bytes, str] = {
            keccak256(abi_signature(e).encode()): str(e["name"])
            for e in artifact.abi
            if e.get("type") == "event"
        }


_ABI_CACHE: dict[tuple[str, str], ContractAbi] = {}


def abi_for(
    artifact: LedgerArtifact, contract: str, enums: Mapping[str, type[enum.IntEnum]]
) -> ContractAbi:
    """The (cached) :class:`ContractAbi` of ``artifact`` built as ``contract``."""
    key = (contract, artifact.artifact_sha256)
    cached = _ABI_CACHE.get(key)
    if cached is None:
        cached = _ABI_CACHE[key] = ContractAbi(artifact, contract, enums)
    return cached


# --- the client -----------------------------------------------------------------------------------
class ContractClient:
    """Typed access to one deployed contract, sending transactions from ``sender``."""

    #: The contract's name, as in its Solidity source and in error messages.
    CONTRACT: ClassVar[str]
    #: Solidity enum types (``"enum C.E"``) the revert decoder maps to Python enums.
    ENUMS: ClassVar[Mapping[str, type[enum.IntEnum]]]
    #: What a bad ``address`` argument is called in the constructor's error.
    ADDRESS_WHAT: ClassVar[str]

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
        self.address = checksum_address(address, self.ADDRESS_WHAT)
        self.artifact = artifact or self.default_artifact()
        self._abi = self.abi_of(self.artifact)
        self.contract: Contract = chain.w3.eth.contract(
            address=self.address, abi=self.artifact.abi_list
        )
        self.sender: ChecksumAddress | None = checksum_address(sender, "sender") if sender else None
        #: The deployment transaction, when this client deployed the contract.
        self.deploy_result = deploy_result

    @classmethod
    def default_artifact(cls) -> LedgerArtifact:
        """The committed artifact a client uses when given none."""
        raise NotImplementedError

    @classmethod
    def abi_of(cls, artifact: LedgerArtifact) -> ContractAbi:
        return abi_for(artifact, cls.CONTRACT, cls.ENUMS)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address}, sender={self.sender})"

    @classmethod
    def at(
        cls,
        chain: Chain,
        address: str,
        *,
        sender: str | None = None,
        artifact: LedgerArtifact | None = None,
    ) -> Self:
        """A client for the contract already deployed at ``address``; checks that code is there."""
        client = cls(chain, address, sender=sender, artifact=artifact)
        code = chain.w3.eth.get_code(client.address)
        if not code:
            raise ChainError(f"no contract at {client.address} on chain {chain.chain_id}")
        if not client.artifact.matches_runtime_code(bytes(code)):
            raise ChainError(
                f"the code at {client.address} is not the {cls.CONTRACT} of artifact "
                f"{client._artifact_label()}"
            )
        return client

    def _artifact_label(self) -> str:
        """How :meth:`at` names the artifact whose runtime code did not match."""
        return str(self.artifact.path)

    def as_sender(self, sender: str) -> Self:
        """The same deployment, sending from ``sender``."""
        return type(self)(
            self.chain,
            self.address,
            sender=sender,
            artifact=self.artifact,
            deploy_result=self.deploy_result,
        )

    @classmethod
    def _deployed(
        cls, chain: Chain, sender: ChecksumAddress, artifact: LedgerArtifact, data: Any
    ) -> Self:
        """Send the deployment transaction ``data`` from ``sender``; the new contract's client."""
        abi = cls.abi_of(artifact)
        receipt = chain.transact(
            {"from": sender, "data": data}, on_revert=abi.decoder.from_exception
        )
        address = receipt.get("contractAddress")
        if not address:
            raise ChainError("the deployment receipt has no contract address")
        client = cls(chain, address, sender=sender, artifact=artifact)
        client.deploy_result = client._result(receipt, sender)
        return client

    def events(
        self,
        name: str | None = None,
        *,
        from_block: int | None = None,
        to_block: int | str = "latest",
    ) -> tuple[LedgerEvent, ...]:
        """Decoded logs in the block range, optionally only those called ``name``.

        ``from_block`` defaults to the deployment block when this client knows it (it deployed
        the contract), else to 0; pass it explicitly to spare the node a scan from genesis.
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
        """The view ``fn(*args)`` as the node answers it; pinned to the chain's head block when
        its view cache is on (:meth:`~hefl.chain.node.Chain.view_block`), so every client of
        the chain shares one answer per (block, call)."""
        try:
            call = self.contract.functions[fn](*args)
            block = self.chain.view_block()
            return call.call() if block is None else call.call(block_identifier=block)
        except Exception as error:
            decoded = self._abi.decoder.from_exception(error)
            if decoded is not None:
                raise decoded from None
            raise ChainError(
                f"{self.CONTRACT}.{fn} call failed at {self.address}: {error}"
            ) from error

    def _transact(self, fn: str, *args: Any) -> TxResult:
        if self.sender is None:
            raise ConfigError(f"{self.CONTRACT}.{fn} needs a sender; use client.as_sender(address)")
        try:
            data = self.contract.encode_abi(fn, list(args))
        except Exception as error:  # web3 validation: out-of-range integers, bad types
            raise ConfigError(
                f"{self.CONTRACT}.{fn}{tuple(args)!r}: arguments do not fit: {error}"
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
        args = {k: self._event_arg(name, k, v) for k, v in dict(data["args"]).items()}
        return LedgerEvent(
            name=name,
            args=args,
            block_number=int(data["blockNumber"]),
            transaction_hash=HexBytes(data["transactionHash"]).to_0x_hex(),
            log_index=int(data["logIndex"]),
        )

    def _event_arg(self, event: str, arg: str, value: Any) -> Any:
        """Argument ``arg`` of a decoded ``event`` log as plain Python (override to type enums)."""
        return plain_value(value)
