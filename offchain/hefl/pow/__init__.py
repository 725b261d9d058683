"""hefl.pow: the notes' four-node example as a mode — gradient-sum ridge regression with
aggregators racing for each block by proof of work on ``contracts/PowLedger.sol``
(``hefl race run|history|verify``).

Data owners (Alice, Bob) broadcast their local gradients' hashes; aggregators (Agg1, Agg2) each
compute w^t = w^{t−1} − α(Σ_k g_k + 2γ w^{t−1}) and race to solve the block's puzzle
uint256(keccak256(abi.encode(chainid, contract, t, h(w^{t−1}), h(w^t), aggregator, nonce))) <
target; the contract accepts the first valid block and retargets every k blocks.

- :mod:`hefl.pow.puzzle`: the puzzle, difficulty ↔ target, and the contract's retarget rule.
- :mod:`hefl.pow.model`: the ridge objective, local gradients, the update, the closed form, and
  the blobs a block names.
- :mod:`hefl.pow.miner`: nonce search, and the races (worker processes, or virtual and seeded).
- :mod:`hefl.pow.job`: the configuration, the nodes (owners, aggregators, the secure-aggregation
  committee), the job, and its exported history.
- :mod:`hefl.pow.audit`: re-deriving every block from public data (``hefl race verify``).

The contract client is :mod:`hefl.chain.pow_ledger`, the image data :mod:`hefl.data.images`, the
command line :mod:`hefl.cli.race`. This package imports nothing on purpose: the miner's spawned
worker processes import :mod:`hefl.pow.miner`, which needs only the standard library.
"""
