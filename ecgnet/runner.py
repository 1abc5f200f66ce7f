"""The driver's work: classify every record of a folder and write one output file per record.

Records are read and classified in chunks, so memory stays flat however many records there
are, while each chunk holds enough views to fill the network's batches. A record that cannot
be read or classified never stops the run: its reason is reported with its name, an
all-negative output file is still written, and the run ends with a summary.
"""
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from . import labels as label_space
from .inference import default_batch_samples, read_record
from .outputs import write_output
from .records import RecordError


@dataclass
class DriverReport:
    written: int = 0
    failures: list = field(default_factory=list)  # (record name, reason)


def find_recordings(folder):
    """Record names of the `.mat` files of a folder (hidden files ignored), sorted."""
    if not os.path.isdir(folder):
        raise RecordError(folder, "data folder does not exist")
    return sorted(os.path.splitext(n)[0] for n in os.listdir(folder)
                  if n.lower().endswith(".mat") and not n.startswith(".")
                  and os.path.isfile(os.path.join(folder, n)))


def _chunks(names, data_folder, config, chunk_samples, report, log):
    """Yield lists of prepared records whose total length is about `chunk_samples`."""
    chunk, samples = [], 0
    for name in names:
        try:
            record = read_record(os.path.join(data_folder, name + ".hea"), config)
            record.name = name  # outputs are named after the file, whatever the header says
        except RecordError as e:
            report.failures.append((name, str(e)))
            log(f"failed: {name}: {e}")
            yield [], [name]
            continue
        chunk.append(record)
        samples += record.signal.shape[1]
        if samples >= chunk_samples:
            yield chunk, []
            chunk, samples = [], 0
    if chunk:
        yield chunk, []


def run_folder(ensemble, data_folder, output_folder, log=None, progress_seconds=10.0):
    """Classify every recording of `data_folder` into `output_folder`; returns a DriverReport."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    names = find_recordings(data_folder)
    os.makedirs(output_folder, exist_ok=True)
    report = DriverReport()
    classes = label_space.CLASSES
    negative = np.zeros(label_space.NUM_CLASSES)
    chunk_samples = 8 * default_batch_samples(ensemble.device)
    started = last_report = time.time()
    for records, failed in _chunks(names, data_folder, ensemble.config, chunk_samples, report, log):
        for name in failed:
            write_output(output_folder, name, classes, negative, negative)
            report.written += 1
        if records:
            for record, (labels, probabilities) in zip(records, _classify_isolating_failures(ensemble, records, report, log)):
                write_output(output_folder, record.name, classes, labels, probabilities)
                report.written += 1
        if time.time() - last_report >= progress_seconds:
            last_report = time.time()
            rate = report.written / (last_report - started)
            log(f"driver: {report.written}/{len(names)} records ({rate:.1f} records/s, {len(report.failures)} failed)")
    log(f"driver: wrote {report.written} output files for {len(names)} recordings in "
        f"{time.time() - started:.1f} s; {len(report.failures)} failed")
    return report


def _classify_isolating_failures(ensemble, records, report, log):
    """Per-record (labels, probabilities); if a chunk fails, retry record by record so that
    only the records that really fail get all-negative outputs."""
    try:
        labels, probabilities = ensemble.classify(records)
        return list(zip(labels, probabilities))
    except Exception:  # noqa: BLE001 - isolate the failing records below
        pass
    results = []
    negative = np.zeros(label_space.NUM_CLASSES)
    for record in records:
        try:
            labels, probabilities = ensemble.classify([record])
            results.append((labels[0], probabilities[0]))
        except Exception as e:  # noqa: BLE001 - any failure of one record must not stop the run
            report.failures.append((record.name, f"{type(e).__name__}: {e}"))
            log(f"failed: {record.name}: {type(e).__name__}: {e}")
            results.append((negative, negative))
    return results
