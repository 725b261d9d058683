"""Command-line interface: ``hefl <command>``.

This package's own module holds what ``hefl --help`` lists without importing any command module:
each command's one-line help (:data:`SUMMARIES`), which the command's module also passes to
``add_parser``, so the two cannot differ.
"""

from __future__ import annotations

#: Each command's one-line help, in help order: what ``hefl --help`` lists without importing any
#: command's module, and what the command's module registers.
SUMMARIES: dict[str, str] = {
    "run": "run an encrypted learning job with every round on the ledger",
    "race": "the proof-of-work mode: aggregators race for each block (run, history, verify)",
    "compile": "compile contracts/*.sol with the pinned solc into their build artifacts",
    "deploy": "deploy the FLLedger contract and write a deployment record",
    "history": "print the rounds recorded on a ledger",
    "bench": "run a performance benchmark",
    "verify": "re-check a job's blobs, aggregates and quorums",
    "experiment": "reproduce the paper's figures (fig2…fig5, all) or the secagg comparison",
    "costs": "the cost model of hefl's own execution",
    "node": "run a local Anvil node on 127.0.0.1 (state kept in a file)",
    "split": "split a data set into participants' private files (multi-process mode)",
    "party": "the computing party as its own process",
    "participant": "a data owner as its own process",
    "dso": "decentralised mode: Paillier-protected distributed SGD, no server",
    "flower": "run hefl's job on Flower (simulation engine, or a Flower app for flwr run)",
}
