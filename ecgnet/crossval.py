"""cv_report.json: what the cross-validation of a training run measured.

Every metric (the official ones, and macro sensitivity and specificity) of the out-of-fold
predictions, overall, per fold and per source (record-name prefix), with the uniform threshold
and with the fitted ones; each fold's epoch history; how the epochs were chosen and, with
selection=inner, what choosing them on the held-out records would have scored; and how each
threshold method transfers to a source it was not fitted on (`transfer`).
"""

import logging

import numpy as np

from . import labels as label_space
from . import metrics
from .config import Config
from .folders import name_prefix
from .loop import FoldResult
from .scoring import SOURCES
from .thresholds import apply_thresholds, fit_thresholds
from .transfer import threshold_transfer

log = logging.getLogger(__name__)


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


def _evaluation(labels: np.ndarray, oof: np.ndarray, rows: np.ndarray, thresholds: np.ndarray, config: Config) -> dict:
    """The records `rows`' metrics with the uniform threshold and with `thresholds`."""
    uniform = np.full(label_space.NUM_CLASSES, config.uniform_threshold)
    before = metrics.evaluate(labels[rows], apply_thresholds(oof[rows], uniform), oof[rows])
    after = metrics.evaluate(labels[rows], apply_thresholds(oof[rows], thresholds), oof[rows])
    return {
        "records": int(len(rows)),
        "before_thresholds": _metrics_json(before),
        "after_thresholds": _metrics_json(after),
    }


def _fold_entry(result: FoldResult, labels: np.ndarray, oof: np.ndarray, thresholds: np.ndarray, config: Config):
    entry = {
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
    return {**entry, **_evaluation(labels, oof, result.validation, thresholds, config), "history": result.history}


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
) -> dict:
    """How the folds' epochs were chosen and the out-of-fold challenge metric of that choice.
    With selection=inner also `held_out_choice`: the epochs the held-out records would have
    chosen (the paper's choice) and their out-of-fold metric, thresholds fitted on those
    predictions in the same way; the gap between the two is the optimism of choosing on the
    records that are scored."""
    summary = {
        "method": config.selection,
        "chosen": {"epochs": [r.best_epoch for r in results], **_challenge(labels, oof, thresholds, config)},
    }
    if config.selection == "inner":
        held_out_oof = np.zeros_like(oof)
        for result in results:
            held_out_oof[result.validation] = result.held_out_best_probabilities
        held_out_thresholds, _ = fit_run_thresholds(held_out_oof, labels, names, config)
        summary["inner_fraction"] = config.inner_fraction
        summary["held_out_choice"] = {
            "epochs": [r.held_out_best_epoch for r in results],
            **_challenge(labels, held_out_oof, held_out_thresholds, config),
        }
    return summary


def source_results(
    names: list[str], labels: np.ndarray, oof: np.ndarray, thresholds: np.ndarray, config: Config
) -> dict:
    """Per source (name prefix): its name, whether its records were unseen by the models that
    predicted them (split=source), and its metrics before and after thresholds."""
    sources = np.array([name_prefix(name) for name in names])
    return {
        key: {
            "name": SOURCES.get(key, "other source"),
            "unseen": config.split == "source",
            **_evaluation(labels, oof, np.flatnonzero(sources == key), thresholds, config),
        }
        for key in sorted(set(sources.tolist()))
    }


def cv_report(
    results: list[FoldResult],
    names: list[str],
    oof: np.ndarray,
    labels: np.ndarray,
    thresholds: np.ndarray,
    rounds: int,
    config: Config,
) -> dict:
    """cv_report.json of a finished run: `results` per fold, `oof` the out-of-fold
    probabilities of the records `names`, `thresholds` fitted on them in `rounds`."""
    log.info("cross-validation report: per source, selection and threshold transfer (leave-one-source-out)")
    return {
        "checkpoint_threshold": config.uniform_threshold,  # the report's key since format 1
        "threshold_search_rounds": rounds,
        "thresholds": dict(zip(label_space.CLASSES, thresholds.tolist())),
        "overall": _evaluation(labels, oof, np.arange(len(labels)), thresholds, config),
        "folds": [_fold_entry(r, labels, oof, thresholds, config) for r in results],
        "split": config.split,
        "threshold_method": config.threshold_method,
        "selection": selection_summary(results, names, labels, oof, thresholds, config),
        "sources": source_results(names, labels, oof, thresholds, config),
        "threshold_transfer": threshold_transfer(
            names,
            oof,
            labels,
            config.threshold_step,
            config.uniform_threshold,
            config.threshold_shrinkage,
        ),
    }
