"""measurements.csv, the file `ecgnet measure` writes and the rule reader, the audit, the review
kit and the report read: one row per record, `record.COLUMNS` in that order, a blank cell where
a value was not measured."""

import math
import os
from typing import cast

from ..csvfiles import Problems, Row, read_table, write_table
from ..errors import EcgnetError
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
    """Write `rows` (dictionaries with every column) to `path`, whole or not at all, with cells a
    spreadsheet never runs as formulas (`ecgnet.csvfiles`)."""
    write_table(path, COLUMNS, ([_cell(row[c]) for c in COLUMNS] for row in rows))


def read_measurements(path: str | os.PathLike) -> dict[str, dict[str, object]]:
    """{record: row} of a measurements.csv; values as floats (None when blank), beats an int.
    Every problem (a missing column, an unreadable number, an unknown quality, a repeated
    record) is reported at once, naming the file, row and column."""
    table = read_table(path, "measurements file", COLUMNS, error=MeasurementsError)
    problems = Problems(path, MeasurementsError)
    rows: dict[str, dict[str, object]] = {}
    for row in table.rows:
        parsed = _parse(row, problems)
        if parsed["record"] in rows:
            problems.add(row.number, "record", f"{parsed['record']!r} appears twice")
        rows[str(parsed["record"])] = parsed
    problems.raise_any()
    return rows


def _parse(row: Row, problems: Problems) -> dict[str, object]:
    out: dict[str, object] = {"record": row["record"], "reason": row["reason"]}
    for column in VALUES + ("beats",):
        text = row[column]
        try:
            value = float(text) if text else None
        except ValueError:
            value = math.nan
        if value is not None and not math.isfinite(value):
            problems.value(row.number, column, text, "a finite number or blank")
            value = None
        out[column] = value
    beats = out["beats"]
    out["beats"] = int(beats) if isinstance(beats, float) else 0
    if row["quality"] not in QUALITIES:
        problems.value(row.number, "quality", row["quality"], ", ".join(QUALITIES))
    out["quality"] = row["quality"]
    return out


def machine_line(row: dict[str, object]) -> str:
    """The line a 12-lead machine prints above the tracing, from a measurements row
    ("--" where a value is blank)."""

    def value(column: str, unit: str = "") -> str:
        v = row.get(column)
        return "--" if v is None else f"{float(cast(float, v)):.0f}{unit}"

    return (
        f"HR {value('heart_rate_bpm')} bpm   PR {value('pr_ms')} ms   QRS {value('qrs_ms')} ms   "
        f"QT/QTc {value('qt_ms')}/{value('qtc_bazett_ms')} ms   "
        f"P/QRS/T axes {value('p_axis_deg')}/{value('qrs_axis_deg')}/{value('t_axis_deg')} deg"
    )
