import numpy as np
import pytest

from ecgnet.folds import assign_folds, iterative_stratification


@pytest.mark.parametrize("density", [0.12, 0.3])  # ~1.5 and ~3.7 labels a record
def test_every_record_gets_a_fold_and_every_class_is_balanced(density):
    rng = np.random.default_rng(0)
    y = rng.random((503, 24)) < np.linspace(0.005, density, 24)
    folds = iterative_stratification(y, 5, np.random.default_rng(1))
    assert set(folds) == set(range(5))
    assert np.ptp(np.bincount(folds)) <= 3
    for c in range(24):
        assert np.ptp(np.bincount(folds[y[:, c]], minlength=5)) <= 2, c


def test_stratification_is_within_each_source_and_repeatable():
    rng = np.random.default_rng(2)
    names = [f"A{i:04d}" for i in range(50)] + [f"HR{i:05d}" for i in range(50)] + [f"JS{i:05d}" for i in range(25)]
    y = rng.random((125, 24)) < 0.1
    folds = assign_folds(names, y, 5, seed=2020)
    for prefix, rows in (("A", slice(0, 50)), ("HR", slice(50, 100)), ("JS", slice(100, 125))):
        assert np.bincount(folds[rows], minlength=5).min() >= (5 if prefix == "JS" else 10), prefix
    assert np.array_equal(folds, assign_folds(names, y, 5, seed=2020))
    assert not np.array_equal(folds, assign_folds(names, y, 5, seed=7))
