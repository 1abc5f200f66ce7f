"""measurements.csv, the file `ecgnet measure` writes and the rule reader, the audit, the review
kit and the report read: one row per record, `record.COLUMNS` in that order, a blank cell where
a value was not measured."""

import csv
import io
import math
import os

from ..errors import EcgnetError
from ..files import atomic_write
from .record import COLUMNS, VALUES

MEASUREMENTS_FILE = "measurements.csv"
QUALITIES = ("ok", "noisy", "failed")


class MeasurementsError(EcgnetError):
    """A measurements file that cannot be read; the message names the file, row and column."""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e6 else f"{value:.0f}"
    return str(value)


def write_measurements(path: str | os.PathLike, rows: list[dict[str, object]]) -> None:
    """Write `rows` (dictionaries with every column) to `path`, whole or not at all."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in COLUMNS])
    atomic_write(path, text.getvalue())


def read_measurements(path: str | os.PathLike) -> dict[str, dict[str, object]]:
    """{record: row} of a measurements.csv; values as floats (None when blank), beats an int.
    A file with other columns, an unreadable number or a repeated record is refused, naming
    the file, row and column."""
    path = os.fspath(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None or tuple(h.strip() for h in header) != COLUMNS:
                raise MeasurementsError(f"{path} row 1: the header must be {','.join(COLUMNS)}")
            rows = {}
            for number, cells in enumerate(reader, start=2):
                if not cells:
                    continue
                if len(cells) != len(COLUMNS):
                    raise MeasurementsError(f"{path} row {number}: {len(cells)} cells, expected {len(COLUMNS)}")
                row = _parse(dict(zip(COLUMNS, cells)), path, number)
                if row["record"] in rows:
                    raise MeasurementsError(f"{path} row {number}, column record: {row['record']!r} appears twice")
                rows[row["record"]] = row
    except UnicodeDecodeError:
        raise MeasurementsError(f"{path}: not a UTF-8 text file") from None
    return rows


def _parse(cells: dict[str, str], path: str, number: int) -> dict[str, object]:
    row: dict[str, object] = {"record": cells["record"], "reason": cells["reason"]}
    for column in VALUES + ("beats",):
        text = cells[column].strip()
        try:
            value = float(text) if text else None
        except ValueError:
            value = math.nan
        if value is not None and not math.isfinite(value):
            raise MeasurementsError(f"{path} row {number}, column {column}: {text!r} is not a finite number")
        row[column] = value
    row["beats"] = int(row["beats"] or 0)
    if cells["quality"] not in QUALITIES:
        raise MeasurementsError(f"{path} row {number}, column quality: {cells['quality']!r} is not one of {QUALITIES}")
    row["quality"] = cells["quality"]
    return row


def machine_line(row: dict[str, object]) -> str:
    """The line a 12-lead machine prints above the tracing, from a measurements row
    ("--" where a value is blank)."""

    def value(column: str, unit: str = "") -> str:
        v = row.get(column)
        return "--" if v is None else f"{float(v):.0f}{unit}"

    return (
        f"HR {value('heart_rate_bpm')} bpm   PR {value('pr_ms')} ms   QRS {value('qrs_ms')} ms   "
        f"QT/QTc {value('qt_ms')}/{value('qtc_bazett_ms')} ms   "
        f"P/QRS/T axes {value('p_axis_deg')}/{value('qrs_axis_deg')}/{value('t_axis_deg')} deg"
    )
