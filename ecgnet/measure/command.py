"""`ecgnet measure DATA OUT [--jobs N] [--rate HZ]`: OUT/measurements.csv for every record of DATA.

Every record the driver would classify is measured (`ecgnet.folders.list_records`, read by
`ecgnet.records.read_record`, so the same rates, lengths and lead sets). One that cannot be read
or measured gets a row of blank values with quality `failed` and the reason; the run goes on.
"""

import os
import sys
import time
from collections.abc import Iterator, Sequence

from .. import options
from ..errors import EcgnetError, RecordError, describe, first_line
from ..folders import RecordFiles, list_records
from ..headers import load_header, misstated_gain
from ..records import read_record
from .record import Measurement, measure
from .table import MEASUREMENTS_FILE, write_measurements

RATE = 500  # Hz: records are measured at this rate (most sources record at 500 Hz)
PROGRESS_SECONDS = 10.0

DOC = """Measure every record of a folder as a 12-lead machine does: heart rate, RR variability, PR,
QRS, QT, QTc (Bazett, Fridericia), P/QRS/T frontal axes, QRS voltages.

Writes OUT/measurements.csv, one row per record (every NAME.hea, and every NAME.mat without one):
record, heart_rate_bpm, rr_sd_ms, pr_ms, qrs_ms, qt_ms, qtc_bazett_ms, qtc_fridericia_ms,
p_axis_deg, qrs_axis_deg, t_axis_deg, qrs_amp_limb_mv, qrs_amp_precordial_mv, beats, quality,
reason. A blank cell is a value that could not be measured, never a guess; quality is ok,
noisy or failed, and reason says why a value is blank or the record doubtful. A record that
cannot be read is a failed row with the reader's reason; the run goes on.
Headers that state 4880/mV (Georgia) or 200/mV (PTB-XL) for samples in 1000/mV units (the first
releases of those sources) are read at 1000/mV, as the later releases state, and the reason says so.
Exit status: 0 written, 1 an error (named in one line)."""


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


def main(argv: Sequence[str] | None = None, prog: str = "ecgnet measure") -> int:
    from ..cli import _parser

    parser = _parser(prog, DOC)
    parser.add_argument("data", help="folder of records (NAME.hea + NAME.mat)")
    parser.add_argument("out", help="folder to write measurements.csv into (made if missing)")
    parser.add_argument("--jobs", type=options.processes, default=1, help="processes measuring records (-1: all cores)")
    parser.add_argument("--rate", type=int, default=RATE, help="sampling rate records are measured at, Hz")
    args = parser.parse_args(argv)
    if args.jobs == 0 or args.jobs < -1:
        parser.error("--jobs must be a number of processes from 1, or -1 for all cores")
    if not 100 <= args.rate <= 2000:
        parser.error("--rate must be from 100 to 2000 Hz")
    try:
        rows = measure_folder(args.data, args.jobs, args.rate)
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, MEASUREMENTS_FILE)
        write_measurements(path, rows)
    except (EcgnetError, OSError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 1
    counts = {q: sum(r["quality"] == q for r in rows) for q in ("ok", "noisy", "failed")}
    print(f"{len(rows)} records ({counts['ok']} ok, {counts['noisy']} noisy, {counts['failed']} failed): {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
