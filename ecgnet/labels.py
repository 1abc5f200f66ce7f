"""The challenge's label space: 24 scored classes, their weights, multi-hot encoding.

The official files (`ecgnet/data/`, copied unchanged from physionetchallenges/evaluation-2020)
list 27 scored SNOMED CT codes. Three pairs are scored as one class, represented by the first
code of the pair, which leaves 24 classes. Their order is fixed: the order of the columns of
`weights.csv` with the second code of each pair removed. Every array in this project with a
class axis uses this order (`CLASSES`).
"""

import csv
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

NORMAL_CLASS = "426783006"  # sinus rhythm
EQUIVALENT_CLASSES = (
    ("713427006", "59118001"),  # complete RBBB ~ RBBB
    ("284470004", "63593006"),  # PAC ~ SVPB
    ("427172004", "17338001"),  # PVC ~ VPB
)
REPRESENTATIVE = {code: pair[0] for pair in EQUIVALENT_CLASSES for code in pair}


def canonical_code(code: str) -> str:
    """The class a SNOMED CT code is scored as (the pair's first code for equivalent pairs)."""
    return REPRESENTATIVE.get(code, code)


def _data_text(name):
    return resources.files("ecgnet").joinpath("data", name).read_text()


def read_weight_table(text: str) -> tuple[list[str], np.ndarray]:
    """Parse a weights.csv text into (codes, matrix) exactly as the official scorer reads it:
    cells stripped, non-numeric cells become NaN, rows must have the header's length."""
    rows = [[cell.strip() for cell in line.split(",")] for line in text.splitlines()]
    rows = [r for r in rows if r != [""]]
    codes = rows[0][1:]
    if len(rows) - 1 != len(codes) or any(len(r) != len(codes) + 1 for r in rows[1:]):
        raise ValueError("weights table is not square")
    if [r[0] for r in rows[1:]] != codes:
        raise ValueError("weights table rows and columns name different codes")
    values = np.full((len(codes), len(codes)), np.nan)
    for i, row in enumerate(rows[1:]):
        for j, cell in enumerate(row[1:]):
            try:
                values[i, j] = float(cell)
            except ValueError:
                pass
    return codes, values


def collapse_equivalent(codes: list[str], values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Merge equivalent codes: keep the first occurrence of each class, in table order."""
    merged = [canonical_code(c) for c in codes]
    keep = [i for i, c in enumerate(merged) if c not in merged[:i]]
    for i, c in enumerate(merged):
        j = merged.index(c)
        if i != j and not (
            np.array_equal(values[i], values[j], equal_nan=True)
            and np.array_equal(values[:, i], values[:, j], equal_nan=True)
        ):
            raise ValueError(f"equivalent codes {codes[j]} and {codes[i]} have different weights")
    return [merged[i] for i in keep], values[np.ix_(keep, keep)]


def _load_mapping(name):
    with resources.files("ecgnet").joinpath("data", name).open() as f:
        return {row["SNOMED CT Code"].strip(): row for row in csv.DictReader(f)}


_CLASS_LIST, WEIGHTS = collapse_equivalent(*read_weight_table(_data_text("weights.csv")))
CLASSES = tuple(_CLASS_LIST)
NUM_CLASSES = len(CLASSES)
CLASS_INDEX = {c: i for i, c in enumerate(CLASSES)}
NORMAL_INDEX = CLASS_INDEX[NORMAL_CLASS]
_SCORED = _load_mapping("dx_mapping_scored.csv")
_UNSCORED = _load_mapping("dx_mapping_unscored.csv")
ABBREVIATIONS = tuple(_SCORED[c]["Abbreviation"] for c in CLASSES)
SCORED_NAMES = {code: row["Dx"].strip() for code, row in _SCORED.items()}  # every scored code, equivalents too
NAMES = tuple(SCORED_NAMES[c] for c in CLASSES)  # the diagnosis name of each class
KNOWN_UNSCORED_CODES = frozenset(_UNSCORED)


@dataclass
class LabelCounts:
    """Codes seen while encoding that are not scored, so users can see what was ignored."""

    unscored: Counter = field(default_factory=Counter)  # listed in dx_mapping_unscored.csv
    unknown: Counter = field(default_factory=Counter)  # in neither official mapping

    def add(self, code: str) -> None:
        if code in KNOWN_UNSCORED_CODES:
            self.unscored[code] += 1
        else:
            self.unknown[code] += 1

    def summary(self) -> str:
        return (
            f"{sum(self.unscored.values())} unscored codes ({len(self.unscored)} distinct), "
            f"{sum(self.unknown.values())} unknown codes ({len(self.unknown)} distinct) ignored"
        )


def encode(codes: Iterable[str], counts: LabelCounts | None = None) -> np.ndarray:
    """Multi-hot vector (float32, CLASSES order) of a record's SNOMED CT codes.

    Equivalent codes are merged; empty items are skipped; unscored and unknown codes are
    ignored and, when `counts` is given, counted there."""
    y = np.zeros(NUM_CLASSES, dtype=np.float32)
    for code in codes:
        code = code.strip()
        if not code:
            continue
        index = CLASS_INDEX.get(canonical_code(code))
        if index is not None:
            y[index] = 1.0
        elif counts is not None:
            counts.add(code)
    return y
