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

import csv
import os
from dataclasses import dataclass, field

import numpy as np

from . import labels as label_space
from .errors import EcgnetError
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
    with open(path + ".tmp", "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(OVERRIDE_COLUMNS)
        writer.writerows(rows)
    os.replace(path + ".tmp", path)


def read_overrides(path):
    """An overrides file, every row checked; OverridesError names the file, row and column."""
    path = str(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise OverridesError(f"{path} is missing") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise OverridesError(f"{path} is not a readable CSV text file ({e})") from None
    if not rows or [c.strip() for c in rows[0]] != list(OVERRIDE_COLUMNS):
        raise OverridesError(f"{path} row 1: the header must be {','.join(OVERRIDE_COLUMNS)}")
    labels, masked, dropped, weights, seen, by_record = {}, set(), set(), {}, {}, {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(OVERRIDE_COLUMNS):
            raise OverridesError(f"{path} row {number}: {len(row)} columns, expected 3 (record,class,label)")
        record, code, label = (cell.strip() for cell in row)

        def bad(column, problem, number=number):
            return OverridesError(f"{path} row {number}, column {column}: {problem}")

        if not record or name_problem(record):
            raise bad("record", name_problem(record) if record else "the record name is empty")
        weight = parse_weight(label[len(WEIGHT) :]) if label.startswith(WEIGHT) else None
        if label.startswith(WEIGHT) and weight is None:
            raise bad("label", f"{label!r}: the weight of weight:W must be a number from 0 to 1")
        if weight is None and label not in ("1", "0", "mask", "drop"):
            raise bad("label", f"{label!r} is not 1, 0, mask, weight:W (W from 0 to 1) or drop")
        if (label == "drop") != (code == ALL_CLASSES):
            raise bad("class", "drop goes with class * (the whole record), and class * only with drop")
        if code != ALL_CLASSES:
            canonical = label_space.canonical_code(code)
            if canonical not in label_space.CLASS_INDEX:
                raise bad("class", f"{code!r} is not a SNOMED CT code of the 24 scored classes")
            code = canonical
        if (record, code) in seen:
            raise bad("class", f"record {record} and class {code} are already overridden on row {seen[(record, code)]}")
        others = by_record.setdefault(record, {})
        conflict = others.get(ALL_CLASSES) if code != ALL_CLASSES else next(iter(others.values()), None)
        if conflict:
            raise bad("label", f"record {record} is dropped and has class overrides (rows {conflict} and {number})")
        seen[(record, code)] = others[code] = number
        if label == "drop":
            dropped.add(record)
        elif label == "mask":
            masked.add((record, label_space.CLASS_INDEX[code]))
        elif weight is not None:
            weights[(record, label_space.CLASS_INDEX[code])] = weight
        else:
            labels[(record, label_space.CLASS_INDEX[code])] = int(label)
    return Overrides(path, labels, frozenset(masked), frozenset(dropped), weights)


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
    rows = {}
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
