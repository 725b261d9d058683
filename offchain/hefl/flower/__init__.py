"""hefl on Flower: encrypted aggregation with a ledger audit trail on Flower's engines.

Flower (``flwr``, the optional extra ``hefl[flower]``) carries the messages; hefl keeps the
arithmetic, the ledger and the roles of the main paper:

* the **ServerApp** is the computing party C: it holds the Paillier private key (which never leaves
  it), opens each round on ``FLLedger``, sends the encrypted global model [[w(t)]] as bytes,
  aggregates the replies it got with Eq. 10 (dropouts and unusable submissions are left out and
  recorded as excluded; the weights |D_i| renormalise over those included), commits the hash,
  sends the committed blobs back, waits for the quorum, decrypts, estimates φ̂ and ω̂ (Eqs. 22–23)
  and asks hefl's controller for the next τ (:mod:`hefl.flower.server`);
* each **ClientApp** is a participant P_i and PBFT replica: it checks the job (from Flower's run
  config) against the chain, runs the encrypted local update on its own data, submits the hashes
  **from its own Ethereum account**, recomputes Eq. 10 from the committed blobs and attests or
  disputes (:mod:`hefl.flower.client`).

The job is prepared before the Flower run exactly as in the multi-process mode
(:mod:`hefl.flower.setup`): keystores, data, the party's key pair, the ledger and ``job.json``,
whose text reaches every ClientApp through Flower's run config (:mod:`hefl.flower.wire`).
``hefl flower simulate`` runs it on the simulation engine (:mod:`hefl.flower.simulate`);
``hefl flower prepare DIR`` prepares it for a deployment; ``examples/flower/`` (or
``hefl flower new DIR``, :mod:`hefl.flower.template`) is a Flower app that ``flwr run`` starts on
a SuperLink, with real SuperNodes or on the simulation engine (:mod:`hefl.flower.deployment`
runs both on loopback).

Yang et al.'s multi-key secure aggregation runs on Flower as a ClientApp mod, each client's side
of the protocol on the client and the server learning only the sum, every round on the same
ledger as ``hefl run --strategy secagg-multikey`` (:mod:`hefl.flower.multikey`; ``hefl flower
simulate --strategy secagg-multikey``).
"""

from __future__ import annotations

from hefl.errors import ConfigError


def require_flower() -> None:
    """Raise a clear error when the optional dependency is missing."""
    try:
        import flwr  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise ConfigError(
            "hefl.flower needs Flower: pip install -e '.[flower]' (flwr[simulation] pinned)"
        ) from None
