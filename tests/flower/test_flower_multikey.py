"""Yang et al.'s multi-key secure aggregation on Flower: the clients' side runs in their ClientApps
(``multikey_mod``), the server learns only the sum, and every round is recorded on FLLedger.

One job on the simulation engine with a real Anvil: 5 clients, 2 rounds, and the clients of
partitions 3 and 4 drop out of round 1 (their ClientApp fails). Checked against plaintext FedAvg
computed here, against the ledger (each client's message submitted from its own account, the
restart's attempt voided, every round final at the quorum, ``hefl verify`` and ``hefl history``
on the run directory), and against everything the ServerApp ever received (every reply passes
through its RecordingGrid).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from hefl.agents.envelope import Binding, BlobKind, unseal
from hefl.canonical import keccak256
from hefl.chain import LocalBlobStore
from hefl.cli.main import main
from hefl.data import SplitConfig
from hefl.flower.multikey import RECORD, MultiKeySpec
from hefl.flower.simulate import simulate_multikey
from hefl.learning import linear
from hefl.secagg.quantise import Quantiser
from hefl.secagg.wire import frame_client_id

from .faults import MultiKeyDropouts

pytestmark = pytest.mark.timeout(300)

CLIENTS, ROUNDS, TAU, ETA = 5, 2, 5, 0.05
DROPPED = {3, 4}  # partitions that drop out of round 1


def _fedavg_round(w: np.ndarray, parts, included) -> np.ndarray:
    """Eq. 5 over the included participants: Σ_i |D_i|/|D_S| · w_i, w_i after τ steps of Eq. 4."""
    sizes = {i: parts[i].size for i in included}
    total = sum(sizes.values())
    return sum(
        sizes[i] / total * linear.local_steps(w, parts[i].X, parts[i].y, ETA, TAU) for i in included
    )


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    spec = MultiKeySpec(
        clients=CLIENTS, rounds=ROUNDS, tau=TAU, eta=ETA, kappa1=512, q_bits=160,
        allow_insecure=True,
    )  # fmt: skip
    return simulate_multikey(
        spec,
        tmp_path_factory.mktemp("multikey") / "run",
        split=SplitConfig(participants=CLIENTS, n_samples=None, seed=0),
        update_hook=MultiKeyDropouts(frozenset(DROPPED), round=1),
    )


def test_two_dropouts_of_five_still_aggregate_to_plaintext_fedavg(job):
    assert job.error is None, job.error
    first, second = job.rounds
    assert first.included == (0, 1, 2, 3, 4) and first.attempts == 1
    # Round 1 restarts over the three clients that sent their ciphertexts (§4.2).
    assert len(second.included) == CLIENTS - len(DROPPED) and second.attempts == 2

    parts = job.data.parts
    w0 = np.zeros(job.data.model_size)
    w1 = _fedavg_round(w0, parts, range(CLIENTS))
    w2 = _fedavg_round(w1, parts, sorted(set(range(CLIENTS)) - DROPPED))
    # Quantisation (s = 2^16) errs by at most |S|/(2s) per coordinate of the sum, renormalised.
    bound = Quantiser().tolerance(CLIENTS) * 2 * CLIENTS / len(second.included)
    assert np.max(np.abs(first.model - w1)) <= Quantiser().tolerance(CLIENTS)
    assert np.max(np.abs(second.model - w2)) <= bound
    assert np.max(np.abs(second.model - w1)) > 100 * bound  # the round did move the model


def test_the_server_receives_no_individual_update(job):
    parts = job.data.parts
    total = sum(p.size for p in parts)
    # What each client would reveal in the clear in round 0 (w = 0), in every float64 byte order.
    updates = [
        (linear.local_steps(np.zeros(job.data.model_size), p.X, p.y, ETA, TAU)) * (p.size / total)
        for p in parts
    ]
    plain = [u.astype(order).tobytes() for u in updates for order in ("<f8", ">f8")]

    allowed = {"pk", "size", "ciphertext", "extra", "response"}
    # Besides the protocol: each node's identity (its job check) and its vote on each round.
    ledger_keys = {"address", "index", "pid", "vote"}
    kinds: dict[str, int] = dict.fromkeys(allowed | ledger_keys, 0)
    assert job.received, "the ServerApp received nothing"
    for message in job.received:
        if message.has_error():
            continue  # the dropped clients' failures: an error text, no content
        content = message.content
        assert not content.array_records and not content.metric_records
        ((name, record),) = content.config_records.items()
        assert (name, set(record) <= (allowed if name == RECORD else ledger_keys)) == (name, True)
        for key, value in record.items():
            kinds[key] += 1
            if isinstance(value, bytes):
                assert not any(chunk in value for chunk in plain)
    # 5 keys; ciphertexts: 5 in round 0, 3 + 3 in round 1 (the first attempt and the restart).
    assert kinds["pk"] == CLIENTS and kinds["size"] == CLIENTS
    assert kinds["ciphertext"] == 5 + 3 + 3
    assert kinds["response"] == 5 + 3
    # Identities once; two finalised rounds voted on by all five (a vote names its voter).
    assert kinds["index"] == CLIENTS and kinds["vote"] == 2 * CLIENTS
    assert kinds["address"] == CLIENTS + 2 * CLIENTS
    errors = [m for m in job.received if m.has_error()]
    assert len(errors) == len(DROPPED)


def _history(job) -> dict:
    return json.loads((job.out / "history.json").read_text())


def test_every_round_is_final_on_the_ledger_and_the_restart_voided_its_attempt(job):
    history = _history(job)
    rounds = history["rounds"]
    # Ledger rounds: round 0; round 1's first attempt (voided: two clients sent nothing); its
    # restart over the other three.
    assert [r["status"] for r in rounds] == ["finalised", "voided", "finalised"]
    assert [r["iteration"] for r in rounds] == [0, TAU, TAU]  # the restart reopens at the same t
    assert rounds[0]["included"] == list(range(CLIENTS))
    assert rounds[2]["included"] == sorted(set(range(CLIENTS)) - DROPPED)
    assert [r.ledger_round for r in job.rounds] == [0, 2] and job.rounds[1].voided == (1,)
    # The voided attempt holds the three messages that did arrive, nothing was committed.
    assert len(rounds[1]["submissions"]) == 3 and rounds[1]["aggregate_hash"] is None
    # n = N + 1 = 6 nodes, F = 1: the quorum is ⌈(6 + 1 + 1)/2⌉ = 4 (the party's commit and three
    # attestations at least); every client attests, none disputes.
    for entry in (rounds[0], rounds[2]):
        assert entry["votes"] >= 4 and entry["dispute_count"] == 0
        assert entry["attest_count"] >= 3


def test_each_submission_is_its_senders_message_and_the_transcript_covers_exactly_them(job):
    """What the chain names is what the clients sent from their own accounts: each submission's
    blob, opened against (ledger, round, sender), is a multi-key frame naming that sender's
    index, and the committed transcript lists exactly those messages' hashes and |D_S|."""
    history = _history(job)
    people = {p["address"]: p for p in history["participants"]}
    blobs = LocalBlobStore(job.out / "blobs")
    deployment = history["deployment"]

    def blob(hex_hash: str) -> bytes:
        return blobs.get(bytes.fromhex(hex_hash[2:]))

    for g in (0, 2):
        entry = history["rounds"][g]
        hashes = []
        for submission in entry["submissions"]:
            sender = submission["participant"]
            binding = Binding(deployment["chain_id"], deployment["address"], g, sender)
            message = unseal(blob(submission["model_hash"]), binding, BlobKind.MODEL)
            assert frame_client_id(message) == people[sender]["index"]
            hashes.append("0x" + keccak256(message).hex())
        transcript = json.loads(blob(entry["aggregate_hash"]))
        assert transcript["message_hashes"] == hashes
        assert transcript["included_size"] == sum(
            people[s["participant"]]["data_size"] for s in entry["submissions"]
        )


def test_hefl_verify_and_history_work_on_the_run_directory(job, capsys):
    assert main(["verify", str(job.out)]) == 0
    printed = capsys.readouterr().out
    assert main(["history", "--run", str(job.out)]) == 0
    table = capsys.readouterr().out
    assert printed and table.count("finalised") >= 2, (printed, table)
