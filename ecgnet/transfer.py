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

import numpy as np

from . import metrics
from .folders import name_prefix
from .thresholds import THRESHOLD_METHODS, apply_thresholds, fit_thresholds

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
    result = {"sources": {key: int(np.sum(sources == key)) for key in keys}, "methods": {}}
    for method in methods:
        binary = np.zeros_like(labels)
        per_source = {}
        for key in keys:
            held = sources == key
            fitted, _ = fit_thresholds(
                probabilities[~held], labels[~held], method, sources[~held], step, start, shrinkage
            )
            binary[held] = apply_thresholds(probabilities[held], fitted)
            per_source[key] = metrics.challenge_metric(labels[held], binary[held])
        worst = min(per_source, key=per_source.get)
        result["methods"][method] = {
            "sources": per_source,
            "mean": float(np.mean(list(per_source.values()))),
            "worst": per_source[worst],
            "worst_source": worst,
            "pooled": metrics.challenge_metric(labels, binary),
        }
        log.info(
            f"threshold transfer, {method}: left-out sources' challenge metric mean "
            f"{result['methods'][method]['mean']:.4f}, worst {per_source[worst]:.4f} ({worst})"
        )
    return result
