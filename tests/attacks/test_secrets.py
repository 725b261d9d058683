"""Secrets at rest and a setup that cleans up after itself (issue #12, item 6)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hefl.agents.identity import (
    IDENTITY,
    KEYSTORE,
    PAILLIER_KEY,
    create_agent,
    load_private_key,
    save_private_key,
)
from hefl.agents.network import JOB_FILE, Schedule, setup_job
from hefl.chain import LocalBlobStore, connect_embedded
from hefl.cli.main import main
from hefl.crypto import generate_keypair
from hefl.data.prepare import Part
from hefl.errors import ChainError, ConfigError
from hefl.learning.strategy import LearningConfig

PASSWORD = "secrets test password"


def test_the_paillier_key_is_encrypted_at_rest_with_the_keystore_password(tmp_path: Path) -> None:
    _, key = generate_keypair(1024, allow_insecure=True)
    path = save_private_key(tmp_path / PAILLIER_KEY, key, PASSWORD)
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    for prime in (key.p, key.q):
        assert str(int(prime)) not in text and hex(int(prime))[2:] not in text
    document = json.loads(text)
    assert document["kdf"] == "scrypt" and document["kdfparams"]["n"] == 2**18
    loaded = load_private_key(path, PASSWORD, allow_insecure=True)
    assert (loaded.p, loaded.q) == (key.p, key.q)
    with pytest.raises(ConfigError, match="wrong password"):
        load_private_key(path, "not the password", allow_insecure=True)


def test_split_writes_private_data_0600(tmp_path: Path, capsys) -> None:
    assert main(["split", "--dataset", "diabetes", "-n", "2", "--out", str(tmp_path / "d")]) == 0
    files = sorted((tmp_path / "d").glob("*.npz"))
    assert [f.name for f in files] == ["participant_0.npz", "participant_1.npz", "test.npz"]
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    with np.load(files[0]) as archive:
        assert archive["X"].shape[0] == archive["y"].shape[0] > 0


def participants(tmp_path: Path) -> list:
    rng = np.random.default_rng(0)
    parts = [Part(X=rng.normal(size=(20, 4)), y=rng.normal(size=20)) for _ in range(3)]
    return [create_agent(tmp_path / f"p{i}", PASSWORD, part) for i, part in enumerate(parts)]


def setup(tmp_path: Path, chain, identities, **options):
    return setup_job(
        chain, tmp_path / "party", PASSWORD, identities, LocalBlobStore(tmp_path / "blobs"),
        schedule=Schedule(tau=2, rounds=1), learning=LearningConfig(eta=0.1), key_bits=1024,
        allow_insecure_keys=True, **options,
    )  # fmt: skip


def test_a_failed_party_setup_cleans_up_and_a_retry_works(tmp_path: Path, monkeypatch) -> None:
    chain = connect_embedded()
    identities = participants(tmp_path)
    for i, identity in enumerate(identities):
        assert (tmp_path / f"p{i}" / "data.npz").stat().st_mode & 0o777 == 0o600
        chain.transact({"from": chain.accounts()[0], "to": identity.address, "value": 10**18})

    def node_gone(*args, **kwargs):
        raise ChainError("the node went away during the deployment")

    monkeypatch.setattr("hefl.agents.network.deploy_ledger", node_gone)
    with pytest.raises(ChainError):
        setup(tmp_path, chain, identities, fund_wei=10**18)
    party = tmp_path / "party"
    assert not any((party / name).exists() for name in (KEYSTORE, IDENTITY, PAILLIER_KEY))
    monkeypatch.undo()
    job = setup(tmp_path, chain, identities, fund_wei=10**18)  # the retry simply works
    assert (party / JOB_FILE).exists() and job.ledger
    with pytest.raises(ConfigError, match="--force"):
        setup(tmp_path, chain, identities)
    again = setup(tmp_path, chain, identities, force=True, fund_wei=10**18)
    assert again.ledger != job.ledger
