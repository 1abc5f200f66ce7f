"""The review kit's inputs: `--classes`, the audit's label_issues.csv, a MODEL folder's
out-of-fold probabilities and thresholds, and a `--records` file, each checked."""

import csv
import os

import numpy as np

from .. import labels as label_space
from ..errors import EcgnetError
from ..thresholds import apply_thresholds


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


def read_csv(path, required):
    """Rows of a CSV file as dictionaries, after checking that it has the `required` columns."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or ())]
        if missing:
            raise ReviewKitError(f"{path}: row 1 has no column {', '.join(missing)}")
        return list(reader)


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def read_audit(path, classes):
    """Rows of the audit's label_issues.csv (for `classes` only, when given), by rank."""
    rows = read_csv(path, ("record", "class", "given_label", "oof_probability", "threshold", "issue", "rank"))
    for row in rows:
        row["class"] = label_space.canonical_code(row["class"].strip())
        if _number(row["rank"]) is None:
            raise ReviewKitError(f"{path}: rank {row['rank']!r} of record {row['record']!r} is not a number")
    rows = [r for r in rows if r["class"] in label_space.CLASS_INDEX and (not classes or r["class"] in classes)]
    return sorted(rows, key=lambda r: (_number(r["rank"]), r["record"], r["class"]))


def audit_model_outputs(rows):
    """{record: {class: (label, probability)}} from audit rows: the label is probability >=
    threshold, or, without both, what the issue says the model thinks."""
    outputs = {}
    for row in rows:
        probability, threshold = _number(row["oof_probability"]), _number(row["threshold"])
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
    labels = apply_thresholds(oof.probabilities, thresholds)
    return {
        name: {c: (int(labels[i, k]), float(oof.probabilities[i, k])) for k, c in enumerate(label_space.CLASSES)}
        for i, name in enumerate(oof.names)
    }


def read_names(path):
    """Record names of a `--records` file: one a line; blank lines and `#` comments skipped."""
    with open(path) as f:
        names = [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
    if not names:
        raise ReviewKitError(f"{path}: lists no record")
    return list(dict.fromkeys(names))
