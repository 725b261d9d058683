"""The two roles of the main paper as agents that act only through the ledger and the blob store.

Every move first reads the chain, so an agent that crashed and restarted picks up where the
ledger says it is: a participant that already submitted for a round does not submit again, a
replica that already voted does not vote again, and the computing party re-derives everything it
needs from the committed hashes and the blobs they name.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from hefl.chain import BlobStore, LedgerClient, RoundStatus
from hefl.data.prepare import Part
from hefl.errors import AgentError, ContractRevertError, HeflError
from hefl.learning.strategy import LocalUpdate, RoundOutcome, Strategy

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


@dataclass(frozen=True)
class Submissions:
    """A round's submitters, split into those whose blobs are usable and those whose are not."""

    usable: tuple[tuple[int, LocalUpdate, int], ...]  # (index, update, |D_i|)
    unusable: tuple[tuple[int, str], ...]  # (index, why)


def sort_submissions(
    strategy: Strategy,
    ledger: LedgerClient,
    blobs: BlobStore,
    round_index: int,
    global_model: bytes,
) -> Submissions:
    """Fetch every submitter's blobs (hash-checked by the store) and validate them against the
    global model (:meth:`Strategy.validate_update`). A missing, tampered or malformed blob makes
    the submission unusable — the same verdict for the party and every replica."""
    usable, unusable = [], []
    for participant in ledger.participants():
        submission = ledger.get_submission(round_index, participant.address)
        if not submission.submitted:
            continue
        try:
            update = LocalUpdate(
                model=blobs.get(submission.model_hash),
                extra=blobs.get(submission.extra_hash) if submission.has_extra else b"",
            )
            strategy.validate_update(global_model, update)
        except HeflError as error:
            unusable.append((participant.index, str(error)))
            continue
        usable.append((participant.index, update, participant.data_size))
    return Submissions(tuple(usable), tuple(unusable))


def check_committed_aggregate(
    strategy: Strategy, ledger: LedgerClient, blobs: BlobStore, round_index: int
) -> bytes | None:
    """A replica's verdict on round g's commitment, from public data alone: the global model,
    the submitters' blobs, their |D_i| and the committed aggregate.

    The aggregate must cover exactly the usable submissions (in a round without deadline: every
    submission), and the strategy's own check must pass (for Paillier: Eq. 10 recomputes to the
    same bytes). ``None`` if all is right, else the blob the replica holds to be right. Used by
    every replica and by ``hefl verify``.
    """
    record = ledger.get_round(round_index)
    global_model = blobs.get(record.global_model_hash)
    found = sort_submissions(strategy, ledger, blobs, round_index, global_model)
    expected = [i for i, _, _ in found.usable]
    if not record.deadline:
        expected = sorted(expected + [i for i, _ in found.unusable])
    if list(record.included_indices) != expected:
        return json.dumps(
            {"round": round_index, "expected_included": expected, "unusable": found.unusable}
        ).encode()
    if found.unusable and not record.deadline:
        return json.dumps({"round": round_index, "unusable": found.unusable}).encode()
    models = [update.model for _, update, _ in found.usable]
    sizes = [size for _, _, size in found.usable]
    return strategy.check_aggregate(global_model, models, sizes, blobs.get(record.aggregate_hash))


@dataclass
class ParticipantAgent:
    """A data owner P_i: updates the encrypted model with its own data; a PBFT replica."""

    address: str
    part: Part
    strategy: Strategy
    ledger: LedgerClient
    blobs: BlobStore

    def pending(self, round_index: int) -> tuple[bytes, int] | None:
        """The global model blob (verified against its on-chain hash) and τ of an open round this
        participant still has to submit for; ``None`` when there is nothing to do."""
        record = self.ledger.get_round(round_index)
        if record.status is not RoundStatus.OPEN:
            return None
        if self.ledger.get_submission(round_index, self.address).submitted:
            log.debug("P %s: round %d already submitted", self.address, round_index)
            return None
        return self.blobs.get(record.global_model_hash), record.tau

    def deliver(self, round_index: int, update: LocalUpdate) -> None:
        """Store the update's blobs and submit their hashes."""
        model_hash = self.blobs.put(update.model)
        extra_hash = self.blobs.put(update.extra)
        self.ledger.submit(round_index, model_hash, extra_hash)
        log.info("P %s: round %d submitted", self.address, round_index)

    def take_part(self, round_index: int, runner: UpdateRunner = run_here) -> bool:
        """Run τ local steps for an open round and submit; ``False`` if there is nothing to do."""
        work = self.pending(round_index)
        if work is None:
            return False
        global_model, tau = work
        self.deliver(round_index, runner(self.strategy, global_model, self.part, tau))
        return True

    def verify(self, round_index: int) -> Vote:
        """Recompute Eq. 10 from the committed blobs; attest when the bytes match, else dispute."""
        record = self.ledger.get_round(round_index)
        if record.status < RoundStatus.AGGREGATED:
            raise AgentError(
                f"round {round_index} is {record.status.name}, not aggregated yet: nothing to check"
            )
        me = self.ledger.participant_index(self.address)
        if me in record.attested_indices or me in record.disputed_indices:
            return Vote.ALREADY_VOTED
        verdict = check_committed_aggregate(self.strategy, self.ledger, self.blobs, round_index)
        if record.status is not RoundStatus.AGGREGATED:
            # Finalised or disputed by the others already: the ledger takes no more votes.
            if verdict is not None:
                log.error(
                    "P %s: round %d was decided, but its aggregate differs from ours",
                    self.address,
                    round_index,
                )
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
            # The others' votes decided the round while we recomputed: nothing left to vote on.
            return Vote.DECIDED
        log.warning("P %s: round %d disputed (aggregate differs)", self.address, round_index)
        return Vote.DISPUTED


@dataclass
class ComputingPartyAgent:
    """The computing party C: owns the key pair, opens rounds, aggregates, decrypts."""

    strategy: Strategy
    ledger: LedgerClient
    blobs: BlobStore

    def open_round(self, global_model: bytes, iteration: int, tau: int, deadline: int = 0) -> int:
        """Store the global model blob and open the next round with its hash (and a submission
        deadline in unix time, 0 for none)."""
        model_hash = self.blobs.put(global_model)
        round_index = self.ledger.round_count()
        self.ledger.open_round(iteration, tau, model_hash, deadline)
        log.info("C: round %d opened (t=%d, τ=%d)", round_index, iteration, tau)
        return round_index

    def commit(self, round_index: int) -> bytes:
        """Aggregate the usable submissions (Eq. 10), store the result and commit its hash with
        the set of participants it covers.

        In a round with a deadline, unusable submissions (missing, tampered or malformed blobs)
        are left out and the replicas confirm that; without one, every submission must be used.
        The contract refuses a commit that a late submission made stale: read again and retry."""
        record = self.ledger.get_round(round_index)
        global_model = self.blobs.get(record.global_model_hash)
        found = sort_submissions(self.strategy, self.ledger, self.blobs, round_index, global_model)
        for index, why in found.unusable:
            log.warning("C: round %d leaves participant %d out: %s", round_index, index, why)
        if found.unusable and not record.deadline:
            raise AgentError(
                f"round {round_index} has unusable submissions {[i for i, _ in found.unusable]} "
                "and no deadline, so they cannot be left out; open rounds with a deadline"
            )
        if not found.usable:
            raise AgentError(f"round {round_index} has no usable submission; wait for more")
        aggregate = self.strategy.aggregate(
            [u.model for _, u, _ in found.usable], [size for _, _, size in found.usable]
        )
        included = [i for i, _, _ in found.usable]
        self.ledger.commit_aggregate(round_index, self.blobs.put(aggregate), included)
        log.info("C: round %d committed over participants %s", round_index, included)
        return aggregate

    def conclude(self, round_index: int) -> RoundOutcome:
        """Decrypt what the party must and prepare the next global model (after commit)."""
        record = self.ledger.get_round(round_index)
        registry = self.ledger.participants()
        indices = record.included_indices
        updates: list[LocalUpdate] = []
        sizes: list[int] = []
        for i in indices:
            submission = self.ledger.get_submission(round_index, registry[i].address)
            updates.append(
                LocalUpdate(
                    model=self.blobs.get(submission.model_hash),
                    extra=self.blobs.get(submission.extra_hash),
                )
            )
            sizes.append(registry[i].data_size)
        return self.strategy.conclude(
            self.blobs.get(record.global_model_hash),
            self.blobs.get(record.aggregate_hash),
            updates,
            sizes,
        )
