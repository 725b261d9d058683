"""Auditing a job from public data alone, and exporting its history.

:func:`audit` re-checks a job from a ledger view and the blob store: every blob matches its hash,
every committed aggregate recomputes (Eq. 10) to its commitment, every finalised round had its
quorum. The ledger view is the contract itself — on a live node, or on the embedded chain a run
persisted in its directory (``chain.db``, re-opened by :func:`open_run_ledger`) — or, when
neither is at hand, the ``history.json`` a run exported (:class:`ExportedHistory`), and the
report says which. :func:`compare_history` names every field where an exported history says
something other than the contract.

Each problem is attributed to the one thing that differs: a blob that is not in the store is
*missing*, one whose bytes do not match its hash is *tampered*, and a round whose inputs are
either is not recomputed (its aggregate is not blamed for what its inputs lack).

On a ledger deployed with ``blobsOnChain`` the chain itself keeps every submission and aggregate
(their bytes travel in calldata, :mod:`hefl.chain.availability`): a blob missing from the store
is then read back from the transaction that carried it, checked against the ledger's hash, and
the report says it was *restored from the chain* (``restore=True`` also writes it back into the
store). Only a blob that is neither in the store nor on chain is *missing*. Each round is read in
one contract call (``getSubmissions``: the round and every submission, one consistent snapshot).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hefl.agents.roles import check_committed_aggregate
from hefl.chain import (
    BlobStore,
    Chain,
    LedgerClient,
    ParticipantRecord,
    RoundRecord,
    RoundStatus,
    SubmissionRecord,
    quorum_for,
)
from hefl.chain.availability import blob_carriers, blob_in_transactions
from hefl.crypto import PublicKey
from hefl.errors import BlobIntegrityError, BlobNotFoundError, HeflError, VerificationError
from hefl.learning.registry import STRATEGIES, strategy_from_description

#: Version of history.json.
HISTORY_FORMAT = 1


class LedgerView(Protocol):
    """The read side of the ledger that auditing needs."""

    def participants(self) -> tuple[ParticipantRecord, ...]: ...
    def round_count(self) -> int: ...
    def get_round(self, round: int) -> RoundRecord: ...
    def get_submission(self, round: int, participant: str) -> SubmissionRecord: ...
    def round_submissions(self, round: int) -> tuple[RoundRecord, tuple[SubmissionRecord, ...]]: ...
    def public_key_hash(self) -> bytes: ...
    def config_hash(self) -> bytes: ...


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _bitmap(indices: list[int]) -> int:
    return sum(1 << i for i in indices)


def export_history(
    ledger: LedgerView, metrics: Mapping[int, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Everything the ledger holds about a job, as JSON, plus per-round metrics (losses)."""
    people = ledger.participants()
    rounds = []
    for g in range(ledger.round_count()):
        record, submissions = ledger.round_submissions(g)
        entry = record.to_json()
        entry["submissions"] = [
            {
                "participant": s.participant,
                "model_hash": _hex(s.model_hash),
                "extra_hash": _hex(s.extra_hash),
            }
            for s in submissions
            if s.submitted
        ]
        if metrics and g in metrics:
            entry["metrics"] = dict(metrics[g])
        rounds.append(entry)
    return {
        "format": HISTORY_FORMAT,
        "public_key_hash": _hex(ledger.public_key_hash()),
        "config_hash": _hex(ledger.config_hash()),
        "participants": [
            {"index": p.index, "address": p.address, "data_size": p.data_size} for p in people
        ],
        "rounds": rounds,
    }


class ExportedHistory:
    """A :class:`LedgerView` over an exported ``history.json`` (no chain consulted)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        if document.get("format") != HISTORY_FORMAT:
            raise VerificationError(
                f"history format {document.get('format')!r} is not {HISTORY_FORMAT}; "
                "export it again with this hefl"
            )
        self.document = document
        self._participants = tuple(
            ParticipantRecord(index=p["index"], address=p["address"], data_size=p["data_size"])
            for p in document["participants"]
        )

    @classmethod
    def load(cls, path: str | Path) -> ExportedHistory:
        file = Path(path)
        if file.is_dir():
            file = file / "history.json"
        try:
            return cls(json.loads(file.read_text()))
        except (OSError, ValueError, KeyError) as error:
            raise VerificationError(f"cannot read a job history from {file}: {error}") from error

    def participants(self) -> tuple[ParticipantRecord, ...]:
        return self._participants

    def round_count(self) -> int:
        return len(self.document["rounds"])

    def get_round(self, round: int) -> RoundRecord:
        r = self.document["rounds"][round]
        zero = "0x" + "00" * 32
        return RoundRecord(
            round=r["round"],
            iteration=r["iteration"],
            tau=r["tau"],
            status=RoundStatus[r["status"].upper()],
            global_model_hash=bytes.fromhex(r["global_model_hash"][2:]),
            aggregate_hash=bytes.fromhex((r["aggregate_hash"] or zero)[2:]),
            submission_count=r["submission_count"],
            included=_bitmap(r["included"]),
            attest_count=r["attest_count"],
            dispute_count=r["dispute_count"],
            attested=_bitmap(r["attested"]),
            disputed=_bitmap(r["disputed"]),
            opened_block=r["opened_block"],
            aggregated_block=r["aggregated_block"] or 0,
            closed_block=r["closed_block"] or 0,
            deadline=r.get("deadline") or 0,
            aggregated_at=r.get("aggregated_at") or 0,
        )

    def get_submission(self, round: int, participant: str) -> SubmissionRecord:
        for s in self.document["rounds"][round]["submissions"]:
            if s["participant"].lower() == participant.lower():
                return SubmissionRecord(
                    round=round,
                    participant=s["participant"],
                    model_hash=bytes.fromhex(s["model_hash"][2:]),
                    extra_hash=bytes.fromhex(s["extra_hash"][2:]),
                )
        return SubmissionRecord(round, participant, b"\x00" * 32, b"\x00" * 32)  # type: ignore[arg-type]

    def round_submissions(self, round: int) -> tuple[RoundRecord, tuple[SubmissionRecord, ...]]:
        return self.get_round(round), tuple(
            self.get_submission(round, p.address) for p in self._participants
        )

    def public_key_hash(self) -> bytes:
        return bytes.fromhex(self.document["public_key_hash"][2:])

    def config_hash(self) -> bytes:
        return bytes.fromhex(self.document["config_hash"][2:])


#: How a report names where the history it checked came from.
LIVE_SOURCE = "read from the live chain"
PERSISTED_SOURCE = "read with contract calls from the run's persisted chain"
EXPORTED_SOURCE = "checked against the exported history; the chain itself was not consulted"


def open_run_ledger(
    directory: str | Path, chain: Chain | None = None, address: str | None = None
) -> LedgerClient | None:
    """The ledger of a run directory as the contract itself: on ``chain`` (a node) at
    ``address`` (default: the run's deployment record), else on the embedded chain the run
    persisted (``DIR/chain.db``); ``None`` when the run kept no chain (read its export then)."""
    from hefl.chain import DeploymentRecord, connect_embedded

    root = Path(directory)
    if address is None:
        record = root / "deployment.json"
        if not record.exists():
            if chain is None:
                return None
            raise VerificationError(f"{root} has no deployment.json; pass --address A")
        address = DeploymentRecord.load(record).address
    if chain is None:
        state = root / "chain.db"
        if not state.exists():
            return None
        chain = connect_embedded(state=state)
    return LedgerClient.at(chain, address)


def compare_history(exported: ExportedHistory, ledger: LedgerView) -> list[str]:
    """Every field where an exported ``history.json`` disagrees with the ledger, one line each."""
    problems = []
    for what, mine, theirs in (
        ("public_key_hash", exported.public_key_hash(), ledger.public_key_hash()),
        ("config_hash", exported.config_hash(), ledger.config_hash()),
        ("participants", exported.participants(), ledger.participants()),
    ):
        if mine != theirs:
            problems.append(f"history.json {what}: says {_show(mine)}, the ledger {_show(theirs)}")
    # The export may lag behind a live job (a round opened since); it may not run ahead of it.
    if exported.round_count() > ledger.round_count():
        problems.append(
            f"history.json round count: says {exported.round_count()}, the ledger "
            f"{ledger.round_count()}"
        )
    people = ledger.participants()
    for g in range(min(exported.round_count(), ledger.round_count())):
        chain_record, chain_subs = ledger.round_submissions(g)
        mine_round, chain_round = exported.get_round(g).to_json(), chain_record.to_json()
        for key, value in chain_round.items():
            if mine_round.get(key) != value:
                problems.append(
                    f"history.json round {g} {key}: says {_show(mine_round.get(key))}, the "
                    f"ledger {_show(value)}"
                )
        for p, chain_sub in zip(people, chain_subs, strict=True):
            mine_sub = exported.get_submission(g, p.address)
            for key in ("model_hash", "extra_hash"):
                if getattr(mine_sub, key) != getattr(chain_sub, key):
                    problems.append(
                        f"history.json round {g} participant {p.index} {key}: says "
                        f"{_show(getattr(mine_sub, key))}, the ledger "
                        f"{_show(getattr(chain_sub, key))}"
                    )
    return problems


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return _hex(value)
    if isinstance(value, tuple) and value and isinstance(value[0], ParticipantRecord):
        return ", ".join(f"{p.index}:{p.address}:{p.data_size}" for p in value)
    return str(value)


@dataclass
class AuditTrail:
    """What an audit checked and every problem it found (shared by every mode's report)."""

    source: str
    blobs: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fetch(self, store: BlobStore, blob_id: bytes, what: str) -> bytes | None:
        """The blob, hash-checked by the store; a problem recorded (and ``None``) if it fails."""
        try:
            data = store.get(blob_id)
        except BlobNotFoundError:
            self.problems.append(f"{what}: missing (no blob {_hex(bytes(blob_id))} in the store)")
            return None
        except BlobIntegrityError:
            self.problems.append(
                f"{what}: tampered (the stored bytes do not hash to {_hex(bytes(blob_id))})"
            )
            return None
        except HeflError as error:
            self.problems.append(f"{what}: {error}")
            return None
        self.blobs += 1
        return data


@dataclass
class AuditReport(AuditTrail):
    """The outcome of :func:`audit`."""

    rounds: int = 0
    aggregates: int = 0
    finalised: int = 0
    #: Ledger events that told the same story as the contract's state (0: no chain consulted).
    events: int = 0
    #: Blobs missing from the store that the chain's calldata held, one line each.
    restored: list[str] = field(default_factory=list)
    #: Where restored blobs were written back (``None``: kept in memory for the audit only).
    restored_into: str | None = None

    def summary(self) -> str:
        verdict = "OK" if self.ok else f"{len(self.problems)} problem(s)"
        events = f", {self.events} events agreed with the state" if self.events else ""
        lines = [
            f"{verdict}: {self.rounds} rounds, {self.blobs} blobs matched their hashes, "
            f"{self.aggregates} aggregates recomputed, {self.finalised} finalised with quorum"
            f"{events} ({self.source})"
        ]
        if self.restored:
            where = (
                f"written back to {self.restored_into}"
                if self.restored_into
                else "not written back (hefl verify --restore-blobs writes them)"
            )
            lines.append(
                f"{len(self.restored)} blob(s) missing from the store were restored from the "
                f"chain (the calldata of the transactions that carried them), {where}:"
            )
            lines += [f"  + {line}" for line in self.restored]
        return "\n".join(lines)


class RestoringStore(BlobStore):
    """The audit's view of a blob store: ``local`` first, then — on a ledger whose blobs travel
    in calldata — the transaction that carried the blob (found through the ``Submitted`` /
    ``AggregateCommitted`` event that recorded its hash, indexed once). Every read is
    hash-checked by :meth:`BlobStore.get`; a blob read from the chain is noted in
    :attr:`restored` and kept in memory, or written to ``local`` when ``write_back``."""

    def __init__(
        self, local: BlobStore, ledger: LedgerClient | None, *, write_back: bool = False
    ) -> None:
        self.local = local
        self.ledger = ledger if ledger is not None and ledger.blobs_on_chain() else None
        self.write_back = write_back
        #: Hashes of the blobs read from the chain, in the order they were read.
        self.restored: list[bytes] = []
        self._memory: dict[bytes, bytes] = {}
        self._carriers: dict[bytes, list[str]] | None = None

    def __repr__(self) -> str:
        return repr(self.local)

    def _write(self, key: bytes, data: bytes) -> None:
        if self.write_back:
            self.local.put(data)
        else:
            self._memory[key] = data

    def _exists(self, key: bytes) -> bool:
        return key in self._memory or self.local.has(key)

    def _read(self, key: bytes) -> bytes:
        if key in self._memory:
            return self._memory[key]
        try:
            return self.local.get(key)
        except BlobNotFoundError:
            if self.ledger is None:
                raise
        blob = self._from_chain(key)
        if blob is None:
            raise BlobNotFoundError(f"no blob 0x{key.hex()} in {self.local!r} nor on chain")
        self._write(key, blob)
        self.restored.append(key)
        return blob

    def _from_chain(self, key: bytes) -> bytes | None:
        assert self.ledger is not None
        try:
            if self._carriers is None:
                self._carriers = blob_carriers(self.ledger)
            return blob_in_transactions(self.ledger, key, self._carriers.get(key, []))
        except Exception as error:  # a node that answers nonsense: the blob stays missing
            raise BlobNotFoundError(
                f"no blob 0x{key.hex()} in {self.local!r}, and reading it from the chain "
                f"failed: {error}"
            ) from error


def audit(
    ledger: LedgerView,
    blobs: BlobStore,
    *,
    source: str | None = None,
    restore: bool = False,
) -> AuditReport:
    """Re-check a job from the ledger view and the blob store; see the module docstring.

    ``restore``: write the blobs restored from the chain back into ``blobs``."""
    live = ledger if isinstance(ledger, LedgerClient) else None
    if source is None:
        source = LIVE_SOURCE if live is not None else EXPORTED_SOURCE
    report = AuditReport(source=source)
    store = RestoringStore(blobs, live, write_back=restore)
    if restore and store.ledger is not None:
        report.restored_into = str(getattr(blobs, "directory", repr(blobs)))
    blobs = store

    def fetch(blob_id: bytes, what: str) -> bytes | None:
        before = len(store.restored)
        data = report.fetch(store, blob_id, what)
        if len(store.restored) > before:
            report.restored.append(f"{what}: restored from the chain ({_hex(bytes(blob_id))})")
        return data

    config_blob = fetch(ledger.config_hash(), "job configuration")
    key_blob = fetch(ledger.public_key_hash(), "public key")
    if config_blob is None or key_blob is None:
        return report
    description = json.loads(config_blob)["strategy"]
    public_key, spec = None, STRATEGIES.get(str(description.get("strategy")))
    if spec is not None and spec.needs_keypair:  # (an unknown name: the next line says so)
        public_key = PublicKey(int.from_bytes(key_blob, "big"))
    strategy = strategy_from_description(description, public_key)
    people = ledger.participants()
    quorum = quorum_for(len(people))

    if isinstance(ledger, LedgerClient):
        check_events(ledger, report)
    for g in range(ledger.round_count()):
        record, submissions = ledger.round_submissions(g)
        report.rounds += 1
        inputs = [fetch(record.global_model_hash, f"round {g} global model")]
        for i in record.included_indices:
            submission = submissions[i]
            inputs.append(fetch(submission.model_hash, f"round {g} model of participant {i}"))
            if submission.has_extra:
                what = f"round {g} extra blob of participant {i}"
                inputs.append(fetch(submission.extra_hash, what))
        if record.committed:
            aggregate = fetch(record.aggregate_hash, f"round {g} aggregate")
            # A missing or tampered input is the problem above; the aggregate is not blamed.
            if aggregate is not None and all(blob is not None for blob in inputs):
                _check_aggregate(report, strategy, ledger, blobs, g, record.aggregate_hash)
        if record.status is RoundStatus.FINALISED:
            if record.votes < quorum:
                report.problems.append(
                    f"round {g}: finalised with {record.votes} votes, below the quorum {quorum}"
                )
            else:
                report.finalised += 1
    return report


def _check_aggregate(
    report: AuditReport,
    strategy: Any,
    ledger: LedgerView,
    blobs: BlobStore,
    g: int,
    aggregate_hash: bytes,
) -> None:
    try:
        verdict = check_committed_aggregate(strategy, ledger, blobs, g)  # type: ignore[arg-type]
    except HeflError as error:
        report.problems.append(f"round {g}: cannot check the aggregate: {error}")
        return
    if verdict is not None:
        report.problems.append(
            f"round {g}: the aggregate recomputed from the committed local models does "
            f"not match the committed aggregate {_hex(aggregate_hash)}"
        )
    else:
        report.aggregates += 1


#: The event that records each round status a round ends in.
_STATUS_EVENTS = {
    RoundStatus.FINALISED: "RoundFinalised",
    RoundStatus.DISPUTED: "RoundDisputed",
    RoundStatus.VOIDED: "RoundVoided",
}


def check_events(ledger: LedgerClient, report: AuditReport) -> None:
    """The ledger's event log must tell each round's story as ``getRound``/``getSubmission``
    state it: one ``RoundOpened`` with its iteration, τ and global model, a ``Submitted`` per
    submission with its hashes, the ``AggregateCommitted`` of the committed aggregate over the
    included participants, and the event of the status the round ended in."""
    by_round: dict[int, list[Any]] = {}
    for event in ledger.events():
        if "round" in event.args:
            by_round.setdefault(int(event.args["round"]), []).append(event)
    people = ledger.participants()
    for g in range(ledger.round_count()):
        (record, submissions), events = ledger.round_submissions(g), by_round.get(g, [])
        named: dict[str, list[Any]] = {}
        for event in events:
            named.setdefault(event.name, []).append(event.args)

        def differs(what: str, logged: Any, state: Any, g: int = g) -> None:
            report.problems.append(
                f"round {g} events: {what} is {_show(logged)} in the log but "
                f"{_show(state)} in the contract's state"
            )

        opened = named.get("RoundOpened", [])
        story = [(a["iteration"], a["tau"], bytes(a["globalModelHash"])) for a in opened]
        if story != [(record.iteration, record.tau, record.global_model_hash)]:
            differs("RoundOpened (t, τ, global model)", story, record.global_model_hash)
        logged = {
            a["participant"]: (a["modelHash"], a["extraHash"]) for a in named.get("Submitted", [])
        }
        for p, s in zip(people, submissions, strict=True):
            state = (s.model_hash, s.extra_hash) if s.submitted else None
            if logged.get(p.address) != state:
                differs(f"participant {p.index}'s submission", logged.get(p.address), state)
        commits = [(a["aggregateHash"], a["included"]) for a in named.get("AggregateCommitted", [])]
        expected = [(record.aggregate_hash, record.included)] if record.committed else []
        if commits != expected:
            differs("AggregateCommitted (aggregate, included)", commits, expected)
        for vote_event, state_count in (
            ("Attested", record.attest_count),
            ("DisputeRaised", record.dispute_count),
        ):
            if len(named.get(vote_event, [])) != state_count:
                differs(f"{vote_event} count", len(named.get(vote_event, [])), state_count)
        ending = _STATUS_EVENTS.get(record.status)
        for status_event in _STATUS_EVENTS.values():
            count = len(named.get(status_event, []))
            if count != (1 if status_event == ending else 0):
                differs(f"{status_event} count", count, record.status.name.lower())
        report.events += len(events)
