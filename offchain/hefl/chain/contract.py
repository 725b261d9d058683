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

from eth_abi import encode as abi_encode
from eth_typing import ChecksumAddress
from eth_utils import is_address, to_checksum_address

from hefl.canonical import keccak256
from hefl.chain.artifact import LedgerArtifact
from hefl.chain.node import Chain, Receipt
from hefl.chain.revert import RevertDecoder, abi_signature, abi_type, decoded
from hefl.chain.signing import hex_bytes
from hefl.errors import ChainError, ConfigError


def to_hash32(value: bytes | str, what: str = "hash") -> bytes:
    """A 32-byte hash from bytes or a 0x hex string."""
    if isinstance(value, str):
        try:
            raw = hex_bytes(value)
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
def plain_output(value: Any, kind: str) -> Any:
    """A value eth-abi decoded as ABI type ``kind``, as web3 gives it: addresses checksummed,
    arrays as lists, structs as tuples."""
    if kind.endswith("]"):
        inner = kind[: kind.rindex("[")]
        return [plain_output(v, inner) for v in value]
    if kind.startswith("("):
        return tuple(plain_output(v, t) for v, t in zip(value, _tuple_types(kind), strict=True))
    if kind == "address":
        return to_checksum_address(value)
    return value


def _tuple_types(kind: str) -> list[str]:
    """The component types of the ABI tuple type ``(t1,t2,...)``."""
    parts, depth, start = [], 0, 1
    for at, char in enumerate(kind):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if (char == "," and depth == 1) or (char == ")" and depth == 0):
            if at > start:
                parts.append(kind[start:at])
            start = at + 1
    return parts


@dataclass(frozen=True)
class FunctionAbi:
    """One function of the ABI: its selector, argument and result types."""

    name: str
    selector: bytes
    inputs: tuple[str, ...]
    input_names: tuple[str, ...]
    outputs: tuple[str, ...]

    def encode(self, args: tuple[Any, ...]) -> bytes:
        """``selector ‖ abi.encode(inputs, args)``: the calldata of ``name(*args)``."""
        return self.selector + abi_encode(list(self.inputs), list(args))

    def decode_result(self, data: bytes) -> Any:
        """What the call returned, as web3 gives it: the value of a single output, else a list."""
        values = decoded(self.outputs, data, f"the result of {self.name}")
        plain = [plain_output(v, t) for v, t in zip(values, self.outputs, strict=True)]
        return plain[0] if len(plain) == 1 else plain


@dataclass(frozen=True)
class EventAbi:
    """One event of the ABI: its argument names and types, and which are indexed (topics)."""

    name: str
    names: tuple[str, ...]
    types: tuple[str, ...]
    indexed: tuple[bool, ...]

    def decode(self, topics: tuple[bytes, ...], data: bytes) -> dict[str, Any]:
        """The arguments of a log: the indexed ones from ``topics[1:]``, the rest from
        ``data``."""
        plain = [t for t, i in zip(self.types, self.indexed, strict=True) if not i]
        if len(topics) != 1 + sum(self.indexed):
            raise ChainError(
                f"a {self.name} log has {len(topics)} topics; the event has {1 + sum(self.indexed)}"
            )
        values = iter(decoded(plain, data, f"a {self.name} log's data"))
        topic = iter(topics[1:])
        args: dict[str, Any] = {}
        for name, kind, indexed in zip(self.names, self.types, self.indexed, strict=True):
            if indexed:
                (value,) = decoded([kind], next(topic), f"a {self.name} log's topic {name}")
            else:
                value = next(values)
            args[name] = plain_output(value, kind)
        return args


class ContractAbi:
    """ABI-derived tables shared by every client of one artifact: functions by name and
    selector, events by topic, the constructor's types and the revert decoder."""

    def __init__(
        self, artifact: LedgerArtifact, contract: str, enums: Mapping[str, type[enum.IntEnum]]
    ) -> None:
        self.artifact = artifact
        self.contract = contract
        self.decoder = RevertDecoder(artifact.abi, contract=contract, enums=dict(enums))
        self.functions: dict[str, FunctionAbi] = {}
        self.events: dict[bytes, EventAbi] = {}
        self.constructor: tuple[str, ...] = ()
        for entry in artifact.abi:
            inputs = entry.get("inputs", [])
            if entry.get("type") == "function":
                self.functions[str(entry["name"])] = FunctionAbi(
                    name=str(entry["name"]),
                    selector=keccak256(abi_signature(entry).encode())[:4],
                    inputs=tuple(abi_type(p) for p in inputs),
                    input_names=tuple(str(p.get("name", "")) for p in inputs),
                    outputs=tuple(abi_type(p) for p in entry.get("outputs", [])),
                )
            elif entry.get("type") == "event" and not entry.get("anonymous"):
                self.events[keccak256(abi_signature(entry).encode())] = EventAbi(
                    name=str(entry["name"]),
                    names=tuple(str(p["name"]) for p in inputs),
                    types=tuple(abi_type(p) for p in inputs),
                    indexed=tuple(bool(p.get("indexed")) for p in inputs),
                )
            elif entry.get("type") == "constructor":
                self.constructor = tuple(abi_type(p) for p in inputs)
        self.by_selector = {f.selector: f for f in self.functions.values()}
        self.event_by_topic: dict[bytes, str] = {t: e.name for t, e in self.events.items()}

    def function(self, name: str) -> FunctionAbi:
        try:
            return self.functions[name]
        except KeyError:
            raise ConfigError(f"{self.contract} has no function {name!r}") from None

    def encode_call(self, name: str, args: tuple[Any, ...]) -> bytes:
        """The calldata of ``name(*args)``; :class:`~hefl.errors.ConfigError` if an argument does
        not fit its type (an out-of-range integer, a wrong kind of value)."""
        function = self.function(name)
        try:
            return function.encode(args)
        except Exception as error:  # eth-abi's encoding errors: the value does not fit
            raise ConfigError(
                f"{self.contract}.{name}{tuple(args)!r}: arguments do not fit: {error}"
            ) from error

    def deploy_data(self, args: tuple[Any, ...], *, rule: str = "") -> bytes:
        """The creation code followed by the constructor's encoded ``args``;
        :class:`~hefl.errors.ConfigError` (naming ``rule``) if they do not fit."""
        try:
            encoded = abi_encode(list(self.constructor), list(args))
        except Exception as error:  # eth-abi's encoding errors: the value does not fit
            raise ConfigError(
                f"{self.contract} constructor arguments do not fit{rule}: {error}"
            ) from error
        return hex_bytes(self.artifact.bytecode) + encoded

    def decode_input(self, data: bytes) -> tuple[str, dict[str, Any]] | None:
        """The function and named arguments calldata ``data`` calls (None: none of this ABI)."""
        function = self.by_selector.get(bytes(data[:4]))
        if function is None:
            return None
        values = decoded(function.inputs, data[4:], f"calldata of {function.name}")
        args = {
            name: plain_output(v, t)
            for name, v, t in zip(function.input_names, values, function.inputs, strict=True)
        }
        return function.name, args


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
        code = chain.code(client.address)
        if not code:
            raise ChainError(f"no contract at {client.address} on chain {chain.chain_id}")
        if not client.artifact.matches_runtime_code(code):
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
        cls,
        chain: Chain,
        sender: ChecksumAddress,
        artifact: LedgerArtifact,
        args: tuple[Any, ...],
        *,
        rule: str = "",
    ) -> Self:
        """Deploy ``artifact`` with constructor ``args`` from ``sender``; the new contract's
        client. Arguments that do not fit raise :class:`~hefl.errors.ConfigError` naming
        ``rule`` (what the constructor's types require)."""
        abi = cls.abi_of(artifact)
        data = abi.deploy_data(args, rule=rule)
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
        logs = self.chain.logs(self.address, from_block, to_block)
        decoded = tuple(self._decode_log(log) for log in logs)
        return tuple(e for e in decoded if e is not None and (name is None or e.name == name))

    def encode_call(self, fn: str, *args: Any) -> bytes:
        """The calldata of ``fn(*args)`` on this contract."""
        return self._abi.encode_call(fn, args)

    def decode_input(self, data: bytes | str) -> tuple[str, dict[str, Any]] | None:
        """The function of this contract and its named arguments that calldata ``data`` calls
        (None: not one of its functions)."""
        return self._abi.decode_input(hex_bytes(data))

    # --- plumbing ---------------------------------------------------------------------------------
    def _call(self, fn: str, *args: Any) -> Any:
        """The view ``fn(*args)`` as the node answers it, decoded as web3 decodes it; pinned to
        the chain's head block when its view cache is on
        (:meth:`~hefl.chain.node.Chain.view_block`), so every client of the chain shares one
        answer per (block, call)."""
        function = self._abi.function(fn)
        data = self._abi.encode_call(fn, args)
        try:
            answer = self.chain.call({"to": self.address, "data": data}, self.chain.view_block())
            return function.decode_result(answer)
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
        data = self._abi.encode_call(fn, args)
        receipt = self.chain.transact(
            {"from": self.sender, "to": self.address, "data": data},
            on_revert=self._abi.decoder.from_exception,
        )
        return self._result(receipt, self.sender)

    def _result(self, receipt: Receipt, sender: ChecksumAddress) -> TxResult:
        events = tuple(
            e
            for e in (
                self._decode_log(log) for log in receipt["logs"] if log["address"] == self.address
            )
            if e is not None
        )
        return TxResult(
            transaction_hash=str(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"]),
            gas_used=int(receipt["gasUsed"]),
            sender=sender,
            events=events,
        )

    def _decode_log(self, log: Mapping[str, Any]) -> LedgerEvent | None:
        """A log (as :meth:`~hefl.chain.node.Chain.logs` gives it) decoded against the ABI's
        events (None: not one of them)."""
        topics = log["topics"]
        event = self._abi.events.get(bytes(topics[0])) if topics else None
        if event is None:
            return None
        args = event.decode(tuple(topics), bytes(log["data"]))
        return LedgerEvent(
            name=event.name,
            args={k: self._event_arg(event.name, k, v) for k, v in args.items()},
            block_number=int(log["blockNumber"]),
            transaction_hash=str(log["transactionHash"]),
            log_index=int(log["logIndex"]),
        )

    def _event_arg(self, event: str, arg: str, value: Any) -> Any:
        """Argument ``arg`` of a decoded ``event`` log as plain Python (override to type enums)."""
        return plain_value(value)
