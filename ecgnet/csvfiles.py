"""CSV files that people open in spreadsheet programs: read with every problem named, written
with cells that cannot run as formulas.

Writing (`write_table`): a text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage
return would run as a formula when the file is opened in a spreadsheet (a record named
`=cmd|' -C calc'!A4`), so it is written with a leading apostrophe, the spreadsheet's own
"this is text" mark (OWASP's CSV-injection rule). Numbers such as `-0.5` are left alone. A
cell that itself starts with an apostrophe gets one more, so reading (`cell_text`) gives back
exactly what was written.

Reading (`read_table`): through `files.read_text` (regular file, size limit, UTF-8 with or
without a byte order mark), then every problem of the file at once, each with its row as a
spreadsheet numbers it (the header is row 1) and its column: missing or repeated columns, rows
with more cells than the header, a file that seems to use semicolons or tabs between cells.
"""

import csv
import io
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import EcgnetError, InputFileError, quote
from .files import atomic_file, read_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"
MAX_CSV_BYTES = 50 * 1024 * 1024  # far beyond any table of these tools; read whole into memory
SHOWN_PROBLEMS = 20  # a message lists at most this many problems and counts the rest


def _is_number(text: str) -> bool:
    if text != text.strip():  # float() accepts "\t1", which a spreadsheet would not show as written
        return False
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def spreadsheet_cell(value: object) -> str:
    """`value` as a CSV cell that a spreadsheet shows as written and never runs as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(TEXT_MARK) or (text.startswith(FORMULA_STARTS) and not _is_number(text)):
        return TEXT_MARK + text
    return text


def cell_text(cell: str) -> str:
    """The text a cell written by `spreadsheet_cell` stands for (its leading apostrophe dropped)."""
    return cell[1:] if cell.startswith(TEXT_MARK) else cell


def write_table(path: str | os.PathLike, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Write a CSV file of `header` and `rows` (sequences in the header's order) whole or not at
    all (`files.atomic_file`), every cell through `spreadsheet_cell`."""
    with atomic_file(path) as f:
        writer = csv.writer(f, lineterminator="\n")
        # csv quotes a cell holding "\n" (the line terminator) but not one holding a lone "\r",
        # which its reader takes for a line break: such rows are written fully quoted.
        quoted = csv.writer(f, lineterminator="\n", quoting=csv.QUOTE_ALL)
        for row in (header, *rows):
            cells = [spreadsheet_cell(c) for c in row]
            (quoted if any("\r" in c for c in cells) else writer).writerow(cells)


class Problems:
    """The problems found in one file, collected so that all are reported at once."""

    def __init__(self, path: str | os.PathLike, error: type[EcgnetError] = InputFileError):
        self.path = os.fspath(path)
        self.error = error
        self.found: list[str] = []

    def add(self, row: int | None, column: str | None, problem: str) -> None:
        """One problem; `row` as a spreadsheet numbers it, `column` by its header name."""
        where = ", ".join(p for p in (f"row {row}" if row else "", f"column {column}" if column else "") if p)
        self.found.append(f"{where}: {problem}" if where else problem)

    def value(self, row: int, column: str, value: str, allowed: str) -> None:
        """A cell whose `value` is not allowed; `allowed` says what is."""
        self.add(row, column, f"{quote(value)} is not allowed ({allowed})")

    def __bool__(self) -> bool:
        return bool(self.found)

    def message(self) -> str:
        shown = self.found[:SHOWN_PROBLEMS]
        more = len(self.found) - len(shown)
        if len(self.found) == 1:
            return f"{self.path}: {self.found[0]}"
        lines = [f"{self.path}: {len(self.found)} problems"] + [f"  {p}" for p in shown]
        if more:
            lines.append(f"  ... and {more} more")
        return "\n".join(lines)

    def raise_any(self) -> None:
        """Raise the error class given at construction, listing every problem, if there are any."""
        if self.found:
            raise self.error(self.message())


@dataclass(frozen=True)
class Row:
    number: int  # as a spreadsheet numbers it: the header is row 1
    cells: dict[str, str]  # column -> stripped text (`cell_text` applied); "" where absent

    def __getitem__(self, column: str) -> str:
        return self.cells[column]


@dataclass(frozen=True)
class Table:
    path: str
    header: list[str]
    rows: list[Row]


def _delimiter_hint(first_line: str) -> str:
    for delimiter, name in ((";", "semicolons"), ("\t", "tabs")):
        if delimiter in first_line and first_line.count(delimiter) > first_line.count(","):
            return f" (the file seems to use {name} between cells: save it as CSV with commas, e.g. 'CSV UTF-8')"
    return ""


def read_table(
    path: str | os.PathLike,
    what: str,
    required: Sequence[str] = (),
    max_bytes: int = MAX_CSV_BYTES,
    error: type[EcgnetError] = InputFileError,
) -> Table:
    """The rows of the CSV file `path` (its role `what`, e.g. "answers file"), whose header must
    hold the `required` columns. Blank rows are skipped; a row shorter than the header has empty
    cells for the rest. Every problem is reported at once, as one `error`."""
    try:
        text = read_text(path, what, max_bytes)
    except InputFileError as e:
        raise error(str(e)) from None
    problems = Problems(path, error)
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise error(f"{path}: the {what} is not a readable CSV file ({e})") from None
    if not records:
        raise error(f"{path}: the {what} is empty (a header row is needed: {','.join(required)})")
    header = [cell_text(c.strip()) for c in records[0]]
    missing = [c for c in required if c not in header]
    if missing:
        hint = _delimiter_hint(text.partition("\n")[0])
        raise error(f"{path}: row 1 has no column {', '.join(missing)}{hint}")
    repeated = sorted({c for c in header if c and header.count(c) > 1})
    if repeated:
        problems.add(1, None, f"column(s) {', '.join(repeated)} appear more than once")
    rows = []
    for index, record in enumerate(records[1:], start=2):
        if not any(c.strip() for c in record):
            continue
        extra = [c for c in record[len(header) :] if c.strip()]
        if extra:
            problems.add(index, None, f"{len(record)} cells where the header has {len(header)} columns")
        cells = {name: cell_text(record[i].strip()) if i < len(record) else "" for i, name in enumerate(header)}
        rows.append(Row(index, cells))
    problems.raise_any()
    return Table(os.fspath(path), header, rows)
