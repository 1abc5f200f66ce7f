"""`ecgnet rules DATA OUT [--model MODEL] [--measurements CSV]`: the measurement rule reader.

The published criteria of every class a measurement defines (`ecgnet.measure.criteria`)
applied to each record's measurements: a second reader for the labels that never tires and can
be checked. Writes

  OUT/measurements.csv    the measurements (unless --measurements gives them)
  OUT/rule_labels.csv     record, class, abbreviation, rule (1, 0 or blank: cannot tell),
                          given_label (the record's #Dx, equivalent codes merged)
  OUT/rule_agreement.json per class: the criterion and its source, counts, and Cohen's kappa
                          with 95% intervals (asymptotic and bootstrap, as `ecgnet agreement`)
                          of the dataset labels against the rule, and with --model of the
                          model's thresholded out-of-fold labels against the rule and of the
                          labels against the model (on the same records); per source, how
                          many of the labelled records the rule confirms; and the labels'
                          kappa over the sources that give the class at least once (a source
                          that never gives it, as CPSC gives no axis, disagrees by design).

Records without a rule verdict (a blank: a value the criterion needs was not measured) are
left out of that class's kappas and counted. "table" is [[1/1, 1/0], [0/1, 0/0]], rows the
first named (labels, or model), columns the second (rule, or model).
"""

import json
import os
from typing import Any

import numpy as np

from .. import labels as label_space
from ..csvfiles import Problems, read_table, write_table
from ..errors import EcgnetError, RecordError
from ..files import atomic_write
from ..folders import list_records, name_prefix
from ..headers import load_header
from ..measure.criteria import CRITERIA, verdicts
from ..measure.table import MEASUREMENTS_FILE, read_measurements, write_measurements
from .stats import RESAMPLES, _rng, cohen

RULE_LABELS_FILE = "rule_labels.csv"
AGREEMENT_FILE = "rule_agreement.json"
RULE_COLUMNS = ("record", "class", "abbreviation", "rule", "given_label")


class RulesError(EcgnetError):
    """Inputs the rule reader cannot use; the message names the file."""


def read_labels(data: str) -> tuple[dict[str, np.ndarray], dict[str, str | None], list[str]]:
    """({record: 24 multi-hot labels}, {record: sex}, [records whose header cannot be read])."""
    labels, sexes, unreadable = {}, {}, []
    for files in list_records(data, require=True):
        try:
            if files.header is None:
                raise RecordError(files.header_path, "header file is missing")
            header = load_header(files.header)
        except RecordError:
            unreadable.append(files.name)
            continue
        labels[files.name] = label_space.encode(header.dx).astype(np.int8)
        sexes[files.name] = header.sex
    return labels, sexes, unreadable


def rule_table(measurements: dict[str, dict], sexes: dict[str, str | None]) -> dict[str, dict[str, int | None]]:
    """{record: {class code: verdict}} of every measured record."""
    return {name: verdicts(row, sexes.get(name)) for name, row in measurements.items()}


def write_rule_labels(path: str, rules: dict[str, dict], labels: dict[str, np.ndarray]) -> None:
    rows = []
    for name in sorted(rules):
        for c in CRITERIA:
            verdict = rules[name][c.code]
            given = labels[name][label_space.CLASS_INDEX[c.code]] if name in labels else None
            rows.append(
                (name, c.code, c.abbreviation, "" if verdict is None else verdict, "" if given is None else int(given))
            )
    write_table(path, RULE_COLUMNS, rows)


def read_rule_rows(path: str) -> list[tuple[str, str, int | None, int | None]]:
    """(record, class code, rule verdict, given label) of every row of a rule_labels.csv; every
    problem is reported at once, naming the file, row and column."""
    table = read_table(path, "rule labels file", RULE_COLUMNS, error=RulesError)
    problems = Problems(path, RulesError)
    out = []
    for row in table.rows:
        for column in ("rule", "given_label"):
            if row[column] not in ("", "0", "1"):
                problems.value(row.number, column, row[column], "1, 0 or blank")
        code = label_space.canonical_code(row["class"])
        if code not in label_space.CLASS_INDEX:
            problems.value(row.number, "class", row["class"], "a SNOMED CT code of the 24 scored classes")
        if not problems:
            verdict, given = row["rule"], row["given_label"]
            out.append((row["record"], code, int(verdict) if verdict else None, int(given) if given else None))
    problems.raise_any()
    return out


def read_rule_labels(path: str) -> dict[tuple[str, str], int | None]:
    """{(record, class code): verdict} of a rule_labels.csv (for the audit)."""
    return {(record, code): verdict for record, code, verdict, _ in read_rule_rows(path)}


def _pairs(names: list[str], first: dict, second: dict) -> tuple[np.ndarray | list, np.ndarray | list]:
    """(x, y) arrays over `names` where both are 0/1."""
    pairs = [(first[n], second[n]) for n in names if first.get(n) is not None and second.get(n) is not None]
    return (
        (np.array([p[0] for p in pairs], dtype=int), np.array([p[1] for p in pairs], dtype=int)) if pairs else ([], [])
    )


def _by_source(names, given, rule) -> dict[str, dict]:
    """Per source prefix: labelled records and how many the rule confirms, contradicts or cannot tell."""
    out = {}
    for prefix in sorted({name_prefix(n) for n in names}):
        labelled = [n for n in names if name_prefix(n) == prefix and given.get(n) == 1]
        met = sum(rule[n] == 1 for n in labelled)
        not_met = sum(rule[n] == 0 for n in labelled)
        out[prefix] = {
            "records": sum(name_prefix(n) == prefix for n in names),
            "labelled": len(labelled),
            "labelled_rule_met": met,
            "labelled_rule_not_met": not_met,
            "labelled_rule_blank": len(labelled) - met - not_met,
            "share_met": round(met / (met + not_met), 4) if met + not_met else None,
            "rule_positive": sum(name_prefix(n) == prefix and rule[n] == 1 for n in names),
        }
    return out


def agreement(rules, labels, model=None, seed=0, resamples=RESAMPLES) -> dict:
    """rule_agreement.json's content: per criterion, counts and kappas (see the module)."""
    names = sorted(set(rules) & set(labels))
    out: dict[str, Any] = {"records": len(names), "classes": {}}
    for c in CRITERIA:
        k = label_space.CLASS_INDEX[c.code]
        rule = {n: rules[n][c.code] for n in names}
        given = {n: int(labels[n][k]) for n in names}
        entry = {
            "abbreviation": c.abbreviation,
            "criterion": c.criterion,
            "source": c.source,
            "records": len(names),
            "rule_1": sum(v == 1 for v in rule.values()),
            "rule_0": sum(v == 0 for v in rule.values()),
            "rule_blank": sum(v is None for v in rule.values()),
            "label_positives": sum(given.values()),
            "labels_vs_rule": cohen(*_pairs(names, given, rule), _rng(seed, f"{c.code}/labels"), resamples),
            "sources": _by_source(names, given, rule),
        }
        # Sources that never give the class (CPSC labels no axis) make every rule positive there a
        # disagreement: the kappa over the records of the sources that give it at least once.
        labelling = {name_prefix(n) for n in names if given[n]}
        within = [n for n in names if name_prefix(n) in labelling]
        entry["labelling_sources"] = sorted(labelling)
        entry["labels_vs_rule_in_labelling_sources"] = cohen(
            *_pairs(within, given, rule), _rng(seed, f"{c.code}/labels/labelling"), resamples
        )
        if model is not None:
            predicted = {n: int(model[n][k]) for n in names if n in model}
            entry["model_records"] = len(predicted)
            entry["model_positives"] = sum(predicted.values())
            entry["model_vs_rule"] = cohen(*_pairs(names, predicted, rule), _rng(seed, f"{c.code}/model"), resamples)
            entry["labels_vs_model"] = cohen(
                *_pairs(names, given, predicted), _rng(seed, f"{c.code}/labels~model"), resamples
            )
        out["classes"][c.code] = entry
    return out


def model_labels(model: str) -> dict[str, np.ndarray]:
    """{record: thresholded out-of-fold labels} of a trained MODEL (the driver's thresholds)."""
    from ..modelstore import ModelFolder, load_model, read_oof_probabilities
    from ..thresholds import apply_thresholds

    _, _, thresholds = load_model(model)
    oof = read_oof_probabilities(ModelFolder(model).path("oof_probabilities.csv"))
    binary = apply_thresholds(oof.probabilities, np.array(thresholds))
    return dict(zip(oof.names, binary.astype(int)))


def run_rules(data, out, model=None, measurements=None, jobs=1, seed=0) -> dict:
    """Write OUT/rule_labels.csv and OUT/rule_agreement.json (and OUT/measurements.csv unless
    `measurements` names one); returns the agreement."""
    import statsmodels  # noqa: F401  (the review extra: missing, fail before the records are measured)

    labels, sexes, unreadable = read_labels(data)
    os.makedirs(out, exist_ok=True)
    if measurements:
        table = read_measurements(measurements)
    else:
        from ..measure.folder import measure_folder

        rows = measure_folder(data, jobs)
        measurements = os.path.join(out, MEASUREMENTS_FILE)
        write_measurements(measurements, rows)
        table = {str(r["record"]): r for r in rows}
    missing = sorted(set(labels) - set(table))
    if missing:
        raise RulesError(f"{measurements}: {len(missing)} records of {data} are not in it (first: {missing[0]!r})")
    rules = rule_table(table, sexes)
    write_rule_labels(os.path.join(out, RULE_LABELS_FILE), rules, labels)
    result = agreement(rules, labels, model_labels(model) if model else None, seed)
    result.update(data=str(data), measurements=str(measurements), model=None if model is None else str(model))
    result["records_with_unreadable_headers"] = unreadable
    atomic_write(os.path.join(out, AGREEMENT_FILE), json.dumps(result, indent=2) + "\n")
    return result
