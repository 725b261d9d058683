"""Loaders for the data sets of the main paper's experiments (§3.2), and for any CSV.

Boston housing (13 features) and QSAR fish toxicity (6 features) are downloaded once from their
canonical sources, checked against a pinned sha256, and cached. ``HEFL_DATA_HOME`` points at a
local directory that already holds the files (tests and CI use ``../shared/datasets``); a file found
there is checked against the same sha256. scikit-learn's bundled diabetes set needs no download and
is the default for a first run.

The Boston data carries a feature, ``B``, that encodes a racial-segregation assumption
(scikit-learn removed ``load_boston`` for that reason). hefl keeps it only to reproduce the paper's
experiments; prefer the other data sets for anything else.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.util
import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hefl.errors import DatasetError
from hefl.files import atomic_write

#: Environment variable naming a directory that holds local copies of the data files.
DATA_HOME_ENV = "HEFL_DATA_HOME"
#: Where downloads are cached when ``HEFL_DATA_HOME`` is not set.
DEFAULT_CACHE = Path.home() / ".cache" / "hefl" / "datasets"
#: Seconds a download may take before it is given up.
DOWNLOAD_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Dataset:
    """A regression data set: features ``X`` (samples × features) and target ``y``."""

    name: str
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str

    def __post_init__(self) -> None:
        if self.X.ndim != 2 or self.y.ndim != 1 or self.X.shape[0] != self.y.shape[0]:
            raise DatasetError(
                f"data set {self.name!r}: X {self.X.shape} and y {self.y.shape} do not match; "
                "X must be samples × features and y one value per sample"
            )
        if self.X.shape[0] == 0:
            raise DatasetError(f"data set {self.name!r} has no rows; give it some data")
        for values, names in ((self.X, self.feature_names), (self.y[:, None], (self.target_name,))):
            bad = np.argwhere(~np.isfinite(values))
            if len(bad):
                row, col = (int(i) for i in bad[0])
                name = names[col] if col < len(names) else str(col)
                raise DatasetError(
                    f"data set {self.name!r} row {row}, column {name!r}: {values[row, col]} is "
                    "not a finite number; drop or fill that row"
                )
        if self.y.shape[0] > 1 and np.ptp(self.y) == 0:
            raise DatasetError(
                f"data set {self.name!r}: the target {self.target_name!r} is constant "
                f"({self.y[0]:g}), so there is nothing to learn; choose another target column"
            )

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])


Parser = Callable[[bytes], np.ndarray]


def _parse_csv_with_header(raw: bytes) -> np.ndarray:
    return np.loadtxt(io.BytesIO(raw), delimiter=",", skiprows=1, ndmin=2)


def _parse_sklearn_boston(raw: bytes) -> np.ndarray:
    return np.loadtxt(io.BytesIO(raw), delimiter=",", skiprows=2, ndmin=2)


def _parse_whitespace(raw: bytes) -> np.ndarray:
    return np.loadtxt(io.BytesIO(raw), ndmin=2)


def _parse_semicolon(raw: bytes) -> np.ndarray:
    return np.loadtxt(io.BytesIO(raw), delimiter=";", ndmin=2)


@dataclass(frozen=True)
class DataFile:
    """One known byte-exact copy of a data set's file."""

    filename: str
    sha256: str
    parse: Parser


@dataclass(frozen=True)
class RemoteDataset:
    """A data set fetched from a canonical source on a user's machine.

    ``local_files`` are the copies accepted in ``HEFL_DATA_HOME`` or the cache (first match wins);
    ``download`` is fetched from ``url`` when none is present and stored under its filename.
    """

    name: str
    url: str
    download: DataFile
    local_files: tuple[DataFile, ...]
    feature_names: tuple[str, ...]
    target_name: str


BOSTON_FEATURES = (
    "CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT",
)  # fmt: skip
_BOSTON_UCI = DataFile(
    "housing.data",
    "baadf72995725d76efe787b664e1f083388c79ba21ef9a7990d87f774184735a",
    _parse_whitespace,
)
_FISH = DataFile(
    "qsar_fish_toxicity.csv",
    "ea70c73b8d4e5b77740861470dc036dd8cf0d6766354d1b247ce015c2dc71168",
    _parse_semicolon,
)

REMOTE_DATASETS: dict[str, RemoteDataset] = {
    "boston": RemoteDataset(
        name="boston",
        url="https://archive.ics.uci.edu/ml/machine-learning-databases/housing/housing.data",
        download=_BOSTON_UCI,
        local_files=(
            DataFile(
                "boston_housing.csv",
                "fd6aae7c42ed5998b4157a6149aa35d47c60fc0664c5bcfea5f3df4f423376cc",
                _parse_csv_with_header,
            ),
            _BOSTON_UCI,
            DataFile(
                "boston_house_prices_sklearn.csv",
                "d98212636026544fc9b9c0f372e5f819872e6fa6fa757ab025efdda22180f2d6",
                _parse_sklearn_boston,
            ),
        ),
        feature_names=BOSTON_FEATURES,
        target_name="MEDV",
    ),
    "fish": RemoteDataset(
        name="fish",
        url="https://archive.ics.uci.edu/ml/machine-learning-databases/00504/qsar_fish_toxicity.csv",
        download=_FISH,
        local_files=(_FISH,),
        feature_names=("CIC0", "SM1_Dz(Z)", "GATS1i", "NdsCH", "NdssC", "MLOGP"),
        target_name="LC50",
    ),
}

#: Every name :func:`load_dataset` accepts besides a CSV path.
DATASET_NAMES: tuple[str, ...] = ("diabetes", *REMOTE_DATASETS)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _search_dirs(data_home: str | os.PathLike[str] | None) -> list[Path]:
    if data_home is not None:
        return [Path(data_home)]
    env = os.environ.get(DATA_HOME_ENV)
    return [Path(env)] if env else [DEFAULT_CACHE]


def _read_checked(path: Path, expected: DataFile) -> bytes:
    raw = path.read_bytes()
    digest = _sha256(raw)
    if digest != expected.sha256:
        raise DatasetError(
            f"{path} has sha256 {digest}, expected {expected.sha256}: the file is not the pinned "
            "copy; delete it (it will be downloaded again) or point "
            f"{DATA_HOME_ENV} at an unmodified copy"
        )
    return raw


def fetch(spec: RemoteDataset, cache_dir: Path, url: str | None = None) -> Path:
    """Download ``spec`` into ``cache_dir``, check its sha256, and return the cached path.

    The file is written atomically, only after its checksum matched, so a failed or tampered
    download leaves nothing behind.
    """
    import urllib.error
    import urllib.request

    source = url or spec.url
    try:
        with urllib.request.urlopen(source, timeout=DOWNLOAD_TIMEOUT_S) as response:
            raw = response.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise DatasetError(
            f"data set {spec.name!r} is not in {cache_dir} and could not be downloaded from "
            f"{source} ({error}); download {spec.download.filename} by hand into a directory and "
            f"set {DATA_HOME_ENV} to it"
        ) from error
    digest = _sha256(raw)
    if digest != spec.download.sha256:
        raise DatasetError(
            f"download of {spec.name!r} from {source} has sha256 {digest}, expected "
            f"{spec.download.sha256}; the source changed or the transfer was corrupted"
        )
    return atomic_write(cache_dir / spec.download.filename, raw)


def _load_remote(
    spec: RemoteDataset, data_home: str | os.PathLike[str] | None, download: bool
) -> Dataset:
    dirs = _search_dirs(data_home)
    for directory in dirs:
        for candidate in spec.local_files:
            path = directory / candidate.filename
            if path.is_file():
                return _to_dataset(spec, candidate.parse(_read_checked(path, candidate)))
    pinned_dir = data_home is not None or DATA_HOME_ENV in os.environ
    if not download or pinned_dir:
        names = ", ".join(f.filename for f in spec.local_files)
        raise DatasetError(
            f"data set {spec.name!r} not found in {dirs[0]} (looked for {names}); put one of "
            f"those files there, or unset {DATA_HOME_ENV} to download it from {spec.url}"
        )
    path = fetch(spec, dirs[0])
    return _to_dataset(spec, spec.download.parse(path.read_bytes()))


def _to_dataset(spec: RemoteDataset, table: np.ndarray) -> Dataset:
    width = len(spec.feature_names) + 1
    if table.shape[1] != width:
        raise DatasetError(f"data set {spec.name!r} has {table.shape[1]} columns, expected {width}")
    return Dataset(
        name=spec.name,
        X=np.ascontiguousarray(table[:, :-1], dtype=np.float64),
        y=np.ascontiguousarray(table[:, -1], dtype=np.float64),
        feature_names=spec.feature_names,
        target_name=spec.target_name,
    )


#: The diabetes set's feature names, as scikit-learn names them (Efron et al. 2004).
DIABETES_FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
#: scikit-learn's bundled raw files of the diabetes set, under ``sklearn/datasets/data``.
DIABETES_FILES = ("diabetes_data_raw.csv.gz", "diabetes_target.csv.gz")


def _sklearn_data_dir() -> Path:
    """``sklearn/datasets/data`` of the installed scikit-learn, located without importing it
    (``find_spec`` of a top-level package only reads its location: no sklearn code runs)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(
            "data set 'diabetes' ships with scikit-learn, which is not installed; "
            "pip install scikit-learn, or use another data set (boston, fish, a CSV)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def load_diabetes() -> Dataset:
    """scikit-learn's bundled diabetes set (442 samples, 10 features): no download needed.

    Read from scikit-learn's raw files without importing scikit-learn (≈ 1.3 s of imports for
    a 30 kB table), scaled as its ``load_diabetes(scaled=True)`` scales them: each column x is
    standardised by ``sklearn.preprocessing.scale`` (x − mean(x), then divided by the population
    standard deviation σ(x) of the raw column) and then divided by √n, n = 442 — so every column
    has mean 0 and Euclidean norm 1. The target (disease progression after one year) is raw.
    """
    directory = _sklearn_data_dir()
    tables = []
    for name in DIABETES_FILES:
        path = directory / name
        try:
            with gzip.open(path, mode="rt", encoding="utf-8") as handle:
                tables.append(np.loadtxt(handle, dtype=np.float64))
        except (OSError, ValueError, EOFError) as error:
            raise DatasetError(
                f"cannot read scikit-learn's diabetes file {path} ({error}); reinstall "
                "scikit-learn (pip install --force-reinstall scikit-learn)"
            ) from error
    raw, target = tables
    if raw.ndim != 2 or raw.shape[1] != len(DIABETES_FEATURES):
        raise DatasetError(
            f"{directory / DIABETES_FILES[0]} has shape {raw.shape}, expected "
            f"(samples, {len(DIABETES_FEATURES)}); reinstall scikit-learn"
        )
    # sklearn.preprocessing.scale (with_mean, with_std, axis 0): the mean and σ of the raw
    # columns, then centre and divide in place, in that order (no constant column here).
    mean, sigma = np.nanmean(raw, axis=0), np.nanstd(raw, axis=0)
    scaled = raw - mean
    scaled /= sigma
    scaled /= raw.shape[0] ** 0.5
    return Dataset(
        name="diabetes",
        X=np.ascontiguousarray(scaled),
        y=np.ascontiguousarray(target, dtype=np.float64),
        feature_names=DIABETES_FEATURES,
        target_name="progression",
    )


def load_csv(path: str | os.PathLike[str], target: str, delimiter: str = ",") -> Dataset:
    """A user's CSV file with a header line; ``target`` names the column to predict.

    Every other column is a feature and must be numeric.
    """
    file = Path(path)
    if not file.is_file():
        raise DatasetError(f"CSV file {file} does not exist; give the path of a CSV with a header")
    with file.open(newline="") as handle:
        header = [name.strip().strip('"') for name in handle.readline().strip().split(delimiter)]
    if target not in header:
        raise DatasetError(
            f"column {target!r} is not in {file}'s header {header}; pass one of those as target"
        )
    table = _read_numeric_rows(file, delimiter, header)
    column = header.index(target)
    features = [i for i in range(len(header)) if i != column]
    return Dataset(
        name=file.stem,
        X=np.ascontiguousarray(table[:, features]),
        y=np.ascontiguousarray(table[:, column]),
        feature_names=tuple(header[i] for i in features),
        target_name=target,
    )


def _read_numeric_rows(file: Path, delimiter: str, header: list[str]) -> np.ndarray:
    """The rows under the header as floats; any bad cell is named by line and column."""
    rows: list[list[float]] = []
    with file.open(newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader, None)
        for line, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise DatasetError(
                    f"{file} line {line}: {len(row)} values, the header has {len(header)} "
                    "columns; fix that line"
                )
            values = []
            for name, cell in zip(header, row, strict=True):
                try:
                    value = float(cell)
                except ValueError:
                    raise DatasetError(
                        f"{file} line {line}, column {name!r}: {cell.strip()!r} is not a number; "
                        "clean the file"
                    ) from None
                if not math.isfinite(value):
                    raise DatasetError(
                        f"{file} line {line}, column {name!r}: {cell.strip()} is not a finite "
                        "number; drop or fill that row"
                    )
                values.append(value)
            rows.append(values)
    if not rows:
        raise DatasetError(f"{file} has a header but no data rows; add rows below the header")
    return np.asarray(rows, dtype=float)


def load_dataset(
    name: str,
    *,
    data_home: str | os.PathLike[str] | None = None,
    download: bool = True,
    target: str | None = None,
) -> Dataset:
    """Load a data set by name (``diabetes``, ``boston``, ``fish``) or a CSV path.

    Args:
        name: a name from :data:`DATASET_NAMES`, or the path of a CSV file (then ``target`` names
            its target column).
        data_home: directory with local copies; defaults to ``$HEFL_DATA_HOME``, else the cache.
        download: fetch a missing file from its canonical source (only when no directory was
            pinned by ``data_home`` or ``$HEFL_DATA_HOME``).
    """
    if name == "diabetes":
        return load_diabetes()
    if name in REMOTE_DATASETS:
        return _load_remote(REMOTE_DATASETS[name], data_home, download)
    if name.endswith(".csv") or Path(name).is_file():
        if not target:
            raise DatasetError(f"CSV data set {name!r} needs a target column name")
        return load_csv(name, target)
    raise DatasetError(
        f"unknown data set {name!r}; use one of {', '.join(DATASET_NAMES)} or the path of a CSV"
    )
