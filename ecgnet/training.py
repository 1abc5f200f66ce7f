"""Training the fold ensemble: `train(data_folder, model_folder, config)`.

The run reads top to bottom: prepare the data (`dataset`: signal cache, labels, folds, and the
records' measurements where the config uses them); train each fold (`loop`); then fit the
second stage if any (`decisions`, `stacking`) and the thresholds on the out-of-fold predictions
(`thresholds`), write the cross-validation report (`crossval`) and the MODEL folder (`modelstore`). The log goes to
stderr and to MODEL/train.log (`logs`).

Interrupted runs resume: started again with the same MODEL folder, a run skips finished folds
and continues an unfinished one after its last completed epoch, with the same random choices.
A run resumes only with the settings and label overrides (by content) it started with.

Label overrides (`label_overrides`, an `ecgnet.overrides` file; no header is edited) set
labels, mask (record, class) cells out of the loss and drop records. Validation, the epoch
choice, the threshold search and cv_report.json use the overridden labels; a masked cell keeps
its given label there (the challenge metric scores whole records, so a cell cannot be left
out of it). The file's SHA-256 and what it changed go into model.json and train.log.

The cross-validation report (MODEL/report) is not written here: `ecgnet train` writes it
after training returns (`ecgnet.report.write_training_report`), so that training needs nothing
of the optional report package.

Under torchrun the processes split every batch (DistributedDataParallel averages their
gradients) and every validation set; with `parallel_folds` each process trains whole folds
on its own device instead.
"""

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import time

import numpy as np

from . import distributed, features, logs, modelstore
from .config import Config
from .crossval import Finish, FoldResult, cv_report, fit_run_thresholds
from .dataset import TrainingData, prepare_data
from .decisions import out_of_fold
from .distributed import Runtime
from .errors import TrainingError
from .foldstate import read_result
from .loop import FoldContext, TimeLeft, train_fold
from .overrides import Overrides, read_overrides
from .overrides import summary as overrides_summary
from .ptbxl import PtbxlLabels
from .stacking import Stacker, fit_stacker

log = logging.getLogger(__name__)


def resolve_config(store: modelstore.ModelFolder, requested: Config | None) -> tuple[Config, bool]:
    """(the run's config, whether it resumes): the saved one when resuming, else `requested`
    (default: the paper's)."""
    saved = store.read_run_config()
    if saved is None:
        return requested or Config(), False
    if requested is not None and requested != saved:
        changed = [k for k, v in requested.to_dict().items() if saved.to_dict()[k] != v]
        raise TrainingError(
            f"{store.folder} holds a training run with other settings ({', '.join(changed)}); "
            "resume it without --config/--set, or train into a new MODEL folder"
        )
    return saved, True


def overrides_record(overrides: Overrides | None) -> dict:
    """What a run records of its label overrides to refuse resuming with others: the file and
    its SHA-256 (None and None without overrides)."""
    if overrides is None:
        return {"file": None, "sha256": None}
    return {"file": overrides.path, "sha256": modelstore.sha256(overrides.path)}


def _described(record: dict) -> str:
    return f"{record['file']} (sha256 {record['sha256'][:12]})" if record.get("sha256") else "no label overrides"


def check_overrides(store: modelstore.ModelFolder, requested: dict) -> None:
    """Refuse to resume a run with other label overrides (by content) than it started with."""
    saved = store.read_run_overrides() or {"file": None, "sha256": None}
    if saved["sha256"] == requested["sha256"]:
        return
    raise TrainingError(
        f"{store.folder} holds a training run started with {_described(saved)}, but this call gives "
        f"{_described(requested)}; resume it with the same --label-overrides file, or train into a "
        "new MODEL folder"
    )


def check_finished(store: modelstore.ModelFolder, requested: dict) -> None:
    """A finished MODEL folder: nothing to do when this call gives the label overrides (by
    content) it was trained with; refused, naming both, when it gives others."""
    trained = (modelstore.read_manifest(store.folder).get("training") or {}).get("label_overrides") or {}
    if trained.get("sha256") != requested["sha256"]:
        counts = (
            f": {trained.get('set', 0)} labels set, {trained.get('masked', 0)} masked, "
            f"{trained.get('weighted', 0)} down-weighted, {trained.get('dropped', 0)} records dropped"
            if trained.get("sha256")
            else ""
        )
        raise TrainingError(
            f"{store.folder} holds a finished model trained with {_described(trained)}{counts}, but this call "
            f"gives {_described(requested)}; train into a new MODEL folder (a finished model is never retrained "
            "in place)"
        )
    log.info(f"{store.manifest} exists: the model in {store.folder} is complete; nothing to do.")


def _second_stage(
    data: TrainingData, config: Config, rows: np.ndarray, oof: np.ndarray, labels: np.ndarray
) -> tuple[Finish | None, Stacker | None]:
    """(the run's second stage in cross-validation, `decisions.out_of_fold`; the model's stacked
    stage, fitted on every out-of-fold prediction), each None where the config has none; `rows`:
    the records of the out-of-fold predictions `oof`."""
    if config.stacking == "none" and not config.decide_rules:
        return None, None
    assert data.measurements is not None  # prepare_data measures the records for a second stage
    table = data.measurements.take(rows)
    finish = out_of_fold(config, table, data.demographics[rows], labels, data.folds[rows])
    if config.stacking == "none":
        return finish, None
    log.info(f"fitting the stacked stage ({config.stacking}) on the out-of-fold predictions and measurements")
    return finish, fit_stacker(oof, features.encode(table.values), labels, config.stacking_penalty, config.stacking)


def labels_record(labels: PtbxlLabels | None) -> dict:
    """What a run records of where its labels came from, to refuse resuming with others."""
    if labels is None:
        return {"labels": "header"}
    return {
        "labels": "ptbxl",
        "file": labels.path,
        "sha256": modelstore.sha256(labels.path),
        "min_likelihood": labels.min_likelihood,
    }


def check_labels(store: modelstore.ModelFolder, requested: dict) -> None:
    """Refuse to resume a run with another label source than it started with."""
    saved = store.read_run_labels() or {"labels": "header"}  # a run of an ecgnet before --labels: the headers'
    if saved != requested:
        raise TrainingError(
            f"{store.folder} holds a training run started with labels {json.dumps(saved)}, but this call gives "
            f"{json.dumps(requested)}; resume it with the same --labels, or train into a new MODEL folder"
        )


def _validated(data: TrainingData, results: list[FoldResult]) -> tuple[np.ndarray, list[FoldResult]]:
    """(rows of the records some fold validated, in order; `results` with their validation rows
    as positions among those). Every row under the k-fold splits; under split=ptbxl only fold 9's."""
    rows = np.sort(np.concatenate([r.validation for r in results]))
    position = np.full(len(data.names), -1)
    position[rows] = np.arange(len(rows))
    return rows, [dataclasses.replace(r, validation=position[r.validation]) for r in results]


def finalize(
    data: TrainingData,
    store: modelstore.ModelFolder,
    config: Config,
    started: float,
    overrides: dict | None = None,
    labels: dict | None = None,
) -> dict:
    """Thresholds on the out-of-fold predictions, the report, and model.json (`overrides`: the
    label overrides' record, with their counts, `labels` the label source's, for its "training"
    entry)."""
    results = [read_result(store.fold_result(k)) for k in range(data.num_folds)]
    rows, results = _validated(data, results)
    names = [data.names[i] for i in rows]
    oof = np.zeros_like(data.labels[rows])
    for result in results:
        oof[result.validation] = result.probabilities
    labels_ = data.labels[rows].astype(bool)
    finish, stacker = _second_stage(data, config, rows, oof, labels_)
    decided = finish(oof)[1] if finish else oof
    log.info(f"fitting thresholds ({config.threshold_method}) on the out-of-fold predictions of {len(rows)} records")
    thresholds, rounds = fit_run_thresholds(decided, labels_, names, config)
    report = cv_report(results, names, oof, labels_, thresholds, rounds, config, finish)
    store.write_cv_report(report)
    store.write_thresholds(thresholds)
    store.write_oof_probabilities(names, data.folds[rows], oof)
    summary = {
        "records": len(data.names),
        "seconds": round(time.time() - started, 1),
        "cv_challenge_before_thresholds": report["overall"]["before_thresholds"]["Challenge metric"],
        "cv_challenge_after_thresholds": report["overall"]["after_thresholds"]["Challenge metric"],
        "best_epochs": [r.best_epoch for r in results],
        "label_overrides": overrides,
        "labels": labels or {"labels": "header"},
    }
    modelstore.save_model(store.folder, config, thresholds, data.num_folds, summary, stacker)
    log.info(
        f"out-of-fold challenge metric {summary['cv_challenge_before_thresholds']:.4f} with threshold "
        f"{config.uniform_threshold}, {summary['cv_challenge_after_thresholds']:.4f} with searched thresholds"
    )
    held_out_choice = report["selection"].get("held_out_choice")
    if held_out_choice is not None:
        log.info(
            f"epochs chosen on the inner splits; choosing them on the held-out records would have given "
            f"{held_out_choice['after_thresholds']:.4f} with searched thresholds"
        )
    return report


def _start_run(
    store: modelstore.ModelFolder, requested: Config | None, overrides: dict, labels: dict, runtime: Runtime
) -> tuple[Config, bool]:
    """The run's config (on every process); a resumed run must have the same label overrides
    and label source. A new run's settings are saved only once its data are prepared (`_save_run`)."""
    if runtime.is_main:
        os.makedirs(store.work, exist_ok=True)
        config, resuming = resolve_config(store, requested)
        if resuming:
            check_overrides(store, overrides)
            check_labels(store, labels)
        else:  # what a start that failed before its settings were saved left belongs to no run
            for name in ("folds.json", "labels.json"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(store.work_path(name))
    return runtime.broadcast((config, resuming) if runtime.is_main else None)


def _save_run(store: modelstore.ModelFolder, config: Config, overrides: dict, labels: dict) -> None:
    """Save a new run's settings in MODEL/work (the config last: it makes later calls resume
    the run), only after every check of them against the data passed (too few records for the
    folds, say), so that settings that failed are never kept."""
    store.write_run_overrides(overrides)
    store.write_run_labels(labels)
    store.write_run_config(config)


def _train_folds(
    data: TrainingData,
    store: modelstore.ModelFolder,
    config: Config,
    runtime: Runtime,
    parallel_folds: bool,
    folds: list[int] | None,
    workers: int,
) -> None:
    """Train the folds this call and process are to train (`folds`, else all), skipping
    finished ones."""
    todo = [k for k in range(data.num_folds) if folds is None or k in folds]
    mine = [k for k in todo if k % runtime.world == runtime.rank] if parallel_folds else todo
    fold_runtime = runtime.single() if parallel_folds else runtime
    context = FoldContext(data, store, config, fold_runtime, workers, TimeLeft(config, store, mine))
    for fold in mine:
        if os.path.exists(store.fold_result(fold)):
            log.info(f"fold {fold + 1}: already trained")
            continue
        train_fold(fold, context)
    runtime.barrier()


def train(
    data_folder: str,
    model_folder: str,
    config: Config | None = None,
    parallel_folds: bool = False,
    folds: list[int] | None = None,
    cache_folder: str | None = None,
    device: str | None = None,
    workers: int | None = None,
    jobs: int = -1,
    label_overrides: str | os.PathLike | None = None,
    labels: PtbxlLabels | None = None,
    recursive: bool | None = None,
) -> dict | None:
    """Train (or resume training) the fold ensemble of `data_folder` into `model_folder`;
    returns the cross-validation report once the model is complete, else None.

    config: None resumes with the saved settings or starts with the paper's; folds: train
    only these fold numbers (0-based) in this call; cache_folder: keep the signal cache there
    (default MODEL/work/cache, deleted when the model is complete); workers: data-loader
    processes (default `config.workers`); jobs: record-decoding processes (-1: all cores);
    label_overrides: an overrides file (`ecgnet.overrides`) applied to the labels; labels: PTB-XL's
    labels, age and sex instead of the headers' (`ptbxl`); recursive: search the data folder's
    subfolders (`folders.iter_records`; None: when it holds no records of its own)."""
    logs.configure(all_ranks=parallel_folds)
    started = time.time()
    store = modelstore.ModelFolder(model_folder)
    overrides = read_overrides(os.fspath(label_overrides)) if label_overrides is not None else None
    record = overrides_record(overrides)
    if os.path.exists(store.manifest):
        check_finished(store, record)
        return None
    if not os.path.isdir(data_folder):
        problem = "is a file, not a folder" if os.path.exists(data_folder) else "does not exist"
        raise TrainingError(f"data folder {data_folder} {problem}")
    source = labels_record(labels)
    runtime = distributed.start(device)
    try:
        config, resuming = _start_run(store, config, record, source, runtime)
        with logs.to_file(store.log):
            if runtime.is_main:
                log.info(
                    f"{'resuming' if resuming else 'training'} {store.folder} from {data_folder}: "
                    f"{runtime.world} process(es) on {runtime.device}; config {json.dumps(config.to_dict())}"
                )
                if overrides is not None:
                    log.info(f"label overrides: {record['file']} sha256 {record['sha256']}")
            data = prepare_data(
                data_folder, store, config, runtime, cache_folder, jobs, overrides, labels=labels, recursive=recursive
            )
            if runtime.is_main and not resuming:
                _save_run(store, config, record, source)
            workers = config.workers if workers is None else workers
            if workers < 0:
                workers = 4 if runtime.device.type == "cuda" else 0
            _train_folds(data, store, config, runtime, parallel_folds, folds, workers)
            report = None
            if runtime.is_main:
                missing = [k + 1 for k in range(data.num_folds) if not os.path.exists(store.fold_result(k))]
                if missing:
                    log.info(f"folds {missing} are not trained yet; run again to train them and finish the model")
                else:
                    if overrides is not None:
                        record.update(overrides_summary(data.cache.names, overrides))
                    report = finalize(
                        data, store, config, started, record if overrides is not None else None, labels=source
                    )
                    if cache_folder is None:
                        shutil.rmtree(store.cache, ignore_errors=True)
                    log.info(f"model complete in {store.folder} ({logs.duration(time.time() - started)})")
            runtime.barrier()
            return report
    finally:
        distributed.stop(runtime)
