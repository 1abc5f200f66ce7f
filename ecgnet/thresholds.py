"""Decision thresholds fitted on out-of-fold predictions, by `config.threshold_method`.

A record's labels are the classes whose probability reaches the class threshold, plus its most
probable class (every record keeps at least one label). The methods (`fit_thresholds`):

- per_class, the published method's constrained grid search: it starts from one threshold for
  all classes and goes over the classes one at a time, moving a class's threshold to the grid
  value (0.01 steps) that maximises the challenge metric with the other thresholds fixed, and
  repeats until no class improves. 24 thresholds fitted to the training sources' records can
  over-fit them: in 2020 this method lost to one global threshold on an unseen site.
- global: one threshold for every class, the grid value that maximises the challenge metric.
- shrunk: the per-class thresholds pulled toward the global one, each with weight
  positives / (positives + shrinkage), so that rare classes lean on the global threshold.
- mean_source, worst_source: the per-class coordinate search, maximising the mean (or the
  minimum) over sources (record-name prefixes) of each source's own challenge metric, so that
  no source's labelling habits dominate.
"""

from collections.abc import Callable

import numpy as np

from . import labels as label_space
from . import metrics

# The choices of config.threshold_method, in the order tables list them.
THRESHOLD_METHODS = ("per_class", "global", "shrunk", "mean_source", "worst_source")


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


def threshold_sweep(probabilities, labels, thresholds, step=0.01):
    """Challenge metric with each class's threshold moved over the search grid, the other
    classes at `thresholds`: (grid, metric[class, grid]). At convergence this is what the
    coordinate search saw in its last round."""
    weights = np.nan_to_num(label_space.WEIGHTS)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    grid = threshold_grid(step)
    inactive = np.zeros_like(labels)
    inactive[:, label_space.NORMAL_INDEX] = True
    correct = metrics.challenge_score(labels, labels, weights)
    baseline = metrics.challenge_score(labels, inactive, weights)
    outputs = apply_thresholds(probabilities, thresholds)
    sweep = np.zeros((label_space.NUM_CLASSES, len(grid)))
    for c in range(label_space.NUM_CLASSES):
        scores = _class_scores(probabilities, labels, outputs, weights, c, grid)
        sweep[c] = (scores - baseline) / (correct - baseline) if correct != baseline else 0.0
    return grid, sweep


def _coordinate_search(
    probabilities: np.ndarray,
    class_objective: Callable[[np.ndarray, int, np.ndarray], np.ndarray],
    grid: np.ndarray,
    start: float,
    max_rounds: int,
) -> tuple[np.ndarray, int]:
    """Per-class thresholds by coordinate ascent of `class_objective(outputs, c, candidates)`
    (the objective for each candidate threshold of class c, the other classes' outputs fixed);
    returns (thresholds, rounds)."""
    thresholds = np.full(probabilities.shape[1], float(start))
    for rounds in range(1, max_rounds + 1):  # noqa: B007 - the rounds taken are returned
        improved = False
        for c in range(probabilities.shape[1]):
            outputs = apply_thresholds(probabilities, thresholds)
            scores = class_objective(outputs, c, grid)
            current = class_objective(outputs, c, np.array([thresholds[c]]))[0]
            best = int(np.argmax(scores))
            if scores[best] > current + 1e-9:
                thresholds[c] = grid[best]
                improved = True
        if not improved:
            break
    return thresholds, rounds


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

    def objective(outputs, c, candidates):
        return _class_scores(probabilities, labels, outputs, weights, c, candidates)

    return _coordinate_search(probabilities, objective, threshold_grid(step), start, max_rounds)


def search_global_threshold(
    probabilities: np.ndarray,
    labels: np.ndarray,
    step: float = 0.01,
    start: float = 0.5,
    weights: np.ndarray | None = None,
) -> float:
    """The one grid threshold for every class that maximises the challenge metric; of equally
    good ones, the closest to `start`."""
    weights = np.nan_to_num(label_space.WEIGHTS if weights is None else weights)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    grid = threshold_grid(step)
    scores = np.array([metrics.challenge_score(labels, apply_thresholds(probabilities, t), weights) for t in grid])
    ties = grid[scores >= scores.max() - 1e-9]
    return float(ties[np.argmin(np.abs(ties - start))])


def shrink_thresholds(
    per_class: np.ndarray, global_threshold: float, positives: np.ndarray, shrinkage: float, step: float = 0.01
) -> np.ndarray:
    """Per-class thresholds pulled toward the global one: weight positives / (positives +
    shrinkage) on a class's own threshold (0 for a class without positives), rounded to the
    search grid."""
    positives = np.asarray(positives, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # 0 / 0 where shrinkage is 0 and a class has no positives
        own = np.where(positives > 0, positives / (positives + shrinkage), 0.0)
    pulled = own * np.asarray(per_class, dtype=np.float64) + (1 - own) * global_threshold
    grid = threshold_grid(step)
    return np.clip(np.round(np.round(pulled / step) * step, 10), grid[0], grid[-1])


def _source_groups(labels: np.ndarray, sources: np.ndarray, weights: np.ndarray) -> list[tuple]:
    """(rows, normal-only score, perfect score) of each source whose challenge metric is
    defined (perfect outputs score above normal-only ones); the constants depend on labels only."""
    groups = []
    for source in sorted(set(sources.tolist())):
        rows = np.flatnonzero(sources == source)
        y = labels[rows]
        inactive = np.zeros_like(y)
        inactive[:, label_space.NORMAL_INDEX] = True
        baseline = metrics.challenge_score(y, inactive, weights)
        correct = metrics.challenge_score(y, y, weights)
        if correct > baseline:
            groups.append((rows, baseline, correct))
    return groups


def search_source_thresholds(
    probabilities: np.ndarray,
    labels: np.ndarray,
    sources: np.ndarray,
    worst: bool = False,
    step: float = 0.01,
    start: float = 0.5,
    weights: np.ndarray | None = None,
    max_rounds: int = 50,
) -> tuple[np.ndarray, int]:
    """Coordinate search of per-class thresholds maximising the mean (`worst`: the minimum)
    over sources of each source's normalised challenge metric; `sources` names each record's
    source. Sources whose metric is undefined (their labels score no better than normal-only
    outputs) are left out of the objective. Returns (thresholds, rounds)."""
    weights = np.nan_to_num(label_space.WEIGHTS if weights is None else weights)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    groups = _source_groups(labels, np.asarray(sources), weights)
    if not groups:  # no source's metric can move: keep the start
        return np.full(probabilities.shape[1], float(start)), 0
    combine = np.min if worst else np.mean

    def objective(outputs, c, candidates):
        per_source = [
            (_class_scores(probabilities[rows], labels[rows], outputs[rows], weights, c, candidates) - baseline)
            / (correct - baseline)
            for rows, baseline, correct in groups
        ]
        return combine(per_source, axis=0)

    return _coordinate_search(probabilities, objective, threshold_grid(step), start, max_rounds)


def fit_methods(
    probabilities: np.ndarray,
    labels: np.ndarray,
    methods: tuple[str, ...],
    sources: np.ndarray | None = None,
    step: float = 0.01,
    start: float = 0.5,
    shrinkage: float = 10.0,
) -> dict[str, np.ndarray]:
    """The thresholds of each of `methods` fitted on these records, as `fit_thresholds` fits
    them, with the per-class and global searches done once for all (shrunk needs both)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    fitted = {}
    if "per_class" in methods or "shrunk" in methods:
        fitted["per_class"] = search_thresholds(probabilities, labels, step, start)[0]
    if "global" in methods or "shrunk" in methods:
        fitted["global"] = np.full(probabilities.shape[1], search_global_threshold(probabilities, labels, step, start))
    if "shrunk" in methods:
        positives = labels.sum(axis=0)
        fitted["shrunk"] = shrink_thresholds(fitted["per_class"], fitted["global"][0], positives, shrinkage, step)
    for method in methods:
        if method not in fitted:
            fitted[method] = fit_thresholds(probabilities, labels, method, sources, step, start, shrinkage)[0]
    return {method: fitted[method] for method in methods}


def fit_thresholds(
    probabilities: np.ndarray,
    labels: np.ndarray,
    method: str = "per_class",
    sources: np.ndarray | None = None,
    step: float = 0.01,
    start: float = 0.5,
    shrinkage: float = 10.0,
) -> tuple[np.ndarray, int]:
    """The thresholds of `method` (one of THRESHOLD_METHODS) fitted on these records:
    (thresholds, rounds of the coordinate search; 1 for global). `sources` (each record's
    source, e.g. its name prefix) is needed by mean_source and worst_source."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    if method == "per_class":
        return search_thresholds(probabilities, labels, step, start)
    if method == "global":
        threshold = search_global_threshold(probabilities, labels, step, start)
        return np.full(probabilities.shape[1], threshold), 1
    if method == "shrunk":
        per_class, rounds = search_thresholds(probabilities, labels, step, start)
        threshold = search_global_threshold(probabilities, labels, step, start)
        return shrink_thresholds(per_class, threshold, labels.sum(axis=0), shrinkage, step), rounds
    if method in ("mean_source", "worst_source"):
        if sources is None or len(sources) != len(labels):
            raise ValueError(f"threshold method {method} needs the source of every record")
        return search_source_thresholds(probabilities, labels, sources, method == "worst_source", step, start)
    raise ValueError(f"unknown threshold method {method!r}; the methods are {', '.join(THRESHOLD_METHODS)}")
