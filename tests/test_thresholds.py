import numpy as np
import pytest

from ecgnet import labels, metrics, thresholds


def _data(seed, records=200):
    rng = np.random.default_rng(seed)
    y = rng.random((records, labels.NUM_CLASSES)) < 0.12
    p = np.clip(0.35 * y + 0.7 * rng.random(y.shape), 0, 1).round(3)
    return p, y


def test_apply_thresholds_keeps_the_most_probable_class():
    p = np.array([[0.1, 0.2, 0.05], [0.9, 0.95, 0.0]])
    out = thresholds.apply_thresholds(p, [0.5, 0.99, 0.5])
    np.testing.assert_array_equal(out, [[False, True, False], [True, True, False]])


def test_fast_class_scores_equal_the_metric_for_every_grid_value():
    p, y = _data(0)
    grid = thresholds.threshold_grid(0.01)
    current = np.random.default_rng(1).choice(grid, labels.NUM_CLASSES)
    outputs = thresholds.apply_thresholds(p, current)
    for c in (0, 7, labels.NORMAL_INDEX, 23):
        fast = thresholds._class_scores(p, y, outputs, labels.WEIGHTS, c, grid)
        for g in range(0, len(grid), 7):
            trial = current.copy()
            trial[c] = grid[g]
            slow = metrics.challenge_score(y, thresholds.apply_thresholds(p, trial), labels.WEIGHTS)
            assert abs(fast[g] - slow) < 1e-9


def test_search_improves_and_ends_at_a_coordinate_optimum():
    p, y = _data(3, records=400)
    start = np.full(labels.NUM_CLASSES, 0.5)
    found, rounds = thresholds.search_thresholds(p, y)
    before = metrics.challenge_metric(y, thresholds.apply_thresholds(p, start))
    after = metrics.challenge_metric(y, thresholds.apply_thresholds(p, found))
    assert after > before + 0.01 and rounds >= 2
    assert np.allclose(found * 100, np.round(found * 100))  # on the 0.01 grid
    for c in range(labels.NUM_CLASSES):  # no single class can do better
        for t in thresholds.threshold_grid(0.01)[::5]:
            trial = found.copy()
            trial[c] = t
            assert metrics.challenge_metric(y, thresholds.apply_thresholds(p, trial)) <= after + 1e-12


# ---------------------------------------------------------------------------------------------
# The other threshold methods (config.threshold_method)

AF = labels.CLASS_INDEX["164889003"]


def two_sources():
    """(probabilities, labels, sources) where the pooled search favours the big source A and
    hurts the small source B: A's AF records need the AF threshold at 0.22 or below, where B's
    normal records (AF probability 0.25, another calibration) get a false AF."""
    rows = []  # (source, AF label, p(normal), p(AF))
    rows += [("A", False, 0.9, 0.05)] * 50 + [("A", True, 0.4, 0.22)] * 25 + [("A", True, 0.4, 0.7)] * 25
    rows += [("B", False, 0.9, 0.25)] * 16 + [("B", True, 0.4, 0.6)] * 10
    p = np.zeros((len(rows), labels.NUM_CLASSES))
    y = np.zeros(p.shape, dtype=bool)
    for i, (_, af, normal, p_af) in enumerate(rows):
        p[i, labels.NORMAL_INDEX], p[i, AF] = normal, p_af
        y[i, AF if af else labels.NORMAL_INDEX] = True
    return p, y, np.array([source for source, *_ in rows])


def source_metrics(p, y, sources, found):
    outputs = thresholds.apply_thresholds(p, found)
    return {s: metrics.challenge_metric(y[sources == s], outputs[sources == s]) for s in ("A", "B")}


def test_the_methods_are_the_configs_choices():
    from ecgnet.config import _CHOICES

    assert thresholds.THRESHOLD_METHODS == _CHOICES["threshold_method"]


def test_global_is_one_threshold_the_best_on_the_grid():
    p, y = _data(5)
    found, rounds = thresholds.fit_thresholds(p, y, "global")
    assert rounds == 1 and len(set(found.tolist())) == 1
    grid = thresholds.threshold_grid(0.01)
    scores = [metrics.challenge_metric(y, thresholds.apply_thresholds(p, t)) for t in grid]
    assert metrics.challenge_metric(y, thresholds.apply_thresholds(p, found)) == pytest.approx(max(scores))
    # Equally good thresholds: the one closest to the start.
    assert thresholds.search_global_threshold(np.zeros((3, labels.NUM_CLASSES)), y[:3], start=0.37) == 0.37


def test_shrunk_lies_between_per_class_and_global_by_positives():
    p, y = _data(6)
    per_class, _ = thresholds.fit_thresholds(p, y, "per_class")
    single = thresholds.fit_thresholds(p, y, "global")[0][0]
    positives = y.sum(axis=0)
    assert np.allclose(thresholds.fit_thresholds(p, y, "shrunk", shrinkage=0.0)[0], per_class)
    assert np.allclose(thresholds.fit_thresholds(p, y, "shrunk", shrinkage=1e9)[0], single)
    shrunk, _ = thresholds.fit_thresholds(p, y, "shrunk", shrinkage=10.0)
    weight = positives / (positives + 10.0)
    assert np.allclose(shrunk, weight * per_class + (1 - weight) * single, atol=0.005 + 1e-9)  # on the grid
    assert np.allclose(shrunk * 100, np.round(shrunk * 100))
    # A class without positives takes the global threshold whatever the shrinkage.
    assert thresholds.shrink_thresholds(np.array([0.9, 0.2]), 0.4, np.array([0, 5]), 0.0).tolist() == [0.4, 0.2]


def test_source_methods_on_one_source_are_the_per_class_search():
    p, y = _data(7)
    one = np.array(["A"] * len(p))
    per_class, _ = thresholds.fit_thresholds(p, y, "per_class")
    for method in ("mean_source", "worst_source"):
        assert np.array_equal(thresholds.fit_thresholds(p, y, method, one)[0], per_class), method


def test_worst_source_lifts_the_worst_source_above_per_class():
    p, y, sources = two_sources()
    per_class, _ = thresholds.fit_thresholds(p, y, "per_class", sources)
    worst, _ = thresholds.fit_thresholds(p, y, "worst_source", sources)
    assert per_class[AF] <= 0.22 < 0.25 < worst[AF] <= 0.6
    before, after = source_metrics(p, y, sources, per_class), source_metrics(p, y, sources, worst)
    assert min(after.values()) > min(before.values()) + 0.1
    assert after["B"] > before["B"] and after["A"] < before["A"]  # it pays with the big source
    # The pooled metric is what per_class maximises: worst_source gives some of it up.
    pooled = [metrics.challenge_metric(y, thresholds.apply_thresholds(p, t)) for t in (per_class, worst)]
    assert pooled[0] > pooled[1]


def test_mean_source_maximises_the_mean_over_sources():
    p, y, sources = two_sources()
    found, _ = thresholds.fit_thresholds(p, y, "mean_source", sources)
    mean = np.mean(list(source_metrics(p, y, sources, found).values()))
    for t in thresholds.threshold_grid(0.01)[::3]:  # no AF threshold does better
        trial = found.copy()
        trial[AF] = t
        assert np.mean(list(source_metrics(p, y, sources, trial).values())) <= mean + 1e-12


def test_fit_thresholds_refuses_what_it_cannot_do():
    p, y = _data(8, records=20)
    with pytest.raises(ValueError, match="needs the source of every record"):
        thresholds.fit_thresholds(p, y, "worst_source")
    with pytest.raises(ValueError, match="unknown threshold method"):
        thresholds.fit_thresholds(p, y, "median")


def test_fit_methods_equals_fitting_each_method_alone():
    p, y, sources = two_sources()
    together = thresholds.fit_methods(p, y, thresholds.THRESHOLD_METHODS, sources, shrinkage=3.0)
    assert list(together) == list(thresholds.THRESHOLD_METHODS)
    for method, found in together.items():
        assert np.array_equal(found, thresholds.fit_thresholds(p, y, method, sources, shrinkage=3.0)[0]), method
    assert list(thresholds.fit_methods(p, y, ("shrunk",))) == ["shrunk"]
