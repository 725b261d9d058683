"""Fairness of the proof-of-work race: aggregators win in proportion to their hash power.

The virtual race is seeded, so these statistics are deterministic; their reference is exact. In
the random-oracle model every keccak256 succeeds independently with probability p = target/2²⁵⁶,
and :func:`exact_win_probabilities` sums, tick by tick, the probability that aggregator a is the
first to succeed (sharing a tie uniformly), for the virtual schedule "aggregator a hashes every
L/h_a ticks". The counts of wins are then tested against those probabilities (binomial test for
two aggregators, chi-square for three) at a 10⁻³ level, and the exact probabilities are checked
to be within 1 % of the hash-power shares h_a / Σh.
"""

from __future__ import annotations

import math
import random
from itertools import product

import pytest
from scipy import stats

from hefl.pow.miner import ProcessRace, Puzzle, VirtualRace, digest_value, search
from hefl.pow.puzzle import difficulty_to_target

#: Significance level of the fairness tests.
LEVEL = 1e-3
#: Expected hashes per block in the fairness simulations: small, so many races are cheap, but big
#: enough that the discrete schedule is close to the continuous (exponential) race.
DIFFICULTY = 256


def exact_win_probabilities(powers: tuple[int, ...], p: float, tol: float = 1e-13) -> list[float]:
    """P(aggregator a wins) in the virtual race with per-hash success probability p."""
    lcm = math.lcm(*powers)
    period = [lcm // h for h in powers]
    wins = [0.0] * len(powers)
    alive = 1.0  # P(no success before the current tick)
    tick = 0
    while alive > tol:
        tick += 1
        hashing = [a for a in range(len(powers)) if tick % period[a] == 0]
        if not hashing:
            continue
        # Enumerate who succeeds at this tick; ties are broken uniformly.
        for outcome in product((False, True), repeat=len(hashing)):
            k = sum(outcome)
            if k == 0:
                continue
            prob = alive * p**k * (1 - p) ** (len(hashing) - k)
            for a, success in zip(hashing, outcome, strict=True):
                if success:
                    wins[a] += prob / k
        alive *= (1 - p) ** len(hashing)
    return wins


def simulate(powers: tuple[int, ...], races: int, seed: int) -> tuple[list[int], list[int]]:
    """Wins per aggregator and total hashes per race over ``races`` seeded virtual races."""
    rng = random.Random(seed)
    race = VirtualRace(powers, seed=seed)
    target = difficulty_to_target(DIFFICULTY)
    wins = [0] * len(powers)
    hashes = []
    for _ in range(races):
        puzzles = [Puzzle(rng.randbytes(192)) for _ in powers]
        outcome = race.race(puzzles, target)
        assert (
            digest_value(puzzles[outcome.winner.aggregator].prefix, outcome.winner.nonce) < target
        )
        wins[outcome.winner.aggregator] += 1
        hashes.append(outcome.total_hashes)
    return wins, hashes


def test_exact_reference_is_proportional_to_hash_power() -> None:
    p = 1 / DIFFICULTY
    assert exact_win_probabilities((1, 1), p) == pytest.approx([0.5, 0.5], abs=1e-12)
    for powers in [(1, 3), (1, 2, 3)]:
        exact = exact_win_probabilities(powers, p)
        assert sum(exact) == pytest.approx(1.0, abs=1e-10)
        shares = [h / sum(powers) for h in powers]
        assert exact == pytest.approx(shares, rel=0.01)


def test_equal_hash_power_is_fair() -> None:
    races = 800
    wins, hashes = simulate((1, 1), races, seed=11)
    result = stats.binomtest(wins[0], races, 0.5)
    assert result.pvalue > LEVEL, (wins, result)
    # Hashes per block: geometric with mean D (both aggregators together).
    mean, se = sum(hashes) / races, DIFFICULTY / math.sqrt(races)
    assert abs(mean - DIFFICULTY) < 4 * se, mean


def test_unequal_hash_power_wins_in_proportion() -> None:
    races = 800
    powers = (1, 3)
    wins, _ = simulate(powers, races, seed=12)
    expected = exact_win_probabilities(powers, 1 / DIFFICULTY)
    result = stats.binomtest(wins[0], races, expected[0])
    assert result.pvalue > LEVEL, (wins, expected, result)
    # And the weaker aggregator clearly does not win half of the blocks.
    assert stats.binomtest(wins[0], races, 0.5).pvalue < LEVEL


def test_three_aggregators_chi_square() -> None:
    races = 900
    powers = (1, 2, 3)
    wins, _ = simulate(powers, races, seed=13)
    expected = exact_win_probabilities(powers, 1 / DIFFICULTY)
    chi2 = stats.chisquare(wins, [races * e for e in expected])
    assert chi2.pvalue > LEVEL, (wins, expected, chi2)


def test_search_finds_the_first_valid_nonce() -> None:
    prefix = bytes(range(192))
    target = difficulty_to_target(64)
    nonce, tried = search(prefix, target, 5, 3, 10_000)
    assert nonce is not None and digest_value(prefix, nonce) < target
    assert nonce == 5 + 3 * (tried - 1)
    assert all(digest_value(prefix, 5 + 3 * i) >= target for i in range(tried - 1))
    assert search(prefix, 0, 0, 1, 100) == (None, 100)


def test_process_race_finds_valid_blocks() -> None:
    rng = random.Random(3)
    target = difficulty_to_target(1 << 12)
    with ProcessRace((1, 1), seed=3) as race:
        for _ in range(4):
            puzzles = [Puzzle(rng.randbytes(192)) for _ in range(2)]
            outcome = race.race(puzzles, target)
            for solution in outcome.solutions:
                assert digest_value(puzzles[solution.aggregator].prefix, solution.nonce) < target
            assert outcome.total_hashes > 0 and outcome.seconds > 0


@pytest.mark.slow
@pytest.mark.parametrize("powers", [(1, 1), (1, 3)])
def test_process_race_is_fair(powers: tuple[int, int]) -> None:
    """Real worker processes on a shared machine: a looser bound, since the OS schedules them."""
    races = 120
    rng = random.Random(sum(powers))
    target = difficulty_to_target(1 << 15)
    wins = [0, 0]
    with ProcessRace(powers, seed=7) as race:
        race.race([Puzzle(rng.randbytes(192)) for _ in powers], target)  # warm-up
        for _ in range(races):
            outcome = race.race([Puzzle(rng.randbytes(192)) for _ in powers], target)
            wins[outcome.winner.aggregator] += 1
    share = powers[0] / sum(powers)
    assert stats.binomtest(wins[0], races, share).pvalue > 1e-4, wins
