"""The pow-race learning: gradients split over owners, the chain's models follow the ridge
gradient descent bit for bit and converge to the closed form (checked against scikit-learn)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from hefl.chain import LocalBlobStore, connect_embedded
from hefl.data import images
from hefl.data.images import load_images, split_owners
from hefl.errors import ConfigError, DatasetError
from hefl.learning.plain import decode_plain_vector
from hefl.pow import model
from hefl.pow.audit import LivePowView, audit_pow
from hefl.pow.job import PowRaceConfig, PowRaceJob
from hefl.pow.miner import Puzzle, Race, RaceOutcome, Solution, VirtualRace, search
from hefl.pow.model import aggregate_step, closed_form, default_alpha, local_gradient, objective

SMALL = 200


@pytest.fixture(scope="module")
def small() -> images.ImageData:
    return load_images("digits", 3, samples=SMALL)


def test_images_are_vectorised_with_a_bias(small: images.ImageData) -> None:
    full = load_images("digits", 0)
    assert full.X.shape == (1797, 65)
    assert full.image_shape == (8, 8)
    assert np.all(full.X[:, -1] == 1.0)
    assert full.X[:, :-1].min() >= 0.0 and full.X[:, :-1].max() <= 1.0
    assert set(np.unique(full.y)) == {-1.0, 1.0}
    assert int((full.y == 1).sum()) == 178  # the zeros of the digits set
    assert small.X.shape == (SMALL, 65)


def test_olivetti_offline_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import sklearn.datasets

    def offline(**_: object) -> None:
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(sklearn.datasets, "fetch_olivetti_faces", offline)
    with pytest.raises(DatasetError, match="--dataset digits"):
        load_images("olivetti")


def test_unknown_data_and_class(small: images.ImageData) -> None:
    with pytest.raises(DatasetError, match="unknown"):
        load_images("mnist")
    with pytest.raises(ConfigError, match="class 10"):
        load_images("digits", 10)


def test_split_is_a_seeded_partition(small: images.ImageData) -> None:
    parts = split_owners(small, 2, seed=4)
    assert [X.shape[0] for X, _ in parts] == [100, 100]
    rows = np.vstack([X for X, _ in parts])
    assert sorted(map(tuple, rows)) == sorted(map(tuple, small.X))
    again = split_owners(small, 2, seed=4)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(parts, again, strict=True))


def test_aggregate_is_the_sum_of_local_gradients(small: images.ImageData) -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.1, small.model_size)
    gamma = 5.0
    parts = split_owners(small, 3, seed=1)
    local = [local_gradient(w, X, y) for X, y in parts]
    # Σ_k g_k is the data term of the whole data set's gradient …
    full = sum((X.T @ (X @ w - y) for X, y in [(small.X, small.y)]), np.zeros_like(w))
    np.testing.assert_allclose(model.sum_gradients(local), full, rtol=1e-12, atol=1e-9)
    # … and with the ridge term counted once it is ∇L, checked by central differences.
    grad = model.sum_gradients(local) + model.ridge_gradient(w, gamma)
    eps = 1e-6
    numeric = np.array(
        [
            (
                objective(w + eps * e, small.X, small.y, gamma)
                - objective(w - eps * e, small.X, small.y, gamma)
            )
            / (2 * eps)
            for e in np.eye(small.model_size)
        ]
    )
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-5)
    # The block's update is w − α ∇L.
    alpha = 1e-4
    np.testing.assert_allclose(aggregate_step(w, local, alpha, gamma), w - alpha * grad)


def test_closed_form_matches_sklearn_ridge(small: images.ImageData) -> None:
    gamma = 7.5
    # sklearn minimises ‖y − Xw‖² + a‖w‖²; ours is half that with a = 2γ.
    reference = Ridge(alpha=2 * gamma, fit_intercept=False, solver="cholesky", tol=1e-12)
    reference.fit(small.X, small.y)
    np.testing.assert_allclose(closed_form(small.X, small.y, gamma), reference.coef_, atol=1e-9)


def test_default_alpha_is_a_safe_step(small: images.ImageData) -> None:
    gamma = 3.0
    parts = split_owners(small, 2, seed=0)
    lam = np.linalg.eigvalsh(small.X.T @ small.X + 2 * gamma * np.eye(small.model_size))[-1]
    assert default_alpha(parts, gamma) <= 1 / lam
    assert default_alpha(parts, gamma) >= 0.2 / lam  # and not absurdly small here


def test_gradient_descent_converges_to_closed_form(small: images.ImageData) -> None:
    gamma = 100.0
    parts = split_owners(small, 2, seed=0)
    alpha = default_alpha(parts, gamma)
    optimum = closed_form(small.X, small.y, gamma)
    w = np.zeros(small.model_size)
    losses = []
    for _ in range(800):
        w = aggregate_step(w, [local_gradient(w, X, y) for X, y in parts], alpha, gamma)
        losses.append(objective(w, small.X, small.y, gamma))
    assert np.linalg.norm(w - optimum) / np.linalg.norm(optimum) < 1e-9
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(losses))  # monotone


def test_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="hash power"):
        PowRaceConfig(hash_power=(1,))
    with pytest.raises(ConfigError, match="γ"):
        PowRaceConfig(gamma=0.0)
    with pytest.raises(ConfigError, match="distinct"):
        PowRaceConfig(owners=("Alice", "Agg1"))
    with pytest.raises(ConfigError, match="block time"):
        PowRaceConfig(retarget_every=3, block_time=0)
    with pytest.raises(ConfigError, match="race"):
        PowRaceConfig(race="carrier pigeons")
    with pytest.raises(ConfigError, match="difficulty"):
        PowRaceConfig(difficulty=0.5)


# --- on chain ------------------------------------------------------------------------------------
def _job(tmp_path: Path, **overrides: object) -> PowRaceJob:
    settings: dict[str, object] = {
        "samples": SMALL,
        "target_class": 3,
        "gamma": 2000.0,  # well conditioned: a dozen blocks reach the optimum
        "rounds": 12,
        "difficulty": 8.0,
        "retarget_every": 0,
        "race": "virtual",
        "seed": 5,
    }
    settings.update(overrides)
    config = PowRaceConfig(**settings)  # type: ignore[arg-type]
    return PowRaceJob(config, connect_embedded(8), LocalBlobStore(tmp_path / "blobs"))


def test_chain_run_follows_the_recursion_and_converges(tmp_path: Path) -> None:
    job = _job(tmp_path)
    result = job.run()
    cfg, ledger, blobs = job.config, job.ledger, job.blobs
    # Replay the update in numpy from the same split: every block's model, bit for bit.
    parts = split_owners(job.data, 2, cfg.seed)
    alpha = default_alpha(parts, cfg.gamma)
    assert alpha == job.alpha
    w = np.zeros(job.data.model_size)
    for block in ledger.blocks()[1:]:
        w = aggregate_step(w, [local_gradient(w, X, y) for X, y in parts], alpha, cfg.gamma)
        assert np.array_equal(decode_plain_vector(blobs.get(block.model_hash)), w)
    optimum = closed_form(job.data.X, job.data.y, cfg.gamma)
    assert result.model is not None
    assert np.linalg.norm(result.model - optimum) / np.linalg.norm(optimum) < 1e-3
    distances = [r.distance for r in result.rounds]
    assert distances[-1] < 1e-3 < distances[0]
    assert all(b < a for a, b in itertools.pairwise(distances))
    assert sum(result.wins().values()) == cfg.rounds == ledger.current_round() - 1
    report = audit_pow(LivePowView(ledger), blobs, names=result.names)
    assert report.ok, report.problems
    assert (report.blocks, report.models, report.proofs, report.targets) == (12, 12, 12, 12)


class BothFind(Race):
    """A race in which every aggregator finds a valid nonce: the second block arrives late."""

    def race(self, puzzles: Sequence[Puzzle], target: int) -> RaceOutcome:
        solutions = []
        for a, puzzle in enumerate(puzzles):
            nonce, tried = search(puzzle.prefix, target, 0, 1, 1 << 20)
            assert nonce is not None
            solutions.append(Solution(a, nonce, float(tried)))
        return RaceOutcome(tuple(solutions), (1, 1), 0.0)


def test_late_blocks_are_refused_and_reported(tmp_path: Path) -> None:
    job = _job(tmp_path, rounds=2)
    result = job.run(race=BothFind([1, 1]))
    assert [r.winner for r in result.rounds] == ["Agg1", "Agg1"]
    assert [r.late for r in result.rounds] == [("Agg2",), ("Agg2",)]
    assert result.wins() == {"Agg1": 2, "Agg2": 0}


def test_the_virtual_race_is_reproducible(tmp_path: Path) -> None:
    runs = [_job(tmp_path / str(i), rounds=3, difficulty=64.0).run() for i in range(2)]
    assert [r.winner for r in runs[0].rounds] == [r.winner for r in runs[1].rounds]
    assert [r.hashes for r in runs[0].rounds] == [r.hashes for r in runs[1].rounds]
    assert isinstance(VirtualRace([1]), Race)


def test_olivetti_faces_are_vectorised(monkeypatch: pytest.MonkeyPatch) -> None:
    """The faces path with a stand-in for scikit-learn's fetcher (tests never download)."""
    import sklearn.datasets
    from sklearn.utils import Bunch

    rng = np.random.default_rng(0)
    images = rng.random((40, 64, 64)).astype(np.float32)
    labels = np.repeat(np.arange(4), 10)
    monkeypatch.setattr(
        sklearn.datasets,
        "fetch_olivetti_faces",
        lambda **_: Bunch(images=images, target=labels),
    )
    faces = load_images("olivetti", target_class=2)
    assert faces.X.shape == (40, 64 * 64 + 1) and faces.image_shape == (64, 64)
    assert np.array_equal(faces.X[:, :-1], images.reshape(40, -1).astype(np.float64))
    assert int((faces.y == 1).sum()) == 10
