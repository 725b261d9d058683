"""An agent derives its password's scrypt key once per process (issue #18, start-up).

The keystore is opened as eth-account opens it (same key, same refusal of a wrong password), and
the party's Paillier key, bound to the keystore's salt, opens with the key already derived: the
derivations are counted, not timed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from eth_account import Account

from hefl.agents.identity import (
    DEV_KEYSTORE_ENV,
    DEV_SCRYPT_N,
    KEYSTORE,
    PAILLIER_KEY,
    create_agent,
    load_private_key,
    save_private_key,
)
from hefl.chain import connect_embedded, node
from hefl.chain.node import decrypt_keystore
from hefl.crypto import generate_keypair
from hefl.errors import ConfigError

PASSWORD = "unlock once test password"


@pytest.fixture
def derivations(monkeypatch) -> list[bytes]:
    """Every scrypt run in this test (salts), with the process memo emptied first."""
    monkeypatch.setattr(node, "_DERIVED", {})
    runs: list[bytes] = []
    real = hashlib.scrypt

    def counting(password: bytes, **kwargs):  # type: ignore[no-untyped-def]
        runs.append(kwargs["salt"])
        return real(password, **kwargs)

    monkeypatch.setattr(node.hashlib, "scrypt", counting)
    return runs


def test_the_keystore_opens_to_eth_accounts_key_and_refuses_a_wrong_password(
    derivations,
) -> None:
    account = Account.create()
    keystore = Account.encrypt(account.key, PASSWORD)
    assert decrypt_keystore(keystore, PASSWORD) == bytes(account.key)
    assert decrypt_keystore(keystore, PASSWORD) == bytes(Account.decrypt(keystore, PASSWORD))
    assert len(derivations) == 1  # the second opening reused the derived key
    with pytest.raises(ValueError, match="MAC"):
        decrypt_keystore(keystore, "not the password")
    assert len(derivations) == 2  # a wrong password is derived afresh, never served the memo
    tampered = json.loads(json.dumps(keystore))
    tampered["crypto"]["ciphertext"] = "00" * 32
    with pytest.raises(ValueError, match="MAC"):
        decrypt_keystore(tampered, PASSWORD)


def test_the_party_opens_keystore_and_paillier_key_with_one_derivation(
    tmp_path: Path, derivations
) -> None:
    identity = create_agent(tmp_path, PASSWORD)
    _, key = generate_keypair(1024, allow_insecure=True)
    path = save_private_key(tmp_path / PAILLIER_KEY, key, PASSWORD, keystore=tmp_path / KEYSTORE)
    document = json.loads(path.read_text())
    keystore = json.loads((tmp_path / KEYSTORE).read_text())
    # Bound to the keystore: its salt and eth-account's default parameters (n = 2^18).
    assert document["version"] == 2 and document["kdfparams"]["n"] == 2**18
    assert document["kdfparams"]["salt"] == keystore["crypto"]["kdfparams"]["salt"]
    assert path.stat().st_mode & 0o777 == 0o600
    # A fresh process: the memo is empty; opening both files derives once.
    node._DERIVED.clear()
    derivations.clear()
    chain = connect_embedded(1)
    assert chain.add_keystore(tmp_path / KEYSTORE, PASSWORD) == identity.address
    loaded = load_private_key(path, PASSWORD, allow_insecure=True)
    assert (loaded.p, loaded.q) == (key.p, key.q)
    assert len(derivations) == 1
    with pytest.raises(ConfigError, match="wrong password"):
        load_private_key(path, "not the password", allow_insecure=True)
    with pytest.raises(ConfigError, match="wrong password"):
        chain.add_keystore(tmp_path / KEYSTORE, "not the password")


def test_an_unknown_key_version_is_one_clear_error(tmp_path: Path) -> None:
    _, key = generate_keypair(1024, allow_insecure=True)
    path = save_private_key(tmp_path / PAILLIER_KEY, key, PASSWORD)
    document = json.loads(path.read_text())
    path.write_text(json.dumps({**document, "version": 7}))
    with pytest.raises(ConfigError, match="version 7 is unknown"):
        load_private_key(path, PASSWORD, allow_insecure=True)


def test_the_light_development_keystore_is_opt_in(tmp_path: Path, monkeypatch) -> None:
    default = create_agent(tmp_path / "real", PASSWORD)
    monkeypatch.setenv(DEV_KEYSTORE_ENV, "1")
    light = create_agent(tmp_path / "dev", PASSWORD)
    kdf = {
        name: json.loads((tmp_path / name / KEYSTORE).read_text())["crypto"]["kdfparams"]["n"]
        for name in ("real", "dev")
    }
    assert kdf == {"real": 2**18, "dev": DEV_SCRYPT_N}
    chain = connect_embedded(1)
    assert chain.add_keystore(tmp_path / "real" / KEYSTORE, PASSWORD) == default.address
    assert chain.add_keystore(tmp_path / "dev" / KEYSTORE, PASSWORD) == light.address
    _, key = generate_keypair(1024, allow_insecure=True)
    path = save_private_key(
        tmp_path / "dev" / PAILLIER_KEY, key, PASSWORD, keystore=tmp_path / "dev" / KEYSTORE
    )
    assert json.loads(path.read_text())["kdfparams"]["n"] == DEV_SCRYPT_N
    assert load_private_key(path, PASSWORD, allow_insecure=True).p == key.p
