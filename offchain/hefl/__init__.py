"""hefl: privacy-preserving distributed learning on Paillier ciphertexts, recorded on Ethereum.

A map for newcomers: where each equation of the main paper (``he-blockchain-adaptive-learning``)
and each mode of the system lives. Dependencies point one way, down this list of layers:
``cli`` → ``agents``/``experiments``/``bench``/``pow``/``dso``/``flower`` →
``learning``/``control``/``costs`` → ``crypto``/``secagg``/``chain``/``data`` → ``errors``.

- Eqs. 1–5: linear regression, local and global loss, plaintext FedAvg →
  :mod:`hefl.learning.linear`, :mod:`hefl.learning.plain`
- Data sets, their validation and the split over participants (|D_i|) → :mod:`hefl.data.datasets`,
  :mod:`hefl.data.prepare`
- Paillier (keys, encryption, CRT decryption) and fixed-point encoding → :mod:`hefl.crypto.keys`,
  :mod:`hefl.crypto.encoding`, :mod:`hefl.crypto.multiexp`, :mod:`hefl.crypto.vector`
- Eqs. 6–9: the encrypted local update (literal and fused) → :mod:`hefl.learning.paillier`
- Eq. 10: homomorphic aggregation → :mod:`hefl.learning.paillier`; replicas check it in
  :mod:`hefl.agents.roles`, the audit in :mod:`hefl.agents.audit`
- Eq. 11: the round's block of encrypted local models, hashed on the ledger →
  :mod:`hefl.learning.blobs`, :mod:`hefl.chain.fl_ledger` (``contracts/FLLedger.sol``)
- Eqs. 12–13 and 19–21: computation cost, time and energy of a round → :mod:`hefl.costs.model`,
  :mod:`hefl.costs.parameters`
- Eqs. 14–18: the PBFT message flow and its cost → :mod:`hefl.costs.pbft`
- Eqs. 22–23: the estimates φ̂ and ω̂ → :mod:`hefl.learning.estimates`
- Eq. 24: the convergence bound → :mod:`hefl.control.bound`
- Eq. 25 and Algorithm 1: τ and the CPU frequencies per round → :mod:`hefl.control.optimiser`,
  :mod:`hefl.control.controllers`; the one round loop :mod:`hefl.control.loop`
- The main job, in process (``hefl run``) → :mod:`hefl.agents.job`
- Multi-process mode: party, participants and replicas on a JSON-RPC node →
  :mod:`hefl.agents.network`, :mod:`hefl.agents.roles`, :mod:`hefl.agents.identity`,
  :mod:`hefl.cli.agents`
- The paper's figures (``hefl experiment``) → :mod:`hefl.experiments.adaptive`
- The notes' proof-of-work race (``hefl race``) → :mod:`hefl.pow` (``contracts/PowLedger.sol``)
- Yang et al.'s multi-key secure aggregation → :mod:`hefl.secagg`, :mod:`hefl.secagg.multikey`,
  :mod:`hefl.experiments.secagg`
- Decentralised Paillier DSO (``hefl dso run``) → :mod:`hefl.dso`, :mod:`hefl.chain.dso_ledger`
  (``contracts/DsoLedger.sol``)
- hefl on Flower's simulation and deployment engines → :mod:`hefl.flower`
- Benchmarks (``hefl bench``) → :mod:`hefl.bench`
- The one exception tree (``HeflError``) → :mod:`hefl.errors`
"""

__version__ = "0.1.0"
