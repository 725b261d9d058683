"""The view cache (:class:`hefl.chain.node.ViewCache`): one answer per (block, call), shared by
every client of a chain, exactly what the node answers at that block.

Each test runs on the embedded chain and on a real Anvil node. The cached connection is a second
connection to the same node (its own :class:`Chain`, cache on); the reference is the uncached
session connection, read at the same block. Requests are counted through the chain wrapper
(:attr:`Chain.requests`), never timed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from chain_helpers import CONFIG_HASH, PUBLIC_KEY_HASH, Deployer, h

from hefl.chain import Chain, LedgerClient, connect_embedded, connect_rpc, deploy_ledger
from hefl.chain.wire import ProviderTransport, Wire


def second_connection(chain: Chain) -> Chain:
    """Another connection to ``chain``'s node, with the view cache on."""
    if chain.kind == "embedded":
        transport = ProviderTransport(chain.wire.transport.provider)  # type: ignore[attr-defined]
        transport.client.eth.default_account = chain.accounts()[0]
        wire = Wire(transport, follows_node=False)
        cached = Chain(wire, kind="embedded", backend=chain._backend)
    else:
        assert chain.url is not None
        cached = connect_rpc(chain.url)
    cached.enable_view_cache()
    return cached


def calls(chain: Chain, read: Callable[[], object]) -> int:
    """``eth_call`` requests that reached the node while ``read`` ran."""
    before = chain.requests["eth_call"]
    read()
    return chain.requests["eth_call"] - before


def same_reads(mine: LedgerClient, reference: LedgerClient, rounds: int) -> None:
    """Every field ``mine`` reads equals what ``reference`` (uncached) reads at the same block."""
    block = mine.chain.view_block()
    assert block == reference.chain.block_number
    assert mine.round_count() == reference.round_count() == rounds
    for g in range(rounds):
        assert mine.get_round(g) == reference.get_round(g)
        assert mine.round_submissions(g) == reference.round_submissions(g)
    assert mine.participants() == reference.participants()


def test_a_view_is_read_once_per_block_and_afresh_after_a_transaction(
    chain: Chain, accounts: Sequence[str], deploy: Deployer
) -> None:
    cached = second_connection(chain)
    address = deploy(3).address
    party = LedgerClient.at(cached, address, sender=accounts[0])
    reference = LedgerClient.at(chain, address)
    party.open_round(0, 2, h("global"))
    same_reads(party, reference, 1)
    voter = party.as_sender(accounts[1])
    assert calls(cached, lambda: party.get_round(0)) == 0  # same block: from memory
    assert calls(cached, lambda: voter.round_submissions(0)) == 0  # shared by every client
    assert calls(cached, lambda: LedgerClient(cached, address).get_round(0)) == 0
    assert cached.views.hits >= 3

    heads = cached.requests["eth_blockNumber"]
    voter.submit(0, h("model 1"))  # a transaction moves the head: the next read is fresh
    record = party.get_round(0)
    assert (record.submission_count, record.included_indices) == (1, (0,))
    assert cached.requests["eth_blockNumber"] - heads == (1 if chain.kind == "rpc" else 0)
    same_reads(party, reference, 1)

    # Another connection's transaction: the embedded chain's head is py-evm's own, seen at
    # once; a node's head is asked again at this chain's next head check (or transaction).
    LedgerClient.at(chain, address, sender=accounts[2]).submit(0, h("model 2"))
    if chain.kind == "rpc":
        assert party.get_round(0).submission_count == 1  # the node's answer at the old block
        cached.block_number  # noqa: B018 - a head check, as a waiting agent makes
    assert party.get_round(0).submission_count == 2
    same_reads(party, reference, 1)


def test_a_state_rewound_to_the_same_height_is_never_answered_from_memory(
    chain: Chain, accounts: Sequence[str], deploy: Deployer
) -> None:
    """A node control (``evm_revert``; eth-tester's snapshots on the embedded chain) may put
    other state at a height already cached: the cache forgets it and asks again."""
    cached = second_connection(chain)
    address = deploy(3).address
    party = LedgerClient.at(cached, address, sender=accounts[0])
    party.open_round(0, 2, h("global"))
    provider = getattr(chain.wire.transport, "provider", None)
    tester = getattr(provider, "ethereum_tester", None)
    snapshot = tester.take_snapshot() if tester is not None else cached.rpc("evm_snapshot")
    party.as_sender(accounts[1]).submit(0, h("model 1"))
    height = cached.view_block()
    assert party.get_round(0).included_indices == (0,)
    if tester is not None:
        tester.revert_to_snapshot(snapshot)
    else:
        assert cached.rpc("evm_revert", snapshot)
    party.as_sender(accounts[2]).submit(0, h("model 2"))  # another block at the same height
    assert cached.view_block() == height
    assert party.get_round(0).included_indices == (1,)
    same_reads(party, LedgerClient.at(chain, address), 1)


def test_answers_are_never_shared_across_chains() -> None:
    """Two chains at the same height with a contract at the same address: each chain's cache
    holds its own node's answers only (the threat model: one cache per node connection)."""
    first, second = connect_embedded(4), connect_embedded(4)
    ledgers = []
    for chain, config in ((first, CONFIG_HASH), (second, h("another job"))):
        chain.enable_view_cache()
        accounts = chain.accounts()
        ledgers.append(
            deploy_ledger(chain, accounts[0], accounts[1:3], [1, 2], PUBLIC_KEY_HASH, config)
        )
    assert ledgers[0].address == ledgers[1].address
    assert first.view_block() == second.view_block()
    assert bytes(ledgers[0]._call("configHash")) == CONFIG_HASH
    assert bytes(ledgers[1]._call("configHash")) == h("another job")
    assert bytes(ledgers[0]._call("configHash")) == CONFIG_HASH  # from memory, its own
    assert first.views.hits == 1 and second.views.hits == 0


@pytest.mark.parametrize("block", ["latest", "pending"])
def test_a_call_not_pinned_to_the_head_is_never_cached(block: str) -> None:
    chain = connect_embedded(4)
    chain.enable_view_cache()
    accounts = chain.accounts()
    ledger = deploy_ledger(chain, accounts[0], accounts[1:3], [1, 2], PUBLIC_KEY_HASH, CONFIG_HASH)
    call = {"to": ledger.address, "data": ledger.encode_call("roundCount")}
    for _ in range(2):
        assert calls(chain, lambda: chain.call(call, block)) == 1
    assert chain.views.hits == 0
