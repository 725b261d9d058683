"""Run one participant of a multi-process job with an attack (a test helper, never shipped).

    python tests/attacks/malicious_participant.py ATTACK --dir p2 --job party/job.json \\
        --rpc URL --blobs blobs

ATTACK is ``withhold`` (deletes its blobs from the shared store after the commit) or
``header-bound`` / ``header-scale`` (valid ciphertexts under a lying header). The password comes
from ``$HEFL_KEYSTORE_PASSWORD`` as for ``hefl participant run``. Everything else is the honest
:class:`~hefl.agents.network.ParticipantDaemon`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from attackers import HeaderLiar, Withholder, turn

from hefl.agents.identity import KEYSTORE, Identity, read_password
from hefl.agents.network import JobFile, ParticipantDaemon
from hefl.chain import LedgerClient, LocalBlobStore, connect_rpc


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("attack", choices=("withhold", "header-bound", "header-scale"))
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--job", type=Path, required=True)
    parser.add_argument("--rpc", required=True)
    parser.add_argument("--blobs", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    job = JobFile.load(args.job)
    chain = connect_rpc(args.rpc)
    chain.add_keystore(args.dir / KEYSTORE, read_password())
    ledger = LedgerClient.at(chain, job.ledger, sender=Identity.load(args.dir).address)
    daemon = ParticipantDaemon(args.dir, ledger, LocalBlobStore(args.blobs), job)
    if args.attack == "withhold":
        daemon.agent = turn(daemon.agent, Withholder)
    elif args.attack == "header-bound":
        daemon.agent = turn(daemon.agent, HeaderLiar, bound=job.public_key.max_int)
    else:
        daemon.agent = turn(daemon.agent, HeaderLiar, scale=0)
    daemon.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
