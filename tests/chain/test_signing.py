"""Locally signed transactions (:mod:`hefl.chain.signing`): the raw EIP-1559 bytes hefl signs with
eth-keys and rlp are exactly eth-account's for the same fields (eth-account is imported here
only, as an independent reference), and the key's address is eth-account's."""

from __future__ import annotations

import random

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from hefl.chain.signing import LocalKey
from hefl.errors import ConfigError

TO = to_checksum_address("0x" + "ab" * 20)


def fields_for(rng: random.Random, *, creation: bool) -> dict[str, object]:
    fields: dict[str, object] = {
        "chainId": rng.choice([1, 31337, 131277322940537]),
        "nonce": rng.randrange(0, 2**20),
        "maxPriorityFeePerGas": rng.randrange(0, 10**10),
        "maxFeePerGas": rng.randrange(10**10, 10**12),
        "gas": rng.randrange(21_000, 30_000_000),
        "value": rng.choice([0, 1, rng.randrange(0, 10**24)]),
        "data": bytes(rng.randrange(256) for _ in range(rng.choice([0, 4, 68, 1000]))),
    }
    if not creation:
        fields["to"] = TO
    return fields


@pytest.mark.parametrize("creation", [False, True], ids=["call", "creation"])
def test_the_signed_bytes_are_eth_accounts(creation: bool) -> None:
    rng = random.Random(18 + creation)
    for _ in range(25):
        secret = rng.randbytes(32)
        fields = fields_for(rng, creation=creation)
        key = LocalKey.from_key(secret)
        reference = Account.sign_transaction({**fields, "type": 2}, secret)
        assert key.sign_transaction(fields) == bytes(reference.raw_transaction)
        assert key.address == Account.from_key(secret).address


def test_hex_fields_sign_as_their_bytes() -> None:
    secret = "0x" + "11" * 32
    fields = fields_for(random.Random(7), creation=False)
    as_hex = {**fields, "data": "0x" + bytes(fields["data"]).hex()}  # type: ignore[arg-type]
    key = LocalKey.from_key(secret)
    assert key.sign_transaction(as_hex) == key.sign_transaction(fields)
    assert key == LocalKey.from_key(bytes.fromhex("11" * 32))


def test_bad_keys_and_fields_are_config_errors() -> None:
    for bad in ("0x12", b"\x00" * 31, b"\x00" * 32, b"\xff" * 32, "not hex"):
        with pytest.raises(ConfigError, match="not a valid secp256k1 private key"):
            LocalKey.from_key(bad)
    key = LocalKey.from_key(b"\x01" * 32)
    with pytest.raises(ConfigError, match="missing: nonce"):
        key.sign_transaction({"chainId": 1, "maxPriorityFeePerGas": 1, "maxFeePerGas": 2, "gas": 1})
    with pytest.raises(ConfigError, match="no gasPrice"):
        key.sign_transaction(
            {"chainId": 1, "nonce": 0, "maxPriorityFeePerGas": 1, "maxFeePerGas": 2, "gas": 1,
             "gasPrice": 1}
        )  # fmt: skip
