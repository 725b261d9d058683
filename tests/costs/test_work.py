"""The planned cost model (hefl.costs.work): a round priced from what hefl counts before running it.

References are independent of the model's code: the participants' multiplications come from
:func:`hefl.learning.fused.plan_update` (and the forms' products), the party's decryptions from
what its key really runs when it concludes a real round (counted at ``PrivateKey``'s decryption
methods and at gmpy2's powmods by 2^b, the Horner of its own packing), and the expected cycles,
time and energy are computed here in exact rational arithmetic.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections import Counter
from fractions import Fraction

import gmpy2
import numpy as np
import pytest

from hefl.bench.round import packed_layouts
from hefl.control import JobInfo, RoundReport, make_controller
from hefl.costs import CostModel, CostParameters, RoundWork, planned_work
from hefl.costs.work import paillier_work
from hefl.crypto import PrivateKey, generate_keypair
from hefl.crypto.vector import REPACK_MIN_SLOTS, EncryptedVector, repack_layout
from hefl.data.prepare import Part
from hefl.errors import ConfigError, InsecureKeyWarning
from hefl.learning.blobs import unpack_bundle
from hefl.learning.fused import GRADIENT_FORMS, MODEL_FORMS, plan_update
from hefl.learning.packed import PackedVector, is_packed
from hefl.learning.paillier import FixedPointConfig, PaillierStrategy
from hefl.learning.strategy import LearningConfig

KEY_BITS = 1024  # the counts scale with the key through k only; small keys keep the test quick
BITS = FixedPointConfig().significant_bits
PLANNED = CostParameters(
    local_update="planned",
    mu_multiplication=9.5e3,
    mu_decryption=7.7e6,
    mu_small_decryption=4.1e6,
    mu_repack_multiplication=3.3e3,
)
MU = tuple(Fraction(v) for v in (9.5e3, 7.7e6, 4.1e6, 3.3e3))  # μ_M, μ_D, μ_Ds, μ_H


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


def spent_by_the_party(
    strategy: PaillierStrategy, start: bytes, updates, sizes
) -> tuple[int, int, int]:
    """(small, full, Horner) decryptions the party's key runs to conclude the round: values
    through ``decrypt_small``, ciphertexts through ``decrypt_ints`` plus groups through
    ``decrypt_shifted_sums``, and, for every powmod modulo p² or q² by 2^b, b squarings and the
    product that follows it."""
    key = strategy._private_key
    halves = (key.psquare, key.qsquare)
    counted: Counter[str] = Counter()
    powmod = gmpy2.powmod

    def counting_powmod(base, exponent, modulus):
        e = int(exponent)
        if modulus in halves and e > 1 and e & (e - 1) == 0:
            counted["horner"] += e.bit_length()  # (bits − 1) squarings + one product
        return powmod(base, exponent, modulus)

    with pytest.MonkeyPatch.context() as patch:
        for name, kind in (("decrypt_small", "small"), ("decrypt_ints", "full")):
            original = getattr(PrivateKey, name)

            def counting(self, cts, *, workers=None, _original=original, _kind=kind):
                counted[_kind] += len(cts)
                return _original(self, cts, workers=workers)

            patch.setattr(PrivateKey, name, counting)
        shifted = PrivateKey.decrypt_shifted_sums

        def counting_groups(self, groups, bits, *, workers=None):
            counted["full"] += len(groups)
            return shifted(self, groups, bits, workers=workers)

        patch.setattr(PrivateKey, "decrypt_shifted_sums", counting_groups)
        patch.setattr(gmpy2, "powmod", counting_powmod)
        aggregate = strategy.aggregate([u.model for u in updates], sizes)
        counted.clear()
        strategy.conclude(start, aggregate, updates, sizes)
    return counted["small"], counted["full"], counted["horner"]


def plain_layouts(strategy: PaillierStrategy, start: bytes, updates, sizes) -> list:
    """repack_layout of each plain vector the party decrypts (aggregate, global model, local
    models — in the aggregate's digit width — and unpacked gradients), ``None`` for one it
    decrypts a value at a time."""
    public = strategy.public_key
    aggregate = strategy.aggregate([u.model for u in updates], sizes)
    width = repack_layout(public, EncryptedVector.from_bytes(aggregate, public).bound)[1]
    plain = [aggregate, start, *(u.model for u in updates)]
    plain += [b for u in updates for b in unpack_bundle(u.extra, 2) if not is_packed(b)]
    out = []
    for index, blob in enumerate(plain):
        v = EncryptedVector.from_bytes(blob, public)
        if 2 <= index < 2 + len(updates):  # a local model: in the aggregate's layout, always
            out.append(repack_layout(public, v.bound, width))
            continue
        k, b = repack_layout(public, v.bound)
        out.append((k, b) if len(v) >= REPACK_MIN_SLOTS and k >= REPACK_MIN_SLOTS else None)
    return out


def cycles(small: int, full: int, horner: int) -> Fraction:
    """Δ^L_2 = D_s·μ_Ds + D_f·μ_D + D_h·μ_H, exactly."""
    return small * MU[2] + full * MU[1] + horner * MU[3]


@pytest.fixture(scope="module")
def real_round(keys):
    """A dense and a low-rank participant's real packed updates: their parts, the layouts of
    their packed gradients, the real plain vectors' repack layouts and the (small, full,
    Horner) decryptions the party spends to conclude the round."""
    public, private = keys
    strategy = PaillierStrategy(public, LearningConfig(eta=0.01), private_key=private)
    parts = _parts((60, 4), 16)
    sizes = [p.size for p in parts]
    start = strategy.initial_model(16)
    updates = [strategy.local_update(start, part, 3) for part in parts]
    layouts = packed_layouts(updates, public)
    plain = plain_layouts(strategy, start, updates, sizes)
    return parts, layouts, plain, spent_by_the_party(strategy, start, updates, sizes)


def _layouts(packed: list[PackedVector]) -> list[tuple[int, int]]:
    return [(p.per_ciphertext, p.slot_bits) for p in packed]


def test_a_round_costs_plan_multiplications_and_packed_decryptions(real_round, keys) -> None:
    parts, layouts, plain, (small, full, horner) = real_round
    plans = [plan_update(part, 0.0, BITS) for part in parts]
    assert [p.model_form for p in plans] == ["dense", "low-rank"]
    work = planned_work(
        parts,
        ridge=0.0,
        significant_bits=BITS,
        model_scale_bits=40,
        key_bits=KEY_BITS,
        layouts=_layouts(layouts),
        plain_layouts=plain,
    )
    # the party packs the global model and the local models itself (k ≥ 6 at 1024 bits)
    assert sum(p is not None for p in plain) >= 3 and horner > 0
    packed = sum(len(p.packed) for p in layouts)
    repacked = sum(math.ceil(16 / p[0]) for p in plain if p is not None)
    assert full == packed + repacked and small == 16 * sum(p is None for p in plain)
    assert (work.small_decryptions, work.decryptions, work.repack_multiplications) == (
        small,
        full,
        horner,
    )
    model = CostModel(PLANNED, tuple(p.size for p in parts), 16, work=work)

    # sending, from the real blobs: Horner's b squarings + 1 per value packed below a top slot,
    # and one comb exponentiation (8-bit windows of the a-bit α) + 1 per ciphertext sent
    per_ciphertext = -(-keys[0].alpha_bits // 8) + 1
    send = [
        sum((p.count - len(p.packed)) * (p.slot_bits + 1) for p in pair)
        + (16 + sum(len(p.packed) for p in pair)) * per_ciphertext
        for pair in (layouts[0:2], layouts[2:4])
    ]
    local = [
        (Fraction(p.estimated_multiplications) + r) * MU[0]
        for p, r in zip(plans, send, strict=True)
    ]
    party = cycles(small, full, horner)
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
    """Fused mode: the slot and digit widths are upper estimates, so the party's cycles are at
    least what it really spends, and the packed gradients' count at least the real one."""
    parts, layouts, _, spent = real_round
    work = planned_work(
        parts, ridge=0.0, significant_bits=BITS, model_scale_bits=40, key_bits=KEY_BITS
    )
    exact = planned_work(
        parts,
        ridge=0.0,
        significant_bits=BITS,
        model_scale_bits=40,
        key_bits=KEY_BITS,
        layouts=_layouts(layouts),
    )  # the real packed gradients, the plain vectors estimated
    packed = sum(len(p.packed) for p in layouts)
    assert packed <= work.decryptions - exact.decryptions + packed < 2 * packed
    assert work.party_cycles(PLANNED) >= float(cycles(*spent))
    assert work.party_cycles(PLANNED) < float(cycles(*spent)) * 2  # and not far above it


def test_unpacked_gradients_are_packed_by_the_party_and_counted(keys) -> None:
    """pack_gradients=False: the party packs the 2·N gradients too; counted exactly from the
    real vectors' layouts, bounded above by the estimate, far below one decryption per value."""
    public, private = keys
    strategy = PaillierStrategy(
        public,
        LearningConfig(eta=0.01),
        FixedPointConfig(pack_gradients=False),
        private_key=private,
    )
    parts = _parts((60, 40), 16, seed=3)
    sizes = [p.size for p in parts]
    start = strategy.initial_model(16)
    updates = [strategy.local_update(start, part, 3) for part in parts]
    spent = spent_by_the_party(strategy, start, updates, sizes)
    plain = plain_layouts(strategy, start, updates, sizes)
    assert len(plain) == 2 + 3 * len(parts) and all(p is not None for p in plain)
    kwargs = dict(
        ridge=0.0,
        significant_bits=BITS,
        model_scale_bits=40,
        key_bits=KEY_BITS,
        pack_gradients=False,
    )
    exact = planned_work(parts, **kwargs, plain_layouts=plain)
    assert (exact.small_decryptions, exact.decryptions, exact.repack_multiplications) == spent
    assert spent[0] == 0 and spent[1] == sum(math.ceil(16 / k) for k, _ in plain) < 8 * 16
    flat = planned_work(parts, **kwargs)
    assert flat.party_cycles(PLANNED) >= float(cycles(*spent))
    with pytest.raises(ConfigError, match="plain layouts"):
        planned_work(parts, **kwargs, plain_layouts=plain[:-1])


def test_short_models_and_literal_bounds_are_counted_a_value_at_a_time() -> None:
    """d < REPACK_MIN_SLOTS: one p-half decryption per value of the aggregate and the global
    model, as before the party packed, but each local model one group in the aggregate's layout;
    the literal mode's aggregate (a bound growing with τ) a value at a time and its local models
    one full decryption per value (the most they cost), the global model's public bound packed
    all the same."""
    short = planned_work(
        _parts((30, 50), 4), ridge=0.0, significant_bits=BITS, model_scale_bits=40, key_bits=2048
    )
    assert short.small_decryptions == 2 * 4 and short.repack_multiplications > 0
    assert short.decryptions == 2 * 2 + 2  # the packed gradients, one ciphertext each; 2 groups
    literal = planned_work(
        _parts((30, 50), 40),
        ridge=0.0,
        significant_bits=BITS,
        model_scale_bits=40,
        key_bits=2048,
        fused=False,
    )
    k = (2048 - 3) // (33 + 40 + 1)  # the global model's digits: |w| < 2^32 at 2^-40, and a sign
    assert literal.small_decryptions == 40 and literal.decryptions >= 2 * 40
    assert literal.repack_multiplications == 2 * (40 - math.ceil(40 / k)) * (33 + 40 + 2)


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
    parts, layouts, _, _ = real_round
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
    assert all(s > 0 for s in work.step_multiplications)
    # the party packs what has a bound independent of τ (the global model, the first gradients);
    # the aggregate and the second gradients a value at a time, the local models by full
    # decryptions (in the aggregate's layout, whose width τ decides)
    assert (work.decryptions, work.small_decryptions) == (1 + 2 + 2 * 8, (1 + 2) * 8)
