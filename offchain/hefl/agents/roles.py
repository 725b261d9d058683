"""The two roles of the main paper as agents that act only through the ledger and the blob store.

Every move first reads the chain, so an agent that crashed and restarted picks up where the
ledger says it is: a participant that already submitted for a round does not submit again, a
replica that already voted does not vote again, and the computing party re-derives everything it
needs from the committed hashes and the blobs they name.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import NoReturn, cast

from hefl.agents.envelope import Binding, BlobKind, seal_update, unseal
from hefl.canonical import canonical_json
from hefl.chain import (
    BlobStore,
    LedgerClient,
    ParticipantRecord,
    RoundRecord,
    RoundStatus,
    SubmissionRecord,
    blob_hash,
)
from hefl.chain.availability import ChainBackedStore, fits_calldata
from hefl.data.prepare import Part
from hefl.errors import (
    AgentError,
    BlobNotFoundError,
    ContractRevertError,
    HeflError,
    SerializationError,
)
from hefl.learning.blobs import pack_bundle, unpack_bundle
from hefl.learning.strategy import LocalUpdate, RoundOutcome, Strategy, SubmissionRules

log = logging.getLogger(__name__)

#: Runs ``strategy.local_update(global_blob, part, tau)`` — in this process or a worker pool.
UpdateRunner = Callable[[Strategy, bytes, Part, int], LocalUpdate]


def run_here(strategy: Strategy, global_model: bytes, part: Part, tau: int) -> LocalUpdate:
    """The default :data:`UpdateRunner`: compute in the calling process."""
    return strategy.local_update(global_model, part, tau)


class Vote(Enum):
    ATTESTED = "attested"
    DISPUTED = "disputed"
    ALREADY_VOTED = "already voted"
    #: The round was decided before this replica voted; it checked the aggregate locally.
    DECIDED = "decided without this vote"


#: What a replica's check of a commitment comes to (:meth:`ParticipantAgent.assess`): the round
#: record it was reached on and its verdict (None: the aggregate is right), or the Vote that made
#: the check moot.
Assessment = Vote | tuple[RoundRecord, bytes | None]


@dataclass(frozen=True)
class Submissions:
    """A round's submitters, split into those whose blobs are usable and those whose are not.

    ``missing`` names the unusable ones whose blobs could not be fetched at all (neither from the
    store nor from the chain's calldata), as opposed to blobs whose content is unusable."""

    usable: tuple[tuple[int, LocalUpdate, int], ...]  # (index, unsealed update, |D_i|)
    unusable: tuple[tuple[int, str], ...]  # (index, why)
    missing: tuple[int, ...] = ()


@dataclass(frozen=True)
class JobFacts:
    """What the checks need to know of the job besides its rounds: its chain id and ledger
    address (the submissions' binding) and whether its blobs travel in calldata."""

    chain_id: int
    ledger: str
    blobs_on_chain: bool

    @classmethod
    def of(cls, ledger: LedgerClient) -> JobFacts:
        """From a live ledger, or from an exported history (``hefl verify`` without a node),
        whose deployment record names the chain and the ledger."""
        facts = getattr(ledger, "facts", None)
        if isinstance(facts, JobFacts):  # a RoundSnapshot carries them
            return facts
        chain = getattr(ledger, "chain", None)
        if chain is not None:
            return cls(chain.chain_id, ledger.address, ledger.blobs_on_chain())
        document = getattr(ledger, "document", {})
        deployment = document.get("deployment") or {}
        return cls(
            int(deployment.get("chain_id", 0)),
            str(deployment.get("address", "0x" + "00" * 20)),
            bool(document.get("blobs_on_chain", False)),
        )


def round_binding(ledger: LedgerClient, round_index: int, participant: str) -> Binding:
    """Where participant ``participant``'s blobs of round ``round_index`` belong."""
    facts = JobFacts.of(ledger)
    return Binding(facts.chain_id, facts.ledger, round_index, participant)


def submission_rules(ledger: LedgerClient, record: RoundRecord) -> SubmissionRules:
    """The round's public facts every blob header is checked against (τ and |D| = Σ |D_i|)."""
    total = sum(p.data_size for p in ledger.participants())
    return SubmissionRules(tau=record.tau, total_data_size=total)


def round_snapshot(
    ledger: LedgerClient, round_index: int
) -> tuple[RoundRecord, tuple[SubmissionRecord, ...]]:
    """Round ``round_index`` and every participant's submission record (bit-index order): one
    batched contract call on a live ledger (``getSubmissions``), so a replica's reads per round
    do not grow with N; an exported history (no node) is read record by record."""
    batched = getattr(ledger, "round_submissions", None)
    if batched is not None:
        record, submissions = batched(round_index)
        return record, submissions
    people = ledger.participants()
    return ledger.get_round(round_index), tuple(
        ledger.get_submission(round_index, p.address) for p in people
    )


def chain_store(blobs: BlobStore, ledger: LedgerClient) -> BlobStore:
    """``blobs`` as a cache of the chain (blobs sent in calldata are read back from it); an
    exported history has no chain, so its store is used as it is."""
    if isinstance(blobs, ChainBackedStore) or getattr(ledger, "chain", None) is None:
        return blobs
    return ChainBackedStore(blobs, ledger)


def open_submission(
    ledger: LedgerClient, blobs: BlobStore, round_index: int, submission: SubmissionRecord
) -> LocalUpdate:
    """A submitter's update for the strategy: both blobs fetched (store or chain, hash-checked)
    and unsealed against the round's binding (a replay or a copy raises SerializationError)."""
    binding = round_binding(ledger, round_index, submission.participant)
    model = blobs.get(submission.model_hash)
    extra = blobs.get(submission.extra_hash) if submission.has_extra else b""
    return LocalUpdate(
        model=unseal(model, binding, BlobKind.MODEL),
        extra=unseal(extra, binding, BlobKind.EXTRA) if submission.has_extra else b"",
    )


def sort_submissions(
    strategy: Strategy,
    ledger: LedgerClient,
    blobs: BlobStore,
    round_index: int,
    global_model: bytes,
) -> Submissions:
    """Fetch every submitter's blobs (hash-checked; from the chain's calldata when the store
    lacks them), open their envelopes against the round's binding and validate them against the
    global model and the round's rules (:meth:`Strategy.validate_update`: headers checked, not
    trusted). A missing, replayed, copied, tampered or malformed blob makes the submission
    unusable — the same verdict for the party and every replica, since it is a function of the
    chain's state and the bytes alone."""
    store = chain_store(blobs, ledger)
    record, submissions = round_snapshot(ledger, round_index)
    rules = submission_rules(ledger, record)
    usable, unusable, missing = [], [], []
    for participant, submission in zip(ledger.participants(), submissions, strict=True):
        if not submission.submitted:
            continue
        try:
            update = open_submission(ledger, store, round_index, submission)
        except BlobNotFoundError as error:
            unusable.append((participant.index, f"missing: {error}"))
            missing.append(participant.index)
            continue
        except HeflError as error:
            unusable.append((participant.index, str(error)))
            continue
        try:
            strategy.validate_update(global_model, update, rules)
        except HeflError as error:
            unusable.append((participant.index, str(error)))
            continue
        usable.append((participant.index, update, participant.data_size))
    return Submissions(tuple(usable), tuple(unusable), tuple(missing))


#: Prefix of a committed blob that carries the party's evidence after the aggregate.
COMMITMENT_MAGIC = b"HEFLCMT1"


def commitment_blob(aggregate: bytes, evidence: Mapping[int, bytes]) -> bytes:
    """What the party commits: the aggregate's bytes alone, or — when it leaves participants
    out with evidence (:meth:`Strategy.screen`) — COMMITMENT_MAGIC and a bundle of the
    aggregate, the list of those participants' indices and each one's evidence, in that order."""
    if not evidence:
        return aggregate
    indices = sorted(evidence)
    parts = [aggregate, canonical_json(indices), *(evidence[i] for i in indices)]
    return COMMITMENT_MAGIC + pack_bundle(parts)


def open_commitment(blob: bytes) -> tuple[bytes, dict[int, bytes]]:
    """Inverse of :func:`commitment_blob`: the aggregate and the evidence per participant index.
    SerializationError when the evidence section is malformed."""
    if not blob.startswith(COMMITMENT_MAGIC):
        return blob, {}
    aggregate, indices, *evidence = unpack_bundle(blob[len(COMMITMENT_MAGIC) :])
    try:
        named = json.loads(indices)
    except ValueError as error:
        raise SerializationError(f"the commitment's evidence list is not JSON: {error}") from None
    if (
        not isinstance(named, list)
        or not all(type(i) is int for i in named)
        or len(set(named)) != len(named)
        or len(named) != len(evidence)
        or not named
    ):
        raise SerializationError(
            f"the commitment names participants {named!r} for {len(evidence)} pieces of evidence"
        )
    return aggregate, dict(zip(named, evidence, strict=True))


def _verdict(round_index: int, reason: str, **facts: object) -> bytes:
    """A dispute's blob: why this replica holds the commitment wrong (its hash goes on chain)."""
    return canonical_json({"round": round_index, "reason": reason, **facts})


def check_committed_aggregate(
    strategy: Strategy, ledger: LedgerClient, blobs: BlobStore, round_index: int
) -> bytes | None:
    """A replica's verdict on round g's commitment, from public data alone: the global model,
    the submitters' blobs, their |D_i| and the committed aggregate. ``None`` if all is right,
    else the blob the replica holds to be right (or the reason it is not), whose hash goes into
    its dispute: every committed aggregate gets a verdict, never an exception.

    The aggregate must cover the right submitters: in a round without deadline every submission
    (all usable); with a deadline, in a job whose blobs travel in calldata exactly the usable ones
    (availability is a fact of the chain); in a job of bare hashes every included one must be
    usable here, and an exclusion is never disputed (the README's rule: the party commits what it
    fetched). A usable submission the party left out with evidence (:func:`open_commitment`)
    counts as unusable once the evidence holds (:meth:`Strategy.check_evidence`); evidence that
    does not hold, or names an included participant, is disputed. Then the strategy's own check
    must pass (for Paillier: Eq. 10 recomputes to the same bytes). Used by every replica and by
    ``hefl verify``.
    """
    store = chain_store(blobs, ledger)
    record = ledger.get_round(round_index)
    try:
        global_model = store.get(record.global_model_hash)
    except HeflError as error:
        return _verdict(round_index, f"the round's global model cannot be read: {error}")
    try:
        aggregate, evidence = open_commitment(store.get(record.aggregate_hash))
    except HeflError as error:
        return _verdict(round_index, f"the committed aggregate cannot be read: {error}")
    found = sort_submissions(strategy, ledger, store, round_index, global_model)
    included = list(record.included_indices)
    proven: list[tuple[int, str]] = []
    for index, update, _ in found.usable:
        if index not in evidence:
            continue
        if index in included:
            why = f"the aggregate includes participant {index}, whom its evidence excludes"
            return _verdict(round_index, why)
        try:
            proven.append((index, strategy.check_evidence(global_model, update, evidence[index])))
        except HeflError as error:
            return _verdict(
                round_index, f"the evidence against participant {index} does not hold: {error}"
            )
    if proven:
        left_out = {i for i, _ in proven}
        found = Submissions(
            tuple(u for u in found.usable if u[0] not in left_out),
            tuple(sorted([*found.unusable, *proven])),
            found.missing,
        )
    usable = [i for i, _, _ in found.usable]
    if not record.deadline:
        expected = sorted(usable + [i for i, _ in found.unusable])
        if included != expected or found.unusable:
            return _verdict(
                round_index,
                "a round without deadline must aggregate every submission, all usable",
                expected_included=expected,
                unusable=[list(u) for u in found.unusable],
            )
    elif JobFacts.of(ledger).blobs_on_chain:
        if included != usable:
            return _verdict(
                round_index,
                "the aggregate must cover exactly the usable submissions",
                expected_included=usable,
                unusable=[list(u) for u in found.unusable],
            )
    else:
        bad = [(i, why) for i, why in found.unusable if i in included]
        if bad:
            return _verdict(
                round_index,
                "the aggregate covers submissions this replica cannot use",
                unusable=[list(u) for u in bad],
            )
    chosen = [(update, size) for i, update, size in found.usable if i in included]
    try:
        return strategy.check_aggregate(
            global_model, [u.model for u, _ in chosen], [s for _, s in chosen], aggregate
        )
    except HeflError as error:
        return _verdict(round_index, f"the committed aggregate cannot be checked: {error}")


@dataclass(frozen=True)
class RoundSnapshot:
    """Round g of a live ledger as read at one block — what a replica's check reads of a ledger
    (the round, every submission record, the participant registry, the job's facts) — as a
    picklable ledger view: the in-process job hands it to its worker processes, which hold no
    chain, so that replicas' checks run there (:func:`check_replicas`)."""

    facts: JobFacts
    record: RoundRecord
    people: tuple[ParticipantRecord, ...]
    submissions: tuple[SubmissionRecord, ...]

    @classmethod
    def read(cls, ledger: LedgerClient, round_index: int) -> RoundSnapshot:
        record, submissions = round_snapshot(ledger, round_index)
        return cls(JobFacts.of(ledger), record, ledger.participants(), submissions)

    def _round(self, round_index: int) -> None:
        if round_index != self.record.round:
            raise AgentError(f"a snapshot of round {self.record.round} asked for {round_index}")

    def participants(self) -> tuple[ParticipantRecord, ...]:
        return self.people

    def get_round(self, round_index: int) -> RoundRecord:
        self._round(round_index)
        return self.record

    def round_submissions(
        self, round_index: int
    ) -> tuple[RoundRecord, tuple[SubmissionRecord, ...]]:
        self._round(round_index)
        return self.record, self.submissions


def check_replicas(
    strategies: Sequence[Strategy], snapshot: RoundSnapshot, blobs: BlobStore, round_index: int
) -> list[bytes | None]:
    """Each replica's own verdict (:func:`check_committed_aggregate` with its strategy) on the
    round as ``snapshot`` holds it and the blobs ``blobs`` holds — the work of the in-process
    job's worker processes."""
    ledger = cast("LedgerClient", snapshot)  # a ledger view: the reads the check makes
    return [check_committed_aggregate(s, ledger, blobs, round_index) for s in strategies]


@dataclass
class ParticipantAgent:
    """A data owner P_i: updates the encrypted model with its own data; a PBFT replica."""

    address: str
    part: Part
    strategy: Strategy
    ledger: LedgerClient
    blobs: BlobStore

    @property
    def store(self) -> BlobStore:
        """The agent's blob store as a cache of the chain (see :func:`chain_store`)."""
        return chain_store(self.blobs, self.ledger)

    def pending(self, round_index: int) -> tuple[bytes, int] | None:
        """The global model blob (verified against its on-chain hash) and τ of an open round this
        participant still has to submit for; ``None`` when there is nothing to do.

        Read as the round's snapshot (:func:`round_snapshot`, one call): on a chain with a view
        cache every participant of the process shares that one answer at a given block."""
        record, submissions = round_snapshot(self.ledger, round_index)
        if record.status is not RoundStatus.OPEN:
            return None
        if submissions[self.ledger.participant_index(self.address)].submitted:
            log.debug("P %s: round %d already submitted", self.address, round_index)
            return None
        return self.store.get(record.global_model_hash), record.tau

    def seal(self, round_index: int, update: LocalUpdate) -> LocalUpdate:
        """``update`` bound to this job, round and participant (:mod:`hefl.agents.envelope`)."""
        return seal_update(update, round_binding(self.ledger, round_index, self.address))

    def deliver(self, round_index: int, update: LocalUpdate) -> LocalUpdate:
        """Seal the update's blobs, store them and submit: the bytes themselves in calldata when
        they fit one transaction (the chain keeps them available), else their hashes. Returns
        the sealed update (what went on chain)."""
        sealed = self.seal(round_index, update)
        self.send(round_index, sealed)
        log.info("P %s: round %d submitted", self.address, round_index)
        return sealed

    def send(self, round_index: int, sealed: LocalUpdate) -> None:
        """Put a sealed update's blobs in the store and submit them to the ledger."""
        self.blobs.put(sealed.model)
        self.blobs.put(sealed.extra)
        # A job deployed with blobsOnChain takes bytes whatever their size (the node's gas limit
        # is then the limit); otherwise bytes go on chain while they fit a relayable transaction.
        if self.ledger.blobs_on_chain() or fits_calldata(sealed.model, sealed.extra):
            self.ledger.submit_blobs(round_index, sealed.model, sealed.extra)
        else:
            self.ledger.submit(round_index, blob_hash(sealed.model), blob_hash(sealed.extra))

    def take_part(self, round_index: int, runner: UpdateRunner = run_here) -> bool:
        """Run τ local steps for an open round and submit; ``False`` if there is nothing to do.

        The update is checked against the round's header rules before it is sent, so an honest
        participant never submits what the others would have to leave out."""
        work = self.pending(round_index)
        if work is None:
            return False
        global_model, tau = work
        update = runner(self.strategy, global_model, self.part, tau)
        rules = submission_rules(self.ledger, self.ledger.get_round(round_index))
        try:
            self.strategy.validate_update(global_model, update, rules)
        except HeflError as error:
            raise AgentError(
                f"P {self.address}: round {round_index}'s own update breaks the protocol's rules, "
                f"not sent: {error}"
            ) from error
        self.deliver(round_index, update)
        return True

    def verify(self, round_index: int) -> Vote:
        """Recompute Eq. 10 from the committed blobs; attest when the bytes match, else dispute
        (with the reason logged): :meth:`assess` then :meth:`vote`."""
        return self.vote(round_index, self.assess(round_index))

    def assess(self, round_index: int) -> Assessment:
        """This replica's verdict on round g's commitment (:func:`check_committed_aggregate`),
        with the round record it was reached on — or the Vote that makes a check moot (already
        voted, decided). The in-process job assesses every replica at one block, so their reads
        are one answer of the chain's view cache, then lets them vote."""
        ready = self.ready_to_check(round_index)
        if isinstance(ready, Vote):
            return ready
        return ready, check_committed_aggregate(self.strategy, self.ledger, self.store, round_index)

    def ready_to_check(self, round_index: int) -> Vote | RoundRecord:
        """The round's record if this replica has a commitment to check, else the Vote that
        makes a check moot (already voted, decided); AgentError before the commitment."""
        record = self.ledger.get_round(round_index)
        if record.status is RoundStatus.OPEN or record.status is RoundStatus.NONE:
            raise AgentError(
                f"round {round_index} is {record.status.name}, not aggregated yet: nothing to check"
            )
        me = self.ledger.participant_index(self.address)
        if me in record.attested_indices or me in record.disputed_indices:
            return Vote.ALREADY_VOTED
        if record.status is not RoundStatus.AGGREGATED:
            return Vote.DECIDED
        return record

    def vote(self, round_index: int, assessment: Assessment) -> Vote:
        """Send :meth:`assess`'s verdict: the round's status is read again just before voting
        (its header only), so a round decided meanwhile gets no late vote."""
        if isinstance(assessment, Vote):
            return assessment
        record, verdict = assessment
        status = self.ledger.round_status(round_index)
        if status is not RoundStatus.AGGREGATED:
            # Finalised, disputed or voided by the others meanwhile: the ledger takes no votes.
            if verdict is not None:
                log.error(
                    "P %s: round %d was decided (%s), but our check differs: %s",
                    self.address, round_index, status.name, _reason(verdict),
                )  # fmt: skip
            return Vote.DECIDED
        try:
            if verdict is None:
                self.ledger.attest(round_index, record.aggregate_hash)
                log.info("P %s: round %d attested", self.address, round_index)
                return Vote.ATTESTED
            self.ledger.dispute(round_index, self.blobs.put(verdict))
        except ContractRevertError as error:
            if error.error_name != "RoundNotAggregated":
                raise
            log.debug(
                "P %s: round %d decided before our vote (%s)", self.address, round_index, error
            )
            return Vote.DECIDED
        log.warning("P %s: round %d disputed: %s", self.address, round_index, _reason(verdict))
        return Vote.DISPUTED


def _reason(verdict: bytes) -> str:
    """A verdict blob's reason (a recomputed aggregate has none: its bytes differ)."""
    if verdict.startswith(b"{"):
        return verdict.decode(errors="replace")[:400]
    return "the recomputed aggregate differs from the committed one"


@dataclass
class ComputingPartyAgent:
    """The computing party C: owns the key pair, opens rounds, aggregates, decrypts."""

    strategy: Strategy
    ledger: LedgerClient
    blobs: BlobStore

    @property
    def store(self) -> BlobStore:
        """The agent's blob store as a cache of the chain (see :func:`chain_store`)."""
        return chain_store(self.blobs, self.ledger)

    def open_round(self, global_model: bytes, iteration: int, tau: int, deadline: int = 0) -> int:
        """Store the global model blob and open the next round with its hash (and a submission
        deadline in unix time, 0 for none)."""
        model_hash = self.blobs.put(global_model)
        round_index = self.ledger.round_count()
        self.ledger.open_round(iteration, tau, model_hash, deadline)
        log.info("C: round %d opened (t=%d, τ=%d)", round_index, iteration, tau)
        return round_index

    def void(self, round_index: int, why: str) -> None:
        """Give round ``round_index`` up by the contract's rule (``voidRound``), saying why."""
        self.ledger.void_round(round_index)
        log.warning("C: round %d voided: %s", round_index, why)

    def commit(self, round_index: int) -> bytes | None:
        """Aggregate the usable submissions (Eq. 10), store the result and commit it (its bytes in
        calldata when they fit one transaction, else its hash) with the set of participants it
        covers; ``None`` when the round had to be voided instead.

        In a round with a deadline, unusable submissions (missing, replayed, copied, tampered,
        malformed, or with headers the protocol does not allow) are left out — recorded on chain
        as ``excluded`` — and the replicas reach the same verdict; so are submissions whose
        ciphertexts hold values beyond their declared bounds (:meth:`Strategy.screen`: only the
        party can see it), with the evidence committed after the aggregate
        (:func:`commitment_blob`), which the replicas check. Without a deadline every
        submission must be used, so unusable ones make the party void the round and stop naming
        them; so does a round with nothing usable. The contract refuses a commit that a late
        submission made stale: read again and retry."""
        record = self.ledger.get_round(round_index)
        global_model = self.store.get(record.global_model_hash)
        found = sort_submissions(self.strategy, self.ledger, self.store, round_index, global_model)
        for index, why in found.unusable:
            log.warning("C: round %d leaves participant %d out: %s", round_index, index, why)
        if found.unusable and not record.deadline:
            named = [i for i, _ in found.unusable]
            self._void_without_deadline(
                round_index, named, f"submitted unusable blobs ({found.unusable[0][1]})"
            )
        usable, evidence = list(found.usable), {}
        while usable:
            aggregate = self._aggregate(round_index, usable)
            screened = self.strategy.screen(global_model, aggregate, [u for _, u, _ in usable])
            faulty = {i: e for (i, _, _), e in zip(usable, screened, strict=True) if e is not None}
            if not faulty:
                break
            for index, proof in faulty.items():
                update = next(u for i, u, _ in usable if i == index)
                why = self.strategy.check_evidence(global_model, update, proof)
                log.warning("C: round %d leaves participant %d out: %s", round_index, index, why)
            if not record.deadline:
                self._void_without_deadline(
                    round_index, sorted(faulty), "encrypted values beyond their declared bounds"
                )
            evidence.update(faulty)
            usable = [u for u in usable if u[0] not in faulty]
        if not usable:
            self.void(round_index, "no usable submission")
            return None
        included = [i for i, _, _ in usable]
        committed = commitment_blob(aggregate, evidence)
        self.blobs.put(committed)
        if self.ledger.blobs_on_chain() or fits_calldata(committed):
            self.ledger.commit_aggregate_blob(round_index, committed, included)
        else:
            self.ledger.commit_aggregate(round_index, blob_hash(committed), included)
        log.info("C: round %d committed over participants %s", round_index, included)
        return aggregate

    def _void_without_deadline(self, round_index: int, named: list[int], what: str) -> NoReturn:
        """Void a round without deadline whose participants ``named`` cannot be used (such a
        round cannot leave anyone out) and stop, saying so."""
        self.void(round_index, f"participants {named} {what}")
        raise AgentError(
            f"round {round_index} voided: participants {named} {what} and a round without "
            "deadline cannot leave them out; open rounds with a deadline"
        )

    def _aggregate(self, round_index: int, usable: Sequence[tuple[int, LocalUpdate, int]]) -> bytes:
        """Eq. 10 over the usable submissions (:meth:`Strategy.aggregate`)."""
        try:
            return self.strategy.aggregate(
                [u.model for _, u, _ in usable], [s for _, _, s in usable]
            )
        except HeflError as error:  # the header rules make this unreachable; refuse, never commit
            raise AgentError(
                f"round {round_index}: Eq. 10 over participants {[i for i, _, _ in usable]} "
                f"failed before the commit: {error}"
            ) from error

    def conclude(self, round_index: int) -> RoundOutcome:
        """Decrypt what the party must and prepare the next global model (after commit)."""
        record, submissions = round_snapshot(self.ledger, round_index)
        if not record.committed:
            raise AgentError(
                f"round {round_index} is {record.status.name.lower()} without a committed "
                "aggregate: nothing to conclude"
            )
        registry = self.ledger.participants()
        updates: list[LocalUpdate] = []
        sizes: list[int] = []
        for i in record.included_indices:
            submission = submissions[i]
            updates.append(open_submission(self.ledger, self.store, round_index, submission))
            sizes.append(registry[i].data_size)
        aggregate, _ = open_commitment(self.store.get(record.aggregate_hash))
        return self.strategy.conclude(
            self.store.get(record.global_model_hash), aggregate, updates, sizes
        )
