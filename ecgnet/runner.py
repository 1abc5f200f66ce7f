"""The driver's work: classify every record of a folder and write one output file per record.

Every record of the folder counts: each NAME.hea, and each NAME.mat without a header
(`folders.list_records`). Records are read and classified in chunks, so memory stays flat
however many records there are, while each chunk holds enough views to fill the network's
batches. A record that fails, whether it cannot be read (`records.read_record`), its
classification fails or is not finite, or its output file cannot be written, never stops the
run: its reason is logged with its name, an all-negative output file is still written where
its name allows, and the run ends with a summary.
"""

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import labels as label_space
from .config import Config
from .errors import OutputError, RecordError, describe
from .folders import RecordFiles, list_records
from .inference import Ensemble, default_batch_samples
from .outputs import write_output
from .records import Record, read_record

log = logging.getLogger(__name__)

NEGATIVE = np.zeros(label_space.NUM_CLASSES)


@dataclass
class DriverReport:
    written: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (record name, reason)


def prepare_output_folder(folder: str) -> None:
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputError(f"output folder {folder} is a file, not a folder")
    os.makedirs(folder, exist_ok=True)


def _chunks(
    found: Sequence[RecordFiles], config: Config, chunk_samples: int, fail: Callable[[str, str], None]
) -> Iterator[list[Record]]:
    """Yield lists of records whose total length is about `chunk_samples`; records that
    cannot be read go to `fail` instead."""
    chunk, samples = [], 0
    for files in found:
        try:
            record = read_record(files, config.sample_rate)
        except RecordError as e:
            fail(files.name, str(e))
            continue
        chunk.append(record)
        samples += record.signal.shape[1]
        if samples >= chunk_samples:
            yield chunk
            chunk, samples = [], 0
    if chunk:
        yield chunk


class _Run:
    """One driver run's output folder and report."""

    def __init__(self, output_folder: str):
        self.output_folder = output_folder
        self.report = DriverReport()

    def finish(self, name: str, labels: np.ndarray, probabilities: np.ndarray, failure: str | None = None) -> None:
        """Write a record's output file (all negative if it failed) and report a failure."""
        try:
            write_output(self.output_folder, name, label_space.CLASSES, labels, probabilities)
            self.report.written += 1
        except (OutputError, OSError) as e:
            failure = failure or f"cannot write its output file: {describe(e)}"
        if failure:
            self.report.failures.append((name, failure))
            log.warning(f"failed: {name if name.isprintable() else ascii(name)}: {failure}")

    def fail(self, name: str, reason: str) -> None:
        self.finish(name, NEGATIVE, NEGATIVE, reason)

    def classified(self, records: Sequence[Record], results: list[tuple]) -> None:
        for record, (labels, probabilities, failure) in zip(records, results):
            if failure is None and not np.isfinite(probabilities).all():
                failure = "the network's outputs for it are not finite"
            if failure:
                labels, probabilities = NEGATIVE, NEGATIVE
            self.finish(record.name, labels, probabilities, failure)


def run_folder(
    ensemble: Ensemble, data_folder: str, output_folder: str, progress_seconds: float = 10.0
) -> DriverReport:
    """Classify every record of `data_folder` into `output_folder`, logging progress every
    `progress_seconds`; returns a DriverReport."""
    found = list_records(data_folder, require=True)
    prepare_output_folder(output_folder)
    run = _Run(output_folder)
    chunk_samples = 8 * default_batch_samples(ensemble.device)
    started = last_report = time.time()
    for records in _chunks(found, ensemble.config, chunk_samples, run.fail):
        run.classified(records, _classify_isolating_failures(ensemble, records))
        if time.time() - last_report >= progress_seconds:
            last_report = time.time()
            done = run.report.written + len(run.report.failures)
            log.info(
                f"driver: {done}/{len(found)} records ({done / (last_report - started):.1f} records/s, "
                f"{len(run.report.failures)} failed)"
            )
    log.info(
        f"driver: wrote {run.report.written} output files for {len(found)} recordings in "
        f"{time.time() - started:.1f} s; {len(run.report.failures)} failed"
    )
    return run.report


def _classify_isolating_failures(ensemble: Ensemble, records: Sequence[Record]) -> list[tuple]:
    """Per-record (labels, probabilities, failure or None); if a chunk fails, it is logged and
    retried record by record, so that only the records that really fail are failures."""
    try:
        labels, probabilities = ensemble.classify(records)
        return [(y, p, None) for y, p in zip(labels, probabilities)]
    except Exception as e:  # noqa: BLE001 - isolate the failing records below
        log.warning(
            f"driver: a chunk of {len(records)} records failed ({type(e).__name__}: {e}); classifying them one by one"
        )
    results = []
    for record in records:
        try:
            labels, probabilities = ensemble.classify([record])
            results.append((labels[0], probabilities[0], None))
        except Exception as e:  # noqa: BLE001 - any failure of one record must not stop the run
            results.append((NEGATIVE, NEGATIVE, f"{type(e).__name__}: {e}"))
    return results
