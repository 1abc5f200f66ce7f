"""The driver's work: classify every record of a folder and write one output file per record.

Every record of the folder counts: each NAME.hea, and each NAME.mat without a header
(`folders.iter_records`, in subfolders too when asked or when the folder has no records of its
own). The folder is listed twice, streaming: once to count its records and refuse two of one
name before any output is written, then to classify them. Records are read and classified in
chunks, so memory stays flat however many records there are, while each chunk holds enough
views to fill the network's batches. A reader thread reads and measures the next chunk while
the network classifies this one, and a head start process the first ones while the driver
loads (`reading`): reading and measuring are single-threaded NumPy, which would otherwise leave
a core idle. For collections spread over machines, `Shard` K/N takes
the records whose name hashes to K of N (stable across machines and runs), and
`skip_existing` passes over records whose output file exists (written whole or not at all, so
an existing one is finished), which resumes an interrupted run. A record that fails, whether
it cannot be read (`records.read_record`), its classification fails or is not finite, or its
output file cannot be written, never stops the run: its reason is logged with its name, an
all-negative output file is still written where its name allows, and the run ends with a
summary.
"""

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import labels as label_space
from .errors import OutputError, describe
from .features import MeasurementTable
from .folders import RecordFiles, iter_records
from .inference import Ensemble, default_batch_samples
from .outputs import write_output
from .ptbxl import PtbxlLabels
from .reading import (
    CHUNK_BATCHES,
    Chunk,
    HeadStart,
    Selection,
    Shard,
    ahead,
    prepare_output_folder,
    read_chunks,
)
from .records import Record

log = logging.getLogger(__name__)

NEGATIVE = np.zeros(label_space.NUM_CLASSES)


@dataclass
class DriverReport:
    written: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (record name, reason)
    existing: int = 0  # records passed over for their existing output file (skip_existing)


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
    ensemble: Ensemble,
    data_folder: str,
    output_folder: str,
    progress_seconds: float = 10.0,
    recursive: bool | None = None,
    shard: Shard | None = None,
    skip_existing: bool = False,
    labels: PtbxlLabels | None = None,
    strat_folds: frozenset[int] | None = None,
) -> DriverReport:
    """Classify every record of `data_folder` (its subfolders' too when `recursive`, or when None
    and it has no records of its own; only `shard`'s part; without those whose output file
    exists, with `skip_existing`; age and sex from `labels` when given, and only the records of
    their `strat_folds` when given) into `output_folder`, logging progress every
    `progress_seconds`; returns a DriverReport."""
    selection = Selection(data_folder, output_folder, recursive, shard, skip_existing, labels, strat_folds)
    return classify_selection(ensemble, selection, progress_seconds)


def classify_selection(
    ensemble: Ensemble, selection: Selection, progress_seconds: float = 10.0, head_start: HeadStart | None = None
) -> DriverReport:
    """`run_folder` of a `reading.Selection`; `head_start`: its first chunks, read by a process
    (`reading.HeadStart`) started for the same selection."""
    total = selection.count()
    prepare_output_folder(selection.output_folder)
    run = _Run(selection.output_folder)

    def todo() -> Iterator[RecordFiles]:
        for files in iter_records(selection.data_folder, selection.recursive):
            if not selection.chosen(files.name):
                continue
            # Before `done`: the head start's records have their output files by now.
            if head_start is not None and files.name in head_start.names:
                continue  # read by the head start
            if selection.done(files.name):
                run.report.existing += 1
                continue
            yield files

    def chunks() -> Iterator[Chunk]:
        if head_start is not None:
            yield from head_start.chunks()
        # Listed only now, so that the records the head start holds are passed over.
        chunk_samples = CHUNK_BATCHES * default_batch_samples(ensemble.device)
        yield from ahead(read_chunks(todo(), ensemble.config, chunk_samples, selection.labels))

    started = last_report = time.time()
    for records, measurements, failures in chunks():
        for name, reason in failures:
            run.fail(name, reason)
        run.classified(records, _classify_isolating_failures(ensemble, records, measurements))
        if time.time() - last_report >= progress_seconds:
            last_report = time.time()
            done = run.report.written + len(run.report.failures)
            rate = done / (last_report - started)
            log.info(
                f"driver: {done + run.report.existing}/{total} records ({rate:.1f} records/s, "
                f"{len(run.report.failures)} failed, {run.report.existing} already done)"
            )
    part = f" (shard {selection.shard.index}/{selection.shard.count})" if selection.shard is not None else ""
    existing = f", {run.report.existing} already had one" if selection.skip_existing else ""
    log.info(
        f"driver: wrote {run.report.written} output files for {total} recordings{part} in "
        f"{time.time() - started:.1f} s{existing}; {len(run.report.failures)} failed"
    )
    return run.report


def _classify_isolating_failures(
    ensemble: Ensemble, records: Sequence[Record], measurements: MeasurementTable | None = None
) -> list[tuple]:
    """Per-record (labels, probabilities, failure or None); if a chunk fails, it is logged and
    retried record by record, so that only the records that really fail are failures."""
    if not records:
        return []
    try:
        labels, probabilities = ensemble.classify(records, measurements=measurements)
        return [(y, p, None) for y, p in zip(labels, probabilities)]
    except Exception as e:  # noqa: BLE001 - isolate the failing records below
        log.warning(
            f"driver: a chunk of {len(records)} records failed ({type(e).__name__}: {e}); classifying them one by one"
        )
    results: list[tuple[np.ndarray, np.ndarray, str | None]] = []
    for i, record in enumerate(records):
        try:
            one = None if measurements is None else measurements.take([i])
            labels, probabilities = ensemble.classify([record], measurements=one)
            results.append((labels[0], probabilities[0], None))
        except Exception as e:  # noqa: BLE001 - any failure of one record must not stop the run
            results.append((NEGATIVE, NEGATIVE, f"{type(e).__name__}: {e}"))
    return results
