"""``hefl participant init`` makes its key without eth-account (issue #18, start-up): the key pair
from OpenSSL, the V3 keystore and the EIP-55 address written by :mod:`hefl.agents.identity`.
The reference is eth-account / eth-utils: they open the keystore to the key of that address, and
name every address as hefl does."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from hefl.agents.identity import (
    DEV_SCRYPT_N,
    IDENTITY,
    Identity,
    checksum_address,
    create_agent,
    new_keystore,
)
from hefl.chain.node import decrypt_keystore
from hefl.errors import ConfigError

PASSWORD = "keystore format test ünïcode"


def test_eth_account_opens_the_keystore_to_the_key_of_its_address() -> None:
    keystore, address = new_keystore(PASSWORD, DEV_SCRYPT_N)
    key = bytes(Account.decrypt(keystore, PASSWORD))
    assert Account.from_key(key).address == address
    assert keystore["address"] == address[2:]  # eth-account's own layout: checksummed, no 0x
    assert decrypt_keystore(keystore, PASSWORD) == key  # the agents' opener agrees
    with pytest.raises(ValueError, match="MAC"):
        Account.decrypt(keystore, "not the password")


def test_the_keystore_has_eth_accounts_layout() -> None:
    ours, _ = new_keystore(PASSWORD, DEV_SCRYPT_N)
    theirs = Account.encrypt(Account.create().key, PASSWORD, iterations=DEV_SCRYPT_N)

    def shape(document: object) -> object:
        if isinstance(document, dict):
            return {k: shape(v) for k, v in document.items()}
        return type(document).__name__

    assert shape(ours) == shape(theirs)
    for field in ("cipher", "kdf"):
        assert ours["crypto"][field] == theirs["crypto"][field]
    salt = ours["crypto"]["kdfparams"].pop("salt")
    theirs["crypto"]["kdfparams"].pop("salt")
    assert ours["crypto"]["kdfparams"] == theirs["crypto"]["kdfparams"]
    assert len(bytes.fromhex(salt)) == 16 and ours["version"] == theirs["version"] == 3


def test_each_key_is_fresh() -> None:
    addresses = {new_keystore(PASSWORD, DEV_SCRYPT_N)[1] for _ in range(4)}
    assert len(addresses) == 4


def test_checksum_addresses_agree_with_eth_utils() -> None:
    samples = [secrets.token_hex(20) for _ in range(200)]
    samples += ["0x" + "00" * 20, "ff" * 20, "0x52908400098527886E0F7030069857D2E4169EE7"]
    for raw in samples:
        assert checksum_address(raw) == to_checksum_address(raw)
        assert checksum_address(raw.upper().replace("0X", "0x")) == to_checksum_address(raw)
    for bad in ("0x1234", "zz" * 20, "0x" + "00" * 21, 42):
        with pytest.raises(ValueError):
            checksum_address(bad)  # type: ignore[arg-type]


def test_an_agent_directory_round_trips_and_a_bad_address_is_refused(tmp_path: Path) -> None:
    identity = create_agent(tmp_path / "a", PASSWORD)
    assert Identity.load(tmp_path / "a") == identity
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / IDENTITY).write_text(json.dumps({"address": "0x1234"}))
    with pytest.raises(ConfigError, match="not an agent identity file"):
        Identity.load(tmp_path / "b")
