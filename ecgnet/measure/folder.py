"""Measuring every record of a folder: the rows of measurements.csv (`ecgnet measure DATA OUT`).

Every record the driver would classify is measured (`ecgnet.folders.list_records`, read by
`ecgnet.records.read_record`, so the same rates, lengths and lead sets). One that cannot be read
or measured gets a row of blank values with quality `failed` and the reason; the run goes on.
"""

import sys
import time
from collections.abc import Iterator

from ..errors import RecordError, first_line
from ..folders import RecordFiles, list_records
from ..headers import load_header, misstated_gain
from ..records import read_record
from .record import Measurement, measure

RATE = 500  # Hz: records are measured at this rate (most sources record at 500 Hz)
PROGRESS_SECONDS = 10.0


def _failed_row(name: str, reason: str) -> dict[str, object]:
    return Measurement(reasons=[reason]).row(name)


def measure_record(files: RecordFiles, rate: int = RATE) -> dict[str, object]:
    """The measurements row of one record; never raises: a failure is that record's row."""
    try:
        record = read_record(files, rate)
        gains = misstated_gain(load_header(files.header_path))
    except RecordError as e:
        return _failed_row(files.name, f"cannot read record: {e.problem}")
    factor = gains[0] / gains[1] if gains else 1.0
    try:
        row = measure(record.signal * factor, rate, record.missing).row(files.name)
    except Exception as e:  # noqa: BLE001 - one record's unexpected failure is that record's
        return _failed_row(files.name, f"measuring failed unexpectedly ({type(e).__name__}: {first_line(e)})")
    if gains:
        note = f"gain stated {gains[0]:g}/mV read as {gains[1]:g}/mV"
        row["reason"] = f"{row['reason']}; {note}" if row["reason"] else note
    return row


def measure_folder(data: str, jobs: int = 1, rate: int = RATE, progress: bool = True) -> list[dict[str, object]]:
    """The rows of every record of `data`, in `list_records` order, measured by `jobs` processes."""
    records = list_records(data, require=True)
    rows = []
    started = last = time.monotonic()
    for row in _rows(records, jobs, rate):
        rows.append(row)
        now = time.monotonic()
        if progress and (now - last >= PROGRESS_SECONDS or len(rows) == len(records)) and len(records) > 1:
            last = now
            failed = sum(r["quality"] == "failed" for r in rows)
            print(
                f"measured {len(rows)}/{len(records)} records ({failed} failed), {now - started:.0f} s",
                file=sys.stderr,
            )
    return rows


def _rows(records: list[RecordFiles], jobs: int, rate: int) -> Iterator[dict[str, object]]:
    if jobs == 1 or len(records) < 2:
        return (measure_record(r, rate) for r in records)
    from joblib import Parallel, delayed

    return Parallel(n_jobs=jobs, return_as="generator", batch_size=8)(delayed(measure_record)(r, rate) for r in records)
