"""Leave-one-source-out threshold transfer (`ecgnet.transfer`) on made-up out-of-fold outputs."""

import numpy as np
import pytest

from ecgnet import labels, metrics
from ecgnet.thresholds import THRESHOLD_METHODS, apply_thresholds, fit_thresholds
from ecgnet.transfer import threshold_transfer


def made_up(records_per_source=(60, 40, 30), seed=0):
    """(names, probabilities, labels) of three sources, each calibrated differently."""
    rng = np.random.default_rng(seed)
    names, p, y = [], [], []
    for number, (prefix, count) in enumerate(zip(("A", "E", "HR"), records_per_source)):
        labelled = rng.random((count, labels.NUM_CLASSES)) < 0.12
        labelled[~labelled.any(axis=1), labels.NORMAL_INDEX] = True
        p.append(np.clip(0.3 * labelled + 0.6 * rng.random(labelled.shape) + 0.1 * number, 0, 1).round(3))
        y.append(labelled)
        names += [f"{prefix}{i:04d}" for i in range(count)]
    return names, np.vstack(p), np.vstack(y)


def test_each_source_is_scored_with_thresholds_fitted_on_the_others():
    names, p, y = made_up()
    result = threshold_transfer(names, p, y)
    assert result["sources"] == {"A": 60, "E": 40, "HR": 30}
    assert list(result["methods"]) == list(THRESHOLD_METHODS)
    sources = np.array([n.rstrip("0123456789") for n in names])
    for method in ("per_class", "worst_source"):
        entry = result["methods"][method]
        binary = np.zeros_like(y)
        for source in ("A", "E", "HR"):
            held = sources == source
            fitted, _ = fit_thresholds(p[~held], y[~held], method, sources[~held])
            binary[held] = apply_thresholds(p[held], fitted)
            assert entry["sources"][source] == pytest.approx(metrics.challenge_metric(y[held], binary[held]))
        assert entry["pooled"] == pytest.approx(metrics.challenge_metric(y, binary))
        values = list(entry["sources"].values())
        assert entry["mean"] == pytest.approx(np.mean(values)) and entry["worst"] == min(values)
        assert entry["sources"][entry["worst_source"]] == entry["worst"]


def test_fitting_on_the_scored_source_is_optimistic():
    # Per-class thresholds fitted on all records, the scored source included, score it at
    # least as well as those fitted without it, in the mean over sources.
    names, p, y = made_up(seed=3)
    result = threshold_transfer(names, p, y, methods=("per_class",))
    fitted, _ = fit_thresholds(p, y, "per_class")
    sources = np.array([n.rstrip("0123456789") for n in names])
    inside = [
        metrics.challenge_metric(y[sources == s], apply_thresholds(p[sources == s], fitted)) for s in ("A", "E", "HR")
    ]
    assert np.mean(inside) > result["methods"]["per_class"]["mean"]


def test_one_source_has_nothing_to_transfer_to():
    names, p, y = made_up()
    assert threshold_transfer([f"A{i:04d}" for i in range(len(names))], p, y) is None
