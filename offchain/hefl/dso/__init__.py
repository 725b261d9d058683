"""hefl.dso — decentralised mode: Paillier-protected distributed SGD, no server (issue 14).

N agents on an undirected connected graph minimise Σ_i f_i(x), x ∈ ℝ^d, exchanging Paillier
ciphertexts with their neighbours only, each under its OWN key pair (hefl's engine, 2048 bits by
default). Reconstruction of Zhou, Chen, Zhi and Gao, "Privacy-preserving distributed stochastic
optimization with homomorphic encryption and heterogeneous stepsizes" (arXiv 2604.21381, IFAC
World Congress 2026), after Ruan, Gao and Wang, "Secure and privacy-preserving consensus" (IEEE TAC
2019). Iteration k, agent i:

1. X_i = Q(x_i(k)), unbiased stochastic rounding at S_x (:mod:`hefl.dso.quantise`);
2. private weights a_{i→j}(k) ~ U[a_min, a_max] per neighbour and coordinate, integers at S_a;
3. request ⟦−X_i⟧_i → response ⟦A_{j→i}·(X_j − X_i)⟧_i (packed, re-randomised) → i decrypts and
   multiplies by A_{i→j}: Δ_ij = a_{i→j}·a_{j→i}·(x̃_j − x̃_i), exact, Δ_ij = −Δ_ji
   (:mod:`hefl.dso.protocol`, :mod:`hefl.dso.agent`);
4. private random stepsize λ_i(k) = λ_k·u_i(k), u_i(k) ~ U[0.5, 1.5];
5. x_i(k+1) = x_i(k) + γ_k·Σ_j Δ_ij − λ_i(k)·g_i(x_i(k), ξ_i(k))  (:mod:`hefl.dso.update`),
   γ_k = 1/(1 + 0.1·k^0.81), schedules checked at start (:mod:`hefl.dso.schedule`).

Modules: ``schedule``, ``graph``, ``quantise``, ``problems``, ``config``, ``protocol``, ``agent``,
``update``, ``transport``, ``runner`` (encrypted run, in process or one OS process per agent),
``emulation`` (exact integer emulation, bit-identical by test), ``baseline`` (DSGD, ablations),
``ledger`` (checkpoints on the DsoLedger contract, run directories, ``verify``, ``history``).

Assumptions of the reconstruction (the paper's body is not public; issue 14 fixes the protocol):

- Assumption: the update is step 5 as written, with Δ_ij scaled back by S_a²·S_x and the
  consensus term multiplied by γ_k (the attenuation factor acts on the quantised exchange only).
- Assumption: weights a_{i→j}(k) are drawn as integers A uniform in [round(a_min·S_a),
  round(a_max·S_a)], independently per neighbour, coordinate and iteration; defaults
  [a_min, a_max] = [0.5, 0.7] (γ_0·a_max²·deg = 0.98 on a ring; the CLI shrinks both for a larger
  max degree), S_a = 2^12. With [0.25, 0.45] the private MSE at k = 5000 on the ring example is
  ≈ 9× DSGD's, with [0.5, 0.7] ≈ 2.5× (3 seeds; 3.5× over 5 seeds).
- Assumption: Q is ⌊x·S_x + U⌋, U ~ U[0, 1), S_x = 2^20; the ablation rounds to nearest. At 2^20
  the quantisation error is negligible (γ_k ≡ 1 then converges faster); at a coarse S_x = 2^2
  the attenuation factor and the unbiased rounding are what keep the MSE down (both ablations
  > 40× the private MSE at k = 5000).
- Assumption: u_i(k) ~ U[0.5, 1.5] is one scalar per agent and iteration (per coordinate with
  ``diagonal_stepsizes``); λ_k = 0.05/(1 + 0.1·k) for every problem unless given.
- Assumption: states are publicly bounded, |x_i| ≤ state_bound (default 1024); the bound sizes the
  packing slots, and an agent whose state leaves it stops the run (StateBoundError).
- Assumption: the estimation example's M_i ∈ ℝ^{2×3} and z_i = M_iθ° + 0.1·noise, θ° = (1, −1, 0.5),
  are drawn from the problem seed; gradients carry N(0, σ²I) noise, σ = 1; x_i(0) = 0.
- Assumption: the regression problem gives every agent f_i = (1/2|D_i|)·Σ_{D_i}(y − wᵀx)² (its part
  of hefl.data's partition) with mini-batches of 8 drawn with replacement; the centralised optimum
  minimises Σ_i f_i.
- Assumption: the requests are not packed (Paillier cannot multiply single slots by different
  weights), the responses are: N·d + 2|E|·⌈d/m⌉ encryptions (re-randomisations counted) and
  2|E|·⌈d/m⌉ decryptions per iteration instead of (N + 2|E|)·d and 2|E|·d. What a neighbour sees
  does not change: the packed plaintext is the same values under the same (the receiver's) key.
- Assumption: the encrypted state an agent commits to is ⟦round(x_i·S_x)⟧_i under its own key at
  each checkpoint (every K iterations and after the last); the transcript hash covers every message
  it SENT in the window, in order (:func:`hefl.dso.protocol.transcript_hash`).
- Assumption: a refused message stops the iteration for that agent with nothing applied; the
  protocol has no retransmission (a run with a faulty neighbour stops with the error).
- Assumption: the MSE is (1/N)·Σ_i ‖x_i(k) − x*‖², x* the centralised optimum, and DSGD uses
  Metropolis weights with the same λ_k.
"""

from hefl.dso.agent import Agent, AgentCore, CheckpointRecord
from hefl.dso.baseline import ABLATIONS, ablation_config, run_dsgd
from hefl.dso.config import DsoConfig
from hefl.dso.emulation import Trajectory, run_emulation
from hefl.dso.graph import Graph, complete, erdos_renyi, load_edge_list, make_graph, ring
from hefl.dso.problems import EstimationProblem, RegressionProblem, make_problem
from hefl.dso.protocol import Message, OpCounts, expected_counts, packing_layout
from hefl.dso.runner import generate_keys, run_private, run_processes
from hefl.dso.schedule import DEFAULT_GAMMA, DEFAULT_LAMBDA, PowerSchedule, check_schedules
from hefl.dso.update import UPDATE_RULES, UpdateRule
from hefl.errors import (
    DsoMessageError,
    GraphError,
    ScheduleError,
    StateBoundError,
    TranscriptError,
)

__all__ = [
    "ABLATIONS",
    "DEFAULT_GAMMA",
    "DEFAULT_LAMBDA",
    "UPDATE_RULES",
    "Agent",
    "AgentCore",
    "CheckpointRecord",
    "DsoConfig",
    "DsoMessageError",
    "EstimationProblem",
    "Graph",
    "GraphError",
    "Message",
    "OpCounts",
    "PowerSchedule",
    "RegressionProblem",
    "ScheduleError",
    "StateBoundError",
    "Trajectory",
    "TranscriptError",
    "UpdateRule",
    "ablation_config",
    "check_schedules",
    "complete",
    "erdos_renyi",
    "expected_counts",
    "generate_keys",
    "load_edge_list",
    "make_graph",
    "make_problem",
    "packing_layout",
    "ring",
    "run_dsgd",
    "run_emulation",
    "run_private",
    "run_processes",
]
