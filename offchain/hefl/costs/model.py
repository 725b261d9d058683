"""Cycles, time and energy of one learning round (§2.1, Eqs. 12–21).

Nodes are numbered 0 … N−1 for the participants P_1 … P_N and N for the computing party C. Each
node takes part in some of the seven steps [L1, L2, S1, S2, S3, S4, S5] (local update, aggregation,
the five PBFT steps); the participation vector δ (Eqs. 19–20) is [0,1,1,0,1,1,1] for C and
[1,0,0,1,1,1,0] for a participant. The PBFT cycle counts are *derived* from the message flow in
:mod:`hefl.costs.pbft`; the closed forms below (Eqs. 14–18) are what the tests check them against.

Frequencies: node i runs its learning step at f^L_i and its consensus steps at f^S_σi; C2 reads
f^L_i + f^S_i ≤ f_i with f^S_i = max_σ f^S_σi, the share of the CPU the node gives to consensus.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hefl.costs.parameters import PLANNED, CostParameters
from hefl.costs.pbft import CONSENSUS_STEPS, Role, faulty_nodes, flow_cycles, message_flow
from hefl.costs.work import RoundWork
from hefl.errors import ConfigError

#: The seven steps of a round, in the order of the participation vectors δ (Eqs. 19–20).
STEPS: tuple[str, ...] = ("local", "aggregation", *CONSENSUS_STEPS)

#: δ of C and of a participant over :data:`STEPS` (§2.1).
PRIMARY_PARTICIPATION: tuple[int, ...] = (0, 1, 1, 0, 1, 1, 1)
REPLICA_PARTICIPATION: tuple[int, ...] = (1, 0, 0, 1, 1, 1, 0)


# --- the paper's closed forms -------------------------------------------------------------------
def local_update_cycles(params: CostParameters, model_size: int, dataset_size: int) -> float:
    """Δ^L_1i = μ1·|w|·|D_i| (Eq. 12): one encrypted local update at participant i."""
    return params.mu1 * model_size * dataset_size


def aggregation_cycles(
    params: CostParameters, model_size: int, dataset_sizes: Sequence[int]
) -> float:
    """Δ^L_2 = μ1·N·|w| + μ2·Σ_i N·|w|·|D_i| (Eq. 13): the aggregation and estimates at C."""
    n = len(dataset_sizes)
    return params.mu1 * n * model_size + params.mu2 * sum(n * model_size * d for d in dataset_sizes)


def request_cycles(params: CostParameters, participants: int, transactions: int) -> float:
    """Δ^S_1 = K(β + θ) + β + Nθ at the primary (Eq. 14)."""
    b, t = params.beta, params.theta
    return transactions * (b + t) + b + participants * t


def pre_prepare_cycles(params: CostParameters, participants: int, transactions: int) -> float:
    """Δ^S_2 = β + θ + K(β + θ) + α + β + Nθ at each replica (Eq. 15)."""
    b, t = params.beta, params.theta
    return b + t + transactions * (b + t) + params.alpha + b + participants * t


def prepare_cycles(params: CostParameters, participants: int) -> float:
    """Δ^S_3 = 2F(β + θ) + β + Nθ at every node (Eq. 16), F = ⌊(n−1)/3⌋, n = N + 1."""
    b, t = params.beta, params.theta
    f = faulty_nodes(participants + 1)
    return 2 * f * (b + t) + b + participants * t


def commit_cycles(params: CostParameters, participants: int, transactions: int) -> float:
    """Δ^S_4 = 2F(β + θ) + K(β + θ) at every node (Eq. 17)."""
    b, t = params.beta, params.theta
    f = faulty_nodes(participants + 1)
    return 2 * f * (b + t) + transactions * (b + t)


def reply_cycles(params: CostParameters, participants: int) -> float:
    """Δ^S_5 = 2F(β + θ) at the primary (Eq. 18)."""
    f = faulty_nodes(participants + 1)
    return 2 * f * (params.beta + params.theta)


def step_time(cycles: float, frequency: float) -> float:
    """ε = Δ / f (Eqs. 12–18): seconds to run ``cycles`` at ``frequency`` Hz."""
    return cycles / frequency


def step_energy(cycles: float, frequency: float, gamma: float, delta: int = 1) -> float:
    """δ·Δ·γ·f² (Eqs. 19–20): joules of one step, zero when the node does not take part."""
    return delta * cycles * gamma * frequency**2


# --- frequency plans ----------------------------------------------------------------------------
@dataclass(frozen=True)
class FrequencyPlan:
    """CPU frequencies (Hz) of every node for every step of a round.

    Attributes:
        local: f^L_1i of each participant's local update (length N).
        aggregation: f^L_2 of C's aggregation.
        consensus: f^S_σi, one row per node (N participants then C), one column per PBFT step;
            0 where the node does not take part (δ = 0).
    """

    local: tuple[float, ...]
    aggregation: float
    consensus: tuple[tuple[float, ...], ...]

    @property
    def local_array(self) -> np.ndarray:
        return np.asarray(self.local, dtype=float)

    @property
    def consensus_array(self) -> np.ndarray:
        return np.asarray(self.consensus, dtype=float)

    def learning_share(self) -> np.ndarray:
        """f^L_i per node (N participants then C)."""
        return np.append(self.local_array, self.aggregation)

    def consensus_share(self) -> np.ndarray:
        """f^S_i = max_σ f^S_σi per node: the CPU share given to consensus (C2)."""
        return self.consensus_array.max(axis=1)

    def as_mapping(self) -> dict[str, object]:
        """The plan as :class:`hefl.control.RoundPlan` carries it (JSON friendly)."""
        return {
            "local": list(self.local),
            "aggregation": self.aggregation,
            "consensus": [list(row) for row in self.consensus],
            "steps": list(CONSENSUS_STEPS),
        }

    @classmethod
    def from_arrays(
        cls, local: np.ndarray, aggregation: float, consensus: np.ndarray
    ) -> FrequencyPlan:
        return cls(
            local=tuple(float(v) for v in np.asarray(local, dtype=float)),
            aggregation=float(aggregation),
            consensus=tuple(tuple(float(v) for v in row) for row in np.asarray(consensus)),
        )


# --- the cost model of one job ------------------------------------------------------------------
@dataclass(frozen=True)
class CostModel:
    """Cycles, time and energy of the rounds of one job.

    Attributes:
        params: Table 1.
        dataset_sizes: |D_i| per participant.
        model_size: |w|.
        frequency_caps: f_i per node (N participants then C); ``None``: ``params.f_max`` each.
        price_reply: passed to :func:`hefl.costs.pbft.message_flow` (default: the paper's Eq. 17).
        work: the round's counted work (:class:`hefl.costs.work.RoundWork`); required when
            ``params.local_update`` is ``"planned"``, which prices the participants' learning and
            the party's aggregation from it instead of Eqs. 12–13.
    """

    params: CostParameters
    dataset_sizes: tuple[int, ...]
    model_size: int
    frequency_caps: tuple[float, ...] | None = None
    price_reply: bool = False
    work: RoundWork | None = None

    def __post_init__(self) -> None:
        sizes = tuple(self.dataset_sizes)
        if not sizes or any(not isinstance(d, int | np.integer) or d < 1 for d in sizes):
            raise ConfigError(
                f"dataset_sizes must be one positive integer per participant, got {sizes!r}"
            )
        object.__setattr__(self, "dataset_sizes", tuple(int(d) for d in sizes))
        if not isinstance(self.model_size, int | np.integer) or self.model_size < 1:
            raise ConfigError(f"model_size must be a positive integer, got {self.model_size!r}")
        if self.frequency_caps is not None:
            caps = tuple(float(c) for c in self.frequency_caps)
            if len(caps) != self.nodes or any(not math.isfinite(c) or c <= 0 for c in caps):
                raise ConfigError(
                    f"frequency_caps must hold {self.nodes} positive frequencies (N participants "
                    f"then C), got {self.frequency_caps!r}"
                )
            object.__setattr__(self, "frequency_caps", caps)
        if self.params.local_update == PLANNED and self.work is None:
            raise ConfigError(
                "the planned cost model prices the round hefl counts before running it; give "
                "the job's RoundWork (hefl.costs.work.planned_work), or price with 'fused'"
            )
        if self.work is not None and self.work.participants != self.participants:
            raise ConfigError(
                f"round work counts {self.work.participants} participants, the job has "
                f"{self.participants}"
            )

    # sizes ---------------------------------------------------------------------------------------
    @property
    def participants(self) -> int:
        """N."""
        return len(self.dataset_sizes)

    @property
    def nodes(self) -> int:
        """n = N + 1 consensus nodes."""
        return self.participants + 1

    @property
    def primary(self) -> int:
        """Index of C."""
        return self.participants

    @property
    def transactions(self) -> int:
        """K, transactions per block (Eqs. 14–17)."""
        k = self.params.transactions_per_block
        return self.participants if k is None else k

    @property
    def faulty(self) -> int:
        """F = ⌊(n − 1)/3⌋."""
        return faulty_nodes(self.nodes)

    @cached_property
    def caps(self) -> np.ndarray:
        """f_i per node (N participants then C)."""
        if self.frequency_caps is None:
            return np.full(self.nodes, self.params.f_max)
        return np.asarray(self.frequency_caps, dtype=float)

    # cycles --------------------------------------------------------------------------------------
    @cached_property
    def local_cycles(self) -> np.ndarray:
        """Δ^L_1i per participant (Eq. 12)."""
        return np.array(
            [local_update_cycles(self.params, self.model_size, d) for d in self.dataset_sizes]
        )

    @cached_property
    def fused_cycles(self) -> np.ndarray:
        """Δ^F_i = μ_F·|w|² per participant: one fused round, whatever τ and |D_i|."""
        return np.full(self.participants, self.params.mu_fused * self.model_size**2)

    def round_local_cycles(self, tau: int) -> np.ndarray:
        """A round's local cycles per participant: τ·Δ^L_1i (Eq. 12, ``per-step``), Δ^F_i
        (``fused``, constant in τ) or m_i(τ)·μ_M (``planned``: the counted multiplications,
        :meth:`hefl.costs.work.RoundWork.local_cycles`)."""
        if self.params.local_update == PLANNED:
            assert self.work is not None
            return self.work.local_cycles(self.params, tau)
        if self.params.local_update == "fused":
            return self.fused_cycles
        return tau * self.local_cycles

    @property
    def constant_in_tau(self) -> bool:
        """Whether a round's cycles are the same for every τ (``fused``; ``planned`` with the
        fused update, whose counted work has no per-step term)."""
        if self.params.local_update == PLANNED:
            assert self.work is not None
            return not any(self.work.step_multiplications)
        return self.params.local_update == "fused"

    @cached_property
    def aggregation_cycles(self) -> float:
        """Δ^L_2 at C (Eq. 13; ``planned``: the party's decryptions D_s·μ_Ds + D_f·μ_D,
        :meth:`hefl.costs.work.RoundWork.party_cycles`)."""
        if self.params.local_update == PLANNED:
            assert self.work is not None
            return self.work.party_cycles(self.params)
        return aggregation_cycles(self.params, self.model_size, self.dataset_sizes)

    @cached_property
    def consensus_cycles(self) -> np.ndarray:
        """Δ^S_σi, shape (n, 5), derived from the PBFT message flow; 0 where δ = 0."""
        flow = message_flow(self.participants, self.transactions, price_reply=self.price_reply)
        per_role = flow_cycles(flow, self.params)
        table = np.zeros((self.nodes, len(CONSENSUS_STEPS)))
        for node in range(self.nodes):
            role = Role.PRIMARY if node == self.primary else Role.REPLICA
            for step in range(1, len(CONSENSUS_STEPS) + 1):
                table[node, step - 1] = per_role.get((step, role), 0.0)
        return table

    @cached_property
    def participation(self) -> np.ndarray:
        """δ per node over :data:`STEPS`, shape (n, 7) (Eqs. 19–20)."""
        rows = [REPLICA_PARTICIPATION] * self.participants + [PRIMARY_PARTICIPATION]
        return np.array(rows, dtype=int)

    @cached_property
    def consensus_totals(self) -> np.ndarray:
        """c_i = Σ_σ δ^S_σi·Δ^S_σi per node: a node's consensus cycles per round."""
        return (self.consensus_cycles * self.participation[:, 2:]).sum(axis=1)

    # plans ---------------------------------------------------------------------------------------
    def uniform_plan(self, share: float = 0.5) -> FrequencyPlan:
        """Every step at ``share``·f_i for learning and (1 − share)·f_i for consensus.

        ``share = 0.5`` is Algorithm 1's "initial f, evenly distributed to each process" and the
        only-aggregation baseline's equal, fixed allocation.
        """
        if not 0 < share < 1:
            raise ConfigError(f"share must lie strictly between 0 and 1, got {share!r}")
        caps = self.caps
        consensus = np.outer(caps * (1 - share), np.ones(len(CONSENSUS_STEPS)))
        consensus *= self.participation[:, 2:]
        return FrequencyPlan.from_arrays(
            caps[: self.participants] * share, caps[self.primary] * share, consensus
        )

    def check_plan(self, plan: FrequencyPlan, rtol: float = 1e-9) -> None:
        """Raise :class:`ConfigError` unless ``plan`` fits this job and C2 (f^L_i + f^S_i ≤ f_i)."""
        local, consensus = plan.local_array, plan.consensus_array
        if local.shape != (self.participants,) or consensus.shape != (
            self.nodes,
            len(CONSENSUS_STEPS),
        ):
            raise ConfigError(
                f"frequency plan has {local.shape[0]} local and {consensus.shape} consensus "
                f"entries; this job needs {self.participants} and ({self.nodes}, 5)"
            )
        active = self.participation[:, 2:] == 1
        if (
            np.any(local <= 0)
            or plan.aggregation <= 0
            or np.any(consensus[active] <= 0)
            or not np.all(np.isfinite(consensus))
        ):
            raise ConfigError("every step a node takes part in needs a positive, finite frequency")
        used = plan.learning_share() + plan.consensus_share()
        if np.any(used > self.caps * (1 + rtol)):
            node = int(np.argmax(used / self.caps))
            raise ConfigError(
                f"node {node} uses {used[node]:.6g} Hz > its cap {self.caps[node]:.6g} Hz (C2); "
                "lower its learning or consensus frequency"
            )

    # energy (Eqs. 19–21) -------------------------------------------------------------------------
    def local_energy(self, plan: FrequencyPlan) -> float:
        """F_J(f) = Σ_i δ^L_1i·Δ^L_1i·γ·(f^L_1i)² (Eq. 19): one local iteration, all nodes."""
        return float(np.sum(self.local_cycles * self.params.gamma * plan.local_array**2))

    def aggregation_energy(self, plan: FrequencyPlan) -> float:
        """F_Q(f) = δ^L_2·Δ^L_2·γ·(f^L_2)² + Σ_i Σ_σ δ^S_σi·Δ^S_σi·γ·(f^S_σi)² (Eq. 20)."""
        gamma = self.params.gamma
        consensus = self.consensus_cycles * self.participation[:, 2:] * plan.consensus_array**2
        return float(gamma * (self.aggregation_cycles * plan.aggregation**2 + consensus.sum()))

    def round_energy(self, plan: FrequencyPlan, tau: int) -> float:
        """Energy of one round: τ·F_J(f) + F_Q(f) (``fused``: Σ_i Δ^F_i·γ·(f^L_1i)² + F_Q(f))."""
        local = self.round_local_cycles(tau) * self.params.gamma * plan.local_array**2
        return float(np.sum(local)) + self.aggregation_energy(plan)

    def total_energy(self, plan: FrequencyPlan, iterations: float, tau: int) -> float:
        """F_e(f, T, τ) = T·(F_J(f) + F_Q(f)/τ) (Eq. 21), i.e. T/τ rounds of
        :meth:`round_energy`."""
        return iterations / tau * self.round_energy(plan, tau)

    # time (C3, C4 per round) ---------------------------------------------------------------------
    def learning_time(self, plan: FrequencyPlan, tau: int) -> float:
        """max_i τ·Δ^L_1i/f^L_1i + Δ^L_2/f^L_2: one round's learning time (the bracket of C3;
        ``fused``: Δ^F_i in place of τ·Δ^L_1i)."""
        local = float(np.max(self.round_local_cycles(tau) / plan.local_array))
        return local + self.aggregation_cycles / plan.aggregation

    def consensus_time(self, plan: FrequencyPlan) -> float:
        """max_i Σ_σ Δ^S_σi/f^S_σi over the steps node i takes part in (the sum of C4)."""
        active = self.participation[:, 2:] == 1
        freqs = np.where(active, plan.consensus_array, 1.0)
        times = np.where(active, self.consensus_cycles / freqs, 0.0)
        return float(times.sum(axis=1).max())

    def describe(self) -> Mapping[str, object]:
        """Cycle counts of one round, for reports."""
        return {
            "participants": self.participants,
            "transactions": self.transactions,
            "faulty": self.faulty,
            "local_cycles": self.local_cycles.tolist(),
            "aggregation_cycles": self.aggregation_cycles,
            "consensus_cycles": self.consensus_cycles.tolist(),
            "local_update": self.params.local_update,
            "work": None if self.work is None else self.work.describe(),
        }
