"""The multi-process agents' loops in process on the embedded chain: waiting is visible (on whom,
for what), a vote is never sent into a decided round, and the party gives up a round without
verdict by the contract's void rule after its stated timeout, then redoes it."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from test_secrets import PASSWORD, participants

from hefl.agents.identity import KEYSTORE
from hefl.agents.network import ParticipantDaemon, PartyDaemon, Schedule, Waiting, setup_job
from hefl.agents.roles import Vote
from hefl.chain import LedgerClient, LocalBlobStore, RoundStatus, connect_embedded
from hefl.learning.strategy import LearningConfig


def test_waiting_is_said_when_it_changes_and_every_interval(caplog) -> None:
    now = [0.0]
    waiting = Waiting("C", every_s=30.0, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="hefl.agents"):
        waiting.on("for votes from participants 1, 2")
        now[0] = 10.0
        waiting.on("for votes from participants 1, 2")  # same, too soon: quiet
        now[0] = 31.0
        waiting.on("for votes from participants 1, 2")  # same, an interval later: said again
        waiting.on("for votes from participants 2")  # changed: said at once
    assert [r.getMessage() for r in caplog.records] == [
        "C: waiting for votes from participants 1, 2",
        "C: waiting for votes from participants 1, 2",
        "C: waiting for votes from participants 2",
    ]


def test_the_party_voids_a_round_without_verdict_after_the_timeout_and_redoes_it(
    tmp_path: Path, caplog
) -> None:
    chain = connect_embedded()
    identities = participants(tmp_path)
    blobs = LocalBlobStore(tmp_path / "blobs")
    job = setup_job(
        chain, tmp_path / "party", PASSWORD, identities, blobs,
        schedule=Schedule(tau=2, rounds=1, void_timeout_s=120), learning=LearningConfig(eta=0.1),
        key_bits=1024, allow_insecure_keys=True, fund_wei=10**18,
    )  # fmt: skip
    offset = [0.0]
    party_address = chain.add_keystore(tmp_path / "party" / KEYSTORE, PASSWORD)
    party = PartyDaemon(
        tmp_path / "party",
        LedgerClient.at(chain, job.ledger, sender=party_address),
        blobs,
        job,
        clock=lambda: time.time() + offset[0],
        password=PASSWORD,
    )
    daemons = []
    for i, identity in enumerate(identities):
        chain.add_keystore(tmp_path / f"p{i}" / KEYSTORE, PASSWORD)
        ledger = LedgerClient.at(chain, job.ledger, sender=identity.address)
        daemons.append(ParticipantDaemon(tmp_path / f"p{i}", ledger, blobs, job))
    with caplog.at_level(logging.INFO, logger="hefl.agents"):
        party.step()  # opens round 0
        party.step()
        assert "C: waiting for submissions to round 0 from participants 0, 1, 2" in caplog.text
        for daemon in daemons:
            daemon.step()  # all submit
        party.step()  # commits
        assert party.ledger.get_round(0).status is RoundStatus.AGGREGATED
        daemons[0].step()  # attests; participants 1 and 2 stay silent
        party.step()
        assert "C: waiting for votes on round 0 from participants 1, 2" in caplog.text
        assert "void in" in caplog.text
        # The timeout passes on the chain's clock and the party's: the party voids and redoes.
        record = party.ledger.get_round(0)
        tester = chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
        latest = int(chain.w3.eth.get_block("latest")["timestamp"])
        tester.time_travel(max(latest, record.aggregated_at) + 125)
        offset[0] = max(latest, record.aggregated_at) + 125 - time.time()
        party.step()
    assert party.ledger.get_round(0).status is RoundStatus.VOIDED
    assert "round 0 voided: no verdict 120 s after the commit" in caplog.text
    # A late replica sends no vote into the voided round.
    assert daemons[1].agent.verify(0) is Vote.DECIDED
    party.step()  # redoes the round from the same t
    redo = party.ledger.get_round(1)
    assert redo.status is RoundStatus.OPEN and redo.iteration == 0
    assert np.all(redo.global_model_hash == record.global_model_hash)
