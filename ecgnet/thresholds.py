"""Per-class decision thresholds: the constrained grid search of the published method.

A record's labels are the classes whose probability reaches the class threshold, plus its most
probable class (every record keeps at least one label). The search starts from one threshold
for all classes and goes over the classes one at a time, moving a class's threshold to the
grid value (0.01 steps) that maximises the challenge metric on out-of-fold predictions with
the other thresholds fixed, and repeats until no class improves.
"""

import numpy as np

from . import labels as label_space


def apply_thresholds(probabilities: np.ndarray, thresholds: np.ndarray | float) -> np.ndarray:
    """Boolean labels: probability >= threshold, or the record's most probable class."""
    probabilities = np.asarray(probabilities)
    out = probabilities >= np.asarray(thresholds, dtype=np.float64)
    out[np.arange(len(probabilities)), np.argmax(probabilities, axis=1)] = True
    return out


def threshold_grid(step: float) -> np.ndarray:
    count = int(round(1 / step))
    return np.round(np.arange(1, count) * step, 10)


def _class_scores(probabilities, labels, outputs, weights, c, grid):
    """Unnormalised challenge score for every grid threshold of class c, others fixed."""
    y = labels.astype(np.float64)
    forced = np.argmax(probabilities, axis=1) == c
    off = outputs.astype(np.float64)
    off[~forced, c] = 0.0
    reward_off = np.einsum("ij,jk,ik->i", y, weights, off)
    size_off = np.maximum(np.maximum(y, off).sum(axis=1), 1)
    reward_on = reward_off + np.where(forced, 0.0, y @ weights[:, c])
    size_on = size_off + np.where(forced | labels[:, c], 0.0, 1.0)
    base = np.sum(reward_off / size_off)
    gain = np.where(forced, 0.0, reward_on / size_on - reward_off / size_off)
    order = np.argsort(-probabilities[:, c], kind="stable")
    cumulative = np.r_[0.0, np.cumsum(gain[order])]
    # Records with probability >= t switch on: count them for each grid value.
    switched = np.searchsorted(-probabilities[order, c].astype(np.float64), -grid, side="right")
    return base + cumulative[switched]


def search_thresholds(
    probabilities: np.ndarray,
    labels: np.ndarray,
    step: float = 0.01,
    start: float = 0.5,
    weights: np.ndarray | None = None,
    max_rounds: int = 50,
) -> tuple[np.ndarray, int]:
    """Coordinate search of per-class thresholds on a `step` grid; returns (thresholds, rounds)."""
    weights = np.nan_to_num(label_space.WEIGHTS if weights is None else weights)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    grid = threshold_grid(step)
    thresholds = np.full(probabilities.shape[1], float(start))
    for rounds in range(1, max_rounds + 1):  # noqa: B007 - the rounds taken are returned
        improved = False
        for c in range(probabilities.shape[1]):
            outputs = apply_thresholds(probabilities, thresholds)
            scores = _class_scores(probabilities, labels, outputs, weights, c, grid)
            current = _class_scores(probabilities, labels, outputs, weights, c, np.array([thresholds[c]]))[0]
            best = int(np.argmax(scores))
            if scores[best] > current + 1e-9:
                thresholds[c] = grid[best]
                improved = True
        if not improved:
            break
    return thresholds, rounds
