"""The driver's work: classify every record of a folder and write one output file per record.

Every record of the folder counts: each NAME.hea, and each NAME.mat without a header
(`folders.iter_records`, in subfolders too when asked or when the folder has no records of its
own). The folder is listed twice, streaming: once to count its records and refuse two of one
name before any output is written, then to classify them. Records are read and classified in
chunks, so memory stays flat however many records there are, while each chunk holds enough
views to fill the network's batches. A reader thread reads and measures the next chunk while
the network classifies this one (`_ahead`): reading and measuring are single-threaded NumPy,
which would otherwise leave a core idle. For collections spread over machines, `Shard` K/N takes
the records whose name hashes to K of N (stable across machines and runs), and
`skip_existing` passes over records whose output file exists (written whole or not at all, so
an existing one is finished), which resumes an interrupted run. A record that fails, whether
it cannot be read (`records.read_record`), its classification fails or is not finite, or its
output file cannot be written, never stops the run: its reason is logged with its name, an
all-negative output file is still written where its name allows, and the run ends with a
summary.
"""

import logging
import os
import queue
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import labels as label_space
from .errors import OutputError, RecordError, describe
from .features import MeasurementTable
from .folders import RecordFiles, iter_records
from .inference import Ensemble, default_batch_samples
from .outputs import write_output
from .ptbxl import PtbxlLabels
from .records import Record, read_record

log = logging.getLogger(__name__)

NEGATIVE = np.zeros(label_space.NUM_CLASSES)

# Records are read and classified in chunks of this many batches' samples: enough views for
# the batch plan to find nearly equal lengths; more only held memory (docs/speed.md).
CHUNK_BATCHES = 2
# The first chunk is this much smaller: the network waits for it alone, with a core idle
# (about 0.4 s of reading and measuring on the sample records before it).
FIRST_CHUNK_DIVISOR = 8


@dataclass
class DriverReport:
    written: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (record name, reason)
    existing: int = 0  # records passed over for their existing output file (skip_existing)


@dataclass(frozen=True)
class Shard:
    """Part `index` (1..count) of a folder's records: those whose name's CRC-32 is
    index - 1 modulo count, the same on every machine, run and listing order."""

    index: int
    count: int

    def __post_init__(self):
        if not 1 <= self.index <= self.count:
            raise ValueError(f"shard {self.index}/{self.count}: K/N needs 1 <= K <= N")

    def holds(self, name: str) -> bool:
        return zlib.crc32(name.encode("utf-8", "surrogateescape")) % self.count == self.index - 1


def prepare_output_folder(folder: str) -> None:
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputError(f"output folder {folder} is a file, not a folder")
    os.makedirs(folder, exist_ok=True)


# A chunk: its records, their measurements (`Ensemble.measure`), and the records that could
# not be read, as (name, reason).
Chunk = tuple[list[Record], MeasurementTable | None, list[tuple[str, str]]]


def _chunks(
    found: Iterable[RecordFiles],
    ensemble: Ensemble,
    chunk_samples: int,
    labels: PtbxlLabels | None = None,
) -> Iterator[Chunk]:
    """Yield the records of `found` read and measured, in chunks whose total length is about
    `chunk_samples` (the first FIRST_CHUNK_DIVISOR times less); records that cannot be read are
    listed in their chunk's failures. With `labels`, age and sex come from them."""
    chunk: list[Record] = []
    failures: list[tuple[str, str]] = []
    samples = 0
    limit = chunk_samples // FIRST_CHUNK_DIVISOR
    for files in found:
        try:
            record = read_record(files, ensemble.config.sample_rate)
            if labels is not None:
                record.demographics = labels.demographics(files.name, files.header_path)
        except RecordError as e:
            failures.append((files.name, str(e)))
            continue
        chunk.append(record)
        samples += record.signal.shape[1]
        if samples >= limit:
            yield chunk, _measured(ensemble, chunk), failures
            chunk, failures, samples, limit = [], [], 0, chunk_samples
    if chunk or failures:
        yield chunk, _measured(ensemble, chunk), failures


def _measured(ensemble: Ensemble, records: list[Record]) -> MeasurementTable | None:
    """`ensemble.measure(records)`; None if that fails, so that `classify` measures them again
    where a failure is isolated to the records that cause it (`_classify_isolating_failures`)."""
    if not records:
        return None
    try:
        return ensemble.measure(records)
    except Exception:  # noqa: BLE001 - measured again, and reported, where it can be isolated
        return None


def _ahead(items: Iterator[Chunk]) -> Iterator[Chunk]:
    """`items`, made one ahead in a thread of their own; an exception there is raised here."""
    made: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    end = object()

    def make() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        made.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            made.put((end, None))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            made.put((end, e))

    thread = threading.Thread(target=make, name="ecgnet-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, error = made.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stop.set()  # the consumer stopped early: let the thread end
        while thread.is_alive():
            try:
                made.get(timeout=0.1)
            except queue.Empty:
                pass


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

    def chosen(name: str) -> bool:
        if shard is not None and not shard.holds(name):
            return False
        if not strat_folds:
            return True
        assert labels is not None  # strat_folds come with PTB-XL's labels
        entry = labels.entry(name)
        return entry is None or entry.strat_fold in strat_folds  # a record missing from the labels fails by name

    total = sum(1 for files in iter_records(data_folder, recursive, require=True) if chosen(files.name))
    prepare_output_folder(output_folder)
    run = _Run(output_folder)

    def todo() -> Iterator[RecordFiles]:
        for files in iter_records(data_folder, recursive):
            if not chosen(files.name):
                continue
            if skip_existing and os.path.isfile(os.path.join(output_folder, files.name + ".csv")):
                run.report.existing += 1
                continue
            yield files

    chunk_samples = CHUNK_BATCHES * default_batch_samples(ensemble.device)
    started = last_report = time.time()
    for records, measurements, failures in _ahead(_chunks(todo(), ensemble, chunk_samples, labels)):
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
    part = f" (shard {shard.index}/{shard.count})" if shard is not None else ""
    existing = f", {run.report.existing} already had one" if skip_existing else ""
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
