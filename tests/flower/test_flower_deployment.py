"""Flower's deployment engine on loopback, as real processes: ``flower-superlink --insecure``, one
``flower-supernode`` per participant and ``flwr run`` of the Flower app in ``examples/flower``.

One job of three rounds on three SuperNodes; the SuperNode of participant 2 is killed (SIGKILL, with
its ClientApp) as soon as round 1 opens on chain. Round 1 must close without it (the deadline
passes, Eq. 10 renormalises over the two others, the two replicas reach the quorum), and the job
must go on to round 2. The exported history is complete and ``hefl verify`` replays it.
"""

from __future__ import annotations

import json
import secrets
import threading
import time

import pytest

from hefl.agents.identity import write_private
from hefl.chain import LedgerClient, RoundStatus, connect_rpc
from hefl.cli.main import main
from hefl.flower.deployment import EXAMPLE_APP, LoopbackDeployment, write_run_config
from hefl.flower.setup import prepare_job
from hefl.flower.simulate import PASSWORD_FILE, loopback_chain, run_config_for

from .conftest import job_spec

pytestmark = pytest.mark.timeout(420)

#: The participant whose SuperNode is killed, and the round in which that happens.
VICTIM, KILL_ROUND = 2, 1


def _kill_when_round_opens(
    ledger: LedgerClient, deployment: LoopbackDeployment, stop: threading.Event, killed: list
) -> None:
    while not stop.is_set():
        if ledger.round_count() > KILL_ROUND:
            deployment.kill(f"supernode-{VICTIM}")
            killed.append(ledger.submissions(KILL_ROUND))
            return
        time.sleep(0.05)


def test_loopback_deployment_history_verifies_and_survives_a_killed_supernode(tmp_path, capsys):
    out = tmp_path / "job"
    out.mkdir()
    password = secrets.token_urlsafe(16)
    write_private(out / PASSWORD_FILE, password)
    with loopback_chain(None) as url:
        chain = connect_rpc(url)
        prepared = prepare_job(
            job_spec(participants=3, rounds=3, deadline_s=20.0), chain, out, password
        )
        run_config = write_run_config(
            tmp_path / "run-config.toml", run_config_for(prepared, url, **{"reply-timeout": 90.0})
        )
        ledger = LedgerClient.at(chain, prepared.job.ledger)
        dirs = [prepared.participant_dir(i) for i in range(3)]
        with LoopbackDeployment(tmp_path / "flwr", dirs) as deployment:
            stop, killed = threading.Event(), []
            watcher = threading.Thread(
                target=_kill_when_round_opens, args=(ledger, deployment, stop, killed), daemon=True
            )
            watcher.start()
            try:
                finished = deployment.run(EXAMPLE_APP, run_config, timeout_s=360)
            finally:
                stop.set()
                watcher.join()
            logs = {
                p.name: p.read_text(errors="replace")[-3000:]
                for p in deployment.workdir.glob("*.log")
            }
        assert finished.returncode == 0, (finished.stdout[-3000:], finished.stderr[-3000:], logs)
        assert killed, "round 1 never opened"
        victim = ledger.participants()[VICTIM].address
        assert victim not in {s.participant for s in killed[0] if s.submitted}
        statuses = [ledger.get_round(g).status for g in range(ledger.round_count())]

    assert statuses == [RoundStatus.FINALISED] * 3, logs
    assert not (out / "error.txt").exists()
    history = json.loads((out / "history.json").read_text())
    rounds = history["rounds"]
    assert [r["status"] for r in rounds] == ["finalised"] * 3
    assert rounds[0]["included"] == [0, 1, 2]
    assert rounds[1]["included"] == [0, 1] and rounds[2]["included"] == [0, 1]
    assert VICTIM not in rounds[1]["attested"] and VICTIM not in rounds[2]["attested"]
    assert main(["verify", str(out)]) == 0
    assert "3 finalised with quorum" in capsys.readouterr().out
