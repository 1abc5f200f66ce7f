"""The driver's records: which of a folder's records a run classifies, read and measured in
chunks ahead of the network. Nothing here imports torch.

Reading and measuring are single-threaded NumPy. A reader thread runs them one chunk ahead of
the network (`ahead`), so that they do not leave a core idle while it classifies. Before that,
`HeadStart` runs them in a process forked before the driver imports torch and loads its model
(about 1.5 s with one core busy, which a thread cannot share: the import holds Python's lock);
the run then takes the chunks that process made and reads the rest itself.
"""

import logging
import multiprocessing
import os
import queue
import sys
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection

from .config import Config
from .errors import OutputError, RecordError
from .features import MeasurementTable, measure_for
from .folders import RecordFiles, iter_records
from .ptbxl import PtbxlLabels
from .records import Record, read_record

log = logging.getLogger(__name__)

# Records are read and classified in chunks of this many batches' samples: enough views for
# the batch plan to find nearly equal lengths; more only held memory (docs/speed.md).
CHUNK_BATCHES = 2
# The first chunk is this much smaller than the others: the network waits for it alone, with a
# core idle (about 0.4 s of reading and measuring on the sample records).
FIRST_CHUNK_DIVISOR = 8
# A CPU's chunk (`inference.default_batch_samples("cpu")` per batch), what the head start uses
# before the device is known.
CPU_CHUNK_SAMPLES = CHUNK_BATCHES * 16 * 4096
# The chunks a head start reads: about 1.3 s of reading and measuring on the sample records (one
# small, three of CPU_CHUNK_SAMPLES: about 120 ten-second records), held in memory until taken.
HEAD_START_CHUNKS = 4

# A chunk: its records, their measurements (`features.measure_for`), and the records that could
# not be read, as (name, reason).
Chunk = tuple[list[Record], MeasurementTable | None, list[tuple[str, str]]]


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


@dataclass(frozen=True)
class Selection:
    """Which records of `data_folder` a run classifies (`runner.run_folder` describes each)."""

    data_folder: str
    output_folder: str
    recursive: bool | None = None
    shard: Shard | None = None
    skip_existing: bool = False
    labels: PtbxlLabels | None = None
    strat_folds: frozenset[int] | None = None

    def chosen(self, name: str) -> bool:
        """Whether the record `name` is in the shard and the chosen folds."""
        if self.shard is not None and not self.shard.holds(name):
            return False
        if not self.strat_folds:
            return True
        assert self.labels is not None  # strat_folds come with PTB-XL's labels
        entry = self.labels.entry(name)
        return entry is None or entry.strat_fold in self.strat_folds  # a record missing from the labels fails by name

    def count(self) -> int:
        """The chosen records, listed once (and refused if two share a name) before any output."""
        listed = iter_records(self.data_folder, self.recursive, require=True)
        return sum(1 for files in listed if self.chosen(files.name))

    def done(self, name: str) -> bool:
        """Whether `name` is passed over for its existing output file (`skip_existing`)."""
        return self.skip_existing and os.path.isfile(os.path.join(self.output_folder, name + ".csv"))


def prepare_output_folder(folder: str) -> None:
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputError(f"output folder {folder} is a file, not a folder")
    os.makedirs(folder, exist_ok=True)


def read_chunks(
    found: Iterable[RecordFiles], config: Config, chunk_samples: int, labels: PtbxlLabels | None = None
) -> Iterator[Chunk]:
    """Yield the records of `found` read at `config`'s rate and measured as it needs, in chunks
    whose total length is about `chunk_samples` (the first FIRST_CHUNK_DIVISOR times less);
    records that cannot be read are listed in their chunk's failures. With `labels`, age and
    sex come from them."""
    chunk: list[Record] = []
    failures: list[tuple[str, str]] = []
    samples = 0
    limit = chunk_samples // FIRST_CHUNK_DIVISOR
    for files in found:
        try:
            record = read_record(files, config.sample_rate)
            if labels is not None:
                record.demographics = labels.demographics(files.name, files.header_path)
        except RecordError as e:
            failures.append((files.name, str(e)))
            continue
        chunk.append(record)
        samples += record.signal.shape[1]
        if samples >= limit:
            yield chunk, _measured(config, chunk), failures
            chunk, failures, samples, limit = [], [], 0, chunk_samples
    if chunk or failures:
        yield chunk, _measured(config, chunk), failures


def _measured(config: Config, records: list[Record]) -> MeasurementTable | None:
    """`features.measure_for(config, records)`; None if that fails, so that the run measures
    them again where a failure is isolated to the records that cause it
    (`runner._classify_isolating_failures`)."""
    if not records:
        return None
    try:
        return measure_for(config, records)
    except Exception:  # noqa: BLE001 - measured again, and reported, where it can be isolated
        return None


def ahead(items: Iterator[Chunk]) -> Iterator[Chunk]:
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


class HeadStart:
    """The first HEAD_START_CHUNKS chunks of a run, read and measured in a forked process
    that starts before the driver imports torch (`start`). The run takes its chunks (`chunks`)
    and reads every record they do not hold itself: a head start that fails or stops early
    costs time, never records."""

    def __init__(self, process: multiprocessing.process.BaseProcess, results: Connection) -> None:
        self.process, self._results = process, results  # the forked process; the pipe it sends on
        self.names: set[str] = set()  # the records of the chunks taken so far
        # Once the run takes chunks (`chunks`), a thread takes every message off the pipe as it
        # comes, so that the process ends, and its memory goes, as soon as it has sent them
        # instead of when the run gets to its last chunk. Not sooner: while torch is imported,
        # a thread receiving 64 KiB at a time would fight the import for the interpreter.
        self._received: queue.SimpleQueue = queue.SimpleQueue()
        self._receiver = threading.Thread(target=self._receive, name="ecgnet-head-start-receiver", daemon=True)

    def _receive(self) -> None:
        while True:
            try:
                message = self._results.recv()
            except (EOFError, OSError):
                message = ("stopped", None)
            except Exception as e:  # noqa: BLE001 - reported by the run, which reads on
                message = ("error", f"{type(e).__name__}: {e}")
            self._received.put(message)
            if message[0] != "chunk":
                return

    @classmethod
    def start(cls, config: Config, selection: Selection, chunks: int = HEAD_START_CHUNKS) -> "HeadStart | None":
        """The head start of a run, or None but on Linux (elsewhere forking a process that has
        loaded system libraries is not safe) and before torch is imported (a forked copy of it
        would not be safe either, and there would be nothing left to overlap)."""
        if not sys.platform.startswith("linux") or "torch" in sys.modules:
            return None
        context = multiprocessing.get_context("fork")
        results, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_head_start, args=(config, selection, chunks, sender), name="ecgnet-head-start", daemon=True
        )
        process.start()
        sender.close()  # only the process holds it now: the pipe ends when the process does
        return cls(process, results)

    def chunks(self) -> Iterator[Chunk]:
        """The chunks the process made, in order, until it ends; its failure ends them early."""
        self._receiver.start()
        try:
            while True:
                kind, payload = self._received.get()
                if kind == "stopped":
                    self.process.join()
                    log.warning(f"driver: the head start stopped (exit code {self.process.exitcode}); reading on")
                    return
                if kind == "end":
                    log.info(f"driver: {len(self.names)} records read and measured while the model loaded")
                    return
                if kind == "error":
                    log.warning(f"driver: the head start failed ({payload}); reading on")
                    return
                records, _, failures = payload
                self.names.update([r.name for r in records] + [name for name, _ in failures])
                yield payload
        finally:
            self.close()

    def close(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        if self._receiver.is_alive():
            self._receiver.join()  # the pipe's only writer has ended: the receiver sees its end
        self._results.close()


def _head_start(config: Config, selection: Selection, chunks: int, sender: Connection) -> None:
    """The head start process: the first `chunks` chunks of the chosen records, sent on `sender`
    by a thread, so that reading goes on while the driver is not yet taking them."""
    outbox: queue.SimpleQueue = queue.SimpleQueue()

    def send() -> None:
        while True:
            message = outbox.get()
            sender.send(message)
            if message[0] != "chunk":
                return

    thread = threading.Thread(target=send, name="ecgnet-head-start-sender")
    thread.start()
    try:
        found = iter_records(selection.data_folder, selection.recursive)
        chosen = (files for files in found if selection.chosen(files.name) and not selection.done(files.name))
        for _, chunk in zip(range(chunks), read_chunks(chosen, config, CPU_CHUNK_SAMPLES, selection.labels)):
            outbox.put(("chunk", chunk))
        outbox.put(("end", None))
    except BaseException as e:  # noqa: BLE001 - reported by the run, which reads on
        outbox.put(("error", f"{type(e).__name__}: {e}"))
    thread.join()
