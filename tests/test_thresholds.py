import numpy as np

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
