"""Data sets and the paper's preprocessing (§3.2)."""

from hefl.data.datasets import (
    DATA_HOME_ENV,
    DATASET_NAMES,
    Dataset,
    load_csv,
    load_dataset,
)
from hefl.data.prepare import Part, PreparedData, SplitConfig, prepare

__all__ = [
    "DATASET_NAMES",
    "DATA_HOME_ENV",
    "Dataset",
    "Part",
    "PreparedData",
    "SplitConfig",
    "load_csv",
    "load_dataset",
    "prepare",
]
