"""Image data sets as vectorised rows for a one-vs-rest linear model (the proof-of-work mode).

Model input (``notes-gradient-sum-on-blockchain.txt``): x = [vec(X); 1] ∈ ℝ^{mn+1} for an m×n
image X with pixels in [0, 1], and y = +1 for the target class k, −1 otherwise ("is it k").

- ``digits``: scikit-learn's bundled handwritten digits (8×8, 1797 images, no download).
- ``olivetti``: the Olivetti faces of the notes' face recognition model (64×64, 40 people),
  fetched once by scikit-learn's fetcher into ``~/scikit_learn_data``; offline, the loader says so
  and names the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hefl.errors import ConfigError, DatasetError

#: The image data sets :func:`load_images` knows.
IMAGE_DATASETS = ("digits", "olivetti")


@dataclass(frozen=True)
class ImageData:
    """Vectorised images: rows x_i = [vec(X_i); 1], targets y_i = ±1 (is it class k)."""

    name: str
    X: np.ndarray
    y: np.ndarray
    image_shape: tuple[int, int]
    target_class: int

    @property
    def model_size(self) -> int:
        return int(self.X.shape[1])


def _fetch_olivetti() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import fetch_olivetti_faces

    try:
        bunch = fetch_olivetti_faces(shuffle=False)
    except Exception as error:  # URLError, OSError, HTTPError: no network or no cache
        raise DatasetError(
            "the Olivetti faces are not cached and could not be downloaded by scikit-learn's "
            f"fetcher ({error}); run once with network access (they are cached in "
            "~/scikit_learn_data), or use --dataset digits, which needs no download"
        ) from error
    return np.asarray(bunch.images, dtype=np.float64), np.asarray(bunch.target)


def load_images(name: str, target_class: int = 0, samples: int | None = None) -> ImageData:
    """x = [vec(X); 1] with pixels in [0, 1]; y = +1 for ``target_class``, −1 otherwise.

    ``samples`` keeps the first that many images (None: all).
    """
    if name == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images, labels = np.asarray(bunch.images, dtype=np.float64) / 16.0, bunch.target
    elif name == "olivetti":
        images, labels = _fetch_olivetti()
    else:
        raise DatasetError(f"image data set {name!r} unknown; use one of {IMAGE_DATASETS}")
    classes = np.unique(labels)
    if target_class not in classes:
        raise ConfigError(
            f"class {target_class} is not in {name} (classes {classes.min()}…{classes.max()})"
        )
    if samples is not None:
        if samples < 2:
            raise ConfigError(f"samples must be ≥ 2, got {samples}")
        images, labels = images[:samples], labels[:samples]
    n = images.shape[0]
    X = np.hstack([images.reshape(n, -1), np.ones((n, 1))])
    y = np.where(labels == target_class, 1.0, -1.0)
    return ImageData(name, X, y, (images.shape[1], images.shape[2]), target_class)


def split_owners(data: ImageData, owners: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """A seeded shuffle of the samples cut into ``owners`` near-equal parts (X_k, y_k)."""
    if owners < 1 or owners > data.X.shape[0]:
        raise ConfigError(f"cannot split {data.X.shape[0]} samples among {owners} owners")
    order = np.random.default_rng(seed).permutation(data.X.shape[0])
    return [(data.X[idx], data.y[idx]) for idx in np.array_split(order, owners)]
