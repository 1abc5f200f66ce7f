"""Tests of `ecgnet.folds`: balance, per-source stratification, repeatability, and a comparison with
the iterative-stratification package on random labels and on the sample records; the inner
validation split of selection=inner."""

import re

import numpy as np
import pytest

from ecgnet.folds import assign_folds, inner_split, iterative_stratification, source_folds

from helpers import SAMPLE, needs_sample


@pytest.mark.parametrize("density", [0.12, 0.3])  # ~1.5 and ~3.7 labels a record
def test_every_record_gets_a_fold_and_every_class_is_balanced(density):
    # One draw each; the comparisons with iterstrat below measure the spread over many.
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


# ---------------------------------------------------------------------------------------------
# Against the iterative-stratification package (MultilabelStratifiedKFold, the published
# method's folds), on the same labels. The "spread" of a class is the difference between the
# most and the fewest of its records that any fold gets (0 or 1 is as even as possible).
# ---------------------------------------------------------------------------------------------


def class_spreads(folds, y, num_folds=5):
    """Per-class spread of fold counts, over the classes with a positive."""
    return np.array(
        [np.ptp(np.bincount(folds[y[:, c]], minlength=num_folds)) for c in range(y.shape[1]) if y[:, c].any()]
    )


def iterstrat_folds(y, num_folds, seed):
    ml_stratifiers = pytest.importorskip("iterstrat.ml_stratifiers")
    folds = np.empty(len(y), dtype=int)
    splitter = ml_stratifiers.MultilabelStratifiedKFold(n_splits=num_folds, shuffle=True, random_state=seed)
    for fold, (_, held_out) in enumerate(splitter.split(np.zeros((len(y), 1)), y.astype(int))):
        folds[held_out] = fold
    return folds


def compare_with_iterstrat(y, seeds):
    """(ours, theirs): per seed, the (max, total) class spread on `y` (one source)."""
    ours, theirs = [], []
    for seed in seeds:
        for folds, into in (
            (iterative_stratification(y, 5, np.random.default_rng(seed)), ours),
            (iterstrat_folds(y, 5, seed), theirs),
        ):
            spreads = class_spreads(folds, y)
            into.append((spreads.max(), spreads.sum()))
    return np.array(ours), np.array(theirs)


def random_comparison(records, max_frequency, seeds, salt):
    ours, theirs = [], []
    for seed in seeds:
        y = np.random.default_rng([records, seed, salt]).random((records, 24)) < np.linspace(0.005, max_frequency, 24)
        a, b = compare_with_iterstrat(y, [seed])
        ours.append(a[0])
        theirs.append(b[0])
    return np.array(ours), np.array(theirs)


@pytest.mark.parametrize("records", [60, 125, 250, 503, 1000])
def test_within_two_of_even_at_real_label_density_and_more_even_than_iterstrat(records):
    # Class frequencies 0.5% to 12%, about 1.5 labels a record, as in the challenge data (the
    # 193 labelled sample records have 1.47). Measured over these 50 seeds per size (250 in
    # all): our worst class is 1 or 2 records from even in 247, 3 in 3 (sizes 60 and 125);
    # iterstrat's is 1-2 in 156 and up to 8; ours is worse than theirs on 3 of 250; our total
    # spread is 4-15% below theirs. So "within 1-2 records" holds for nearly every draw, not all.
    ours, theirs = random_comparison(records, 0.12, range(50), 0)
    assert ours[:, 0].max() <= 3, ours[:, 0]
    assert (ours[:, 0] <= 2).mean() >= 0.95, ours[:, 0]
    assert (ours[:, 0] <= theirs[:, 0]).mean() >= 0.95, (ours[:, 0], theirs[:, 0])
    assert ours[:, 0].mean() <= theirs[:, 0].mean() and ours[:, 1].mean() <= theirs[:, 1].mean()


@pytest.mark.parametrize("records", [200, 503])
def test_more_even_than_iterstrat_with_dense_labels(records):
    # About 3.7 labels a record (frequencies up to 30%), beyond the challenge data: measured over
    # these 50 seeds, our worst class is 1-5 records from even, iterstrat's 5-19, ours never the
    # worse, and our total spread 37-52% of theirs.
    ours, theirs = random_comparison(records, 0.3, range(50), 1)
    assert (ours[:, 0] <= theirs[:, 0]).all(), (ours[:, 0], theirs[:, 0])
    assert ours[:, 0].max() <= 5, ours[:, 0]
    assert ours[:, 1].mean() <= 0.6 * theirs[:, 1].mean(), (ours[:, 1], theirs[:, 1])


def sample_labels():
    from ecgnet import headers, labels

    names, y = [], []
    for path in sorted(SAMPLE.glob("*.hea")):
        row = labels.encode(headers.load_header(path).dx)
        if row.any():
            names.append(path.stem)
            y.append(row)
    return names, np.array(y, dtype=bool)


@needs_sample
def test_sample_records_within_two_of_even_in_each_source_and_no_worse_than_iterstrat():
    """README: "every class within 1-2 records of even across folds", checked on the 193
    labelled sample records with `assign_folds` (per source), against iterstrat run per source
    as the published method does. Within each source every class is at most 2 from even on
    every seed. Over the whole set the sources' remainders add up (3-4 records on these seeds,
    iterstrat per source 3-6), so the claim is a per-source one; on average ours is still the
    more even."""
    names, y = sample_labels()
    assert len(names) == 193 and y.shape == (193, 24)
    sources = np.array([re.match(r"[A-Za-z]*", n).group(0) for n in names])  # A, E, HR, JS, Q
    ours_max, theirs_max, ours_total, theirs_total = [], [], [], []
    for seed in range(10):
        ours = assign_folds(names, y, 5, seed=seed)
        theirs = np.empty(len(names), dtype=int)
        for source in sorted(set(sources)):
            rows = sources == source
            theirs[rows] = iterstrat_folds(y[rows], 5, seed)
            assert class_spreads(ours[rows], y[rows]).max() <= 2, (seed, source)
        ours_max.append(class_spreads(ours, y).max())
        theirs_max.append(class_spreads(theirs, y).max())
        ours_total.append(class_spreads(ours, y).sum())
        theirs_total.append(class_spreads(theirs, y).sum())
    assert np.mean(ours_max) <= np.mean(theirs_max), (ours_max, theirs_max)
    assert np.mean(ours_total) <= np.mean(theirs_total), (ours_total, theirs_total)


def test_source_folds_are_one_per_name_prefix_in_sorted_order():
    names = ["Q0001", "A0002", "HR00003", "A0001", "E00001", "JS00001", "Q0002"]
    folds = source_folds(names)
    assert folds.tolist() == [4, 0, 2, 0, 1, 3, 4]


def test_inner_split_takes_its_fraction_of_every_source_and_label_and_is_repeatable():
    rng = np.random.default_rng(4)
    names = [f"A{i:04d}" for i in range(200)] + [f"HR{i:05d}" for i in range(150)] + [f"Q{i:04d}" for i in range(50)]
    y = rng.random((400, 24)) < np.linspace(0.02, 0.3, 24)
    inner = inner_split(names, y, 0.2, seed=2020, fold=1)
    assert inner.dtype == bool and 70 <= inner.sum() <= 90
    for prefix, rows in (("A", slice(0, 200)), ("HR", slice(200, 350)), ("Q", slice(350, 400))):
        assert abs(inner[rows].mean() - 0.2) < 0.05, prefix  # every source on both sides
    for c in range(12, 24):  # the classes with 60 or more positives
        assert abs(inner[y[:, c]].mean() - 0.2) < 0.05, c
    assert np.array_equal(inner, inner_split(names, y, 0.2, seed=2020, fold=1))
    assert not np.array_equal(inner, inner_split(names, y, 0.2, seed=2020, fold=2))
    assert not np.array_equal(inner, inner_split(names, y, 0.2, seed=7, fold=1))
    assert 150 <= inner_split(names, y, 0.4, seed=2020, fold=1).sum() <= 170


def test_unequal_shares_keep_equal_folds_as_they_were():
    y = np.random.default_rng(5).random((97, 24)) < 0.15
    equal = iterative_stratification(y, 4, np.random.default_rng(1))
    assert np.array_equal(equal, iterative_stratification(y, 4, np.random.default_rng(1), shares=np.full(4, 0.25)))
