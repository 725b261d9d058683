"""The multi-key ClientApp mod on its own, called as Flower's runtime calls a mod: what it refuses.

The server's side is :class:`hefl.secagg.multikey.MultiKeyServer` itself (κ1 = 512, the paper's
test size); the wrapped ClientApp is a stub that records what it was handed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MessageType,
    MetricRecord,
    RecordDict,
)
from flwr.supercore.task_identity import TaskIdentity

from hefl.errors import LoneClientError, ProtocolError
from hefl.flower import wire
from hefl.flower.multikey import (
    CONFIG,
    ENCRYPT,
    METRICS,
    MODEL,
    NUM_EXAMPLES,
    RECORD,
    RESPOND,
    SETUP,
    UPDATE,
    make_multikey_mod,
)
from hefl.secagg.multikey import MultiKeyServer

N_PARAMS = 4
UPDATE_VALUE = np.array([0.25, -0.5, 0.125, 0.0])


@pytest.fixture(autouse=True)
def server_identity(monkeypatch):
    """The identity Flower's runtime sets in its process before messages are built."""
    for name, value in (("_task_id", 1), ("_run_id", 1), ("_node_id", 0)):
        monkeypatch.setattr(TaskIdentity, name, value)


@pytest.fixture(scope="module")
def server():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MultiKeyServer.sys_gen(N_PARAMS, 2, kappa1=512, q_bits=128, allow_insecure=True)


class Node:
    """One SuperNode: its Context (state kept between messages) and the wrapped ClientApp."""

    def __init__(self) -> None:
        self.context = Context(1, 7, {}, RecordDict(), {})
        self.handed: list[RecordDict] = []
        self.mod = make_multikey_mod(allow_insecure=True)

    def app(self, message: Message, context: Context) -> Message:
        self.handed.append(message.content)
        records: dict = {METRICS: MetricRecord({NUM_EXAMPLES: 10})}
        if MODEL in message.content.array_records:
            records[UPDATE] = ArrayRecord([UPDATE_VALUE])
        return Message(RecordDict(records), reply_to=message)

    def send(self, payload: dict) -> ConfigRecord:
        message = Message(
            RecordDict({RECORD: ConfigRecord(payload)}),
            dst_node_id=7,
            message_type=MessageType.TRAIN,
        )
        reply = self.mod(message, self.context, self.app)
        assert not reply.content.array_records  # nothing in the clear leaves the node
        return reply.content.config_records[RECORD]


def _setup(server: MultiKeyServer, node: Node, cid: int) -> None:
    reply = node.send({"stage": SETUP, "para": server.para.to_json(), "client_id": cid})
    assert reply["size"] == 10
    server.register(cid, int(wire.get_str(reply, "pk"), 16))


def test_a_round_through_the_mod_and_a_second_answer_refused(server):
    nodes = [Node(), Node()]
    for cid, node in enumerate(nodes):
        _setup(server, node, cid)
    model = np.array([1.0, 2.0, 3.0, 4.0])
    offer = server.begin_round(0, {0, 1}, model)
    for cid, node in enumerate(nodes):
        reply = node.send(
            {"stage": ENCRYPT, "round": 0, "attempt": 0, "pk_s": hex(offer.pk_s), "tau": 5,
             "eta": 0.05, "ridge": 0.0, "total-size": 20, "model": offer.models[cid]}
        )  # fmt: skip
        server.receive(wire.get_bytes(reply, "ciphertext"))
        handed = node.handed[-1]
        (seen,) = handed.array_records[MODEL].to_numpy_ndarrays()
        np.testing.assert_array_equal(seen, model)  # DSE on the node gave the app the model
        assert handed.config_records[CONFIG]["tau"] == 5
    challenge = server.chel_gen()
    responses = {}
    for cid, node in enumerate(nodes):
        payload = {"stage": RESPOND, "round": 0, "attempt": 0, "challenge": hex(challenge)}
        responses[cid] = int(wire.get_str(node.send(payload), "response"), 16)
        with pytest.raises(ProtocolError, match="already answered"):
            node.send(payload)  # ResGen once per attempt: no Diffie–Hellman oracle
    total = server.finish(responses)
    np.testing.assert_allclose(total, 2 * UPDATE_VALUE, atol=server.para.quantiser.tolerance(2))


def test_the_lone_client_and_a_challenge_for_another_attempt_are_refused(server):
    node = Node()
    _setup(server, node, 0)
    pk = int(server.public_keys[0])
    calls = len(node.handed)
    with pytest.raises(LoneClientError):
        node.send(
            {"stage": ENCRYPT, "round": 1, "attempt": 0, "pk_s": hex(pk), "tau": 5, "eta": 0.05,
             "ridge": 0.0, "total-size": 10, "model": b"\0" * 64}
        )  # fmt: skip
    assert len(node.handed) == calls  # the wrapped ClientApp never ran
    with pytest.raises(ProtocolError, match="encrypted for round"):
        node.send({"stage": RESPOND, "round": 1, "attempt": 3, "challenge": hex(pk)})
    with pytest.raises(ProtocolError, match="unknown stage"):
        node.send({"stage": "unmask"})


def test_other_messages_pass_through_to_the_client_app():
    node = Node()
    message = Message(RecordDict(), dst_node_id=7, message_type=MessageType.QUERY)
    reply = node.mod(message, node.context, node.app)
    assert reply.content.metric_records[METRICS][NUM_EXAMPLES] == 10
    assert len(node.handed) == 1
