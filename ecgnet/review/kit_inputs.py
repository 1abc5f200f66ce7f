"""The review kit's inputs: `--classes`, the audit's label_issues.csv, a MODEL folder's
out-of-fold probabilities and thresholds, and a `--records` file, each checked."""

import os

import numpy as np

from .. import labels as label_space
from ..csvfiles import MAX_CSV_BYTES, Problems, read_table
from ..errors import EcgnetError, InputFileError, quote
from ..files import read_text
from ..thresholds import apply_thresholds

AUDIT_COLUMNS = ("record", "class", "given_label", "oof_probability", "threshold", "issue", "rank")


class ReviewKitError(EcgnetError):
    """Inputs a review kit cannot be built from; the message says which and why."""


def parse_classes(text):
    """Canonical codes, in `CLASSES` order, of `--classes` (codes or abbreviations)."""
    by_abbreviation = {a.lower(): c for c, a in zip(label_space.CLASSES, label_space.ABBREVIATIONS)}
    codes = set()
    for item in filter(None, (t.strip() for t in text.split(","))):
        code = by_abbreviation.get(item.lower(), label_space.canonical_code(item))
        if code not in label_space.CLASS_INDEX:
            raise ReviewKitError(f"--classes: {item!r} is not one of the {label_space.NUM_CLASSES} scored classes")
        codes.add(code)
    if not codes:
        raise ReviewKitError("--classes names no class")
    return [c for c in label_space.CLASSES if c in codes]


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def read_audit(path, classes):
    """Rows of the audit's label_issues.csv (for `classes` only, when given), by rank, each a
    dict of its cells and its row number ("row"); ReviewKitError lists every row whose class
    is not a scored one or whose rank is not a number."""
    table = read_table(path, "audit file (label_issues.csv)", AUDIT_COLUMNS, error=ReviewKitError)
    problems = Problems(path, ReviewKitError)
    rows = []
    for row in table.rows:
        cells = {**row.cells, "class": label_space.canonical_code(row["class"]), "row": row.number}
        if cells["class"] not in label_space.CLASS_INDEX:
            problems.value(row.number, "class", row["class"], f"one of the {label_space.NUM_CLASSES} scored classes")
        elif _number(row["rank"]) is None:
            problems.value(row.number, "rank", row["rank"], "a number")
        elif not classes or cells["class"] in classes:
            rows.append(cells)
    problems.raise_any()
    return sorted(rows, key=lambda r: (_number(r["rank"]), r["record"], r["class"]))


def unknown_records(path, rows, known):
    """ReviewKitError naming every row of `path` (rows as `read_audit` gives them) whose record
    is not among `known`, the records of DATA: an audit of other records is never used in part."""
    unknown = [row for row in rows if row["record"] not in known]
    if unknown:
        shown = ", ".join(f"row {r['row']} {quote(r['record'])}" for r in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise ReviewKitError(
            f"{path}: {len(unknown)} of its rows name records that are not in DATA ({shown}{more}); "
            "give the DATA folder the audit was run on"
        )


def audit_model_outputs(rows):
    """{record: {class: (label, probability)}} from audit rows: the label is probability >=
    threshold, or, without both, what the issue says the model thinks."""
    outputs: dict[str, dict[str, tuple[int | None, float | None]]] = {}
    for row in rows:
        probability, threshold = _number(row["oof_probability"]), _number(row["threshold"])
        label: int | None
        if probability is not None and threshold is not None:
            label = int(probability >= threshold)
        else:
            label = {"spurious": 0, "missing": 1}.get(row["issue"].strip())
        outputs.setdefault(row["record"], {})[row["class"]] = (label, probability)
    return outputs


def model_outputs(folder):
    """{record: {class: (label, probability)}} from a MODEL folder's out-of-fold probabilities
    and model.json thresholds (labels as the model gives them: threshold or most probable)."""
    from .. import modelstore  # imports torch: only when a model is given

    thresholds = modelstore.read_manifest(folder).get("thresholds")
    if (
        not isinstance(thresholds, list)
        or len(thresholds) != label_space.NUM_CLASSES
        or any(_number(t) is None or not 0 <= t <= 1 for t in thresholds)
    ):
        raise ReviewKitError(f"{folder}/model.json: thresholds must be {label_space.NUM_CLASSES} numbers from 0 to 1")
    oof = modelstore.read_oof_probabilities(os.path.join(folder, "oof_probabilities.csv"))
    labels = apply_thresholds(oof.probabilities, np.asarray(thresholds, dtype=np.float64))
    return {
        name: {c: (int(labels[i, k]), float(oof.probabilities[i, k])) for k, c in enumerate(label_space.CLASSES)}
        for i, name in enumerate(oof.names)
    }


def read_names(path):
    """Record names of a `--records` file: one a line; blank lines and `#` comments skipped
    (`files.read_text`: a regular file within the size limit, UTF-8 with or without a BOM)."""
    try:
        text = read_text(path, "records file", MAX_CSV_BYTES)
    except InputFileError as e:
        raise ReviewKitError(str(e)) from None
    names = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not names:
        raise ReviewKitError(f"{path}: lists no record")
    return list(dict.fromkeys(names))
