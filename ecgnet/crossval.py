"""cv_report.json: what the cross-validation of a training run measured.

Every metric (the official ones, and macro sensitivity and specificity) of the out-of-fold
predictions, overall, per fold and per source (record-name prefix), with the uniform threshold
and with the fitted ones; each fold's epoch history; how the epochs were chosen and, with
selection=inner, what choosing them on the held-out records would have scored; and how each
threshold method transfers to a source it was not fitted on (`transfer`). With a second stage
(`decisions`: stacking, rule decisions), the outputs scored are the second stage's, fitted fold
by fold (`decisions.out_of_fold`): probabilities for ranking, decisions for the thresholds; the
network's own AUROC is kept beside them (`second_stage`).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import labels as label_space
from . import metrics
from .config import Config
from .folders import name_prefix
from .scoring import SOURCES
from .thresholds import apply_thresholds, fit_thresholds
from .transfer import threshold_transfer

log = logging.getLogger(__name__)


@dataclass
class FoldResult:
    """What a finished fold leaves for the threshold search and the report."""

    fold: int  # counted from 0
    best_epoch: int
    best_score: float  # the chosen epoch's selection score
    history: list[dict]
    validation: np.ndarray  # its held-out records (rows of the training data)
    probabilities: np.ndarray  # their probabilities at the chosen epoch
    # selection=inner: the inner split (rows), and the epoch best on the held-out records, its
    # score and their probabilities then; None (and -1) otherwise
    inner: np.ndarray | None = None
    held_out_best_epoch: int = -1
    held_out_best_score: float | None = None
    held_out_best_probabilities: np.ndarray | None = None

    @property
    def held_out_score(self) -> float:
        """The held-out records' challenge metric (p >= uniform threshold) at the chosen epoch."""
        return self.history[self.best_epoch - 1]["val_challenge"]


def fit_run_thresholds(oof: np.ndarray, labels: np.ndarray, names: list[str], config: Config) -> tuple[np.ndarray, int]:
    """The thresholds of `config.threshold_method` fitted on out-of-fold predictions:
    (thresholds, rounds of the search)."""
    sources = np.array([name_prefix(name) for name in names])
    return fit_thresholds(
        oof,
        labels,
        config.threshold_method,
        sources,
        config.threshold_step,
        config.uniform_threshold,
        config.threshold_shrinkage,
    )


def _metrics_json(result: dict) -> dict:
    return {name: (float(result[name]) if np.isfinite(result[name]) else None) for name in metrics.ALL_METRIC_NAMES}


# The second stage of a run: network out-of-fold probabilities -> (probabilities, decisions).
Finish = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def _evaluation(
    labels: np.ndarray,
    oof: np.ndarray,
    rows: np.ndarray,
    thresholds: np.ndarray,
    config: Config,
    decided: np.ndarray | None = None,
) -> dict:
    """The records `rows`' metrics with the uniform threshold and with `thresholds`, which
    label `decided` (default: the probabilities `oof`)."""
    decided = oof if decided is None else decided
    uniform = np.full(label_space.NUM_CLASSES, config.uniform_threshold)
    before = metrics.evaluate(labels[rows], apply_thresholds(decided[rows], uniform), oof[rows])
    after = metrics.evaluate(labels[rows], apply_thresholds(decided[rows], thresholds), oof[rows])
    return {
        "records": int(len(rows)),
        "before_thresholds": _metrics_json(before),
        "after_thresholds": _metrics_json(after),
    }


def _fold_entry(
    result: FoldResult, labels: np.ndarray, oof: np.ndarray, thresholds: np.ndarray, config: Config, decided: np.ndarray
) -> dict:
    entry: dict[str, Any] = {
        "fold": result.fold + 1,
        "best_epoch": result.best_epoch,
        # The held-out records' metric at the chosen epoch (under selection=validation, what chose it).
        "best_validation_challenge": result.held_out_score,
    }
    if result.inner is not None:
        entry.update(
            {
                "inner_records": int(len(result.inner)),
                "inner_challenge": result.best_score,
                "held_out_best_epoch": result.held_out_best_epoch,
                "held_out_best_challenge": result.held_out_best_score,
            }
        )
    evaluation = _evaluation(labels, oof, result.validation, thresholds, config, decided)
    return {**entry, **evaluation, "history": result.history}


def _challenge(labels: np.ndarray, oof: np.ndarray, thresholds: np.ndarray, config: Config) -> dict:
    """The out-of-fold challenge metric with the uniform threshold and with `thresholds`."""
    uniform = np.full(label_space.NUM_CLASSES, config.uniform_threshold)
    return {
        "before_thresholds": metrics.challenge_metric(labels, apply_thresholds(oof, uniform)),
        "after_thresholds": metrics.challenge_metric(labels, apply_thresholds(oof, thresholds)),
    }


def selection_summary(
    results: list[FoldResult],
    names: list[str],
    labels: np.ndarray,
    oof: np.ndarray,
    thresholds: np.ndarray,
    config: Config,
    finish: Finish,
) -> dict:
    """How the folds' epochs were chosen and the out-of-fold challenge metric of that choice
    (`oof`: what the thresholds label; `finish`: the run's second stage).
    With selection=inner also `held_out_choice`: the epochs the held-out records would have
    chosen (the paper's choice) and their out-of-fold metric, thresholds fitted on those
    predictions in the same way; the gap between the two is the optimism of choosing on the
    records that are scored."""
    summary: dict[str, Any] = {
        "method": config.selection,
        "chosen": {"epochs": [r.best_epoch for r in results], **_challenge(labels, oof, thresholds, config)},
    }
    if config.selection == "inner":
        held_out_oof = np.zeros_like(oof)
        for result in results:
            held_out_oof[result.validation] = result.held_out_best_probabilities
        _, held_out_decided = finish(held_out_oof)
        held_out_thresholds, _ = fit_run_thresholds(held_out_decided, labels, names, config)
        summary["inner_fraction"] = config.inner_fraction
        summary["held_out_choice"] = {
            "epochs": [r.held_out_best_epoch for r in results],
            **_challenge(labels, held_out_decided, held_out_thresholds, config),
        }
    return summary


def source_results(
    names: list[str],
    labels: np.ndarray,
    oof: np.ndarray,
    thresholds: np.ndarray,
    config: Config,
    decided: np.ndarray | None = None,
) -> dict:
    """Per source (name prefix): its name, whether its records were unseen by the models that
    predicted them (split=source), and its metrics before and after thresholds."""
    sources = np.array([name_prefix(name) for name in names])
    return {
        key: {
            "name": SOURCES.get(key, "other source"),
            "unseen": config.split == "source",
            **_evaluation(labels, oof, np.flatnonzero(sources == key), thresholds, config, decided),
        }
        for key in sorted(set(sources.tolist()))
    }


def _class_auroc(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """{class code: AUROC, None where undefined} over all records."""
    auroc, _ = metrics.class_auc(labels, probabilities)
    return {code: float(a) if np.isfinite(a) else None for code, a in zip(label_space.CLASSES, auroc)}


def cv_report(
    results: list[FoldResult],
    names: list[str],
    oof: np.ndarray,
    labels: np.ndarray,
    thresholds: np.ndarray,
    rounds: int,
    config: Config,
    finish: Finish | None = None,
) -> dict:
    """cv_report.json of a finished run: `results` per fold, `oof` the network's out-of-fold
    probabilities of the records `names`, `finish` the run's second stage (None: none),
    `thresholds` fitted on its decisions in `rounds`."""
    log.info("cross-validation report: per source, selection and threshold transfer (leave-one-source-out)")
    finish = finish or (lambda probabilities: (probabilities, probabilities))
    probabilities, decided = finish(oof)
    everything = np.arange(len(labels))
    report = {
        "checkpoint_threshold": config.uniform_threshold,  # the report's key since format 1
        "threshold_search_rounds": rounds,
        "thresholds": dict(zip(label_space.CLASSES, thresholds.tolist())),
        "overall": _evaluation(labels, probabilities, everything, thresholds, config, decided),
        "class_auroc": _class_auroc(labels, probabilities),
        "folds": [_fold_entry(r, labels, probabilities, thresholds, config, decided) for r in results],
        "split": config.split,
        "threshold_method": config.threshold_method,
        "selection": selection_summary(results, names, labels, decided, thresholds, config, finish),
        "sources": source_results(names, labels, probabilities, thresholds, config, decided),
        "threshold_transfer": threshold_transfer(
            names,
            decided,
            labels,
            config.threshold_step,
            config.uniform_threshold,
            config.threshold_shrinkage,
        ),
    }
    if probabilities is not oof or decided is not oof:
        report["second_stage"] = {
            "stacking": config.stacking,
            "stacking_penalty": config.stacking_penalty,
            "decide_rules": config.decide_rules,
            "network_auroc": metrics.evaluate(labels, apply_thresholds(oof, thresholds), oof)["AUROC"],
            "network_class_auroc": _class_auroc(labels, oof),
        }
    return report
