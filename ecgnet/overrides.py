"""Label overrides: corrected labels for training, beside the records (no `.hea` is edited).

An overrides file is CSV `record,class,label`: label `1` or `0` sets that class of that record,
`mask` removes that (record, class) cell from the training loss, `weight:W` (W from 0 to 1, e.g.
`weight:0.3`) keeps its label but counts its loss W times (a label the audit doubts: `ecgnet
relabel --from-audit` writes these; `weight:0` is `mask`, `weight:1` no change), and class `*`
with label `drop` leaves the record out. The class is a SNOMED CT code of the 24 scored classes (an equivalent
code is read as its class). `read_overrides` checks a file, `apply_overrides` applies it to
training's arrays and `unmatched` names its records that are not in the data.

Training reads these files (`ecgnet train --label-overrides`), so this module is core: it needs
numpy only, never the `review` extras (`ecgnet.review.relabel` writes such files from reviewers'
answers and re-exports these names).
"""

from dataclasses import dataclass, field

import numpy as np

from . import labels as label_space
from .csvfiles import Problems, read_table, write_table
from .errors import EcgnetError, quote
from .folders import name_problem

OVERRIDE_COLUMNS = ("record", "class", "label")
ALL_CLASSES = "*"
WEIGHT = "weight:"  # the label `weight:W`


class OverridesError(EcgnetError):
    """An overrides file that cannot be used, or a kit whose classes cannot be overridden."""


@dataclass(frozen=True)
class Overrides:
    """A checked overrides file. Class indices are in ecgnet.labels.CLASSES order."""

    path: str
    labels: dict  # {(record, class index): 0 or 1}
    masked: frozenset  # {(record, class index)}
    dropped: frozenset  # {record}
    weights: dict = field(default_factory=dict)  # {(record, class index): loss weight in [0, 1]}

    @property
    def records(self):
        cells = [*self.labels, *self.masked, *self.weights]
        return {r for r, _ in cells} | set(self.dropped)


def write_overrides(path, rows):
    """Write the overrides `rows` ((record, class, label) triples) whole or not at all, every
    cell spreadsheet-safe (`csvfiles.write_table`): a record named `=cmd...` cannot run."""
    write_table(path, OVERRIDE_COLUMNS, rows)


def read_overrides(path):
    """An overrides file, every row checked (`csvfiles.read_table`: a regular file within the
    size limit, UTF-8 with or without a byte order mark); OverridesError lists every problem
    with its row and column."""
    path = str(path)
    table = read_table(path, "label overrides file", OVERRIDE_COLUMNS, error=OverridesError)
    unknown = [c for c in table.header if c not in OVERRIDE_COLUMNS]
    if unknown:
        raise OverridesError(
            f"{path}: row 1: the header must be {','.join(OVERRIDE_COLUMNS)}, not {','.join(table.header)[:80]!r}"
        )
    return check_overrides(path, [(row.number, row["record"], row["class"], row["label"]) for row in table.rows])


def check_overrides(path, rows):
    """The `Overrides` of `rows` ((row number, record, class, label), as a file at `path` holds
    them); OverridesError lists every problem with its row and column. Writers check their rows
    with it before writing, so that a refused file never replaces a good one."""
    path = str(path)
    problems = Problems(path, OverridesError)
    labels: dict[tuple[str, int], int] = {}
    masked: set[tuple[str, int]] = set()
    dropped: set[str] = set()
    weights: dict[tuple[str, int], float] = {}
    seen: dict[tuple[str, str], int] = {}
    by_record: dict[str, dict[str, int]] = {}
    for number, record, code, label in rows:
        problem = _row_problem(record, code, label)
        if problem:
            problems.add(number, *problem)
            continue
        if code != ALL_CLASSES:
            code = label_space.canonical_code(code)
        if (record, code) in seen:
            problems.add(
                number,
                "class",
                f"record {record} and class {code} are already overridden on row {seen[(record, code)]}",
            )
            continue
        others = by_record.setdefault(record, {})
        conflict = others.get(ALL_CLASSES) if code != ALL_CLASSES else next(iter(others.values()), None)
        if conflict:
            problems.add(
                number, "label", f"record {record} is dropped and has class overrides (rows {conflict} and {number})"
            )
            continue
        seen[(record, code)] = others[code] = number
        weight = parse_weight(label[len(WEIGHT) :]) if label.startswith(WEIGHT) else None
        if label == "drop":
            dropped.add(record)
        elif label == "mask":
            masked.add((record, label_space.CLASS_INDEX[code]))
        elif weight is not None:
            weights[(record, label_space.CLASS_INDEX[code])] = weight
        else:
            labels[(record, label_space.CLASS_INDEX[code])] = int(label)
    problems.raise_any()
    return Overrides(path, labels, frozenset(masked), frozenset(dropped), weights)


def _row_problem(record, code, label):
    """(column, problem) of one row taken alone, or None."""
    if not record or name_problem(record):
        return "record", name_problem(record) if record else "the record name is empty"
    if not label:
        return "label", "the label is empty (1, 0, mask, weight:W or drop)"
    if label.startswith(WEIGHT) and parse_weight(label[len(WEIGHT) :]) is None:
        return "label", f"{quote(label)}: the weight of weight:W must be a number from 0 to 1"
    if not label.startswith(WEIGHT) and label not in ("1", "0", "mask", "drop"):
        return "label", f"{quote(label)} is not 1, 0, mask, weight:W (W from 0 to 1) or drop"
    if (label == "drop") != (code == ALL_CLASSES):
        return "class", "drop goes with class * (the whole record), and class * only with drop"
    if code != ALL_CLASSES and label_space.canonical_code(code) not in label_space.CLASS_INDEX:
        return "class", f"{quote(code)} is not a SNOMED CT code of the 24 scored classes"
    return None


def parse_weight(text):
    """The W of a `weight:W` label, or None where it is not a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 <= value <= 1 else None  # NaN fails too


def apply_overrides(names, labels, overrides):
    """(labels, loss_mask, keep) for training: a copy of `labels` (records x 24, CLASSES order)
    with the overridden cells set, float32 loss weights (0 where masked, W where `weight:W`,
    else 1) and a boolean per record (False where dropped). Cells and records not named are
    unchanged; records of `overrides` that are not among `names` are ignored (see `unmatched`)."""
    labels = np.array(labels, copy=True)
    if labels.ndim != 2 or labels.shape != (len(names), label_space.NUM_CLASSES):
        raise ValueError(f"labels must be ({len(names)}, {label_space.NUM_CLASSES}), not {labels.shape}")
    rows: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        rows.setdefault(name, []).append(i)
    loss_mask = np.ones(labels.shape, dtype=np.float32)
    keep = np.ones(len(names), dtype=bool)
    for (record, k), value in overrides.labels.items():
        labels[rows.get(record, []), k] = value
    for record, k in overrides.masked:
        loss_mask[rows.get(record, []), k] = 0.0
    for (record, k), weight in overrides.weights.items():
        loss_mask[rows.get(record, []), k] = weight
    for record in overrides.dropped:
        keep[rows.get(record, [])] = False
    return labels, loss_mask, keep


def unmatched(names, overrides):
    """Records named by `overrides` that are not among `names`, sorted (for training's log)."""
    return sorted(overrides.records - set(names))


def summary(names, overrides):
    """What `overrides` does to the records `names`: counts of labels set, cells masked, cells
    down-weighted and records dropped among them, and the number of its records that are not
    among them."""
    present = set(names)
    return {
        "set": sum(r in present for r, _ in overrides.labels),
        "masked": sum(r in present for r, _ in overrides.masked),
        "weighted": sum(r in present for r, _ in overrides.weights),
        "dropped": sum(r in present for r in overrides.dropped),
        "unmatched": len(unmatched(names, overrides)),
    }
