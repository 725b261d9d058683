"""Data sets and the paper's preprocessing (§3.2); image data sets for the proof-of-work mode
(:mod:`hefl.data.images`)."""

from hefl.data.datasets import (
    DATA_HOME_ENV,
    DATASET_NAMES,
    Dataset,
    load_csv,
    load_dataset,
)
from hefl.data.images import IMAGE_DATASETS, ImageData, load_images, split_owners
from hefl.data.prepare import Part, PreparedData, SplitConfig, prepare

__all__ = [
    "DATASET_NAMES",
    "DATA_HOME_ENV",
    "IMAGE_DATASETS",
    "Dataset",
    "ImageData",
    "Part",
    "PreparedData",
    "SplitConfig",
    "load_csv",
    "load_dataset",
    "load_images",
    "prepare",
    "split_owners",
]
