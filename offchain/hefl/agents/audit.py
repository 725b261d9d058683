"""Auditing a job from public data alone, and exporting its history.

:func:`audit` re-checks a job from a ledger view and the blob store: every blob matches its hash,
every committed aggregate recomputes (Eq. 10) to its commitment, every finalised round had its
quorum. The ledger view is either the live contract (:class:`hefl.chain.LedgerClient`) or the
``history.json`` a run exported (:class:`ExportedHistory`) — the embedded chain does not outlive
its process, so a finished embedded run can only be checked against what it exported, and the
report says so.
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
    LedgerClient,
    ParticipantRecord,
    RoundRecord,
    RoundStatus,
    SubmissionRecord,
    quorum_for,
)
from hefl.crypto import PublicKey
from hefl.errors import HeflError, VerificationError
from hefl.learning.registry import STRATEGIES, strategy_from_description

#: Version of history.json.
HISTORY_FORMAT = 1


class LedgerView(Protocol):
    """The read side of the ledger that auditing needs."""

    def participants(self) -> tuple[ParticipantRecord, ...]: ...
    def round_count(self) -> int: ...
    def get_round(self, round: int) -> RoundRecord: ...
    def get_submission(self, round: int, participant: str) -> SubmissionRecord: ...
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
        entry = ledger.get_round(g).to_json()
        entry["submissions"] = [
            {
                "participant": s.participant,
                "model_hash": _hex(s.model_hash),
                "extra_hash": _hex(s.extra_hash),
            }
            for s in (ledger.get_submission(g, p.address) for p in people)
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

    def public_key_hash(self) -> bytes:
        return bytes.fromhex(self.document["public_key_hash"][2:])

    def config_hash(self) -> bytes:
        return bytes.fromhex(self.document["config_hash"][2:])


#: How a report names where the history it checked came from.
LIVE_SOURCE = "read from the live chain"
EXPORTED_SOURCE = "checked against the exported history; the chain itself was not consulted"


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

    def summary(self) -> str:
        verdict = "OK" if self.ok else f"{len(self.problems)} problem(s)"
        return (
            f"{verdict}: {self.rounds} rounds, {self.blobs} blobs matched their hashes, "
            f"{self.aggregates} aggregates recomputed, {self.finalised} finalised with quorum "
            f"({self.source})"
        )


def audit(ledger: LedgerView, blobs: BlobStore, *, source: str | None = None) -> AuditReport:
    """Re-check a job from the ledger view and the blob store; see the module docstring."""
    if source is None:
        source = LIVE_SOURCE if isinstance(ledger, LedgerClient) else EXPORTED_SOURCE
    report = AuditReport(source=source)

    def fetch(blob_id: bytes, what: str) -> bytes | None:
        return report.fetch(blobs, blob_id, what)

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

    for g in range(ledger.round_count()):
        record = ledger.get_round(g)
        report.rounds += 1
        fetch(record.global_model_hash, f"round {g} global model")
        for i in record.included_indices:
            submission = ledger.get_submission(g, people[i].address)
            fetch(submission.model_hash, f"round {g} model of participant {i}")
            if submission.has_extra:
                fetch(submission.extra_hash, f"round {g} extra blob of participant {i}")
        if record.committed:
            if fetch(record.aggregate_hash, f"round {g} aggregate") is None:
                continue
            try:
                verdict = check_committed_aggregate(strategy, ledger, blobs, g)  # type: ignore[arg-type]
            except HeflError as error:
                report.problems.append(f"round {g}: cannot check the aggregate: {error}")
                continue
            if verdict is not None:
                report.problems.append(
                    f"round {g}: the aggregate recomputed from the committed local models does "
                    f"not match the committed aggregate {_hex(record.aggregate_hash)}"
                )
            else:
                report.aggregates += 1
        if record.status is RoundStatus.FINALISED:
            if record.votes < quorum:
                report.problems.append(
                    f"round {g}: finalised with {record.votes} votes, below the quorum {quorum}"
                )
            else:
                report.finalised += 1
    return report
