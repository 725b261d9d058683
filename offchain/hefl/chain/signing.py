"""Locally held keys and the transactions they sign: EIP-1559 (type 2) with eth-keys and rlp.

What eth-account's ``Account.sign_transaction`` produces for the same fields, byte for byte
(tests check it), without importing eth-account (its keyfile module pulls py_ecc's BLS code,
≈ 0.5 s of a command's start-up). With coincurve installed, eth-keys signs through libsecp256k1.

A type-2 transaction is signed over

    h = keccak256(0x02 ‖ rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to,
                              value, data, accessList]))

and sent as ``0x02 ‖ rlp([… the nine fields …, yParity, r, s])`` with (r, s, yParity) the
deterministic (RFC 6979), low-s ECDSA signature of h.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import rlp
from eth_keys.datatypes import PrivateKey
from eth_typing import ChecksumAddress
from eth_utils import ValidationError, to_checksum_address

from hefl.canonical import keccak256
from hefl.errors import ConfigError

#: The order of secp256k1's group: a private key is an integer in [1, n - 1].
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
#: The EIP-2718 type byte of an EIP-1559 transaction.
EIP1559_TYPE = 2
#: Fields a type-2 transaction needs here (``to``, ``value`` and ``data`` may be left out: a
#: creation, no ether, no calldata; ``accessList`` is always empty).
REQUIRED_FIELDS = ("chainId", "nonce", "maxPriorityFeePerGas", "maxFeePerGas", "gas")


def hex_bytes(value: Any) -> bytes:
    """Bytes from bytes or a (0x-prefixed) hex string; empty for None."""
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    text = str(value)
    return bytes.fromhex(text[2:] if text.startswith(("0x", "0X")) else text)


@dataclass(frozen=True)
class LocalKey:
    """A secp256k1 private key held in memory and the address it controls."""

    key: PrivateKey
    address: ChecksumAddress

    @classmethod
    def from_key(cls, private_key: str | bytes) -> LocalKey:
        """The key of 32 bytes or their hex; :class:`~hefl.errors.ConfigError` otherwise."""
        try:
            raw = hex_bytes(private_key)
            if not 0 < int.from_bytes(raw, "big") < SECP256K1_N:
                raise ValueError("outside [1, n - 1]")
            key = PrivateKey(raw)
        except (ValueError, TypeError, ValidationError) as error:
            raise ConfigError(f"not a valid secp256k1 private key ({error})") from error
        return cls(key, to_checksum_address(key.public_key.to_checksum_address()))

    def sign_transaction(self, fields: Mapping[str, Any]) -> bytes:
        """The raw signed EIP-1559 transaction of ``fields`` (JSON-RPC names; ``to`` absent or
        None for a contract creation)."""
        missing = [f for f in REQUIRED_FIELDS if f not in fields]
        if missing or "gasPrice" in fields:
            raise ConfigError(
                "a locally signed transaction is EIP-1559 (no gasPrice) with "
                f"{', '.join(REQUIRED_FIELDS)}; missing: {', '.join(missing) or 'none'}"
            )
        to = fields.get("to")
        unsigned = [
            int(fields["chainId"]),
            int(fields["nonce"]),
            int(fields["maxPriorityFeePerGas"]),
            int(fields["maxFeePerGas"]),
            int(fields["gas"]),
            hex_bytes(to) if to else b"",
            int(fields.get("value", 0)),
            hex_bytes(fields.get("data")),
            [],
        ]
        prefix = bytes([EIP1559_TYPE])
        signature = self.key.sign_msg_hash(keccak256(prefix + rlp.encode(unsigned)))
        return prefix + rlp.encode([*unsigned, signature.v, signature.r, signature.s])
