"""PTB-XL's own labels (`--labels ptbxl`): `ptbxl_database.csv` beside the records, its
statements mapped to the 24 classes.

PTB-XL's records carry no labels in their headers: `ptbxl_database.csv` gives each record
(`ecg_id`; its files in `filename_hr` and `filename_lr`, e.g. `records500/00000/00491_hr`) its
SCP-ECG statements with a likelihood (`scp_codes`, `{'NORM': 100.0, 'SR': 0.0}`), its heart
axis, the patient's age and sex (0 male, 1 female), and the fold PTB-XL recommends
(`strat_fold`: 1-8 training, 9 validation, 10 test). `ecgnet/data/ptbxl_mapping.csv` maps
statements and axis values to SNOMED CT codes of the 24 classes, each row with its evidence
(following the Challenge 2020's own mapping of PTB-XL where it can be established; see
docs/data.md). PTB-XL gives a likelihood (15 to 100) to its diagnostic statements only;
`min_likelihood` drops those below it (the Challenge kept them all), never a rhythm or form
statement, whose likelihood PTB-XL writes as 0.
"""

import os
import re
from dataclasses import dataclass
from importlib import resources

import numpy as np

from .csvfiles import Problems, read_table
from .errors import InputFileError, RecordError
from .headers import load_header, parse_age
from .preprocess import demographics

DATABASE = "ptbxl_database.csv"
MAPPING = "ptbxl_mapping.csv"
TRAINING_FOLDS, VALIDATION_FOLD, TEST_FOLD = range(1, 9), 9, 10
_SEARCHED_LEVELS = 3  # DATA and the two folders above it (PTB-XL's records500/00000/...)
_REQUIRED = ("ecg_id", "age", "sex", "scp_codes", "heart_axis", "strat_fold", "filename_lr", "filename_hr")
_STATEMENT = re.compile(r"'([^'\n]{1,32})'\s*:\s*([0-9]{1,3}(?:\.[0-9]*)?)")
_STATEMENTS = re.compile(r"^\{\s*(?:" + _STATEMENT.pattern + r"\s*(?:,\s*" + _STATEMENT.pattern + r"\s*)*)?\}$")
_SEXES = {"0": "male", "1": "female"}


@dataclass(frozen=True)
class Entry:
    """One PTB-XL record's labels and facts."""

    ecg_id: int
    dx: tuple[str, ...]  # SNOMED CT codes of the mapped statements and axis, in mapping order
    age: float | None  # years as written (PTB-XL writes 300 for over 89); None when missing
    sex: str | None  # "male", "female" or None
    strat_fold: int  # 1..10

    @property
    def model_age(self) -> float | None:
        """The age as the model reads it (`headers.parse_age`: over 89 is 90)."""
        return None if self.age is None else parse_age(repr(self.age))


@dataclass(frozen=True)
class MappingRow:
    column: str  # "scp_codes" or "heart_axis"
    statement: str
    diagnostic: bool  # whether PTB-XL gives it a likelihood
    code: str  # SNOMED CT code, "" where the statement maps to none of the 24 classes


def read_mapping() -> list[MappingRow]:
    """The rows of `ecgnet/data/ptbxl_mapping.csv`."""
    import csv
    import io

    text = resources.files("ecgnet").joinpath("data", MAPPING).read_text()
    return [
        MappingRow(row["column"], row["statement"], row["kind"] == "diagnostic", row["snomed_code"])
        for row in csv.DictReader(io.StringIO(text))
    ]


def parse_statements(text: str) -> dict[str, float] | None:
    """`{'NORM': 100.0, 'SR': 0.0}` as a dict, or None when it is not written that way."""
    if not _STATEMENTS.match(text.strip()):
        return None
    return {code: float(value) for code, value in _STATEMENT.findall(text)}


def map_labels(
    statements: dict[str, float], heart_axis: str, mapping: list[MappingRow], min_likelihood: float = 0.0
) -> tuple[str, ...]:
    """The SNOMED CT codes of a record's statements and heart axis under `mapping`, each once, in
    mapping order; a diagnostic statement counts only with a likelihood of at least `min_likelihood`."""
    codes = []
    for row in mapping:
        if row.column == "heart_axis":
            present = heart_axis == row.statement
        else:
            likelihood = statements.get(row.statement)
            present = likelihood is not None and (not row.diagnostic or likelihood >= min_likelihood)
        if present and row.code and row.code not in codes:
            codes.append(row.code)
    return tuple(codes)


def find_database(data_folder: str | os.PathLike) -> str:
    """The `ptbxl_database.csv` in DATA or in one of the two folders above it."""
    folder = os.path.abspath(data_folder)
    for _ in range(_SEARCHED_LEVELS):
        path = os.path.join(folder, DATABASE)
        if os.path.isfile(path):
            return path
        folder = os.path.dirname(folder)
    raise InputFileError(
        f"{data_folder}: --labels ptbxl needs {DATABASE} in this folder or one of the two above it (as PTB-XL ships it)"
    )


def _entry(row, mapping: list[MappingRow], min_likelihood: float, problems: Problems) -> Entry | None:
    """The Entry of one CSV row, or None after adding its problems to `problems`."""
    ok = True

    def bad(column: str, allowed: str) -> None:
        nonlocal ok
        problems.value(row.number, column, row[column], allowed)
        ok = False

    ecg_id = int(row["ecg_id"]) if row["ecg_id"].isdigit() and len(row["ecg_id"]) < 10 else None
    if ecg_id is None:
        bad("ecg_id", "a number")
    statements = parse_statements(row["scp_codes"])
    if statements is None:
        bad("scp_codes", "a dict of statements and likelihoods such as {'NORM': 100.0, 'SR': 0.0}")
    fold = row["strat_fold"]
    if fold not in {str(k) for k in range(1, 11)}:
        bad("strat_fold", "a fold from 1 to 10")
    age = None
    if row["age"]:
        try:
            age = float(row["age"])
        except ValueError:
            bad("age", "a number of years, or empty")
    sex = _SEXES.get(row["sex"].removesuffix(".0")) if row["sex"] else None
    if row["sex"] and sex is None:
        bad("sex", "0 (male), 1 (female) or empty")
    if not ok or ecg_id is None or statements is None:
        return None
    return Entry(ecg_id, map_labels(statements, row["heart_axis"], mapping, min_likelihood), age, sex, int(fold))


class PtbxlLabels:
    """The labels of `ptbxl_database.csv` (`path`), by record name: the file names of its
    `filename_hr` and `filename_lr` columns (`00491_hr`, `00491_lr`)."""

    def __init__(self, path: str | os.PathLike, min_likelihood: float = 0.0):
        if not 0 <= min_likelihood <= 100:
            raise InputFileError(f"the minimum likelihood must be from 0 to 100, not {min_likelihood:g}")
        self.path, self.min_likelihood = os.fspath(path), min_likelihood
        mapping = read_mapping()
        table = read_table(self.path, "PTB-XL database", required=_REQUIRED)
        problems = Problems(self.path)
        self.entries: dict[str, Entry] = {}
        for row in table.rows:
            entry = _entry(row, mapping, min_likelihood, problems)
            for column in ("filename_hr", "filename_lr"):
                name = os.path.basename(row[column])
                if entry is not None and name:
                    if name in self.entries:
                        problems.add(row.number, column, f"record {name!r} is named by an earlier row too")
                    self.entries[name] = entry
        problems.raise_any()

    @classmethod
    def beside(cls, data_folder: str | os.PathLike, min_likelihood: float = 0.0) -> "PtbxlLabels":
        """The labels of the `ptbxl_database.csv` found by `find_database`."""
        return cls(find_database(data_folder), min_likelihood)

    def entry(self, record_name: str) -> Entry | None:
        return self.entries.get(record_name)

    def record_entry(self, record_name: str, path: str) -> Entry:
        """The Entry of a record (its file `path` named in the error), or RecordError."""
        entry = self.entries.get(record_name)
        if entry is None:
            raise RecordError(
                path, f"record {record_name!r} is not in {self.path} (no filename_hr or filename_lr names it)"
            )
        return entry

    def demographics(self, record_name: str, path: str) -> np.ndarray:
        """A record's demographic inputs (`preprocess.demographics`) from the CSV's age and sex."""
        entry = self.record_entry(record_name, path)
        return demographics(entry.model_age, entry.sex)

    def describe(self) -> str:
        return f"PTB-XL labels from {self.path} (minimum likelihood {self.min_likelihood:g})"


def given_dx(name: str, header_path: str, labels: PtbxlLabels | None) -> tuple[str, ...]:
    """A record's labels (SNOMED CT codes): its header's #Dx, or (`labels`) its PTB-XL statements mapped."""
    if labels is None:
        return load_header(header_path).dx
    return labels.record_entry(name, header_path).dx
