"""The multi-key mod on a ledger, called as Flower's runtime calls a mod: what a client checks
against the chain before it answers, what it puts on chain from its own account, and how it votes
as a replica on the server's transcript (an honest one is final, a wrong |D_S| is disputed).

A 2-client multi-key job is prepared on a real Anvil (:func:`prepare_multikey_job`, a 512-bit
group: this is about the checks, not key strength); the server's side is the job's own
:class:`MultiKeyServer` and its computing party opening ledger rounds; the wrapped ClientApp is a
stub that returns a fixed update.
"""

from __future__ import annotations

import json
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

from hefl.agents.envelope import BlobKind, unseal
from hefl.agents.identity import KEYSTORE
from hefl.agents.roles import ComputingPartyAgent, open_submission, round_binding
from hefl.canonical import keccak256
from hefl.chain import LedgerClient, LocalBlobStore, RoundStatus, connect_rpc
from hefl.data import SplitConfig, load_dataset, prepare
from hefl.errors import ConfigError, ProtocolError, SerializationError
from hefl.flower import client, wire
from hefl.flower.multikey import (
    ENCRYPT,
    METRICS,
    MODEL,
    NUM_EXAMPLES,
    RECORD,
    RESPOND,
    RUN_ALLOW_INSECURE,
    SERVER_FILE,
    SETUP,
    UPDATE,
    MultiKeySpec,
    MultiKeyTranscript,
    load_multikey_server,
    make_multikey_mod,
    prepare_multikey_job,
)
from hefl.flower.server import committed_blobs
from hefl.flower.simulate import loopback_chain, run_config_for
from hefl.learning.blobs import pack_bundle
from hefl.learning.plain import encode_plain_vector
from hefl.learning.secure import TRANSCRIPT_FORMAT, SecureAggregationStrategy
from hefl.learning.strategy import LocalUpdate
from hefl.secagg.multikey import MultiKeyClient, MultiKeyServer, SysPara

pytestmark = pytest.mark.timeout(180)

SPEC = MultiKeySpec(clients=2, rounds=1, tau=2, kappa1=512, q_bits=160, allow_insecure=True)
PASSWORD = "multikey-ledger-test"


@pytest.fixture(autouse=True)
def server_identity(monkeypatch):
    """The identity Flower's runtime sets in its process before messages are built."""
    for name, value in (("_task_id", 1), ("_run_id", 1), ("_node_id", 0)):
        monkeypatch.setattr(TaskIdentity, name, value)


def _job_on_anvil(root, spec: MultiKeySpec):
    """A prepared multi-key job on a fresh Anvil: (prepared, run config, server, party agent)."""
    split = SplitConfig(participants=spec.clients, n_samples=None, seed=0)
    data = prepare(load_dataset("diabetes"), split)
    with loopback_chain(None) as url:
        chain = connect_rpc(url)
        prepared = prepare_multikey_job(spec, chain, root, PASSWORD, data)
        (root / "password").write_text(PASSWORD)
        config = run_config_for(prepared, url, **{RUN_ALLOW_INSECURE: True})
        party = chain.add_keystore(prepared.party_dir / KEYSTORE, PASSWORD)
        ledger = LedgerClient.at(chain, prepared.job.ledger, sender=party)
        server = load_multikey_server(prepared.party_dir, prepared.job, spec, PASSWORD)
        agent = ComputingPartyAgent(
            MultiKeyTranscript(spec.learning, data.sizes), ledger, LocalBlobStore(root / "blobs")
        )
        yield prepared, config, server, agent


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    yield from _job_on_anvil(tmp_path_factory.mktemp("multikey-ledger"), SPEC)


class Node:
    """One SuperNode holding participant ``index`` of the job; the wrapped app returns a fixed
    update of the model's size."""

    def __init__(self, job, index: int) -> None:
        prepared, config, _, _ = job
        node_config = {wire.NODE_PARTICIPANT_DIR: str(prepared.participant_dir(index))}
        self.context = Context(1, 7, node_config, RecordDict(), {})
        self.mod = make_multikey_mod(overrides=config)
        self.size = prepared.data.parts[index].size
        self.update = np.full(prepared.data.model_size, 0.001 * (index + 1))

    def app(self, message: Message, context: Context) -> Message:
        records: dict = {METRICS: MetricRecord({NUM_EXAMPLES: self.size})}
        if MODEL in message.content.array_records:
            records[UPDATE] = ArrayRecord([self.update])
        return Message(RecordDict(records), reply_to=message)

    def send(self, payload: dict) -> ConfigRecord:
        message = Message(
            RecordDict({RECORD: ConfigRecord(payload)}), dst_node_id=7,
            message_type=MessageType.TRAIN,
        )  # fmt: skip
        return self.mod(message, self.context, self.app).content.config_records[RECORD]


def test_keygen_only_under_the_jobs_syspara_and_the_ledgers_index(job):
    _, _, server, _ = job
    node = Node(job, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the insecure test size, on purpose
        other = MultiKeyServer.sys_gen(
            server.para.n_params, 2, kappa1=512, q_bits=160, allow_insecure=True
        ).para
    with pytest.raises(ProtocolError, match="not the one the job committed"):
        node.send({"stage": SETUP, "para": other.to_json(), "client_id": 0})
    with pytest.raises(ProtocolError, match="registers it as participant 0"):
        node.send({"stage": SETUP, "para": server.para.to_json(), "client_id": 1})
    reply = node.send({"stage": SETUP, "para": server.para.to_json(), "client_id": 0})
    assert wire.get_int(reply, "size") == node.size


def test_a_model_off_the_chain_is_refused_and_the_message_goes_on_chain_from_its_account(job):
    prepared, _, server, party = job
    nodes = [Node(job, 0), Node(job, 1)]
    for cid, node in enumerate(nodes):
        reply = node.send({"stage": SETUP, "para": server.para.to_json(), "client_id": cid})
        server.register(cid, int(wire.get_str(reply, "pk"), 16))
    model = np.linspace(-0.5, 0.5, prepared.data.model_size)
    g = party.open_round(encode_plain_vector(model), 0, SPEC.tau)
    common = {"stage": ENCRYPT, "round": 0, "ledger-round": g, "tau": SPEC.tau, "eta": SPEC.eta,
              "ridge": 0.0, "total-size": sum(prepared.data.sizes)}  # fmt: skip

    # The server sends another model than the one the round opened with: refused, nothing sent.
    offer = server.begin_round(0, {0, 1}, model + 1e-9, attempt=0)
    with pytest.raises(ProtocolError, match=f"not ledger round {g}'s global model"):
        nodes[0].send({**common, "attempt": 0, "pk_s": hex(offer.pk_s), "model": offer.models[0]})
    address = party.ledger.participants()[0].address
    assert not party.ledger.get_submission(g, address).submitted

    offer = server.begin_round(0, {0, 1}, model, attempt=1)
    reply = nodes[0].send(
        {**common, "attempt": 1, "pk_s": hex(offer.pk_s), "model": offer.models[0]}
    )
    submission = party.ledger.get_submission(g, address)
    assert submission.submitted  # from participant 0's own account
    sealed = wire.get_bytes(reply, "ciphertext")
    assert submission.model_hash == LocalBlobStore(prepared.blobs_dir).put(sealed)
    message = unseal(sealed, round_binding(party.ledger, g, address), BlobKind.MODEL)
    assert server.receive(message).client_id == 0
    # The same message sealed for another sender or round does not open.
    other = party.ledger.participants()[1].address
    with pytest.raises(SerializationError):
        unseal(sealed, round_binding(party.ledger, g, other), BlobKind.MODEL)


class InflatedTranscript(MultiKeyTranscript):
    """A dishonest server: its transcript claims |D_S| + 2 (a smaller step, Eq. 5's weight)."""

    def _transcript(self, local_models, sizes, total, excluded=()):
        return super()._transcript(local_models, [s + 1 for s in sizes], total, excluded)


def _one_round(job, strategy: MultiKeyTranscript, r: int) -> tuple[int, list[str]]:
    """A whole round through the mods: the party opens it, both clients encrypt and submit,
    answer the challenge; the party commits ``strategy``'s transcript; both clients vote as
    :func:`hefl.flower.client.verify` does in the ClientApp's evaluate handler."""
    prepared, config, server, honest = job
    party = ComputingPartyAgent(strategy, honest.ledger, honest.blobs)
    ledger = party.ledger
    for g in range(ledger.round_count()):  # a round the previous test left open
        if ledger.get_round(g).status is RoundStatus.OPEN:
            party.void(g, "left open by a previous test")
    nodes = [Node(job, 0), Node(job, 1)]
    for cid, node in enumerate(nodes):
        reply = node.send({"stage": SETUP, "para": server.para.to_json(), "client_id": cid})
        server.register(cid, int(wire.get_str(reply, "pk"), 16))
    model = np.zeros(prepared.data.model_size)
    g = party.open_round(encode_plain_vector(model), 0, SPEC.tau)
    offer = server.begin_round(r, {0, 1}, model)
    messages = []
    for cid, node in enumerate(nodes):
        reply = node.send(
            {"stage": ENCRYPT, "round": r, "attempt": 0, "ledger-round": g, "tau": SPEC.tau,
             "eta": SPEC.eta, "ridge": 0.0, "total-size": sum(prepared.data.sizes),
             "pk_s": hex(offer.pk_s), "model": offer.models[cid]}
        )  # fmt: skip
        party.blobs.put(wire.get_bytes(reply, "ciphertext"))
        address = ledger.participants()[cid].address
        update = open_submission(ledger, party.store, g, ledger.get_submission(g, address))
        server.receive(update.model)
        messages.append(update.model)
    challenge = hex(server.chel_gen())
    responses = {
        cid: int(wire.get_str(node.send({"stage": RESPOND, "round": r, "attempt": 0,
                                         "challenge": challenge}), "response"), 16)
        for cid, node in enumerate(nodes)
    }  # fmt: skip
    strategy.settle(messages, server.finish(responses))
    party.commit(g)
    blobs = committed_blobs(ledger, party.blobs, g)
    votes = []
    for index in range(2):
        node_config = {wire.NODE_PARTICIPANT_DIR: str(prepared.participant_dir(index))}
        participant = client.load_participant(config, node_config)
        votes.append(client.verify(participant, g, blobs)["vote"])
    return g, votes


def test_the_clients_attest_an_honest_transcript_and_dispute_a_wrong_one(job):
    prepared, _, _, party = job
    sizes = prepared.data.sizes
    g, votes = _one_round(job, MultiKeyTranscript(SPEC.learning, sizes), r=5)
    # n = 3 nodes, F = 0, q = 2: the party's commit and one attestation finalise the round.
    assert votes[0] == "attested" and votes[1] in ("attested", "decided without this vote")
    assert party.ledger.get_round(g).status is RoundStatus.FINALISED

    g, votes = _one_round(job, InflatedTranscript(SPEC.learning, sizes), r=6)
    assert votes[0] == "disputed" and votes[1] in ("disputed", "decided without this vote")
    record = party.ledger.get_round(g)
    assert record.status is RoundStatus.DISPUTED and record.attest_count == 0


# --- a registered client outside the online set submits anyway ---------------------------------
SPEC3 = MultiKeySpec(clients=3, rounds=1, tau=2, kappa1=512, q_bits=160, allow_insecure=True)


@pytest.fixture(scope="module")
def job3(tmp_path_factory):
    """A 3-client job: S = {0, 1} leaves client 2 out, which is what the intruder exploits."""
    yield from _job_on_anvil(tmp_path_factory.mktemp("multikey-ledger-3"), SPEC3)


class Intruder(Node):
    """A dishonest client (test only): left out of S, it still encrypts an update under pk_S
    with its own key and submits the well-formed message to the attempt's ledger round from its
    own account."""

    def __init__(self, job, index: int) -> None:
        super().__init__(job, index)
        self.index = index

    def intrude(self, job, r: int, g: int, pk_s: int) -> bytes:
        prepared, config, _, _ = job
        state = self.context.state.config_records[RECORD]
        para = SysPara.from_json(wire.get_str(state, "para"), allow_insecure=True)
        key = MultiKeyClient(
            wire.get_int(state, "client_id"), para, int(wire.get_str(state, "sk"), 16)
        )
        key.begin_round(r, pk_s, attempt=0)
        message = key.enc(np.full(prepared.data.model_size, 0.5))
        node_config = {wire.NODE_PARTICIPANT_DIR: str(prepared.participant_dir(self.index))}
        participant = client.load_participant(config, node_config)
        store = wire.MemoryBlobStore()
        store.put(encode_plain_vector(np.zeros(prepared.data.model_size)))
        participant.agent(store).deliver(g, LocalUpdate(model=message, extra=pack_bundle([])))
        return message


def test_a_client_outside_the_online_set_that_submits_anyway_is_left_out(job3):
    """The round still finalises, every replica attests, and the model follows Eq. 5 over
    S = {0, 1} alone: w + (|D|/|D_S|)·(v_0 + v_1), with v_i the stub's fixed update."""
    prepared, config, server, party = job3
    sizes = prepared.data.sizes
    ledger = party.ledger
    nodes = [Node(job3, 0), Node(job3, 1), Intruder(job3, 2)]
    for cid, node in enumerate(nodes):
        reply = node.send({"stage": SETUP, "para": server.para.to_json(), "client_id": cid})
        server.register(cid, int(wire.get_str(reply, "pk"), 16))
    model = np.zeros(prepared.data.model_size)
    g = party.open_round(encode_plain_vector(model), 0, SPEC3.tau)
    offer = server.begin_round(0, {0, 1}, model)
    messages = []
    for cid in (0, 1):
        reply = nodes[cid].send(
            {"stage": ENCRYPT, "round": 0, "attempt": 0, "ledger-round": g, "tau": SPEC3.tau,
             "eta": SPEC3.eta, "ridge": 0.0, "total-size": sum(sizes),
             "pk_s": hex(offer.pk_s), "model": offer.models[cid]}
        )  # fmt: skip
        party.blobs.put(wire.get_bytes(reply, "ciphertext"))
        address = ledger.participants()[cid].address
        update = open_submission(ledger, party.store, g, ledger.get_submission(g, address))
        server.receive(update.model)
        messages.append(update.model)
    intruded = nodes[2].intrude(job3, 0, g, offer.pk_s)
    assert ledger.get_submission(g, ledger.participants()[2].address).submitted
    with pytest.raises(ProtocolError, match="not in the online set"):
        server.receive(intruded)  # the scheme itself refuses it
    challenge = hex(server.chel_gen())
    responses = {
        cid: int(wire.get_str(nodes[cid].send({"stage": RESPOND, "round": 0, "attempt": 0,
                                               "challenge": challenge}), "response"), 16)
        for cid in (0, 1)
    }  # fmt: skip
    party.strategy.settle(messages, server.finish(responses))
    assert party.commit(g) is not None  # no error: the intruder does not stall the job

    blobs = committed_blobs(ledger, party.blobs, g)
    votes = []
    for index in range(3):
        node_config = {wire.NODE_PARTICIPANT_DIR: str(prepared.participant_dir(index))}
        votes.append(client.verify(client.load_participant(config, node_config), g, blobs)["vote"])
    assert votes[0] == "attested" and "disputed" not in votes
    assert ledger.get_round(g).status is RoundStatus.FINALISED

    transcript = json.loads(party.blobs.get(ledger.get_round(g).aggregate_hash))
    assert transcript["message_hashes"] == ["0x" + keccak256(m).hex() for m in messages]
    assert transcript["excluded_hashes"] == ["0x" + keccak256(intruded).hex()]
    assert transcript["included_size"] == sizes[0] + sizes[1]
    weight = sum(sizes) / (sizes[0] + sizes[1])  # |D|/|D_S|; the intruder's 0.5 would dwarf it
    step = 2 / SPEC3.scale  # two clients' quantisation, one step each at most
    np.testing.assert_allclose(party.conclude(g).model, 0.003 * weight, rtol=0, atol=step * weight)


@pytest.mark.parametrize(
    ("excluded", "covered", "size", "accepted"),
    [
        ([b"c"], [b"a", b"b"], 30, True),  # the intruder c named, |D_S| over a, b
        ([], [b"a", b"b", b"c"], 60, True),  # nobody left out: the field may be absent
        ([b"c"], [b"a", b"b"], 60, False),  # |D_S| still counts the excluded one
        ([b"b"], [b"a", b"c"], 30, False),  # |D_S| of a and b, yet b is the one left out
        ([b"x"], [b"a", b"b"], 30, False),  # excludes a message nobody committed
        ([b"c", b"c"], [b"a", b"b"], 30, False),  # the same exclusion twice
        ([b"a", b"b", b"c"], [], 0, False),  # everything left out
    ],
)
def test_replicas_accept_only_exclusions_of_committed_messages_at_their_sizes(
    excluded, covered, size, accepted
) -> None:
    """check_aggregate, as every replica runs it: the transcript names each committed message
    once, as covered (in order) or excluded, and |D_S| is the covered ones'."""

    def hashes(ms):
        return ["0x" + keccak256(m).hex() for m in ms]

    replica = SecureAggregationStrategy("multikey", SPEC.learning, sizes=[10, 20, 30])
    transcript = {"format": TRANSCRIPT_FORMAT, "strategy": replica.name, "sum": [0.0, 0.0],
                  "message_hashes": hashes(covered), "included_size": size}  # fmt: skip
    if excluded:
        transcript["excluded_hashes"] = hashes(excluded)
    verdict = replica.check_aggregate(
        encode_plain_vector(np.zeros(2)), [b"a", b"b", b"c"], [10, 20, 30],
        json.dumps(transcript).encode(),
    )  # fmt: skip
    assert (verdict is None) is accepted


def test_the_servers_secrets_are_encrypted_at_rest(job) -> None:
    """SysGen's α_j never lie on disk in clear: the file is 0600 AES-GCM under the party's
    password, and a wrong password is one clear error."""
    prepared = job[0]
    path = prepared.party_dir / SERVER_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    document = json.loads(path.read_text())
    assert document["cipher"] == "aes-256-gcm" and "alphas" not in path.read_text()
    with pytest.raises(ConfigError, match="wrong password"):
        load_multikey_server(prepared.party_dir, prepared.job, SPEC, "not the password")
