"""Turn a node's revert into :class:`~hefl.errors.ContractRevertError` naming the custom error.

Nodes report revert data differently: a JSON-RPC node (Anvil) answers an error with the hex data
under ``data`` (:class:`~hefl.chain.wire.NodeError` keeps it in ``.data``; web3 raises
``ContractCustomError`` / ``ContractLogicError`` with it), eth-tester raises
``TransactionFailed("execution reverted: b'...'")`` with the bytes' repr. :func:`revert_data`
recovers the raw bytes from either; :class:`RevertDecoder` matches the 4-byte selector against the
ABI's ``error`` entries and decodes the arguments with eth-abi.
"""

from __future__ import annotations

import ast
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import to_checksum_address

from hefl.canonical import keccak256
from hefl.errors import ChainError, ContractRevertError

_REVERTED_PREFIX = "execution reverted: "
_ERROR_STRING = keccak256(b"Error(string)")[:4]
_PANIC = keccak256(b"Panic(uint256)")[:4]


def abi_type(param: Mapping[str, Any]) -> str:
    """The canonical ABI type of an input or output entry (``(t1,t2)[]`` for a struct array)."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def abi_signature(entry: Mapping[str, Any]) -> str:
    """``Name(type1,type2)`` of an ABI function, event or error entry."""
    return f"{entry['name']}({','.join(abi_type(p) for p in entry.get('inputs', []))})"


def _hex_to_bytes(text: str) -> bytes | None:
    text = text.strip()
    if text.startswith(("0x", "0X")):
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            return None
    return None


def _from_value(value: object) -> bytes | None:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, Mapping):
        for key in ("data", "error"):
            if key in value:
                found = _from_value(value[key])
                if found is not None:
                    return found
        return None
    if isinstance(value, str):
        text = value[len(_REVERTED_PREFIX) :] if value.startswith(_REVERTED_PREFIX) else value
        found = _hex_to_bytes(text)
        if found is not None:
            return found
        if text.startswith(("b'", 'b"')):
            try:
                literal = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return None
            return bytes(literal) if isinstance(literal, bytes) else None
    return None


def revert_data(error: BaseException) -> bytes | None:
    """The raw revert data carried by ``error``, or ``None`` if it carries none."""
    data = getattr(error, "data", None)
    if data is not None:
        found = _from_value(data)
        if found is not None:
            return found
    response = getattr(error, "rpc_response", None)
    if isinstance(response, Mapping) and isinstance(response.get("error"), Mapping):
        found = _from_value(response["error"])
        if found is not None:
            return found
    for arg in getattr(error, "args", ()):
        found = revert_data(arg) if isinstance(arg, BaseException) else _from_value(arg)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class _ErrorSpec:
    name: str
    names: tuple[str, ...]
    types: tuple[str, ...]
    enums: tuple[type[enum.IntEnum] | None, ...]


def decoded(types: Sequence[str], data: bytes, what: str) -> tuple[Any, ...]:
    """``data`` decoded as the ABI ``types`` — bytes a node sent (a call's result, a log, a
    transaction's calldata), so bytes that do not decode raise :class:`ChainError` naming
    ``what``, never eth-abi's own exceptions."""
    try:
        return tuple(abi_decode(list(types), bytes(data)))
    except Exception as error:
        raise ChainError(f"{what} does not decode as ({', '.join(types)}): {error}") from None


class RevertDecoder:
    """Decodes revert data against the custom errors of one ABI.

    ``enums`` maps a Solidity ``internalType`` (e.g. ``"enum FLLedger.RoundStatus"``) to the Python
    ``IntEnum`` its decoded value is converted to.
    """

    def __init__(
        self,
        abi: Sequence[Mapping[str, Any]],
        *,
        contract: str = "contract",
        enums: Mapping[str, type[enum.IntEnum]] | None = None,
    ) -> None:
        self.contract = contract
        enums = dict(enums or {})
        self._specs: dict[bytes, _ErrorSpec] = {}
        for entry in abi:
            if entry.get("type") != "error":
                continue
            inputs = entry.get("inputs", [])
            selector = keccak256(abi_signature(entry).encode())[:4]
            self._specs[selector] = _ErrorSpec(
                name=str(entry["name"]),
                names=tuple(str(p.get("name", "")) for p in inputs),
                types=tuple(abi_type(p) for p in inputs),
                enums=tuple(enums.get(str(p.get("internalType", ""))) for p in inputs),
            )

    @property
    def error_names(self) -> frozenset[str]:
        return frozenset(spec.name for spec in self._specs.values())

    def decode(self, data: bytes) -> ContractRevertError:
        """A :class:`ContractRevertError` for raw revert ``data``."""
        selector, payload = data[:4], data[4:]
        if selector == _ERROR_STRING:
            (reason,) = decoded(["string"], payload, "an Error(string) revert")
            return ContractRevertError("Error", (reason,), f"{self.contract} reverted: {reason}")
        if selector == _PANIC:
            (code,) = decoded(["uint256"], payload, "a Panic(uint256) revert")
            return ContractRevertError(
                "Panic", (code,), f"{self.contract} panicked with code {code:#x}"
            )
        spec = self._specs.get(selector)
        if spec is None:
            return ContractRevertError(
                "Unknown",
                (data,),
                f"{self.contract} reverted with unknown data 0x{data.hex()} "
                "(is the client's ABI the deployed contract's?)",
            )
        values = decoded(spec.types, payload, f"a {spec.name} revert")
        args = tuple(
            _normalise(value, kind, enum_type)
            for value, kind, enum_type in zip(values, spec.types, spec.enums, strict=True)
        )
        shown = ", ".join(
            f"{name}={_show(value)}" for name, value in zip(spec.names, args, strict=True)
        )
        return ContractRevertError(
            spec.name, args, f"{self.contract} reverted: {spec.name}({shown})"
        )

    def from_exception(self, error: BaseException) -> ContractRevertError | None:
        """Decode the revert carried by a node error (or a web3 / eth-tester exception), if any."""
        data = revert_data(error)
        if data is None or len(data) < 4:
            return None
        return self.decode(data)


def _normalise(value: object, kind: str, enum_type: type[enum.IntEnum] | None) -> object:
    if enum_type is not None and isinstance(value, int):
        try:
            return enum_type(value)
        except ValueError:
            return value
    if kind == "address" and isinstance(value, str):
        return to_checksum_address(value)
    return value


def _show(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, enum.Enum):
        return value.name
    return str(value)
