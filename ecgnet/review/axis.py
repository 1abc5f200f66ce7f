"""Agreement on the frontal QRS axis the reviewers measured (the answer form's axis_degrees).

- Between reviewers: the intraclass correlation ICC(A,1) (`stats.icc_agreement`) over the items
  every reviewer measured, and the mean absolute difference of every pair; angles are on a
  circle, so each item's values are unwrapped around the first reviewer's (-170 and 175 are 15
  degrees apart, not 345).
- The axis-defined classes: left axis deviation is an axis from -30 to -90 degrees, right axis
  deviation from +90 to +180 (`criteria`). Cohen's kappa of every pair of reviewers on that
  cut-off, of each reviewer's axis against their own answer for the class (do they apply the
  criterion they measured?) and against the dataset's label.
- Older practice: the dataset's LAD labels whose reviewers' mean axis lies from 0 to -30 degrees
  (left axis deviation only by the older 0 to -90 definition) are counted.
- Repeats: each reviewer's mean absolute difference between an item and its repeat.

Items a reviewer marked uninterpretable (quality U) or answered "?" are left out and counted.
"""

import itertools
from typing import Any

import numpy as np

from .answers import Answers, Kit, Question
from .stats import RESAMPLES, _number, _rng, cohen, icc_agreement

LAD, RAD = "39732003", "47665007"
AXIS_CLASSES = {LAD: (-90.0, -30.0), RAD: (90.0, 180.0)}  # class: axis range, degrees, ends included
OLDER_LAD = (-30.0, 0.0)  # left axis deviation by the older 0 to -90 definition only


def wrap(difference: float | np.ndarray) -> np.ndarray:
    """An angle difference brought into [-180, 180)."""
    return (np.asarray(difference, dtype=float) + 180.0) % 360.0 - 180.0


def measured(answer: Answers, review_id: str) -> float | None:
    """A reviewer's axis of an item, None when not measured, "?" or uninterpretable."""
    item = answer.items.get(review_id)
    if item is None or item.quality == "U":
        return None
    return item.axis


def in_range(angle: float, code: str) -> int:
    low, high = AXIS_CLASSES[code]
    return int(low <= angle <= high)


def between(items: list[str], answers: list[Answers]) -> dict:
    """ICC and pairwise differences over `items` (review IDs)."""
    complete: list[np.ndarray] = []
    left_out = 0
    for review_id in items:
        values = [v for v in (measured(a, review_id) for a in answers) if v is not None]
        if len(values) < len(answers):
            left_out += 1
            continue
        complete.append(values[0] + wrap(np.array(values) - values[0]))
    out: dict[str, Any] = {
        "icc": icc_agreement(np.array(complete).reshape(len(complete), len(answers))),
        "left_out": left_out,
    }
    out["pairs"] = {}
    for a, b in itertools.combinations(answers, 2):
        both = [(measured(a, r), measured(b, r)) for r in items]
        pairs = [(x, y) for x, y in both if x is not None and y is not None]
        difference = np.abs(wrap(np.array([x - y for x, y in pairs]))) if pairs else np.array([])
        out["pairs"][f"{a.reviewer}~{b.reviewer}"] = {
            "n": len(pairs),
            "mean_absolute_difference": _number(difference.mean()) if pairs else None,
            "within_15_degrees": int((difference <= 15).sum()),
        }
    return out


def cutoff(questions: list[Question], answers: list[Answers], code: str, seed: int, resamples: int) -> dict:
    """Kappas of the class `code` defined by the measured axis, over `questions` (of that class)."""
    out: dict[str, Any] = {
        "range_degrees": list(AXIS_CLASSES[code]),
        "between": {},
        "vs_own_answer": {},
        "vs_labels": {},
    }
    for a, b in itertools.combinations(answers, 2):
        both = [(measured(a, q.review_id), measured(b, q.review_id)) for q in questions]
        pairs = [(in_range(x, code), in_range(y, code)) for x, y in both if x is not None and y is not None]
        name = f"{a.reviewer}~{b.reviewer}"
        out["between"][name] = _cohen(pairs, seed, f"axis/{code}/between/{name}", resamples, (a.reviewer, b.reviewer))
    for a in answers:
        own, labels = [], []
        for q in questions:
            angle = measured(a, q.review_id)
            if angle is None:
                continue
            labels.append((in_range(angle, code), q.given))
            if a.cells.get((q.review_id, code)) is not None:
                own.append((in_range(angle, code), a.cells[(q.review_id, code)]))
        raters = (f"{a.reviewer}'s axis", f"{a.reviewer}'s answer")
        out["vs_own_answer"][a.reviewer] = _cohen(own, seed, f"axis/{code}/own/{a.reviewer}", resamples, raters)
        raters = (f"{a.reviewer}'s axis", "the labels")
        out["vs_labels"][a.reviewer] = _cohen(labels, seed, f"axis/{code}/labels/{a.reviewer}", resamples, raters)
    return out


def _cohen(pairs: list, seed: int, key: str, resamples: int, raters: tuple[str, str]) -> dict:
    x, y = (np.array(p) for p in zip(*pairs)) if pairs else ([], [])
    return cohen(x, y, _rng(seed, key), resamples, raters=raters)


def older_lad(questions: list[Question], answers: list[Answers]) -> dict:
    """The LAD-labelled items whose reviewers' mean axis is from 0 to -30 degrees."""
    count, measured_items = 0, 0
    for q in questions:
        values = [v for v in (measured(a, q.review_id) for a in answers) if v is not None]
        if q.given != 1 or not values:
            continue
        measured_items += 1
        mean = values[0] + float(np.mean(wrap(np.array(values) - values[0])))
        count += OLDER_LAD[0] < mean <= OLDER_LAD[1]
    return {"labelled_and_measured": measured_items, "axis_0_to_minus_30": count}


def repeats(kit: Kit, answer: Answers) -> dict:
    """One reviewer's axis of each repeat against its first showing."""
    differences = []
    for review_id, first in kit.items.items():
        if first.group != "repeat":
            continue
        x, y = measured(answer, first.repeat_of), measured(answer, review_id)
        if x is not None and y is not None:
            differences.append(abs(float(wrap(x - y))))
    return {"n": len(differences), "mean_absolute_difference": _number(np.mean(differences)) if differences else None}


def axis_report(
    kit: Kit, answers: list[Answers], groups: dict[str, tuple], seed: int = 0, resamples: int = RESAMPLES
) -> dict:
    """The "axis" entry of the agreement report: per group of items ("all" pools suspects and
    controls) the agreement between reviewers and the axis-defined classes the kit asks."""
    asked = {code for code, _ in kit.classes}
    report = {"given": {}, "groups": {}, "repeats": {a.reviewer: repeats(kit, a) for a in answers}}
    for a in answers:
        report["given"][a.reviewer] = {
            "degrees": sum(item.axis is not None for item in a.items.values()),
            "indeterminate": sum(item.axis_indeterminate for item in a.items.values()),
            "not_given": sum(item.axis is None and not item.axis_indeterminate for item in a.items.values()),
        }
    for group, members in groups.items():
        items = [r for r, q in kit.items.items() if q.group in members]
        entry = between(items, answers)
        entry["items"] = len(items)
        for code in sorted(asked & AXIS_CLASSES.keys()):
            questions = [q for q in kit.questions if q.code == code and q.group in members]
            entry[code] = cutoff(questions, answers, code, seed, resamples)
            if code == LAD:
                entry[code]["older_definition"] = older_lad(questions, answers)
        report["groups"][group] = entry
    return report
