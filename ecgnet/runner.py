"""The driver's work: classify every record of a folder and write one output file per record.

Every record of the folder counts: each NAME.hea, and each NAME.mat without a header
(`records.list_records`). Records are read and classified in chunks, so memory stays flat
however many records there are, while each chunk holds enough views to fill the network's
batches. A record that fails, whether it cannot be read (`reading`), its classification
fails or is not finite, or its output file cannot be written, never stops the run: its
reason is reported with its name, an all-negative output file is still written where its
name allows, and the run ends with a summary.
"""
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from . import labels as label_space
from .errors import OutputError, RecordError, describe
from .inference import default_batch_samples, read_record
from .outputs import write_output
from .records import list_records

NEGATIVE = np.zeros(label_space.NUM_CLASSES)


@dataclass
class DriverReport:
    written: int = 0
    failures: list = field(default_factory=list)  # (record name, reason)


def find_recordings(folder):
    """The records of a data folder (`records.RecordFiles`); a folder without any is an error."""
    found = list_records(folder)
    if not found:
        raise RecordError(folder, "holds no records (no NAME.hea or NAME.mat files)")
    return found


def prepare_output_folder(folder):
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputError(f"output folder {folder} is a file, not a folder")
    os.makedirs(folder, exist_ok=True)


def _chunks(found, config, chunk_samples, fail):
    """Yield lists of prepared records whose total length is about `chunk_samples`; records
    that cannot be read go to `fail` instead."""
    chunk, samples = [], 0
    for files in found:
        try:
            record = read_record(files, config)
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
    """One driver run's output folder, report and log."""

    def __init__(self, output_folder, log):
        self.output_folder = output_folder
        self.log = log
        self.report = DriverReport()

    def finish(self, name, labels, probabilities, failure=None):
        """Write a record's output file (all negative if it failed) and report a failure."""
        try:
            write_output(self.output_folder, name, label_space.CLASSES, labels, probabilities)
            self.report.written += 1
        except (OutputError, OSError) as e:
            failure = failure or f"cannot write its output file: {describe(e)}"
        if failure:
            self.report.failures.append((name, failure))
            self.log(f"failed: {name if name.isprintable() else ascii(name)}: {failure}")

    def fail(self, name, reason):
        self.finish(name, NEGATIVE, NEGATIVE, reason)

    def classified(self, records, results):
        for record, (labels, probabilities, failure) in zip(records, results):
            if failure is None and not np.isfinite(probabilities).all():
                failure = "the network's outputs for it are not finite"
            if failure:
                labels, probabilities = NEGATIVE, NEGATIVE
            self.finish(record.name, labels, probabilities, failure)


def run_folder(ensemble, data_folder, output_folder, log=None, progress_seconds=10.0):
    """Classify every record of `data_folder` into `output_folder`; returns a DriverReport."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    found = find_recordings(data_folder)
    prepare_output_folder(output_folder)
    run = _Run(output_folder, log)
    chunk_samples = 8 * default_batch_samples(ensemble.device)
    started = last_report = time.time()
    for records in _chunks(found, ensemble.config, chunk_samples, run.fail):
        run.classified(records, _classify_isolating_failures(ensemble, records, log))
        if time.time() - last_report >= progress_seconds:
            last_report = time.time()
            done = run.report.written + len(run.report.failures)
            log(f"driver: {done}/{len(found)} records ({done / (last_report - started):.1f} records/s, "
                f"{len(run.report.failures)} failed)")
    log(f"driver: wrote {run.report.written} output files for {len(found)} recordings in "
        f"{time.time() - started:.1f} s; {len(run.report.failures)} failed")
    return run.report


def _classify_isolating_failures(ensemble, records, log):
    """Per-record (labels, probabilities, failure or None); if a chunk fails, it is logged and
    retried record by record, so that only the records that really fail are failures."""
    try:
        labels, probabilities = ensemble.classify(records)
        return [(l, p, None) for l, p in zip(labels, probabilities)]
    except Exception as e:  # noqa: BLE001 - isolate the failing records below
        log(f"driver: a chunk of {len(records)} records failed ({type(e).__name__}: {e}); "
            "classifying them one by one")
    results = []
    for record in records:
        try:
            labels, probabilities = ensemble.classify([record])
            results.append((labels[0], probabilities[0], None))
        except Exception as e:  # noqa: BLE001 - any failure of one record must not stop the run
            results.append((NEGATIVE, NEGATIVE, f"{type(e).__name__}: {e}"))
    return results
