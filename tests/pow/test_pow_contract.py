"""PowLedger: every function's success path and every custom error, events checked with arguments.

The module is the contract's specification: once it has run, every custom error of the ABI has
been triggered with its arguments asserted (the list is what the tests did, recorded by
``expect_revert``), and every transaction emits an event. Runs once on the embedded chain
(eth-tester/py-evm) and once on a real Anvil node. The proof of work is recomputed in Python
(:func:`hefl.pow.puzzle.pow_digest`) as an independent reference for the contract's
``powDigest`` and for the digest in ``BlockMined``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from pow_helpers import (
    CONFIG_HASH,
    GENESIS_HASH,
    PowDeployer,
    advance_time,
    expect_revert,
    fill_gradients,
    find_nonce,
    h,
    mine,
)

from contract_testing import error_coverage
from hefl.chain import Chain, load_artifact
from hefl.chain.artifact import load_pow_artifact
from hefl.chain.fl_ledger import ZERO_HASH
from hefl.chain.pow_ledger import (
    PowHashField,
    PowLedgerClient,
    Role,
    deploy_pow_ledger,
    is_pow_ledger,
)
from hefl.errors import ChainError
from hefl.pow.puzzle import (
    MAX_TARGET,
    difficulty_to_target,
    meets_target,
    pow_digest,
    retarget,
)

ZERO_ADDRESS = "0x" + "00" * 20

#: Once this module has run, every custom error of the ABI was triggered by a test above, with its
#: arguments asserted (recorded by expect_revert; see contract_testing.error_coverage).
error_coverage_check = error_coverage("PowLedger", load_pow_artifact)


def test_every_state_change_has_an_event(deploy: PowDeployer, accounts: Sequence[str]) -> None:
    abi = load_pow_artifact().abi
    events = {e["name"] for e in abi if e["type"] == "event"}
    assert events == {
        "PowLedgerCreated",
        "MemberRegistered",
        "GradientSubmitted",
        "BlockMined",
        "TargetRetargeted",
    }
    # Every transaction of the ABI, run to each of its outcomes, emits an event; together they
    # emit them all.
    transactions = {
        e["name"] for e in abi if e["type"] == "function" and e["stateMutability"] != "view"
    }
    ledger = deploy(block_time=1, interval=2)  # block 2 retargets
    assert ledger.deploy_result is not None
    results: dict[str, list[Any]] = {"constructor": [ledger.deploy_result]}
    for t in (1, 2):
        results.setdefault("submitGradient", []).extend(
            ledger.as_sender(owner).submit_gradient(t, h(f"g{t}{owner}")) for owner in accounts[1:3]
        )
        previous = ledger.head_model_hash()
        results.setdefault("submitBlock", []).append(
            mine(ledger, accounts[3], t, previous, h(f"w{t}"))
        )
    assert set(results) == transactions | {"constructor"}
    for name, outcomes in results.items():
        for result in outcomes:
            assert result.events, f"{name} changed the state without an event"
    emitted = {
        event for outcomes in results.values() for r in outcomes for event in r.event_names()
    }
    assert emitted == events


# --- constructor ---------------------------------------------------------------------------------
def test_deploy_registers_members_and_genesis(
    chain: Chain, deploy: PowDeployer, accounts: Sequence[str]
) -> None:
    target = difficulty_to_target(16)
    ledger = deploy(block_time=7, interval=3)
    result = ledger.deploy_result
    assert result is not None
    assert result.event_names() == ("MemberRegistered",) * 4 + ("PowLedgerCreated",)
    roles = [Role.OWNER, Role.OWNER, Role.AGGREGATOR, Role.AGGREGATOR]
    for i, event in enumerate(result.events[:4]):
        assert dict(event.args) == {"account": accounts[i + 1], "role": roles[i], "index": i % 2}
    assert dict(result.event("PowLedgerCreated").args) == {
        "genesisModelHash": GENESIS_HASH,
        "configHash": CONFIG_HASH,
        "initialTarget": target,
        "targetBlockTime": 7,
        "retargetInterval": 3,
        "ownerCount": 2,
        "aggregatorCount": 2,
    }
    assert ledger.owners() == tuple(accounts[1:3])
    assert ledger.aggregators() == tuple(accounts[3:5])
    assert ledger.member_of(accounts[2]) == (Role.OWNER, 1)
    assert ledger.member_of(accounts[4]) == (Role.AGGREGATOR, 1)
    assert ledger.member_of(accounts[0]) == (Role.NONE, 0)
    assert ledger.config_hash() == CONFIG_HASH
    assert (ledger.target_block_time(), ledger.retarget_interval()) == (7, 3)
    assert ledger.max_members() == 64
    assert ledger.current_round() == 1
    assert ledger.gradient_count() == 0
    assert ledger.current_target() == target
    assert ledger.head_model_hash() == GENESIS_HASH
    genesis = ledger.get_block(0)
    timestamp = int(chain.w3.eth.get_block(result.block_number)["timestamp"])
    assert genesis.is_genesis and genesis.winner == ZERO_ADDRESS and genesis.nonce == 0
    assert (genesis.model_hash, genesis.target, genesis.timestamp) == (
        GENESIS_HASH,
        target,
        timestamp,
    )
    assert ledger.window_start() == timestamp
    assert ledger.blocks() == (genesis,)
    params = ledger.params()
    assert (params.initial_target, params.config_hash) == (target, CONFIG_HASH)


def test_at_attaches_and_checks_code(chain: Chain, deploy: PowDeployer) -> None:
    ledger = deploy()
    again = PowLedgerClient.at(chain, ledger.address)
    assert again.owners() == ledger.owners()
    assert is_pow_ledger(chain, ledger.address)
    with pytest.raises(ChainError, match="no contract"):
        PowLedgerClient.at(chain, "0x" + "11" * 20)
    assert not load_artifact().matches_runtime_code(bytes(chain.w3.eth.get_code(ledger.address)))


def _deploy_raw(chain: Chain, accounts: Sequence[str], **overrides: object) -> PowLedgerClient:
    args: dict[str, object] = {
        "owners": list(accounts[1:3]),
        "aggregators": list(accounts[3:5]),
        "genesis_model_hash": GENESIS_HASH,
        "config_hash": CONFIG_HASH,
        "initial_target": difficulty_to_target(16),
        "target_block_time": 0,
        "retarget_interval": 0,
    }
    args.update(overrides)
    return deploy_pow_ledger(
        chain,
        accounts[0],
        args["owners"],  # type: ignore[arg-type]
        args["aggregators"],  # type: ignore[arg-type]
        args["genesis_model_hash"],  # type: ignore[arg-type]
        args["config_hash"],  # type: ignore[arg-type]
        initial_target=args["initial_target"],  # type: ignore[arg-type]
        target_block_time=args["target_block_time"],  # type: ignore[arg-type]
        retarget_interval=args["retarget_interval"],  # type: ignore[arg-type]
    )


def test_constructor_errors(chain: Chain, accounts: Sequence[str]) -> None:
    many = ["0x" + h(f"m{i}")[:20].hex() for i in range(65)]
    with expect_revert("NoOwners"):
        _deploy_raw(chain, accounts, owners=[])
    with expect_revert("NoAggregators"):
        _deploy_raw(chain, accounts, aggregators=[])
    with expect_revert("TooManyMembers", 65, 64):
        _deploy_raw(chain, accounts, owners=many)
    with expect_revert("TooManyMembers", 65, 64):
        _deploy_raw(chain, accounts, aggregators=many)
    with expect_revert("ZeroAddress", 3):
        _deploy_raw(chain, accounts, aggregators=[accounts[3], ZERO_ADDRESS])
    with expect_revert("DuplicateMember", accounts[1]):
        _deploy_raw(chain, accounts, owners=[accounts[1], accounts[1]])
    with expect_revert("DuplicateMember", accounts[2]):
        _deploy_raw(chain, accounts, aggregators=[accounts[3], accounts[2]])
    with expect_revert("ZeroHash", PowHashField.GENESIS_MODEL):
        _deploy_raw(chain, accounts, genesis_model_hash=ZERO_HASH)
    with expect_revert("ZeroHash", PowHashField.CONFIG):
        _deploy_raw(chain, accounts, config_hash=ZERO_HASH)
    with expect_revert("ZeroTarget"):
        _deploy_raw(chain, accounts, initial_target=0)
    with expect_revert("ZeroBlockTime", 5):
        _deploy_raw(chain, accounts, retarget_interval=5, target_block_time=0)


# --- submitGradient ------------------------------------------------------------------------------
def test_submit_gradient(deploy: PowDeployer, accounts: Sequence[str]) -> None:
    ledger = deploy()
    result = ledger.as_sender(accounts[2]).submit_gradient(1, h("gB"))
    assert result.event_names() == ("GradientSubmitted",)
    assert dict(result.event("GradientSubmitted").args) == {
        "round": 1,
        "owner": accounts[2],
        "gradientHash": h("gB"),
        "submitted": 1,
    }
    second = ledger.as_sender(accounts[1]).submit_gradient(1, h("gA"))
    assert second.event("GradientSubmitted").args["submitted"] == 2
    assert ledger.gradient_count() == 2
    assert ledger.gradients(1) == (h("gA"), h("gB"))
    assert ledger.get_gradient(1, accounts[3]) == ZERO_HASH


def test_submit_gradient_rules(deploy: PowDeployer, accounts: Sequence[str]) -> None:
    ledger = deploy()
    alice = ledger.as_sender(accounts[1])
    with expect_revert("NotDataOwner", accounts[3]):
        ledger.as_sender(accounts[3]).submit_gradient(1, h("g"))
    with expect_revert("NotDataOwner", accounts[0]):
        ledger.as_sender(accounts[0]).submit_gradient(1, h("g"))
    with expect_revert("ZeroHash", PowHashField.GRADIENT):
        alice.submit_gradient(1, ZERO_HASH)
    with expect_revert("FutureRound", 2, 1):
        alice.submit_gradient(2, h("g"))
    alice.submit_gradient(1, h("g1"))
    with expect_revert("AlreadySubmitted", 1, accounts[1]):
        alice.submit_gradient(1, h("g1 again"))
    ledger.as_sender(accounts[2]).submit_gradient(1, h("g2"))
    mine(ledger, accounts[3], 1, GENESIS_HASH, h("w1"))
    with expect_revert("StaleRound", 1, 2):
        alice.submit_gradient(1, h("late gradient"))
    with expect_revert("StaleRound", 0, 2):
        alice.submit_gradient(0, h("genesis gradient"))


# --- submitBlock ---------------------------------------------------------------------------------
def test_submit_block(chain: Chain, deploy: PowDeployer, accounts: Sequence[str]) -> None:
    ledger = deploy()
    fill_gradients(ledger, list(accounts[1:3]), 1)
    agg = accounts[4]
    nonce = find_nonce(ledger, agg, 1, GENESIS_HASH, h("w1"))
    digest = pow_digest(chain.chain_id, ledger.address, 1, GENESIS_HASH, h("w1"), agg, nonce)
    assert ledger.pow_digest(1, GENESIS_HASH, h("w1"), agg, nonce) == digest
    target = ledger.current_target()
    result = ledger.as_sender(agg).submit_block(1, GENESIS_HASH, h("w1"), nonce)
    assert result.event_names() == ("BlockMined",)
    assert dict(result.event("BlockMined").args) == {
        "round": 1,
        "aggregator": agg,
        "previousModelHash": GENESIS_HASH,
        "newModelHash": h("w1"),
        "nonce": nonce,
        "digest": digest,
        "target": target,
    }
    assert meets_target(digest, target)
    block = ledger.get_block(1)
    timestamp = int(chain.w3.eth.get_block(result.block_number)["timestamp"])
    assert (block.winner, block.nonce, block.model_hash, block.target, block.timestamp) == (
        agg,
        nonce,
        h("w1"),
        target,
        timestamp,
    )
    assert ledger.current_round() == 2
    assert ledger.gradient_count() == 0
    assert ledger.head_model_hash() == h("w1")
    assert ledger.current_target() == target  # no retargeting configured
    # The next round builds on block 1.
    fill_gradients(ledger, list(accounts[1:3]), 2)
    mine(ledger, accounts[3], 2, h("w1"), h("w2"))
    assert [b.winner for b in ledger.blocks()] == [ZERO_ADDRESS, agg, accounts[3]]


def test_submit_block_rules(chain: Chain, deploy: PowDeployer, accounts: Sequence[str]) -> None:
    ledger = deploy()
    agg1, agg2 = accounts[3], accounts[4]
    with expect_revert("NotAggregator", accounts[1]):
        ledger.as_sender(accounts[1]).submit_block(1, GENESIS_HASH, h("w1"), 0)
    ledger.as_sender(accounts[1]).submit_gradient(1, h("gA"))
    nonce = find_nonce(ledger, agg1, 1, GENESIS_HASH, h("w1"))
    with expect_revert("GradientsIncomplete", 1, 1, 2):
        ledger.as_sender(agg1).submit_block(1, GENESIS_HASH, h("w1"), nonce)
    ledger.as_sender(accounts[2]).submit_gradient(1, h("gB"))
    with expect_revert("FutureRound", 2, 1):
        ledger.as_sender(agg1).submit_block(2, GENESIS_HASH, h("w1"), nonce)
    with expect_revert("PreviousHashMismatch", 1, GENESIS_HASH, h("not the head")):
        ledger.as_sender(agg1).submit_block(1, h("not the head"), h("w1"), nonce)
    with expect_revert("ZeroHash", PowHashField.NEW_MODEL):
        ledger.as_sender(agg1).submit_block(1, GENESIS_HASH, ZERO_HASH, nonce)

    # A wrong nonce: its digest is not below the target.
    target = ledger.current_target()
    bad = find_nonce(ledger, agg1, 1, GENESIS_HASH, h("w1"), valid=False)
    digest = pow_digest(chain.chain_id, ledger.address, 1, GENESIS_HASH, h("w1"), agg1, bad)
    with expect_revert("InsufficientWork", 1, digest, target):
        ledger.as_sender(agg1).submit_block(1, GENESIS_HASH, h("w1"), bad)
    # A valid nonce is bound to its aggregator: Agg2 cannot submit Agg1's solution.
    if not meets_target(
        pow_digest(chain.chain_id, ledger.address, 1, GENESIS_HASH, h("w1"), agg2, nonce), target
    ):
        with expect_revert("InsufficientWork"):
            ledger.as_sender(agg2).submit_block(1, GENESIS_HASH, h("w1"), nonce)

    # The first valid block wins; Agg2's own valid solution arrives late.
    late = find_nonce(ledger, agg2, 1, GENESIS_HASH, h("w1"))
    ledger.as_sender(agg1).submit_block(1, GENESIS_HASH, h("w1"), nonce)
    with expect_revert("RoundAlreadyMined", 1, agg1):
        ledger.as_sender(agg2).submit_block(1, GENESIS_HASH, h("w1"), late)
    with expect_revert("RoundAlreadyMined", 1, agg1):  # even re-sending the winning block
        ledger.as_sender(agg1).submit_block(1, GENESIS_HASH, h("w1"), nonce)
    with expect_revert("RoundAlreadyMined", 0, ZERO_ADDRESS):  # nobody mines the genesis
        ledger.as_sender(agg2).submit_block(0, GENESIS_HASH, h("w1"), late)
    # A stale block: round 2's gradients are not in, but a block for round 1 is refused first.
    fill_gradients(ledger, list(accounts[1:3]), 2)
    mine(ledger, agg2, 2, h("w1"), h("w2"))
    with expect_revert("RoundAlreadyMined", 1, agg1):
        ledger.as_sender(agg2).submit_block(1, GENESIS_HASH, h("w1 again"), late)
    with expect_revert("FutureRound", 3, 3):
        ledger.get_block(3)


# --- retargeting ---------------------------------------------------------------------------------
def _mine_rounds(ledger: PowLedgerClient, accounts: Sequence[str], rounds: int) -> list[object]:
    results = []
    for _ in range(rounds):
        t = ledger.current_round()
        previous = ledger.head_model_hash()
        fill_gradients(ledger, list(accounts[1:3]), t)
        results.append(mine(ledger, accounts[3 + t % 2], t, previous, h(f"w{t}")))
    return results


def test_retarget_harder_when_blocks_come_fast(
    chain: Chain, deploy: PowDeployer, accounts: Sequence[str]
) -> None:
    # T = 1000 s per block: every block is "too fast", so the target falls by the clamp, 4×.
    ledger = deploy(difficulty=4, block_time=1000, interval=2)
    start_target, window = ledger.current_target(), ledger.window_start()
    first, second = _mine_rounds(ledger, accounts, 2)
    assert first.event_names() == ("BlockMined",)  # type: ignore[attr-defined]
    assert second.event_names() == ("BlockMined", "TargetRetargeted")  # type: ignore[attr-defined]
    event = second.event("TargetRetargeted").args  # type: ignore[attr-defined]
    block2 = ledger.get_block(2)
    observed = block2.timestamp - window
    expected_target = retarget(start_target, observed, 2, 1000)
    assert expected_target == start_target * 500 // 2000  # clamped at E/4 = 500 s
    assert dict(event) == {
        "round": 2,
        "oldTarget": start_target,
        "newTarget": expected_target,
        "observedSeconds": observed,
        "expectedSeconds": 2000,
    }
    assert ledger.current_target() == expected_target
    assert ledger.window_start() == block2.timestamp
    assert block2.target == start_target  # block 2 met the old target
    (third,) = _mine_rounds(ledger, accounts, 1)
    assert ledger.get_block(3).target == expected_target
    assert third.event_names() == ("BlockMined",)  # type: ignore[attr-defined]


def test_retarget_easier_saturates(
    chain: Chain, deploy: PowDeployer, accounts: Sequence[str]
) -> None:
    # T = 10 s but the block takes ≥ 100 s: too slow, the target rises 4× (here 2²⁵⁵ → max).
    ledger = deploy(target=1 << 255, block_time=10, interval=1)
    window = ledger.window_start()
    advance_time(chain, 100)
    (result,) = _mine_rounds(ledger, accounts, 1)
    event = result.event("TargetRetargeted").args  # type: ignore[attr-defined]
    observed = ledger.get_block(1).timestamp - window
    assert observed >= 100
    assert event["newTarget"] == retarget(1 << 255, observed, 1, 10) == MAX_TARGET
    assert ledger.current_target() == MAX_TARGET


def test_retarget_follows_observed_time(
    chain: Chain, deploy: PowDeployer, accounts: Sequence[str]
) -> None:
    # Within the clamp the target scales by observed / expected exactly.
    ledger = deploy(difficulty=4, block_time=40, interval=1)
    start, window = ledger.current_target(), ledger.window_start()
    advance_time(chain, 60)
    (result,) = _mine_rounds(ledger, accounts, 1)
    observed = ledger.get_block(1).timestamp - window
    assert 60 <= observed < 160
    assert result.event("TargetRetargeted").args["newTarget"] == start * observed // 40  # type: ignore[attr-defined]


def test_retarget_mirror_matches_rule() -> None:
    assert retarget(1000, 50, 10, 10) == 500  # half the expected time: twice as hard
    assert retarget(1000, 0, 10, 10) == 250  # clamped at E/4
    assert retarget(1000, 10**6, 10, 10) == 4000  # clamped at 4E
    assert retarget(1, 0, 10, 10) == 1  # never below 1
    assert retarget(1000, 0, 5, 1) == 400  # E = 5 s: clamped at ⌈E/4⌉ = 2 s, not 1 s (5×)
    assert retarget(MAX_TARGET, 400, 10, 10) == MAX_TARGET
