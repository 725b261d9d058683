"""A run on the ledger: run directories, checkpoint commitments, ``hefl verify`` and ``history``.

Directory layout of ``hefl dso run --out DIR``::

    DIR/run.json                 format "hefl-dso-run/v1", config, graph, problem, counts, timing
    DIR/config.json              the configuration blob whose keccak256 is the ledger's configHash
    DIR/dso_history.json         the DsoLedger as exported after the run (the embedded chain ends
                                 with the run; ``--rpc`` reads a live one instead)
    DIR/metrics.csv              k, MSE(k) to the centralised optimum
    DIR/agents/agent-i/          public.json, sent.jsonl, received.jsonl, states/c.bin
                                 (+ key.json, mode 0600, encrypted, in the process mode)

:func:`verify_run` replays the encrypted exchange from the stored transcripts: for every checkpoint
and agent it recomputes the transcript hash from the messages the agent sent, checks each message
decodes under the key it must be under (a request under its sender's, a response under its
recipient's) and equals the copy its recipient logged, checks the encrypted state against its hash
and key, and compares everything with the on-chain commitments, naming the first mismatch.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hefl.canonical import canonical_json
from hefl.chain import Chain, connect_embedded, connect_rpc
from hefl.chain.dso_ledger import DsoCommitment, DsoLedgerClient, deploy_dso_ledger
from hefl.crypto import EncryptedVector, InsecureKeyWarning, PrivateKey, PublicKey, keccak256
from hefl.dso.agent import CheckpointRecord
from hefl.dso.config import DsoConfig
from hefl.dso.emulation import Trajectory
from hefl.dso.files import AgentFiles
from hefl.dso.graph import Graph
from hefl.dso.problems import Problem
from hefl.dso.protocol import REQUEST, Message, expected_counts, packing_layout, transcript_hash
from hefl.dso.runner import AGENT_DIR, generate_keys, run_private, run_processes
from hefl.errors import ConfigError, HeflError, TranscriptError

RUN_FORMAT = "hefl-dso-run/v1"
TRANSPORTS: tuple[str, ...] = ("inprocess", "processes")


@dataclass(frozen=True)
class RunSummary:
    directory: Path
    trajectory: Trajectory
    ledger_address: str
    commitments: int


def run_to_directory(
    problem: Problem,
    graph: Graph,
    config: DsoConfig,
    out: Path,
    *,
    transport: str = "inprocess",
    chain: Chain | None = None,
    keys: Sequence[PrivateKey] | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunSummary:
    """Keys, a DsoLedger, the encrypted run with checkpoints committed, and the run directory."""
    if transport not in TRANSPORTS:
        raise ConfigError(f"transport {transport!r} unknown; use one of {TRANSPORTS}")
    if graph.n != problem.n:
        raise ConfigError(f"the graph has {graph.n} agents but the problem {problem.n}")
    config.check_schedules(graph.max_degree)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "run.json").exists():
        raise ConfigError(f"{out} already holds a run; choose another --out")
    blob = canonical_json(
        {"config": config.to_json(), "graph": graph.to_json(), "problem": problem.to_json()}
    )
    (out / "config.json").write_bytes(blob)
    keys = list(keys) if keys is not None else generate_keys(graph.n, config)
    if len(keys) != graph.n:
        raise ConfigError(f"{len(keys)} key pairs for {graph.n} agents")
    agents_dir = out / "agents"
    for i, sk in enumerate(keys):
        d = agents_dir / AGENT_DIR.format(i)
        d.mkdir(parents=True, exist_ok=True)
        sk.public_key.save(d / "public.json")
    chain = chain or connect_embedded(num_accounts=graph.n + 1)
    accounts = chain.accounts_for(graph.n + 1)
    ledger = deploy_dso_ledger(
        chain,
        accounts[0],
        accounts[1:],
        [sk.public_key.fingerprint for sk in keys],
        keccak256(blob),
        config.iterations,
        config.checkpoint_interval,
    )
    senders = [ledger.as_sender(a) for a in accounts[1:]]
    files: dict[int, AgentFiles] = {}

    def commit(record: CheckpointRecord) -> None:
        target = agents_dir / AGENT_DIR.format(record.agent)
        states = target / "states"
        states.mkdir(parents=True, exist_ok=True)
        (states / f"{record.checkpoint}.bin").write_bytes(record.state_blob)
        senders[record.agent].commit_checkpoint(
            record.checkpoint, record.transcript_hash, record.state_hash
        )

    if transport == "inprocess":
        for i in range(graph.n):
            files[i] = AgentFiles(agents_dir / AGENT_DIR.format(i))

        def hooks(i: int) -> tuple[Any, Any]:
            return files[i].sent, files[i].received

        def commit_flushed(record: CheckpointRecord) -> None:
            files[record.agent].flush()
            commit(record)

        try:
            trajectory = run_private(
                problem,
                graph,
                config,
                keys=keys,
                hooks=hooks,
                checkpoint=commit_flushed,
                progress=progress,
            )
        finally:
            for f in files.values():
                f.close()
    else:
        trajectory = run_processes(
            problem, graph, config, agents_dir, keys=keys, checkpoint=commit, progress=progress
        )
    exported = ledger.export()
    (out / "dso_history.json").write_text(json.dumps(exported, indent=2))
    mse = trajectory.mse()
    with (out / "metrics.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["k", "mse"])
        writer.writerows([k, f"{v:.12g}"] for k, v in enumerate(mse))
    layout = packing_layout(config, problem.d)
    run = {
        "format": RUN_FORMAT,
        "config": config.to_json(),
        "graph": graph.to_json(),
        "problem": problem.to_json(),
        "transport": transport,
        "ledger": {"address": ledger.address, "chain_id": chain.chain_id},
        "seconds": trajectory.seconds,
        "seconds_per_iteration": trajectory.seconds_per_iteration,
        "counts": trajectory.counts,
        "expected_per_iteration": expected_counts(graph.n, graph.directed_edges, layout),
        "final_mse": float(mse[-1]),
        "optimum": trajectory.optimum.tolist(),
    }
    (out / "run.json").write_text(json.dumps(run, indent=2))
    return RunSummary(out, trajectory, ledger.address, len(exported["commitments"]))


# --- reading a run back ----------
def is_dso_run(directory: Path) -> bool:
    """Whether ``directory`` holds a ``hefl dso run`` output."""
    try:
        return json.loads((directory / "run.json").read_text()).get("format") == RUN_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _read_log(path: Path) -> list[Message]:
    try:
        return [Message.from_json(json.loads(line)) for line in path.read_text().splitlines()]
    except (OSError, ValueError, KeyError) as error:
        raise TranscriptError(f"{path}: unreadable transcript ({error})") from error


def _ledger_view(directory: Path, rpc: str | None, address: str | None) -> tuple[dict, str]:
    exported = json.loads((directory / "dso_history.json").read_text())
    if rpc is None:
        return exported, "the exported history (the chain was not consulted)"
    client = DsoLedgerClient.at(connect_rpc(rpc), address or exported["address"])
    return client.export(), f"the live chain at {rpc}"


@dataclass
class DsoAuditReport:
    directory: Path
    source: str
    checked_messages: int = 0
    checked_commitments: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_mismatch(self) -> str | None:
        return min(self.problems)[1] if self.problems else None

    def summary(self) -> str:
        head = (
            f"{self.directory}: dso run, {self.checked_commitments} commitments and "
            f"{self.checked_messages} messages replayed against {self.source}"
        )
        if self.ok:
            return head + ": all match"
        return f"{head}: {len(self.problems)} problem(s); first mismatch: {self.first_mismatch}"


def verify_run(
    directory: Path, rpc: str | None = None, address: str | None = None
) -> DsoAuditReport:
    """Replay a run's transcripts against the ledger's commitments (module docstring)."""
    run = json.loads((directory / "run.json").read_text())
    ledger, source = _ledger_view(directory, rpc, address)
    report = DsoAuditReport(directory, source)
    # The configuration replayed is config.json, whose hash is on chain, never run.json alone.
    blob = (directory / "config.json").read_bytes()
    if "0x" + keccak256(blob).hex() != ledger["config_hash"]:
        report.problems.append((-1, "config.json does not hash to the ledger's configHash"))
    committed = json.loads(blob)
    for part in ("config", "graph", "problem"):
        if run.get(part) != committed[part]:
            report.problems.append(
                (-1, f"run.json's {part} differs from config.json's (the ledger's configHash)")
            )
    config = DsoConfig.from_json(committed["config"])
    graph = Graph.from_json(committed["graph"])
    if (config.iterations, config.checkpoint_interval) != (
        ledger["iterations"],
        ledger["interval"],
    ):
        report.problems.append(
            (-1, "config.json's iterations and checkpoint interval are not the ledger's T and K")
        )
    if graph.n != len(ledger["agents"]):
        report.problems.append(
            (-1, f"config.json has {graph.n} agents, the ledger {len(ledger['agents'])}")
        )
        return report
    keys: list[PublicKey] = []
    agents_dir = directory / "agents"
    for i in range(graph.n):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureKeyWarning)
            key = PublicKey.load(
                agents_dir / AGENT_DIR.format(i) / "public.json", allow_insecure=True
            )
        if key.fingerprint_hex != ledger["key_fingerprints"][i]:
            report.problems.append(
                (-1, f"agent {i}: public.json is not the key registered on chain")
            )
        keys.append(key)
    sent = {i: _read_log(agents_dir / AGENT_DIR.format(i) / "sent.jsonl") for i in range(graph.n)}
    received: dict[tuple[int, int, int, int], bytes] = {}
    for i in range(graph.n):
        for m in _read_log(agents_dir / AGENT_DIR.format(i) / "received.jsonl"):
            received[(m.iteration, m.sender, m.recipient, m.kind)] = m.digest()
    commitments = {
        (c.checkpoint, c.index): c for c in map(DsoCommitment.from_json, ledger["commitments"])
    }
    K, T = config.checkpoint_interval, config.iterations
    layout = packing_layout(config, len(run["optimum"]))
    for c in range(1, -(-T // K) + 1):
        lo, hi = (c - 1) * K, min(c * K, T)
        for i in range(graph.n):
            onchain = commitments.get((c, i))
            if onchain is None:
                report.problems.append((lo, f"checkpoint {c}, agent {i}: no commitment on chain"))
                continue
            report.checked_commitments += 1
            window = [m for m in sent[i] if lo <= m.iteration < hi]
            first_bad = None
            for m in window:
                report.checked_messages += 1
                problem = _check_message(m, keys, layout, graph.neighbours(m.sender), received)
                if problem and first_bad is None:
                    first_bad = (
                        m.iteration,
                        f"checkpoint {c}, agent {i}: {m.describe()}: {problem}",
                    )
            expected_count = 2 * len(graph.neighbours(i)) * (hi - lo)
            if len(window) != expected_count:
                report.problems.append(
                    (
                        lo,
                        f"checkpoint {c}, agent {i}: {len(window)} messages "
                        f"sent, the protocol sends {expected_count}",
                    )
                )
            digest = transcript_hash(c, i, [m.digest() for m in window])
            if digest != onchain.transcript_hash:
                where = first_bad or (lo, f"checkpoint {c}, agent {i}")
                ours, theirs = digest.hex()[:16], onchain.transcript_hash.hex()[:16]
                text = f"{where[1]}: transcript hash 0x{ours}… ≠ on-chain 0x{theirs}…"
                report.problems.append((where[0], text))
            elif first_bad is not None:
                report.problems.append(first_bad)
            report.problems.extend(
                (hi, p) for p in _check_state(agents_dir, c, i, keys[i], onchain)
            )
    return report


def _check_message(
    m: Message,
    keys: list[PublicKey],
    layout: Any,
    neighbours: tuple[int, ...],
    received: dict[tuple[int, int, int, int], bytes],
) -> str | None:
    if m.recipient not in neighbours:
        return "sent to an agent that is not a neighbour"
    owner = m.sender if m.kind == REQUEST else m.recipient
    try:
        vector = EncryptedVector.from_bytes(m.payload, keys[owner])
    except HeflError as error:
        return f"not a ciphertext vector under agent {owner}'s key ({error})"
    want = layout.d if m.kind == REQUEST else layout.ciphertexts
    if len(vector) != want:
        return f"{len(vector)} ciphertexts, the protocol sends {want}"
    logged = received.get((m.iteration, m.sender, m.recipient, m.kind))
    if logged is None:
        return "the recipient never logged it"
    if logged != m.digest():
        return "the sender's copy differs from what the recipient received"
    return None


def _check_state(
    agents_dir: Path, c: int, i: int, key: PublicKey, onchain: DsoCommitment
) -> list[str]:
    path = agents_dir / AGENT_DIR.format(i) / "states" / f"{c}.bin"
    try:
        data = path.read_bytes()
    except OSError:
        return [f"checkpoint {c}, agent {i}: encrypted state {path.name} missing"]
    if keccak256(data) != onchain.state_hash:
        return [
            f"checkpoint {c}, agent {i}: encrypted state does not hash to the on-chain state hash"
        ]
    try:
        EncryptedVector.from_bytes(data, key)
    except HeflError as error:
        return [f"checkpoint {c}, agent {i}: encrypted state not under its key ({error})"]
    return []


def verify_directory(directory: Path, rpc: str | None = None, address: str | None = None) -> int:
    """``hefl verify DIR`` on a dso run: print the report, raise on a mismatch."""
    report = verify_run(directory, rpc, address)
    print(report.summary())
    for _, problem in sorted(report.problems):
        print(f"  - {problem}")
    if not report.ok:
        raise TranscriptError(f"{len(report.problems)} problem(s); first: {report.first_mismatch}")
    return 0


def print_history(directory: Path, rpc: str | None = None, *, as_json: bool = False) -> None:
    """``hefl history --run DIR`` on a dso run: one row per checkpoint with its MSE."""
    ledger, source = _ledger_view(directory, rpc, None)
    with (directory / "metrics.csv").open() as handle:
        mse = {int(r["k"]): float(r["mse"]) for r in csv.DictReader(handle)}
    by_checkpoint: dict[int, list[dict[str, Any]]] = {}
    for c in ledger["commitments"]:
        by_checkpoint.setdefault(int(c["checkpoint"]), []).append(c)
    rows = []
    for c, entries in sorted(by_checkpoint.items()):
        last = int(entries[0]["last_iteration"])
        rows.append(
            {
                "checkpoint": c,
                "last_iteration": last,
                "agents": len(entries),
                "mse": mse.get(last),
                "transcripts": [e["transcript_hash"] for e in entries],
            }
        )
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    n = len(ledger["agents"])
    print(f"{directory}: dso run, {len(rows)} checkpoints of {n} agents, from {source}")
    print(f"{'c':>4}  {'iteration':>9}  {'agents':>6}  {'MSE':>12}")
    for r in rows:
        value = "-" if r["mse"] is None else f"{r['mse']:.6g}"
        print(
            f"{r['checkpoint']:>4}  {r['last_iteration']:>9}  {r['agents']:>3}/{n:<2}  {value:>12}"
        )
