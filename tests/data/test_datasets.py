"""Data loaders: the pinned copies in HEFL_DATA_HOME, the download path (over file://), errors."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from hefl.data import SplitConfig, load_csv, load_dataset, prepare
from hefl.data.datasets import REMOTE_DATASETS, fetch
from hefl.errors import ConfigError, DatasetError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def test_boston_loads_all_506_rows_and_agrees_with_the_raw_uci_copy(tmp_path: Path) -> None:
    boston = load_dataset("boston", data_home=SHARED)
    assert boston.X.shape == (506, 13)
    assert boston.y.min() == 5.0 and boston.y.max() == 50.0
    # The raw UCI file (a different byte layout) parses to the same numbers.
    shutil.copy(SHARED / "housing.data", tmp_path / "housing.data")
    raw = load_dataset("boston", data_home=tmp_path)
    np.testing.assert_array_equal(raw.X, boston.X)
    np.testing.assert_array_equal(raw.y, boston.y)


def test_fish_has_908_rows_and_six_features() -> None:
    fish = load_dataset("fish", data_home=SHARED)
    assert fish.X.shape == (908, 6)
    assert fish.feature_names[-1] == "MLOGP" and fish.target_name == "LC50"


def test_diabetes_is_bundled() -> None:
    diabetes = load_dataset("diabetes")
    assert diabetes.X.shape == (442, 10)


def test_diabetes_read_without_sklearn_equals_sklearns_own_loader() -> None:
    """hefl reads scikit-learn's raw files and scales them itself (no sklearn import); the
    reference is scikit-learn's ``load_diabetes()`` (scaled=True)."""
    from sklearn.datasets import load_diabetes as sklearn_diabetes

    ours, reference = load_dataset("diabetes"), sklearn_diabetes()
    np.testing.assert_allclose(ours.X, reference.data, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(ours.y, reference.target)
    assert ours.feature_names == tuple(reference.feature_names)
    assert ours.target_name == "progression" and ours.X.dtype == ours.y.dtype == np.float64
    # The scaling's defining property: every column has mean 0 and Euclidean norm 1.
    np.testing.assert_allclose(ours.X.mean(axis=0), 0.0, atol=1e-15)
    np.testing.assert_allclose(np.linalg.norm(ours.X, axis=0), 1.0, rtol=1e-12)


def test_diabetes_without_sklearn_installed_names_the_fix(monkeypatch) -> None:
    from hefl.data import datasets

    real = datasets.importlib.util.find_spec
    monkeypatch.setattr(
        datasets.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sklearn" else real(name, *a),
    )
    with pytest.raises(DatasetError, match="pip install scikit-learn"):
        load_dataset("diabetes")


def test_a_damaged_sklearn_diabetes_file_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    from hefl.data import datasets

    (tmp_path / datasets.DIABETES_FILES[0]).write_bytes(b"not gzip")
    monkeypatch.setattr(datasets, "_sklearn_data_dir", lambda: tmp_path)
    with pytest.raises(DatasetError, match="reinstall scikit-learn"):
        load_dataset("diabetes")


def test_a_modified_copy_is_refused_with_its_checksum(tmp_path: Path) -> None:
    data = bytearray((SHARED / "qsar_fish_toxicity.csv").read_bytes())
    data[10] ^= 1
    (tmp_path / "qsar_fish_toxicity.csv").write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="sha256"):
        load_dataset("fish", data_home=tmp_path)


def test_a_missing_file_in_a_pinned_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        load_dataset("boston", data_home=tmp_path)


def test_download_checks_the_checksum_and_caches(tmp_path: Path) -> None:
    spec = REMOTE_DATASETS["fish"]
    path = fetch(spec, tmp_path / "cache", url=(SHARED / "qsar_fish_toxicity.csv").as_uri())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == spec.download.sha256
    boston_bytes = (SHARED / "boston_housing.csv").as_uri()
    with pytest.raises(DatasetError, match="sha256"):
        fetch(spec, tmp_path / "other", url=boston_bytes)
    assert not (tmp_path / "other").exists() or not any((tmp_path / "other").iterdir())


def test_an_unreachable_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="could not be downloaded"):
        fetch(REMOTE_DATASETS["boston"], tmp_path, url=(tmp_path / "nope").as_uri())


def test_csv_with_a_target_column(tmp_path: Path) -> None:
    csv = tmp_path / "mine.csv"
    csv.write_text("a,target,b\n1,2,3\n4,5,6\n7,8,9\n")
    data = load_csv(csv, "target")
    np.testing.assert_array_equal(data.y, [2, 5, 8])
    np.testing.assert_array_equal(data.X, [[1, 3], [4, 6], [7, 9]])
    with pytest.raises(DatasetError, match="not in"):
        load_csv(csv, "missing")


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(DatasetError, match="boston"):
        load_dataset("mnist")


def test_prepare_follows_the_paper() -> None:
    boston = load_dataset("boston", data_home=SHARED)
    prepared = prepare(boston, SplitConfig(participants=5, seed=1))
    assert prepared.X_train.shape == (405, 14) and prepared.X_test.shape == (101, 14)
    assert prepared.sizes == (81,) * 5
    # Training features and target span exactly [−1, 1]; the bias column is all ones.
    features = prepared.X_train[:, :-1]
    nonconstant = features.max(axis=0) > features.min(axis=0)
    np.testing.assert_allclose(features.min(axis=0)[nonconstant], -1.0)
    np.testing.assert_allclose(features.max(axis=0)[nonconstant], 1.0)
    assert prepared.y_train.min() == -1.0 and prepared.y_train.max() == 1.0
    assert np.all(prepared.X_train[:, -1] == 1.0)
    # The parts are exactly the training rows, each once.
    stacked = np.vstack([p.X for p in prepared.parts])
    assert sorted(map(tuple, stacked)) == sorted(map(tuple, prepared.X_train))
    # Seeded: the same config gives the same split; another seed a different one.
    again = prepare(boston, SplitConfig(participants=5, seed=1))
    np.testing.assert_array_equal(again.parts[2].X, prepared.parts[2].X)
    other = prepare(boston, SplitConfig(participants=5, seed=2))
    assert not np.array_equal(other.parts[2].X, prepared.parts[2].X)


def test_fish_is_a_seeded_sample_of_506() -> None:
    prepared = prepare(load_dataset("fish", data_home=SHARED), SplitConfig(participants=4))
    assert prepared.X_train.shape[0] + prepared.X_test.shape[0] == 506
    assert prepared.model_size == 7


def test_skewed_partition_differs_in_size_and_label() -> None:
    boston = load_dataset("boston", data_home=SHARED)
    prepared = prepare(boston, SplitConfig(participants=4, partition="skewed", seed=3))
    assert sum(prepared.sizes) == 405 and min(prepared.sizes) >= 1
    assert len(set(prepared.sizes)) > 1
    means = [float(p.y.mean()) for p in prepared.parts]
    assert means == sorted(means)  # assigned in target order


def test_bad_split_configs_are_refused() -> None:
    with pytest.raises(ConfigError):
        SplitConfig(participants=0)
    with pytest.raises(ConfigError, match="partition"):
        SplitConfig(partition="random")
    with pytest.raises(ConfigError, match="only 442"):
        prepare(load_dataset("diabetes"), SplitConfig(n_samples=506))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("a,b,y\n1,2,3\n4,nan,6\n", "line 3, column 'b': nan is not a finite number"),
        ("a,b,y\n1,2,3\n4,5,inf\n", "line 3, column 'y': inf is not a finite number"),
        ("a,b,y\n1,2,3\n4,x,6\n", "line 3, column 'b': 'x' is not a number"),
        ("a,b,y\n1,2,3\n4,5\n", "line 3: 2 values, the header has 3 columns"),
        ("a,b,y\n", "has a header but no data rows"),
        ("a,b,y\n1,2,3\n4,5,3\n", "the target 'y' is constant (3)"),
    ],
    ids=["nan", "inf", "text", "short-row", "header-only", "constant-target"],
)
def test_bad_csv_is_refused_naming_file_line_and_column(
    tmp_path: Path, body: str, expected: str, recwarn: pytest.WarningsRecorder
) -> None:
    path = tmp_path / "data.csv"
    path.write_text(body)
    with pytest.raises(DatasetError) as caught:
        load_csv(path, target="y")
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    if "line" in expected or "header" in expected:
        assert str(path) in message
    assert not [w for w in recwarn if "numpy" in str(w.filename)]  # no leaked numpy warning


def test_a_non_finite_value_in_an_array_data_set_is_named_by_row_and_column() -> None:
    from hefl.data.datasets import Dataset

    X = np.ones((3, 2))
    X[1, 1] = np.inf
    with pytest.raises(DatasetError, match=r"row 1, column 'f1': inf is not a finite number"):
        Dataset("mine", X, np.arange(3.0), ("f0", "f1"), "y")
