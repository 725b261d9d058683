"""A waiting agent learns of new blocks through a block filter where the node offers one, and
falls back to polling the head when the node refuses filters or keeps losing them.

On a real Anvil node, with the Follower's clock and sleep replaced by a counter (the tests assert
what it does, never how long it takes) and the node's requests counted through the chain
wrapper (:attr:`hefl.chain.Chain.requests`). A node that refuses or drops filters is played by a
transport wrapped around the chain's own (:class:`hefl.chain.wire.Wire`), answering those methods
with the error a node would give.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from test_follower import FakeTime

from contract_testing import anvil_node
from hefl.agents.network import Follower, Schedule
from hefl.chain import Chain, LedgerClient, connect_rpc, deploy_ledger
from hefl.chain.node import MAX_FILTER_LOSSES, NewBlocks

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def anvil_url() -> Iterator[str]:
    yield from anvil_node(6)


def answering(chain: Chain, answer: Callable[[str], dict[str, Any] | None]) -> None:
    """The chain's node as seen through its wire: ``answer(method)``'s response where it gives
    one, the real node's otherwise."""
    transport = chain.wire.transport

    def faulty(method: str, params: list[Any]) -> Any:
        return answer(method) or transport(method, params)

    chain.wire.transport = faulty


def refusing(refuse: Callable[[str], bool]) -> Callable[[str], dict[str, Any] | None]:
    """A JSON-RPC error for the methods ``refuse`` names, as a node without filters (or one that
    lost them) answers."""

    def answer(method: str) -> dict[str, Any] | None:
        if not refuse(method):
            return None
        message = f"the method {method} does not exist/is not available"
        return {"jsonrpc": "2.0", "id": 0, "error": {"code": -32601, "message": message}}

    return answer


class Setting:
    """A ledger on a fresh connection to the node, a Follower on fake time, a way to mine."""

    def __init__(self, url: str, refuse: Callable[[str], bool] | None = None) -> None:
        self.chain: Chain = connect_rpc(url)
        if refuse is not None:
            answering(self.chain, refusing(refuse))
        accounts = self.chain.accounts()
        self.accounts = accounts
        self.ledger: LedgerClient = deploy_ledger(
            self.chain, accounts[0], accounts[1:4], [1, 2, 3], b"\1" * 32, b"\2" * 32
        )
        self.fake = FakeTime()
        self.follower = Follower(
            self.ledger,
            Schedule(poll_min_s=0.2, poll_max_s=1.6),
            clock=self.fake.clock,
            sleep=self.fake.sleep,
        )

    def mine(self) -> None:
        self.chain.transact({"from": self.accounts[0], "to": self.accounts[5], "value": 1})

    def mine_at_sleep(self, n: int) -> None:
        start = self.fake.sleeps
        self.fake.on_sleep = lambda: self.mine() if self.fake.sleeps - start == n else None

    def requests_while(self, action: Callable[[], object]) -> dict[str, int]:
        before = dict(self.chain.requests)
        action()
        after = self.chain.requests
        return {k: after[k] - before.get(k, 0) for k in after if after[k] > before.get(k, 0)}


def test_a_new_block_wakes_the_waiter_through_the_filter_without_polling_the_head(
    anvil_url: str,
) -> None:
    s = Setting(anvil_url)
    assert s.follower.blocks.mode == "filter"
    s.mine_at_sleep(2)
    spent = s.requests_while(s.follower.wait)
    assert s.fake.sleeps == 2  # woke at the look right after the block
    assert spent["eth_getFilterChanges"] == 2
    assert "eth_blockNumber" not in spent
    # Without blocks, the clock still drives the back-off: a deadline's step runs on time.
    s.fake.on_sleep = lambda: None
    waited = []
    for _ in range(3):
        start = s.fake.now
        spent = s.requests_while(s.follower.wait)
        waited.append(round(s.fake.now - start, 6))
        assert set(spent) == {"eth_getFilterChanges"}
    assert waited == [0.2, 0.4, 0.8]
    s.follower.close()
    assert s.follower.blocks.filter_id is None


def test_a_node_refusing_filters_is_polled_for_its_head(anvil_url: str) -> None:
    s = Setting(anvil_url, refuse=lambda method: method == "eth_newBlockFilter")
    assert s.follower.blocks.mode == "poll"
    s.mine_at_sleep(3)
    spent = s.requests_while(s.follower.wait)
    assert s.fake.sleeps == 3 and s.follower.delay == 0.2
    assert spent["eth_blockNumber"] == 3 and "eth_getFilterChanges" not in spent


def test_a_filter_dropped_behind_the_waiters_back_is_installed_again(anvil_url: str) -> None:
    s = Setting(anvil_url)
    blocks = s.follower.blocks
    first = blocks.filter_id
    s.chain.w3.eth.uninstall_filter(first)  # as a restarted node forgets it
    spent = s.requests_while(s.follower.wait)
    # The lost filter wakes the agent (blocks may have been missed) and another is installed.
    assert s.fake.sleeps == 1 and blocks.mode == "filter" and blocks.filter_id != first
    assert spent["eth_newBlockFilter"] == 1
    s.mine_at_sleep(2)
    spent = s.requests_while(s.follower.wait)
    assert s.fake.sleeps == 3 and "eth_blockNumber" not in spent


def test_a_node_that_keeps_losing_filters_is_polled_instead(anvil_url: str) -> None:
    s = Setting(anvil_url, refuse=lambda method: method == "eth_getFilterChanges")
    blocks = s.follower.blocks
    for loss in range(1, MAX_FILTER_LOSSES + 1):
        assert blocks.mode == "filter"
        s.follower.wait()
        assert s.fake.sleeps == loss  # every loss wakes the agent once, never an exception
    assert blocks.mode == "poll" and blocks.filter_id is None
    before = s.fake.sleeps
    s.mine_at_sleep(2)
    spent = s.requests_while(s.follower.wait)
    assert s.fake.sleeps - before == 2 and spent["eth_blockNumber"] == 2
    assert "eth_getFilterChanges" not in spent


def test_an_answer_that_is_not_a_list_counts_as_a_lost_filter(anvil_url: str) -> None:
    chain = connect_rpc(anvil_url)
    blocks = NewBlocks(chain)

    def nonsense(method: str) -> dict[str, Any] | None:
        if method == "eth_getFilterChanges":
            return {"jsonrpc": "2.0", "id": 0, "result": "0xdeadbeef"}
        return None

    answering(chain, nonsense)
    assert blocks.arrived() is True and blocks.losses == 1 and blocks.mode == "filter"
    blocks.close()
