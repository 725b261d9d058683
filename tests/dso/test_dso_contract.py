"""DsoLedger: every function's success path and every custom error with its arguments, every event
with its arguments. Runs on the embedded chain and on a real Anvil node."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from contract_testing import REPO_ROOT, error_coverage, expect_revert, h, needs_node
from hefl.chain import Chain
from hefl.chain.dso_ledger import (
    DSO_INTERFACE_SOURCE_NAME,
    DsoHashField,
    DsoLedgerClient,
    deploy_dso_ledger,
    load_dso_artifact,
)

ZERO = b"\x00" * 32
FINGERPRINTS = [h(f"key-{i}") for i in range(3)]
CONFIG = h("config")

#: Once this module has run: every custom error of DsoLedger's ABI was triggered, with its
#: arguments asserted (recorded by expect_revert; see contract_testing.error_coverage).
error_coverage_check = error_coverage("DsoLedger", load_dso_artifact)


def _deploy(chain: Chain, accounts: Sequence[str], iterations: int = 25, interval: int = 10):
    return deploy_dso_ledger(chain, accounts[0], accounts[1:4], FINGERPRINTS, CONFIG,
                             iterations, interval)  # fmt: skip


def test_deploy_registers_agents_with_events(chain: Chain, accounts: Sequence[str]) -> None:
    ledger = _deploy(chain, accounts)
    events = ledger.deploy_result.events
    created = [e for e in events if e.name == "DsoLedgerCreated"]
    assert len(created) == 1
    assert dict(created[0].args) == {
        "configHash": CONFIG, "iterations": 25, "interval": 10, "agentCount": 3,
    }  # fmt: skip
    registered = [dict(e.args) for e in events if e.name == "AgentRegistered"]
    assert registered == [
        {"account": accounts[1 + i], "index": i, "keyFingerprint": FINGERPRINTS[i]}
        for i in range(3)
    ]
    assert ledger.agents() == tuple(accounts[1:4])
    assert ledger.key_fingerprints() == tuple(FINGERPRINTS)
    assert ledger.config_hash() == CONFIG
    assert (ledger.iterations(), ledger.interval(), ledger.checkpoint_count()) == (25, 10, 3)
    assert [ledger.last_iteration(c) for c in (1, 2, 3)] == [10, 20, 25]
    assert ledger.agent_of(accounts[2]) == (True, 1, 0)
    assert ledger.agent_of(accounts[6]) == (False, 0, 0)
    again = DsoLedgerClient.at(chain, ledger.address)
    assert again.agents() == ledger.agents()


def test_every_state_change_has_an_event(chain: Chain, accounts: Sequence[str]) -> None:
    abi = load_dso_artifact().abi
    events = {e["name"] for e in abi if e["type"] == "event"}
    assert events == {
        "DsoLedgerCreated", "AgentRegistered", "CheckpointCommitted", "CheckpointCompleted",
    }  # fmt: skip
    transactions = {
        e["name"] for e in abi if e["type"] == "function" and e["stateMutability"] != "view"
    }
    assert transactions == {"commitCheckpoint"}
    ledger = _deploy(chain, accounts, iterations=10, interval=10)
    results = [ledger.deploy_result]
    results += [
        ledger.as_sender(accounts[1 + i]).commit_checkpoint(1, h(f"t{i}"), h(f"s{i}"))
        for i in range(3)
    ]
    assert all(r is not None and r.events for r in results)
    assert {name for r in results if r is not None for name in r.event_names()} == events


def test_commit_in_order_and_completion(chain: Chain, accounts: Sequence[str]) -> None:
    ledger = _deploy(chain, accounts)
    for i in range(3):
        agent = ledger.as_sender(accounts[1 + i])
        tx = agent.commit_checkpoint(1, h(f"t1-{i}"), h(f"s1-{i}"))
        assert dict(tx.event("CheckpointCommitted").args) == {
            "checkpoint": 1, "agent": accounts[1 + i], "index": i, "lastIteration": 10,
            "transcriptHash": h(f"t1-{i}"), "stateHash": h(f"s1-{i}"),
        }  # fmt: skip
        if i < 2:
            assert tx.event_names() == ("CheckpointCommitted",)
        else:
            assert dict(tx.event("CheckpointCompleted").args) == {
                "checkpoint": 1, "lastIteration": 10,
            }  # fmt: skip
    assert ledger.commit_count(1) == 3
    record = ledger.get_commitment(1, 2)
    assert (record.transcript_hash, record.state_hash, record.last_iteration) == (
        h("t1-2"), h("s1-2"), 10,
    )  # fmt: skip
    assert ledger.agent_of(accounts[1]) == (True, 0, 1)
    assert ledger.get_commitment(2, 0).transcript_hash == ZERO
    exported = ledger.export()
    assert len(exported["commitments"]) == 3


def test_commit_gas_is_near_the_bare_minimum(chain: Chain, accounts: Sequence[str]) -> None:
    """A commitment writes two fresh slots: 21 000 + 2·22 100 = 65 200 gas at least (README)."""
    ledger = _deploy(chain, accounts)
    gas = [
        ledger.as_sender(accounts[1 + i]).commit_checkpoint(1, h(f"t{i}"), h(f"s{i}")).gas_used
        for i in range(3)
    ]
    assert all(g > 65_200 for g in gas)
    assert gas[1] <= 1.3 * 65_200  # not the first of its checkpoint: no fresh counter slot
    assert gas[0] <= 65_200 + 22_100 + 15_000  # the first also creates the checkpoint's counter


def test_commit_errors(chain: Chain, accounts: Sequence[str]) -> None:
    ledger = _deploy(chain, accounts, iterations=10, interval=10)
    agent = ledger.as_sender(accounts[1])
    with expect_revert("NotAgent", accounts[6]):
        ledger.as_sender(accounts[6]).commit_checkpoint(1, h("t"), h("s"))
    with expect_revert("ZeroHash", DsoHashField.TRANSCRIPT):
        agent.commit_checkpoint(1, ZERO, h("s"))
    with expect_revert("ZeroHash", DsoHashField.STATE):
        agent.commit_checkpoint(1, h("t"), ZERO)
    with expect_revert("CheckpointOutOfOrder", accounts[1], 0, 1):
        agent.commit_checkpoint(0, h("t"), h("s"))
    agent.commit_checkpoint(1, h("t"), h("s"))
    with expect_revert("CheckpointBeyondRun", 2, 1):
        agent.commit_checkpoint(2, h("t"), h("s"))
    ledger2 = _deploy(chain, accounts, iterations=30, interval=10)
    a2 = ledger2.as_sender(accounts[1])
    with expect_revert("CheckpointOutOfOrder", accounts[1], 2, 1):
        a2.commit_checkpoint(2, h("t"), h("s"))
    a2.commit_checkpoint(1, h("t"), h("s"))
    with expect_revert("CheckpointOutOfOrder", accounts[1], 1, 2):
        a2.commit_checkpoint(1, h("t"), h("s"))


def test_constructor_errors(chain: Chain, accounts: Sequence[str]) -> None:
    d, a = accounts[0], list(accounts[1:4])
    with expect_revert("NoAgents"):
        deploy_dso_ledger(chain, d, [], [], CONFIG, 10, 10)
    with expect_revert("TooManyAgents", 257, 256):
        deploy_dso_ledger(chain, d, [f"0x{i + 1:040x}" for i in range(257)],
                          [h(str(i)) for i in range(257)], CONFIG, 10, 10)  # fmt: skip
    with expect_revert("LengthMismatch", 3, 2):
        deploy_dso_ledger(chain, d, a, FINGERPRINTS[:2], CONFIG, 10, 10)
    with expect_revert("ZeroHash", DsoHashField.CONFIG):
        deploy_dso_ledger(chain, d, a, FINGERPRINTS, ZERO, 10, 10)
    with expect_revert("ZeroIterations"):
        deploy_dso_ledger(chain, d, a, FINGERPRINTS, CONFIG, 0, 10)
    with expect_revert("ZeroInterval"):
        deploy_dso_ledger(chain, d, a, FINGERPRINTS, CONFIG, 10, 0)
    with expect_revert("ZeroAddress", 1):
        deploy_dso_ledger(chain, d, [a[0], "0x" + "00" * 20, a[2]], FINGERPRINTS, CONFIG, 10, 10)
    with expect_revert("DuplicateAgent", a[0]):
        deploy_dso_ledger(chain, d, [a[0], a[1], a[0]], FINGERPRINTS, CONFIG, 10, 10)
    with expect_revert("ZeroHash", DsoHashField.KEY_FINGERPRINT):
        deploy_dso_ledger(chain, d, a, [FINGERPRINTS[0], ZERO, FINGERPRINTS[2]], CONFIG, 10, 10)


def _abi_signatures(abi: Sequence[dict]) -> set[tuple[str, str, tuple[str, ...]]]:
    return {
        (e["type"], e.get("name", ""), tuple(i["type"] for i in e.get("inputs", [])))
        for e in abi
        if e["type"] in ("function", "event", "error")
    }


@needs_node
def test_contract_implements_interface_and_natspec() -> None:
    from hefl.chain.compile import compile_source

    source = (REPO_ROOT / DSO_INTERFACE_SOURCE_NAME).read_text()
    interface = compile_source(source, source_name=DSO_INTERFACE_SOURCE_NAME,
                               contract_name="IDsoLedger")  # fmt: skip
    assert _abi_signatures(interface.abi) <= _abi_signatures(load_dso_artifact().abi_list)
    text = (REPO_ROOT / "contracts" / "DsoLedger.sol").read_text()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("function ") and "external" in " ".join(lines[i : i + 6]):
            assert "@notice" in "\n".join(lines[max(0, i - 12) : i]), line


@pytest.mark.slow
@needs_node
def test_artifact_is_the_build() -> None:
    from hefl.chain.compile import artifact_text, build_contract

    result = build_contract("DsoLedger")
    assert artifact_text(result) == (REPO_ROOT / "contracts/build/DsoLedger.json").read_text()
