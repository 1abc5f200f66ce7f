"""The reading and writing rules for files people open: ecgnet.files.read_text / read_json and
ecgnet.csvfiles (spreadsheet-safe cells, every problem of a CSV named at once)."""

import csv
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecgnet.csvfiles import Problems, cell_text, read_table, spreadsheet_cell, write_table
from ecgnet.errors import InputFileError
from ecgnet.files import read_json, read_text


@pytest.mark.parametrize("text", ["=cmd|' -C calc'!A4", "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx", "'quoted", "-"])
def test_formula_cells_are_marked_as_text(text):
    cell = spreadsheet_cell(text)
    assert cell == "'" + text
    assert cell_text(cell) == text


@pytest.mark.parametrize("text", ["-0.5", "+3", "-1e-3", "A0001", "0", "", "a=b", "HR00001"])
def test_plain_cells_and_numbers_stay_as_they_are(text):
    assert spreadsheet_cell(text) == text


_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12).map(str.strip)
# Cells as people and tools write them: no surrounding spaces (reading strips them), some
# starting like a formula.
_CELL = _TEXT | st.tuples(st.sampled_from(["=", "+", "-", "@", "\t", "\r", "'"]), _TEXT.filter(bool)).map("".join)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(_CELL, min_size=2, max_size=2)))
def test_write_then_read_gives_back_every_cell(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    write_table(path, ["a", "b"], rows)
    with open(path, newline="", encoding="utf-8") as f:
        written = list(csv.reader(f))[1:]
    # No cell a spreadsheet would run: every written cell starting like a formula is a number.
    for cell in (c for r in written for c in r):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or float(cell) == float(cell)
    table = read_table(path, "table", ["a", "b"])
    assert [[r["a"], r["b"]] for r in table.rows] == [r for r in rows if any(r)]


def test_every_problem_of_a_file_is_named_at_once(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("x,y,x\n1,2,3,4\n5,6\n")
    with pytest.raises(InputFileError) as e:
        read_table(path, "answers file", ["x", "y"])
    message = str(e.value)
    assert "2 problems" in message and "row 1" in message and "x appear more than once" in message
    assert "row 2: 4 cells where the header has 3 columns" in message


def test_collected_value_problems_name_row_column_value_and_what_is_allowed(tmp_path):
    problems = Problems(tmp_path / "f.csv")
    problems.value(3, "quality", "excellent", "G, A, P or U")
    problems.value(5, "confidence", "9", "1 to 5")
    with pytest.raises(InputFileError) as e:
        problems.raise_any()
    assert "row 3, column quality: 'excellent' is not allowed (G, A, P or U)" in str(e.value)
    assert "row 5, column confidence: '9'" in str(e.value)


def test_a_semicolon_file_gets_a_hint(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("record;class;label\nA1;1;0\n")
    with pytest.raises(InputFileError, match="semicolons between cells"):
        read_table(path, "overrides file", ["record", "class"])


def test_byte_order_mark_is_dropped_and_short_rows_padded(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("\ufeffrecord,class\r\nA1\r\n\r\n".encode())
    table = read_table(path, "file", ["record", "class"])
    assert table.header == ["record", "class"]
    assert [(r.number, r.cells) for r in table.rows] == [(2, {"record": "A1", "class": ""})]


def test_text_that_is_not_utf8_is_refused_with_its_line(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"record,class\nA1,\xe9\n")
    with pytest.raises(InputFileError, match=r"a.csv: the file is not UTF-8 text \(line 2"):
        read_text(path, "file", 1000)


def test_files_over_the_limit_are_refused_before_reading(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"x" * 101)
    with pytest.raises(InputFileError, match="101 bytes, more than the 100 allowed"):
        read_text(path, "answers file", 100)
    assert read_text(path, "answers file", 101) == "x" * 101


def test_folders_pipes_and_missing_files_are_refused_by_name(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, problem in ((fifo, "not a regular file"), (tmp_path, "a folder"), (tmp_path / "none", "missing")):
        with pytest.raises(InputFileError, match=problem):
            read_text(path, "overrides file", 1000)


def test_json_errors_name_line_and_column_and_nan_is_refused(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('{\n "a": 1,\n}')
    with pytest.raises(InputFileError, match=r"a.json: the summary is not valid JSON \(line 3, column 1"):
        read_json(path, "summary", 1000)
    path.write_text('{"a": NaN}')
    with pytest.raises(InputFileError, match="NaN is not a JSON number"):
        read_json(path, "summary", 1000)
    path.write_text('{"a": [1, 2.5]}')
    assert read_json(path, "summary", 1000) == {"a": [1, 2.5]}
