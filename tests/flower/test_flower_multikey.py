"""Yang et al.'s multi-key secure aggregation on Flower: the clients' side runs in their ClientApps
(``multikey_mod``), the server learns only the sum.

One job on the simulation engine: 5 clients, 2 rounds, and the clients of partitions 3 and 4 drop
out of round 1 (their ClientApp fails). Checked against plaintext FedAvg computed here, and against
everything the ServerApp ever received (every reply passes through its RecordingGrid).
"""

from __future__ import annotations

import numpy as np
import pytest

from hefl.data import SplitConfig
from hefl.flower.multikey import RECORD, MultiKeySpec
from hefl.flower.simulate import simulate_multikey
from hefl.learning import linear
from hefl.secagg.quantise import Quantiser

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
        tmp_path_factory.mktemp("multikey"),
        split=SplitConfig(participants=CLIENTS, n_samples=None, seed=0),
        update_hook=MultiKeyDropouts(frozenset(DROPPED), round=1),
    )


def test_two_dropouts_of_five_still_aggregate_to_plaintext_fedavg(job):
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

    allowed = {"pk", "size", "ciphertext", "response"}
    kinds: dict[str, int] = dict.fromkeys(allowed, 0)
    assert job.received, "the ServerApp received nothing"
    for message in job.received:
        if message.has_error():
            continue  # the dropped clients' failures: an error text, no content
        content = message.content
        assert not content.array_records and not content.metric_records
        assert set(content.config_records) == {RECORD}
        record = content.config_records[RECORD]
        assert set(record) <= allowed, set(record)
        for key, value in record.items():
            kinds[key] += 1
            if isinstance(value, bytes):
                assert not any(chunk in value for chunk in plain)
    # 5 keys; ciphertexts: 5 in round 0, 3 + 3 in round 1 (the first attempt and the restart).
    assert kinds["pk"] == CLIENTS and kinds["size"] == CLIENTS
    assert kinds["ciphertext"] == 5 + 3 + 3
    assert kinds["response"] == 5 + 3
    errors = [m for m in job.received if m.has_error()]
    assert len(errors) == len(DROPPED)
