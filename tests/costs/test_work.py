"""The planned cost model (hefl.costs.work): a round priced from what hefl counts before running it.

References are independent of the model's code: the participants' multiplications come from
:func:`hefl.learning.fused.plan_update` (and the forms' products), the party's decryptions from
real packed updates (``hefl.bench.round``'s layout counts), and the expected cycles, time and
energy are computed here in exact rational arithmetic.
"""

from __future__ import annotations

import dataclasses
import warnings
from fractions import Fraction

import numpy as np
import pytest

from hefl.bench.round import packed_layouts, party_decryptions
from hefl.control import JobInfo, RoundReport, make_controller
from hefl.costs import CostModel, CostParameters, RoundWork, planned_work
from hefl.costs.work import paillier_work
from hefl.crypto import generate_keypair
from hefl.data.prepare import Part
from hefl.errors import ConfigError, InsecureKeyWarning
from hefl.learning.fused import GRADIENT_FORMS, MODEL_FORMS, plan_update
from hefl.learning.packed import PackedVector
from hefl.learning.paillier import FixedPointConfig, PaillierStrategy
from hefl.learning.strategy import LearningConfig

KEY_BITS = 1024  # the counts scale with the key through k only; small keys keep the test quick
BITS = FixedPointConfig().significant_bits
PLANNED = CostParameters(
    local_update="planned", mu_multiplication=9.5e3, mu_decryption=7.7e6, mu_small_decryption=4.1e6
)


def _parts(rows: tuple[int, ...], d: int, seed: int = 0) -> list[Part]:
    rng = np.random.default_rng(seed)
    out = []
    for n in rows:
        X = rng.normal(size=(n, d))
        out.append(Part(X=X, y=X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)))
    return out


@pytest.fixture(scope="module")
def keys():
    with warnings.catch_warnings():  # an insecure size, asked for
        warnings.simplefilter("ignore", InsecureKeyWarning)
        return generate_keypair(KEY_BITS, allow_insecure=True)


@pytest.fixture(scope="module")
def real_round(keys) -> tuple[list[Part], list[PackedVector], tuple[int, int, int]]:
    """A dense and a low-rank participant's real packed updates: their parts, the layouts of
    their packed gradients, and bench's (unpacked, packed, unpacked-only) decryption counts."""
    public, private = keys
    strategy = PaillierStrategy(public, LearningConfig(eta=0.01), private_key=private)
    parts = _parts((60, 4), 16)
    start = strategy.initial_model(16)
    updates = [strategy.local_update(start, part, 3) for part in parts]
    layouts = packed_layouts(updates, public)
    return parts, layouts, party_decryptions(16, layouts)


def _layouts(packed: list[PackedVector]) -> list[tuple[int, int]]:
    return [(p.per_ciphertext, p.slot_bits) for p in packed]


def test_a_round_costs_plan_multiplications_and_packed_decryptions(real_round, keys) -> None:
    parts, layouts, (unpacked, packed, _) = real_round
    plans = [plan_update(part, 0.0, BITS) for part in parts]
    assert [p.model_form for p in plans] == ["dense", "low-rank"]
    work = planned_work(
        parts,
        ridge=0.0,
        significant_bits=BITS,
        model_scale_bits=40,
        key_bits=KEY_BITS,
        layouts=_layouts(layouts),
    )
    assert work.small_decryptions == unpacked and work.decryptions == packed
    model = CostModel(PLANNED, tuple(p.size for p in parts), 16, work=work)

    # sending, from the real blobs: Horner's b squarings + 1 per value packed below a top slot,
    # and one comb exponentiation (8-bit windows of the a-bit α) + 1 per ciphertext sent
    per_ciphertext = -(-keys[0].alpha_bits // 8) + 1
    send = [
        sum((p.count - len(p.packed)) * (p.slot_bits + 1) for p in pair)
        + (16 + sum(len(p.packed) for p in pair)) * per_ciphertext
        for pair in (layouts[0:2], layouts[2:4])
    ]
    mu_m, mu_d, mu_s = (Fraction(v) for v in (9.5e3, 7.7e6, 4.1e6))
    local = [
        (Fraction(p.estimated_multiplications) + r) * mu_m for p, r in zip(plans, send, strict=True)
    ]
    party = unpacked * mu_s + packed * mu_d
    for tau in (1, 7, 40):  # the fused update costs the same whatever τ
        assert list(model.round_local_cycles(tau)) == pytest.approx([float(c) for c in local])
    assert model.aggregation_cycles == pytest.approx(float(party), rel=1e-15)

    plan = model.uniform_plan()
    f_local = [Fraction(f) for f in plan.local]
    f_party = Fraction(plan.aggregation)
    time = max(c / f for c, f in zip(local, f_local, strict=True)) + party / f_party
    assert model.learning_time(plan, 5) == pytest.approx(float(time), rel=1e-12)
    gamma = Fraction(PLANNED.gamma)
    learning = sum(c * gamma * f**2 for c, f in zip(local, f_local, strict=True))
    assert model.round_energy(plan, 5) - model.aggregation_energy(plan) == pytest.approx(
        float(learning), rel=1e-12
    )
    # the party's energy: its decryptions at f^L_2, next to the (unchanged) PBFT steps
    paper = CostModel(
        dataclasses.replace(PLANNED, local_update="per-step"), model.dataset_sizes, 16
    )
    consensus = (
        paper.aggregation_energy(plan)
        - paper.aggregation_cycles * PLANNED.gamma * float(f_party) ** 2
    )
    assert model.aggregation_energy(plan) - consensus == pytest.approx(
        float(party * gamma * f_party**2), rel=1e-9
    )


def test_the_estimated_packing_never_undercounts_the_real_one(real_round) -> None:
    """Fused mode: the slot widths are upper estimates, so the count is at least the real one."""
    parts, _, (unpacked, packed, _) = real_round
    work = planned_work(
        parts, ridge=0.0, significant_bits=BITS, model_scale_bits=40, key_bits=KEY_BITS
    )
    assert work.small_decryptions == unpacked
    assert packed <= work.decryptions < 2 * packed
    flat = planned_work(
        parts,
        ridge=0.0,
        significant_bits=BITS,
        model_scale_bits=40,
        key_bits=KEY_BITS,
        pack_gradients=False,
    )
    assert (flat.small_decryptions, flat.decryptions) == ((2 + 3 * len(parts)) * 16, 0)


@pytest.mark.parametrize(("rows", "d", "ridge"), [(20, 60, 0.0), (200, 30, 0.05), (10, 100, 0.0)])
def test_the_estimate_bounds_the_real_packing_on_other_shapes(rows, d, ridge, keys) -> None:
    public, private = keys
    strategy = PaillierStrategy(public, LearningConfig(eta=0.01, ridge=ridge), private_key=private)
    parts = _parts((rows,), d, seed=rows)
    update = strategy.local_update(strategy.initial_model(d), parts[0], 3)
    _, packed, _ = party_decryptions(d, packed_layouts([update], public))
    work = planned_work(
        parts, ridge=ridge, significant_bits=BITS, model_scale_bits=40, key_bits=KEY_BITS
    )
    assert packed <= work.decryptions <= packed + 2  # at most one ciphertext more per gradient


@pytest.mark.parametrize("rows", [4, 10, 15, 19, 30])
def test_low_rank_participants_cost_less_than_dense_when_few_rows(rows: int) -> None:
    """2|D_i|·d + |D_i|² < d² for |D_i| < (√2 − 1)·d ≈ 0.41·d: there the low-rank form is
    planned and priced below the dense one; above it the participant pays the dense price."""
    d = 40
    few, many = _parts((rows, 200), d)
    plan = plan_update(few, 0.0, BITS)
    assert (plan.model_form == "low-rank") == (rows < 0.41 * d)
    g = GRADIENT_FORMS["dense"]
    dense_products = MODEL_FORMS["dense"].products(rows, d, BITS) + g.products(
        rows, d, plan.gradient_bits, BITS, False
    )
    dense = sum(p.cost for p in dense_products)
    work = planned_work(
        [few, many], ridge=0.0, significant_bits=BITS, model_scale_bits=40, key_bits=2048
    )
    model = CostModel(PLANNED, (rows, 200), d, work=work)
    cycles = model.round_local_cycles(5)
    # the products alone (sending, i.e. packing and re-randomising, is priced apart)
    products = cycles - np.asarray(work.send_multiplications) * PLANNED.mu_multiplication
    if plan.model_form == "low-rank":
        assert products[0] < dense * PLANNED.mu_multiplication
        assert products[0] < products[1]  # the participant with many rows pays ≈ d² per product
    else:
        assert products[0] == pytest.approx(dense * PLANNED.mu_multiplication)


def test_the_literal_mode_adds_two_products_per_step() -> None:
    parts = _parts((30,), 8)
    work = planned_work(
        parts, ridge=0.0, significant_bits=BITS, model_scale_bits=40, key_bits=2048, fused=False
    )
    model = CostModel(PLANNED, (30,), 8, work=work)
    one, ten = model.round_local_cycles(1)[0], model.round_local_cycles(10)[0]
    assert ten - one == pytest.approx(9 * work.step_multiplications[0] * PLANNED.mu_multiplication)
    assert not model.constant_in_tau


def test_planned_pricing_needs_the_counted_work() -> None:
    with pytest.raises(ConfigError, match="RoundWork"):
        CostModel(PLANNED, (10, 20), 5)
    with pytest.raises(ConfigError, match="2 participants"):
        CostModel(PLANNED, (10, 20, 30), 5, work=RoundWork((1.0, 2.0), 3, 1))
    with pytest.raises(ConfigError):
        RoundWork((1.0, -2.0), 3, 1)
    with pytest.raises(ConfigError):
        RoundWork((1.0,), 3, -1)


def _run_controller(work: RoundWork, params: CostParameters, budget: float) -> list[int]:
    """Drive a joint controller with fixed estimates until it stops; the τ of every round."""
    controller = make_controller("joint", energy_budget=budget, params=params)
    job = JobInfo(dataset_sizes=(60, 4), model_size=16, learning_rate=0.01, work=work)
    plan = controller.start(job)
    taus = []
    g = 0
    while plan is not None and g < 500:
        taus.append(plan.tau)
        report = RoundReport(g, sum(taus), plan.tau, 1.0 / (g + 1), phi_hat=0.5, omega_hat=0.1)
        plan = controller.observe(report)
        g += 1
    return taus


def test_the_joint_controller_plans_with_the_counted_round(real_round) -> None:
    parts, layouts, _ = real_round
    work = planned_work(
        parts,
        ridge=0.0,
        significant_bits=BITS,
        model_scale_bits=40,
        key_bits=KEY_BITS,
        layouts=_layouts(layouts),
    )
    costly = dataclasses.replace(PLANNED, mu_multiplication=PLANNED.mu_multiplication * 100)
    cheap_model = CostModel(PLANNED, (60, 4), 16, work=work)
    budget = 2 * cheap_model.round_energy(cheap_model.uniform_plan(), 1)
    cheap_taus = _run_controller(work, PLANNED, budget)
    costly_taus = _run_controller(work, costly, budget)
    # 100× costlier multiplications: the same budget pays for fewer rounds
    assert len(cheap_taus) > len(costly_taus) >= 2
    # the same controller without the counted work prices Eqs. 12–13 and plans another schedule
    paper = _run_controller(work, dataclasses.replace(PLANNED, local_update="per-step"), budget)
    assert paper != cheap_taus


def test_paillier_work_reads_the_job_configuration() -> None:
    parts = _parts((30, 50), 8)
    learning = LearningConfig(eta=0.01, ridge=0.01, mode="literal")
    fixed = FixedPointConfig(pack_gradients=False)
    work = paillier_work(parts, learning, fixed, 2048)
    assert work == planned_work(
        parts,
        ridge=0.01,
        significant_bits=fixed.significant_bits,
        model_scale_bits=fixed.model_scale_bits,
        key_bits=2048,
        fused=False,
        pack_gradients=False,
    )
    assert work.decryptions == 0 and all(s > 0 for s in work.step_multiplications)
