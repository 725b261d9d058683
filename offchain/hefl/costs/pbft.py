"""A message-flow model of the paper's PBFT round, from which Eqs. 14–18 are derived.

The computing party C is the primary, the N participants are replicas; n = N + 1 consensus nodes
tolerate F = ⌊(n − 1)/3⌋ faulty ones (the papers README's reading of the text's "F = 3⁻¹(N − 1)").
Messages are authenticated PBFT style: the sender signs a message once (β cycles) and appends one
MAC per receiver (θ cycles each, an authenticator); a receiver checks the signature and its own MAC
(β + θ). A node acts on a quorum of 2F matching messages from others. K is the number of
transactions in the block.

The five steps, per node (who does what is recorded as :class:`Operation` rows):

1. Request (primary). Verify the K transactions the participants submitted (K(β+θ)); broadcast the
   block with the pre-prepare message to the N replicas (β + Nθ).                  → Eq. 14
2. Pre-prepare (replica). Verify the pre-prepare message (β+θ) and every transaction in the block
   (K(β+θ)); run the computing task that checks Eq. 10 through the contract (α); broadcast the
   prepare message to the n − 1 = N other nodes (β + Nθ).                            → Eq. 15
3. Prepare (every node). Verify a quorum of 2F prepare messages (2F(β+θ)); broadcast the commit
   message to the N other nodes (β + Nθ).                                           → Eq. 16
4. Commit (every node). Verify a quorum of 2F commit messages (2F(β+θ)); execute the block, which
   checks each of its K transactions again before applying it to the ledger (K(β+θ)); reply to the
   primary.                                                                         → Eq. 17
5. Reply (primary). Verify a quorum of 2F reply messages (2F(β+θ)).                 → Eq. 18

Two readings this model makes explicit, both following the paper's counts:

* Step 4's K(β+θ) is read as executing the block (re-verifying its transactions); the reply message
  a node sends at the end of step 4 is not charged by Eq. 17. ``price_reply=True`` charges it
  (β + θ: one signature, one MAC for the primary), a documented deviation from the paper.
* In step 2 a replica checks the MAC of each transaction as the paper counts it, although in a
  strict authenticator scheme the participants' MACs were keyed for the primary.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from hefl.costs.parameters import CostParameters
from hefl.errors import ConfigError

#: Consensus steps σ = 1..5 of §2.1 (2).
CONSENSUS_STEPS: tuple[str, ...] = ("request", "pre-prepare", "prepare", "commit", "reply")


class Role(StrEnum):
    """A node's role in the consensus."""

    PRIMARY = "primary"
    REPLICA = "replica"


class Primitive(StrEnum):
    """An operation whose CPU cost Table 1 gives."""

    SIGN = "sign"
    VERIFY_SIGNATURE = "verify-signature"
    MAC = "mac"
    VERIFY_MAC = "verify-mac"
    COMPUTE = "compute"


@dataclass(frozen=True)
class Operation:
    """``count`` executions of ``primitive`` by a node of ``role`` in consensus step ``step``.

    Attributes:
        step: σ, 1..5.
        role: who runs it.
        primitive: the priced operation.
        count: how many times.
        purpose: which message it belongs to (for reports).
    """

    step: int
    role: Role
    primitive: Primitive
    count: int
    purpose: str


def faulty_nodes(nodes: int) -> int:
    """F = ⌊(n − 1)/3⌋, the faults n PBFT nodes tolerate (§2.1, read as in the papers README)."""
    if not isinstance(nodes, int) or nodes < 1:
        raise ConfigError(f"consensus nodes must be a positive integer, got {nodes!r}")
    return (nodes - 1) // 3


def primitive_cycles(primitive: Primitive, params: CostParameters) -> float:
    """Cycles of one primitive: signing or verifying a signature β, a MAC θ, the task α."""
    return {
        Primitive.SIGN: params.beta,
        Primitive.VERIFY_SIGNATURE: params.beta,
        Primitive.MAC: params.theta,
        Primitive.VERIFY_MAC: params.theta,
        Primitive.COMPUTE: params.alpha,
    }[primitive]


def _broadcast(step: int, role: Role, receivers: int, purpose: str) -> list[Operation]:
    """Send one message: sign it once, one MAC per receiver (β + receivers·θ)."""
    return [
        Operation(step, role, Primitive.SIGN, 1, purpose),
        Operation(step, role, Primitive.MAC, receivers, purpose),
    ]


def _accept(step: int, role: Role, messages: int, purpose: str) -> list[Operation]:
    """Check ``messages`` authenticated messages: signature and own MAC of each (β + θ each)."""
    return [
        Operation(step, role, Primitive.VERIFY_SIGNATURE, messages, purpose),
        Operation(step, role, Primitive.VERIFY_MAC, messages, purpose),
    ]


def message_flow(
    participants: int, transactions: int, *, price_reply: bool = False
) -> tuple[Operation, ...]:
    """Every priced operation of one PBFT round with N = ``participants`` replicas and the primary.

    Args:
        participants: N ≥ 1 (n = N + 1 consensus nodes).
        transactions: K ≥ 1, transactions in the block.
        price_reply: charge the reply a node sends in step 4 (not in Eq. 17; see module doc).
    """
    if not isinstance(participants, int) or participants < 1:
        raise ConfigError(f"participants must be a positive integer, got {participants!r}")
    if not isinstance(transactions, int) or transactions < 1:
        raise ConfigError(f"transactions must be a positive integer, got {transactions!r}")
    n = participants + 1
    others = n - 1
    quorum = 2 * faulty_nodes(n)
    k = transactions
    p, r = Role.PRIMARY, Role.REPLICA
    ops: list[Operation] = []
    # Step 1, request: the primary checks the K submitted transactions, then sends the pre-prepare.
    ops += _accept(1, p, k, "transaction")
    ops += _broadcast(1, p, participants, "pre-prepare")
    # Step 2, pre-prepare: each replica checks the pre-prepare and the block's transactions, checks
    # Eq. 10 through the contract, and broadcasts its prepare.
    ops += _accept(2, r, 1, "pre-prepare")
    ops += _accept(2, r, k, "transaction")
    ops.append(Operation(2, r, Primitive.COMPUTE, 1, "check Eq. 10"))
    ops += _broadcast(2, r, others, "prepare")
    # Steps 3 and 4 run at every node, the primary included.
    for role in (p, r):
        ops += _accept(3, role, quorum, "prepare")
        ops += _broadcast(3, role, others, "commit")
        ops += _accept(4, role, quorum, "commit")
        ops += _accept(4, role, k, "execute transaction")
        if price_reply:
            ops += _broadcast(4, role, 1, "reply")
    # Step 5, reply: the primary checks a quorum of replies.
    ops += _accept(5, p, quorum, "reply")
    return tuple(op for op in ops if op.count > 0)


def flow_cycles(
    flow: tuple[Operation, ...], params: CostParameters
) -> dict[tuple[int, Role], float]:
    """Cycles per (step, role) of a message flow: Σ count × primitive cost.

    A (step, role) pair missing from the result is a step that role does not take part in (δ = 0 in
    Eqs. 19–20).
    """
    totals: dict[tuple[int, Role], float] = defaultdict(float)
    for op in flow:
        totals[(op.step, op.role)] += op.count * primitive_cycles(op.primitive, params)
    return dict(totals)


def flow_participation(flow: tuple[Operation, ...]) -> dict[Role, tuple[int, ...]]:
    """δ^S_σ per role (1 if the role does anything in step σ), σ = 1..5 (Eqs. 19–20)."""
    active = {(op.step, op.role) for op in flow if op.count > 0}
    return {
        role: tuple(int((step, role) in active) for step in range(1, len(CONSENSUS_STEPS) + 1))
        for role in Role
    }
