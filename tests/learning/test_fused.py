"""The participant's products in their two forms (hefl.learning.fused): the low-rank fused map
equals the dense one and τ literal steps, encrypted and decrypted, on real data; the plan picks
the cheaper form and says which; the gradients' reduced precision keeps φ̂ and ω̂ within 1 %."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from hefl.crypto import EncryptedVector, generate_keypair
from hefl.data import SplitConfig, load_dataset, prepare
from hefl.data.prepare import Part
from hefl.learning import fused, linear
from hefl.learning.paillier import PaillierStrategy
from hefl.learning.plain import PlainStrategy
from hefl.learning.strategy import LearningConfig


@pytest.fixture(scope="module")
def keys():
    return generate_keypair(2048)


@pytest.fixture(scope="module")
def few_rows() -> Part:
    """Six Boston rows (d = 14 with the bias): fewer samples than features, the low-rank case."""
    data = prepare(load_dataset("boston"), SplitConfig(participants=20, n_samples=150, seed=2))
    return data.parts[0]


@pytest.mark.parametrize(("tau", "ridge"), [(1, 0.0), (25, 0.0), (25, 0.01)])
def test_low_rank_map_equals_the_dense_map_and_the_literal_steps(few_rows, tau, ridge) -> None:
    X, y = few_rows.X, few_rows.y
    assert X.shape[0] < X.shape[1]
    dense = linear.fused_update_map(X, y, 0.2, tau, ridge)
    low = linear.low_rank_update_map(X, y, 0.2, tau, ridge)
    assert low.P.shape == (X.shape[0], X.shape[0])
    np.testing.assert_allclose(low.dense(X), dense.M, atol=1e-12)
    np.testing.assert_allclose(low.c, dense.c, atol=1e-12)
    w = np.random.default_rng(0).uniform(-1, 1, X.shape[1])
    stepped = linear.local_steps(w, X, y, 0.2, tau, ridge)
    np.testing.assert_allclose(low.s_tau * w + X.T @ (low.P @ (X @ w)) + low.c, stepped, atol=1e-12)
    # the data-space form: X(w_τ − w₀) = (Q − I)Xw₀ + Xc
    np.testing.assert_allclose(X @ (stepped - w), low.Q_minus_I @ (X @ w) + X @ low.c, atol=1e-12)


@pytest.mark.parametrize("ridge", [0.0, 0.01])
def test_every_form_decrypts_to_the_same_products(keys, few_rows, ridge) -> None:
    public, private = keys
    tau, eta = 25, 0.2
    w = np.random.default_rng(1).uniform(-1, 1, few_rows.X.shape[1])
    start = EncryptedVector.encrypt(public, w, 40)
    X, y = few_rows.X, few_rows.y
    want_local = linear.local_steps(w, X, y, eta, tau, ridge)
    want_grads = [linear.gradient(v, X, y, ridge) for v in (w, want_local)]
    locals_ = {}
    for model_form in fused.MODEL_FORMS:
        for gradient_form in fused.GRADIENT_FORMS:
            g = fused.gradient_bits(few_rows, ridge, 30, gradient_form)
            plan = fused.UpdatePlan(model_form, gradient_form, g, 0.0)
            out = fused.run_update(
                plan, start, few_rows, tau, eta=eta, ridge=ridge, significant_bits=30
            )
            local, g_start, g_local = (
                v.decrypt(private) for v in (out.local, out.grad_start, out.grad_local)
            )
            np.testing.assert_allclose(local, want_local, atol=1e-8)
            locals_[model_form, gradient_form] = local
            # gradients: each within the rounding bound of its operator, times ‖w‖
            x_norm = float(np.linalg.norm(few_rows.X, 2))
            bound = fused.GRADIENT_FORMS[gradient_form].rounding_bound(
                few_rows, ridge, g, 30, x_norm
            )
            for got, want, v in zip((g_start, g_local), want_grads, (w, want_local), strict=True):
                assert np.linalg.norm(got - want) <= bound * np.linalg.norm(v) + 1e-8
            # φ̂'s secant quotient within the documented tolerance
            phi = np.linalg.norm(g_local - g_start) / np.linalg.norm(local - w)
            want_phi = np.linalg.norm(want_grads[1] - want_grads[0]) / np.linalg.norm(
                want_local - w
            )
            assert phi == pytest.approx(want_phi, rel=fused.GRADIENT_TOLERANCE)
    dense, low = locals_["dense", "dense"], locals_["low-rank", "dense"]
    np.testing.assert_allclose(low, dense, atol=1e-8)


def test_the_plan_takes_the_cheaper_form_and_logs_it(keys, few_rows, caplog) -> None:
    rng = np.random.default_rng(3)
    wide = Part(rng.uniform(-1, 1, (10, 120)), rng.uniform(-1, 1, 10))
    tall = Part(rng.uniform(-1, 1, (400, 20)), rng.uniform(-1, 1, 400))
    assert fused.plan_update(wide, 0.0, 30).model_form == "low-rank"
    assert fused.plan_update(tall, 0.0, 30).model_form == "dense"
    for part in (wide, tall):
        plan = fused.plan_update(part, 0.0, 30)
        alternatives = [
            sum(
                p.cost
                for p in fused.MODEL_FORMS[m].products(*part.X.shape, 30)
                + fused.GRADIENT_FORMS[g].products(
                    *part.X.shape,
                    fused.gradient_bits(part, 0.0, 30, g),
                    30,
                    fused.MODEL_FORMS[m].computes_data_product,
                )
            )
            for m in fused.MODEL_FORMS
            for g in fused.GRADIENT_FORMS
        ]
        assert plan.estimated_multiplications == min(alternatives)
        assert plan.estimated_multiplications == sum(p.cost for p in plan.products)
    public, _ = keys
    strategy = PaillierStrategy(public, LearningConfig(eta=0.2))
    start = strategy.initial_model(few_rows.X.shape[1])
    with caplog.at_level(logging.INFO, logger="hefl.learning.fused"):
        strategy.local_update(start, few_rows, 5)
    plan = fused.plan_update(few_rows, 0.0, strategy.fixed_point.significant_bits)
    assert f"participant update: |D_i|=6, d=14: model {plan.model_form}" in caplog.text


def test_gradient_precision_follows_the_conditioning() -> None:
    rng = np.random.default_rng(4)
    X = rng.uniform(-1, 1, (200, 10))
    well = Part(X, rng.uniform(-1, 1, 200))
    ill = Part(np.hstack([X, X[:, :1] + 1e-7 * rng.normal(size=(200, 1))]), well.y)
    assert fused.gradient_bits(well, 0.0, 30) < 30
    assert fused.gradient_bits(ill, 0.0, 30) == 30


@pytest.mark.parametrize("dataset", ["boston", "fish"])
def test_estimates_stay_within_one_percent_of_full_precision(keys, dataset) -> None:
    """φ̂ and ω̂ from the reduced-precision gradients against the exact (plaintext) values."""
    public, private = keys
    data = prepare(load_dataset(dataset), SplitConfig(participants=5))
    config = LearningConfig(eta=0.05)
    encrypted = PaillierStrategy(public, config, private_key=private)
    plain = PlainStrategy(config)
    g_enc, g_plain = encrypted.initial_model(data.model_size), plain.initial_model(data.model_size)
    for _ in range(3):
        outcomes = []
        for strategy, g in ((encrypted, g_enc), (plain, g_plain)):
            updates = [strategy.local_update(g, part, 10) for part in data.parts]
            aggregate = strategy.aggregate([u.model for u in updates], data.sizes)
            outcomes.append(strategy.conclude(g, aggregate, updates, data.sizes))
        got, want = outcomes[0].estimates, outcomes[1].estimates
        assert got.phi == pytest.approx(want.phi, rel=0.01)
        assert got.omega == pytest.approx(want.omega, rel=0.01)
        for a, b in zip(got.omega_per_participant, want.omega_per_participant, strict=True):
            assert a == pytest.approx(b, rel=0.01)
        g_enc, g_plain = outcomes[0].next_global, outcomes[1].next_global
    plans = [
        fused.plan_update(part, 0.0, encrypted.fixed_point.significant_bits) for part in data.parts
    ]
    assert all(p.gradient_bits < encrypted.fixed_point.significant_bits for p in plans)


def test_a_low_rank_update_passes_the_protocols_header_checks(keys, caplog) -> None:
    """The low-rank model's three products stay inside the scale window every replica checks,
    and decrypt to τ plaintext steps."""
    from hefl.learning.strategy import SubmissionRules

    public, private = keys
    rng = np.random.default_rng(5)
    wide = Part(rng.uniform(-1, 1, (8, 60)), rng.uniform(-1, 1, 8))
    plan = fused.plan_update(wide, 0.0, 30)
    assert plan.model_form == "low-rank"
    party = PaillierStrategy(public, LearningConfig(eta=0.05), private_key=private)
    participant = party.for_participant(0)
    start = party.initial_model(60)
    with caplog.at_level(logging.INFO, logger="hefl.learning.fused"):
        update = participant.local_update(start, wide, 25)
    assert "model low-rank" in caplog.text and "dense form runs instead" not in caplog.text
    party.validate_update(start, update, SubmissionRules(tau=25, total_data_size=100))
    (local,) = party.decrypt_many([EncryptedVector.from_bytes(update.model, public)])
    want = linear.local_steps(np.zeros(60), wide.X, wide.y, 0.05, 25)
    np.testing.assert_allclose(local, want, atol=1e-8)


def test_the_dense_form_runs_when_the_low_rank_scale_would_leave_the_window(keys, caplog):
    public, private = keys
    rng = np.random.default_rng(6)
    wide = Part(rng.uniform(-1, 1, (8, 60)), rng.uniform(-1, 1, 8))
    start = EncryptedVector.encrypt(public, np.zeros(60), 40)
    plan = fused.plan_update(wide, 0.0, 30)
    with caplog.at_level(logging.INFO, logger="hefl.learning.fused"):
        out = fused.run_update(
            plan, start, wide, 5, eta=0.05, ridge=0.0, significant_bits=30, max_scale_growth=40
        )
    assert "the dense form runs instead" in caplog.text
    assert out.local.scale_bits - start.scale_bits <= 40
    want = linear.local_steps(np.zeros(60), wide.X, wide.y, 0.05, 5)
    np.testing.assert_allclose(out.local.decrypt(private), want, atol=1e-8)


def test_the_dense_gradient_bound_is_the_rounding_errors_exact_spectral_norm() -> None:
    """The bound gradient_bits uses for Ã is ‖Ã/2^p − A‖₂ of the integers the product really
    multiplies by (encode_array), by numpy's SVD, and lies below the worst case d·2^−(p+1)."""
    from hefl.crypto.encoding import encode_array

    rng = np.random.default_rng(5)
    part = Part(rng.normal(size=(300, 40)), rng.normal(size=300))
    for g in (16, 22, 30):
        A = part.X.T @ part.X / part.size
        p = fused.precision_for(A, g)
        ints = np.array([encode_array(row, p) for row in A], dtype=np.float64)
        exact = np.linalg.norm(ints / 2.0**p - A, 2)
        bound = fused._dense_rounding_bound(part, 0.0, g, 30, 0.0)
        assert bound == pytest.approx(exact, rel=1e-9)
        assert bound < 40 * 2.0 ** -(p + 1) / 2
    g = fused.gradient_bits(part, 0.0, 30)
    lowest = float(np.min(np.linalg.eigvalsh(part.X.T @ part.X / part.size)))
    assert fused._dense_rounding_bound(part, 0.0, g, 30, 0.0) <= fused.GRADIENT_TOLERANCE * lowest
    assert g == 16 or (
        fused._dense_rounding_bound(part, 0.0, g - 1, 30, 0.0) > fused.GRADIENT_TOLERANCE * lowest
    )
