"""Fixtures of the gradient-boosting tests: the libraries and small data sets.

``xgb`` and ``lgb`` skip a test where xgboost / lightgbm is not installed, but under
CI (``CI`` set) a missing library is an error, as for PyTorch (tests/conftest.py):
the test extra installs both, so these tests can never be skipped silently there.
"""

import importlib
import os

import numpy as np
import pytest

REQUIRE = bool(os.environ.get("CI"))


def _library(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        if REQUIRE:
            raise
        pytest.skip(f"{name} is not installed (CI requires it: pip install 'numbaloss[test]')")


@pytest.fixture(scope="session")
def xgb():
    """The ``xgboost`` module (>= 2)."""
    return _library("xgboost")


@pytest.fixture(scope="session")
def lgb():
    """The ``lightgbm`` module (>= 4)."""
    return _library("lightgbm")


N = 2000
ROUNDS = 20


@pytest.fixture(scope="session")
def data():
    """2000 training and 1000 validation rows of 10 features, with a binary, an
    imbalanced binary (about 5% positive), a 3-class and a regression label."""
    rng = np.random.default_rng(2026)
    x = rng.standard_normal((N + 1000, 10)).astype(np.float32)
    score = x[:, 0] + 0.5 * x[:, 1] - 0.3 * x[:, 2] ** 2
    noisy = score + 0.5 * rng.standard_normal(len(x))
    out = {
        "x": x,
        "binary": (noisy > 0.2).astype(np.float32),
        "rare": (noisy > 1.7).astype(np.float32),
        "classes": np.digitize(noisy, [-0.6, 0.6]).astype(np.float32),
        "regression": (score + 0.3 * rng.standard_normal(len(x))).astype(np.float32),
        "weight": rng.uniform(0.2, 2.0, len(x)).astype(np.float32),
    }
    return {k: (v[:N], v[N:]) for k, v in out.items()}
