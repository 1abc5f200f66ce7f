"""Do the thresholds transfer to a source they were not fitted on? Leave-one-source-out on
out-of-fold probabilities, for every threshold method.

For each source (record-name prefix) and method, the thresholds are fitted on the other
sources' records and applied to the source's records, which are scored with the challenge
metric. Nothing is retrained: it takes the out-of-fold probabilities of any run, e.g.

    oof = modelstore.read_oof_probabilities("MODEL/oof_probabilities.csv")
    threshold_transfer(oof.names, oof.probabilities, labels_of(oof.names))

Under split=stratified the fold models saw other records of every source, so this measures
the thresholds' transfer alone; under split=source neither the models nor the thresholds saw
the scored source, as at an undisclosed hospital.
"""

import logging
from typing import Any

import numpy as np

from . import metrics
from .folders import name_prefix
from .thresholds import THRESHOLD_METHODS, apply_thresholds, fit_methods

log = logging.getLogger(__name__)


def threshold_transfer(
    names: list[str],
    probabilities: np.ndarray,
    labels: np.ndarray,
    step: float = 0.01,
    start: float = 0.5,
    shrinkage: float = 10.0,
    methods: tuple[str, ...] = THRESHOLD_METHODS,
) -> dict | None:
    """Per method, each source's challenge metric with thresholds fitted on the other sources,
    their mean and minimum (and which source that is), and `pooled`, the metric of all records
    at once, each record labelled by the thresholds fitted without its source. None with fewer
    than two sources."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    sources = np.array([name_prefix(name) for name in names])
    keys = sorted(set(sources.tolist()))
    if len(keys) < 2:
        return None
    binary = {method: np.zeros_like(labels) for method in methods}
    per_source: dict[str, dict[str, float]] = {method: {} for method in methods}
    for key in keys:
        held = sources == key
        log.info(f"threshold transfer: fitting {len(methods)} methods without source {key}")
        fitted = fit_methods(probabilities[~held], labels[~held], methods, sources[~held], step, start, shrinkage)
        for method, thresholds in fitted.items():
            binary[method][held] = apply_thresholds(probabilities[held], thresholds)
            per_source[method][key] = metrics.challenge_metric(labels[held], binary[method][held])
    result: dict[str, Any] = {"sources": {key: int(np.sum(sources == key)) for key in keys}, "methods": {}}
    for method in methods:
        scores = per_source[method]
        worst = min(scores, key=scores.__getitem__)
        result["methods"][method] = {
            "sources": scores,
            "mean": float(np.mean(list(scores.values()))),
            "worst": scores[worst],
            "worst_source": worst,
            "pooled": metrics.challenge_metric(labels, binary[method]),
        }
        log.info(
            f"threshold transfer, {method}: left-out sources' challenge metric mean "
            f"{result['methods'][method]['mean']:.4f}, worst {scores[worst]:.4f} ({worst})"
        )
    return result
