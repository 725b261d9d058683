"""Client-side checks: argument validation, keystores, connection errors (embedded chain)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from chain_helpers import CONFIG_HASH, PUBLIC_KEY_HASH, h
from eth_account import Account

from hefl.chain import Chain, LedgerClient, connect_rpc, deploy_ledger
from hefl.chain.fl_ledger import to_hash32
from hefl.errors import ChainError, ConfigError

KEYSTORE_KDF_ITERATIONS = 2  # a fast KDF: this key protects nothing


@pytest.fixture(scope="module")
def ledger(embedded_chain: Chain) -> LedgerClient:
    accounts = embedded_chain.accounts_for(4)
    return deploy_ledger(
        embedded_chain, accounts[0], accounts[1:4], [5, 6, 7], PUBLIC_KEY_HASH, CONFIG_HASH
    )


def test_hash_arguments_are_checked() -> None:
    assert to_hash32("0x" + "ab" * 32) == b"\xab" * 32
    with pytest.raises(ConfigError, match="32 bytes"):
        to_hash32(b"\x01" * 31)
    with pytest.raises(ConfigError, match="not hex"):
        to_hash32("0xzz")


def test_out_of_range_arguments_are_config_errors(ledger: LedgerClient) -> None:
    with pytest.raises(ConfigError, match="do not fit"):
        ledger.open_round(0, 2**32, h("w"))
    with pytest.raises(ConfigError, match="do not fit"):
        ledger.open_round(-1, 1, h("w"))


def test_sender_required(ledger: LedgerClient) -> None:
    reader = LedgerClient(ledger.chain, ledger.address)
    with pytest.raises(ConfigError, match="needs a sender"):
        reader.open_round(0, 1, h("w"))
    assert reader.participant_count() == 3


def test_deploy_argument_checks(embedded_chain: Chain) -> None:
    accounts: Sequence[str] = embedded_chain.accounts_for(3)
    with pytest.raises(ConfigError, match="2 participants but 1"):
        deploy_ledger(embedded_chain, accounts[0], accounts[1:3], [5], PUBLIC_KEY_HASH, CONFIG_HASH)
    with pytest.raises(ConfigError, match="uint64"):
        deploy_ledger(
            embedded_chain, accounts[0], accounts[1:3], [5, -1], PUBLIC_KEY_HASH, CONFIG_HASH
        )
    with pytest.raises(ConfigError, match="not an Ethereum address"):
        deploy_ledger(embedded_chain, accounts[0], ["0x12"], [5], PUBLIC_KEY_HASH, CONFIG_HASH)


def test_keystore_sender(embedded_chain: Chain, tmp_path: Path) -> None:
    account = Account.create()
    keystore = Account.encrypt(
        account.key, "secret", kdf="pbkdf2", iterations=KEYSTORE_KDF_ITERATIONS
    )
    path = tmp_path / "party.json"
    path.write_text(json.dumps(keystore))
    with pytest.raises(ConfigError, match="wrong password"):
        embedded_chain.add_keystore(path, "guess")
    party = embedded_chain.add_keystore(path, "secret")
    assert party == account.address
    funder = embedded_chain.node_accounts()[0]
    embedded_chain.transact({"from": funder, "to": party, "value": 10**18})
    member = embedded_chain.node_accounts()[1]
    ledger = deploy_ledger(embedded_chain, party, [member], [3], PUBLIC_KEY_HASH, CONFIG_HASH)
    assert ledger.party() == party
    assert ledger.open_round(0, 1, h("w")).sender == party


def test_unreachable_node_is_a_chain_error() -> None:
    with pytest.raises(ChainError, match="cannot reach"):
        connect_rpc("http://127.0.0.1:9", timeout_s=1.0)
