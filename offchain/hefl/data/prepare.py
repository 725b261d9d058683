"""Preprocessing as in the main paper (§3.2): sample, split, scale to [−1, 1], add a bias.

Then partition the training rows. Everything is seeded: the same :class:`SplitConfig` gives the same
split on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hefl.data.datasets import Dataset
from hefl.errors import ConfigError

PARTITIONS = ("iid", "skewed")


@dataclass(frozen=True)
class SplitConfig:
    """How a data set becomes N participants' private parts.

    Attributes:
        participants: N.
        n_samples: samples drawn (seeded, without replacement) before splitting; the paper uses
            506 for both data sets (all of Boston, a sample of fish). ``None`` keeps all.
        test_fraction: share of the samples held out for the test loss (paper: 0.2).
        seed: seeds the sample, the split and the partition.
        partition: ``"iid"`` (shuffled, equal sizes) or ``"skewed"`` (non-IID: sizes drawn from a
            Dirichlet and samples assigned in order of their target, so parts differ in label too).
        skew_concentration: Dirichlet concentration for ``"skewed"`` sizes (smaller: more skew).
    """

    participants: int = 3
    n_samples: int | None = 506
    test_fraction: float = 0.2
    seed: int = 0
    partition: str = "iid"
    skew_concentration: float = 1.0

    def __post_init__(self) -> None:
        if self.participants < 1:
            raise ConfigError(f"participants must be ≥ 1, got {self.participants}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError(f"test_fraction must be in (0, 1), got {self.test_fraction}")
        if self.partition not in PARTITIONS:
            raise ConfigError(f"partition {self.partition!r} unknown; use one of {PARTITIONS}")
        if self.n_samples is not None and self.n_samples < 2:
            raise ConfigError(f"n_samples must be ≥ 2 or None, got {self.n_samples}")
        if self.skew_concentration <= 0:
            raise ConfigError(f"skew_concentration must be > 0, got {self.skew_concentration}")


@dataclass(frozen=True)
class Part:
    """One participant's private data: rows of ``X`` already carry the bias column."""

    X: np.ndarray
    y: np.ndarray

    @property
    def size(self) -> int:
        return int(self.X.shape[0])


@dataclass(frozen=True)
class PreparedData:
    """Scaled train/test data and the training set's partition across participants."""

    name: str
    parts: tuple[Part, ...]
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(part.size for part in self.parts)

    @property
    def model_size(self) -> int:
        """|w|: features plus the bias."""
        return int(self.X_train.shape[1])


def _scale_to_unit(train: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Affine map of each column to [−1, 1] fitted on ``train``; constant columns become 0."""
    low = train.min(axis=0)
    span = train.max(axis=0) - low
    span = np.where(span > 0, span, 1.0)

    def scale(values: np.ndarray) -> np.ndarray:
        return 2.0 * (values - low) / span - 1.0

    return scale(train), scale(other)


def _partition_sizes(total: int, config: SplitConfig, rng: np.random.Generator) -> np.ndarray:
    n = config.participants
    if config.partition == "iid":
        sizes = np.full(n, total // n)
        sizes[: total % n] += 1
        return sizes
    # Skewed: Dirichlet shares, every participant keeps at least one sample.
    shares = rng.dirichlet(np.full(n, config.skew_concentration))
    sizes = 1 + np.floor(shares * (total - n)).astype(int)
    sizes[np.argmax(shares)] += total - int(sizes.sum())
    return sizes


def prepare(dataset: Dataset, config: SplitConfig | None = None) -> PreparedData:
    """Sample, split 80/20, scale features and target to [−1, 1] (ranges from the training part),
    append a bias column of ones, and partition the training rows across ``participants``."""
    config = config or SplitConfig()
    rng = np.random.default_rng(config.seed)
    total = dataset.n_samples
    n_samples = total if config.n_samples is None else config.n_samples
    if n_samples > total:
        raise ConfigError(
            f"n_samples={n_samples} but {dataset.name!r} has only {total} samples; lower it"
        )
    chosen = rng.permutation(total)[:n_samples]
    n_test = round(n_samples * config.test_fraction)
    test_idx, train_idx = chosen[:n_test], chosen[n_test:]
    if len(train_idx) < config.participants:
        raise ConfigError(
            f"{len(train_idx)} training samples cannot be shared by {config.participants} "
            "participants; use fewer participants or more samples"
        )

    X_train, X_test = _scale_to_unit(dataset.X[train_idx], dataset.X[test_idx])
    y_train, y_test = _scale_to_unit(dataset.y[train_idx, None], dataset.y[test_idx, None])
    X_train = np.hstack([X_train, np.ones((len(train_idx), 1))])
    X_test = np.hstack([X_test, np.ones((len(test_idx), 1))])
    y_train, y_test = y_train[:, 0], y_test[:, 0]

    order = (
        np.argsort(y_train, kind="stable")
        if config.partition == "skewed"
        else np.arange(len(y_train))
    )
    bounds = np.cumsum(_partition_sizes(len(order), config, rng))[:-1]
    parts = tuple(
        Part(X=np.ascontiguousarray(X_train[rows]), y=np.ascontiguousarray(y_train[rows]))
        for rows in np.split(order, bounds)
    )
    return PreparedData(
        name=dataset.name,
        parts=parts,
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        feature_names=(*dataset.feature_names, "bias"),
    )
