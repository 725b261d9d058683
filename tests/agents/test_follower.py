"""A waiting agent wakes at the chain's next block, and backs off only while nothing happens.

Real chain (eth-tester), with the Follower's clock and sleep replaced by a counter so the test
asserts what it does, never how long it takes."""

from __future__ import annotations

import pytest

from hefl.agents.network import HEAD_CHECKS, Follower, Schedule
from hefl.chain import connect_embedded, deploy_ledger


class FakeTime:
    """A clock that advances only when slept on; ``on_sleep`` runs at every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0
        self.on_sleep = lambda: None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1
        self.on_sleep()


@pytest.fixture
def setting():
    chain = connect_embedded(5)
    accounts = chain.accounts()
    ledger = deploy_ledger(chain, accounts[0], accounts[1:4], [1, 2, 3], b"\1" * 32, b"\2" * 32)
    schedule = Schedule(poll_min_s=0.2, poll_max_s=1.6)
    fake = FakeTime()
    follower = Follower(ledger, schedule, clock=fake.clock, sleep=fake.sleep)

    def mine() -> None:
        chain.transact({"from": accounts[0], "to": accounts[4], "value": 1})

    return follower, fake, mine


def test_a_new_block_wakes_the_follower_at_the_next_head_check(setting) -> None:
    follower, fake, mine = setting
    fake.on_sleep = lambda: mine() if fake.sleeps == 2 else None
    follower.wait()
    assert fake.sleeps == 2  # woke at the head check right after the block, not after a back-off
    assert fake.now == pytest.approx(2 * 0.2 / HEAD_CHECKS)
    assert follower.delay == 0.2


def test_without_blocks_the_back_off_doubles_up_to_its_maximum(setting) -> None:
    follower, fake, mine = setting
    waited = []
    for _ in range(5):
        start = fake.now
        follower.wait()
        waited.append(round(fake.now - start, 6))
    assert waited == [0.2, 0.4, 0.8, 1.6, 1.6]
    # Any block resets the back-off to its minimum, at the first head check.
    fake.on_sleep = mine
    before = fake.sleeps
    follower.wait()
    assert (follower.delay, fake.sleeps - before) == (0.2, 1)
