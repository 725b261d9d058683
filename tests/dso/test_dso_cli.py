"""`hefl dso run`, `hefl verify DIR` and `hefl history --run DIR` as a user calls them (the README's
commands): the run directory, the checkpoints on the DsoLedger, the replay of the transcripts that
catches a tampered message or state, the progress bar, and one-line errors before anything goes on
chain."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from hefl.cli.main import main
from hefl.crypto import keccak256
from hefl.dso import expected_counts, packing_layout
from hefl.dso.config import DsoConfig
from hefl.dso.ledger import verify_run

#: What a quick run adds to the README's commands (small keys, few iterations).
SMALL = ["--key-bits", "512", "--allow-insecure-keys"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> tuple[Path, str]:
    """The README's first command at its defaults: 5 agents on a ring, 100 iterations, 2048 bits."""
    out = tmp_path_factory.mktemp("dso") / "ring"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["dso", "run", "--out", str(out)]) == 0
    return out, err.getvalue()


def test_run_writes_the_directory_and_commits_every_checkpoint(run_dir) -> None:
    out, stderr = run_dir
    assert "100/100" in stderr  # the progress bar (on stderr; --quiet turns it off)
    run = json.loads((out / "run.json").read_text())
    assert run["format"] == "hefl-dso-run/v1"
    config = DsoConfig.from_json(run["config"])
    assert (config.iterations, config.key_bits, config.checkpoint_interval) == (100, 2048, 10)
    history = json.loads((out / "dso_history.json").read_text())
    assert history["config_hash"] == "0x" + keccak256((out / "config.json").read_bytes()).hex()
    assert len(history["commitments"]) == 10 * 5  # C = ⌈100/10⌉ checkpoints × N agents
    assert sorted({c["last_iteration"] for c in history["commitments"]}) == list(range(10, 101, 10))
    with (out / "metrics.csv").open() as handle:
        mse = [float(r["mse"]) for r in csv.DictReader(handle)]
    assert len(mse) == 101 and mse[-1] < 0.05 * mse[0]
    # The Paillier operations the run counted are the protocol's, iteration by iteration.
    expected = expected_counts(5, 10, packing_layout(config, 3))
    assert run["expected_per_iteration"] == expected
    for kind in ("encryptions", "rerandomizations", "decryptions", "exponentiations"):
        assert run["counts"][kind] == 100 * expected[kind]
    assert run["counts"]["state_encryptions"] == 10 * 5 * 3
    # Each agent's directory: its public key and transcripts, never a private key (in process).
    for i in range(5):
        agent = out / "agents" / f"agent-{i}"
        assert sorted(p.name for p in agent.iterdir()) == [
            "public.json", "received.jsonl", "sent.jsonl", "states",
        ]  # fmt: skip
        assert (agent / "sent.jsonl").read_text().count("\n") == 100 * 2 * 2  # deg 2, req + resp


def test_verify_and_history_on_the_run(run_dir, capsys) -> None:
    out, _ = run_dir
    assert main(["verify", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "50 commitments and 2000 messages replayed" in printed and "all match" in printed
    assert main(["history", "--run", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "10 checkpoints of 5 agents" in lines[0]
    rows = [line.split() for line in lines[2:]]
    assert [int(r[1]) for r in rows] == list(range(10, 101, 10))
    assert all(r[2] == "5/5" for r in rows)
    assert main(["history", "--run", str(out), "--json"]) == 0
    checkpoints = json.loads(capsys.readouterr().out)
    assert [c["checkpoint"] for c in checkpoints] == list(range(1, 11))
    assert all(len(c["transcripts"]) == 5 and c["mse"] > 0 for c in checkpoints)


def _tampered_copy(run_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    return copy


def _rewrite(path: Path, iteration: int, kind: int, change) -> None:
    lines = path.read_text().splitlines()
    for pos, line in enumerate(lines):
        message = json.loads(line)
        if message["k"] == iteration and message["kind"] == kind:
            lines[pos] = json.dumps(change(message))
            break
    else:
        raise AssertionError("no such message")
    path.write_text("\n".join(lines) + "\n")


def _flip_last_byte(message: dict) -> dict:
    payload = bytes.fromhex(message["payload"])
    return {**message, "payload": (payload[:-1] + bytes([payload[-1] ^ 1])).hex()}


def test_a_tampered_transcript_is_caught_naming_the_first_mismatch(run_dir, tmp_path, capsys):
    out, _ = run_dir
    copy = _tampered_copy(out, tmp_path)
    agent = copy / "agents" / "agent-2"
    # Agent 2's response of iteration 23 altered in its own log, and again at iteration 57.
    _rewrite(agent / "sent.jsonl", 23, 1, _flip_last_byte)
    _rewrite(agent / "sent.jsonl", 57, 1, _flip_last_byte)
    assert main(["verify", str(copy)]) == 1
    captured = capsys.readouterr()
    assert "first mismatch: checkpoint 3, agent 2: iteration 23 response 2→" in captured.out
    assert "transcript hash" in captured.out and "≠ on-chain" in captured.out
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    report = verify_run(copy)
    assert [p.split(":")[0] for _, p in sorted(report.problems)] == [
        "checkpoint 3, agent 2",
        "checkpoint 6, agent 2",
    ]


def test_a_transcript_rewritten_on_both_ends_still_fails_the_commitment(run_dir, tmp_path):
    out, _ = run_dir
    copy = _tampered_copy(out, tmp_path)
    # Agent 1's request of iteration 5 to agent 0 replaced in both logs by a fresh, valid
    # encryption under agent 1's key: every message checks, the on-chain hash does not.
    from hefl.crypto import EncryptedVector, PublicKey

    key = PublicKey.load(copy / "agents" / "agent-1" / "public.json", allow_insecure=True)
    forged = EncryptedVector.encrypt_ints(key, [0, 0, 0], bound=1).to_bytes().hex()

    def forge(message: dict) -> dict:
        return {**message, "payload": forged} if message["to"] == 0 else message

    for log in ("agent-1/sent.jsonl", "agent-0/received.jsonl"):
        path = copy / "agents" / log
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        lines = [forge(m) if (m["k"], m["from"], m["kind"]) == (5, 1, 0) else m for m in lines]
        path.write_text("".join(json.dumps(m) + "\n" for m in lines))
    report = verify_run(copy)
    assert not report.ok
    assert report.first_mismatch.startswith("checkpoint 1, agent 1: transcript hash 0x")


def test_a_dropped_message_and_a_tampered_state_are_caught(run_dir, tmp_path) -> None:
    out, _ = run_dir
    copy = _tampered_copy(out, tmp_path)
    sent = copy / "agents" / "agent-4" / "sent.jsonl"
    lines = sent.read_text().splitlines()
    dropped = next(i for i, line in enumerate(lines) if json.loads(line)["k"] == 95)
    sent.write_text("\n".join(lines[:dropped] + lines[dropped + 1 :]) + "\n")
    state = copy / "agents" / "agent-3" / "states" / "4.bin"
    blob = state.read_bytes()
    state.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    problems = [p for _, p in sorted(verify_run(copy).problems)]
    assert any(
        p.startswith("checkpoint 4, agent 3: encrypted state does not hash") for p in problems
    )
    assert any(
        p.startswith("checkpoint 10, agent 4:") and "messages sent, the protocol sends" in p
        for p in problems
    )


def test_quiet_turns_the_progress_bar_off(tmp_path, capsys) -> None:
    out = tmp_path / "quiet"
    argv = ["dso", "run", "--agents", "3", "--iterations", "3", "--quiet", "--out", str(out)]
    assert main([*argv, *SMALL]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.startswith("hefl dso run: 3 iterations of 3 agents on ring")
    assert main([*argv, *SMALL]) == 1  # the same --out again: refused, the run kept
    assert "--out" in capsys.readouterr().err and (out / "run.json").exists()


def test_regression_on_a_random_graph(tmp_path, capsys) -> None:
    """The README's second command: 6 agents on a seeded random graph, diabetes regression."""
    out = tmp_path / "diabetes"
    argv = ["dso", "run", "--graph", "random", "--agents", "6", "--problem", "diabetes"]
    assert main([*argv, "--lam", "0.2,0.01,1", "--iterations", "10", "--out", str(out)]) == 0
    assert "10/10" in capsys.readouterr().err
    run = json.loads((out / "run.json").read_text())
    assert run["graph"]["n"] == 6 and run["graph"]["name"].startswith("random(")
    assert run["problem"]["dataset"] == "diabetes" and len(run["optimum"]) == 11
    assert run["config"]["lam"] == {"scale": 0.2, "coef": 0.01, "power": 1.0}
    assert main(["verify", str(out)]) == 0


def test_an_edge_list_file_and_the_process_transport(tmp_path, capsys) -> None:
    edges = tmp_path / "path.txt"
    edges.write_text("# a path of four agents\n0 1\n1 2\n2 3\n")
    out = tmp_path / "processes"
    argv = ["dso", "run", "--graph", f"file:{edges}", "--transport", "processes"]
    assert main([*argv, "--iterations", "4", "--out", str(out), *SMALL]) == 0
    assert "4/4" in capsys.readouterr().err  # the progress bar follows the slowest agent
    run = json.loads((out / "run.json").read_text())
    assert run["graph"]["edges"] == [[0, 1], [1, 2], [2, 3]] and run["transport"] == "processes"
    key = out / "agents" / "agent-0" / "key.json"
    assert key.stat().st_mode & 0o777 == 0o600  # each agent's own key file, in its own directory
    document = json.loads(key.read_text())  # encrypted at rest: no key material in clear
    assert document["cipher"] == "aes-256-gcm" and not {"p", "q"} & set(document)
    assert main(["verify", str(out)]) == 0


@pytest.mark.parametrize(
    ("argv", "flag", "detail"),
    [
        (["--graph", "star"], "--graph", "unknown graph 'star'"),
        (["--graph", "file:/nonexistent/edges.txt"], "--graph", "cannot read edge list"),
        (["--problem", "mnist"], "--problem", "unknown data set 'mnist'"),
        (["--problem", "data.csv"], "--problem", "needs a target column"),
        (["--gamma", "1,0.1,1.2"], "--gamma", "Σγ_k = ∞ fails"),
        (["--lam", "0.05,0.1,0.8"], "--gamma/--lam", "Σλ_k²/γ_k < ∞ fails"),
        (["--lam", "fast"], "--lam", "'fast' is not 'scale,coef,power'"),
        (["--a-max", "0.9"], "--gamma/--lam/--a-max", "γ_0·a_max²·(max degree) < 1 fails"),
        (["--a-min", "0.8", "--a-max", "0.6"], "--a-min/--a-max", "0 < a_min ≤ a_max"),
        (["--iterations", "0"], "--iterations", "iterations must be ≥ 1, got 0"),
        (["--checkpoint-interval", "0"], "--checkpoint-interval", "got 0"),
        (["--state-bound", "-1"], "--state-bound", "got -1"),
        (["--key-bits", "1024"], "--key-bits", "1024"),
        (["--key-bits", "100", "--allow-insecure-keys"], "--key-bits", "too small"),
    ],
)
def test_bad_input_is_one_line_naming_the_flag(argv, flag, detail, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["dso", "run", *argv, "--quiet", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert flag in err and detail in err
    assert not (out / "run.json").exists() and not (out / "dso_history.json").exists()


def test_checkpoints_on_a_live_node(anvil_url: str, tmp_path, capsys) -> None:
    """`--rpc URL`: the DsoLedger lives on a real Anvil node; `hefl verify DIR --rpc URL` and
    `hefl history --run DIR --rpc URL` read the commitments from it."""
    out = tmp_path / "live"
    argv = ["dso", "run", "--agents", "3", "--iterations", "4", "--checkpoint-interval", "2"]
    assert main([*argv, "--rpc", anvil_url, "--quiet", "--out", str(out), *SMALL]) == 0
    capsys.readouterr()
    assert main(["verify", str(out), "--rpc", anvil_url]) == 0
    assert f"the live chain at {anvil_url}" in capsys.readouterr().out
    assert main(["history", "--run", str(out), "--rpc", anvil_url]) == 0
    assert "2 checkpoints of 3 agents" in capsys.readouterr().out
    # What the chain says wins over the exported copy in DIR: a rewritten copy changes nothing.
    exported = out / "dso_history.json"
    history = json.loads(exported.read_text())
    history["commitments"][0]["transcript_hash"] = "0x" + "11" * 32
    exported.write_text(json.dumps(history))
    assert main(["verify", str(out), "--rpc", anvil_url]) == 0
    assert main(["verify", str(out)]) == 1


def test_verify_replays_the_configuration_the_chain_committed_to(run_dir, tmp_path) -> None:
    """Shortening the run in run.json (checking only its first half) does not pass: the replay
    follows config.json, whose keccak256 is the ledger's configHash."""
    out, _ = run_dir
    copy = _tampered_copy(out, tmp_path)
    run = json.loads((copy / "run.json").read_text())
    run["config"]["iterations"] = 50
    (copy / "run.json").write_text(json.dumps(run))
    report = verify_run(copy)
    assert (
        report.first_mismatch
        == "run.json's config differs from config.json's (the ledger's configHash)"
    )
    assert report.checked_commitments == 50  # all ten checkpoints were still replayed
    (copy / "config.json").write_bytes((copy / "config.json").read_bytes().replace(b"100", b"50"))
    problems = [p for _, p in verify_run(copy).problems]
    assert "config.json does not hash to the ledger's configHash" in problems
