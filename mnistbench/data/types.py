"""The Dataset record every loader returns (:mod:`mnistbench.data.datasets` names the loaders)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Dataset"]


@dataclass(frozen=True)
class Dataset:
    """A fixed train/test split of images with metadata.

    Attributes
    ----------
    name : str
        Registry name of the dataset.
    X_train, X_test : ndarray of uint8, shape (n, h, w)
        Images. MNIST pixels are 0-255; digits pixels are 0-16 (kept as they are).
    y_train, y_test : ndarray of int64, shape (n,)
        Integer class labels.
    image_shape : tuple of int
        ``(h, w)``.
    classes : ndarray
        Sorted distinct labels.
    pixel_max : int
        Largest possible pixel value (255 for MNIST, 16 for digits).
    source : str
        Where the data came from (file path, cache, download...).
    description : str
        One line about the dataset.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple
    classes: np.ndarray
    pixel_max: int
    source: str
    description: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def train(self):
        """``(X_train, y_train)``."""
        return self.X_train, self.y_train

    @property
    def test(self):
        """``(X_test, y_test)``."""
        return self.X_test, self.y_test

    def __repr__(self):
        return (
            f"Dataset(name={self.name!r}, train={self.X_train.shape}, "
            f"test={self.X_test.shape}, dtype={self.X_train.dtype}, "
            f"classes={len(self.classes)}, source={self.source!r})"
        )
