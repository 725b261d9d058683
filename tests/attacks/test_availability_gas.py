"""The gas of availability: a submission with its blobs in calldata at d = 14 and d = 200 (2048-bit
keys), the numbers the README quotes, and the size up to which calldata is the default."""

from __future__ import annotations

import os

from hefl.chain import connect_embedded, deploy_ledger
from hefl.chain.availability import (
    MAX_CALLDATA_BYTES,
    blobs_on_chain_for,
    fits_calldata,
    paillier_submission_bytes,
)
from hefl.crypto import EncryptedVector, generate_keypair


def submission_gas(model_size: int) -> tuple[int, int, int]:
    """(bytes, gas with the blobs in calldata, gas with two bare hashes) of one submission."""
    chain = connect_embedded()
    party, *members = chain.accounts_for(4)
    total = paillier_submission_bytes(model_size, 2048)
    model = os.urandom(total // 3)
    extra = os.urandom(total - len(model))
    on_chain = deploy_ledger(
        chain, party, members, [1, 2, 3], b"\x01" * 32, b"\x02" * 32, blobs_on_chain=True
    )
    on_chain.open_round(0, 1, b"\x03" * 32)
    with_bytes = on_chain.as_sender(members[0]).submit_blobs(0, model, extra)
    hashes = deploy_ledger(chain, party, members, [1, 2, 3], b"\x01" * 32, b"\x02" * 32)
    hashes.open_round(0, 1, b"\x03" * 32)
    bare = hashes.as_sender(members[0]).submit(0, os.urandom(32), os.urandom(32))
    return total, with_bytes.gas_used, bare.gas_used


def test_availability_gas_per_submission_at_d14_and_d200() -> None:
    small, small_gas, bare = submission_gas(14)
    large, large_gas, _ = submission_gas(200)
    assert (small, large) == (22_553, 308_249)
    # Calldata costs 16 gas per nonzero byte, 40 under EIP-7623's floor for data-heavy
    # transactions, plus the contract's copy and keccak: within [16, 45] gas per byte.
    for size, gas in ((small, small_gas), (large, large_gas)):
        assert 16 * size < gas - 21_000 < 45 * size
    assert bare < small_gas
    print(f"\nsubmission gas: d=14 {small_gas} ({small} B), d=200 {large_gas} ({large} B), "
          f"bare hashes {bare}")  # fmt: skip


def test_availability_calldata_is_the_default_up_to_d81_at_2048_bits() -> None:
    assert fits_calldata(paillier_submission_bytes(81, 2048))
    assert not fits_calldata(paillier_submission_bytes(82, 2048))
    assert MAX_CALLDATA_BYTES < 128 * 1024
    # The deployment default follows from the global model's size, as the jobs decide it.
    key, _ = generate_keypair(1024, allow_insecure=True)
    assert blobs_on_chain_for(EncryptedVector.encrypt(key, [0.0] * 14).to_bytes())
    assert not blobs_on_chain_for(EncryptedVector.encrypt(key, [0.0] * 200).to_bytes())
