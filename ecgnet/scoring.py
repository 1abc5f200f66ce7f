"""Scoring folders of labels and outputs exactly as the official 2020 scorer does.

`evaluate_folders` pairs `LABELS/NAME.hea` with `OUTPUTS/NAME.csv` and reads both with the
official rules (see `read_label_file` and `read_output_file`), then computes every metric with
`ecgnet.metrics`. With PTB-XL's labels (`ptbxl`), the labels are the mapped statements of the
records in LABELS, which may be nested as PTB-XL ships them, optionally only some of its folds.
Differences from the official script: it runs on current NumPy, it is
vectorised, and a label file with no `#Dx` line or with several (which crash or silently
misalign the official script) is an error that names the file.
"""

import io
import json
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from . import labels as label_space
from . import metrics
from .errors import ScoringError
from .files import atomic_write
from .folders import find_records, iter_records, name_prefix
from .limits import MAX_HEADER_BYTES
from .ptbxl import PtbxlLabels

TRUE_WORDS = frozenset(("1", "True", "true", "T", "t"))
SOURCES = {
    "A": "CPSC2018",
    "Q": "CPSC-Extra",
    "I": "St Petersburg INCART",
    "S": "PTB",
    "HR": "PTB-XL",
    "E": "Georgia",
    "JS": "Chapman-Shaoxing/Ningbo",
}
OTHER_SOURCE = "other"
MAX_LABEL_BYTES = MAX_HEADER_BYTES  # a label file is a record's header: the reader's limit
MAX_OUTPUT_BYTES = 1024 * 1024


def find_label_output_pairs(
    label_folder: str, output_folder: str, recursive: bool | None = None
) -> tuple[list[str], list[str]]:
    """(label_files, output_files) as the official scorer pairs them, sorted by name."""
    label_files, output_files = [], []
    for path in find_records(label_folder, recursive):
        name = os.path.basename(path)
        output_name = os.path.splitext(name)[0] + ".csv"
        output_path = os.path.join(output_folder, output_name)
        if not os.path.isfile(output_path):
            raise ScoringError(f"Output file {output_name} not found for label file {name}.")
        label_files.append(path)
        output_files.append(output_path)
    if not label_files:
        raise ScoringError(f"No label or output files found in {label_folder}.")
    return label_files, output_files


def _text_file(path: str, what: str, max_bytes: int) -> io.TextIOWrapper:
    """`path`'s text, read as the official scorer opens it (UTF-8, undecodable bytes replaced,
    universal newlines); ScoringError for a file larger than `max_bytes`, which is never read
    whole (a record's label file or a driver's output file is a few hundred bytes)."""
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ScoringError(f"{path}: the {what} is more than {max_bytes:,} bytes, far more than one can hold")
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace")


def read_label_file(path: str) -> np.ndarray:
    """The scored classes of a label file (multi-hot bool, `CLASSES` order) from its `#Dx` line."""
    with _text_file(path, "label file", MAX_LABEL_BYTES) as f:
        dx_lines = [line for line in f if line.startswith("#Dx")]
    if len(dx_lines) != 1:
        raise ScoringError(f"{path}: expected one line starting with '#Dx', found {len(dx_lines)}")
    parts = dx_lines[0].split(": ")
    if len(parts) < 2:
        raise ScoringError(f"{path}: the #Dx line has no ': ' before its codes")
    codes = {label_space.canonical_code(code.strip()) for code in parts[1].split(",")}
    return np.array([c in codes for c in label_space.CLASSES])


def _scalar(text):
    try:
        return float(text)
    except ValueError:
        return 0.0


@dataclass
class Outputs:
    binary: np.ndarray  # bool, (records, classes)
    scalar: np.ndarray  # float64, (records, classes)
    malformed: list = field(default_factory=list)  # output files scored as all-negative


def read_output_file(path: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(binary, scalar) vectors of one output file, or None if the official scorer would
    treat it as malformed (all outputs negative).

    Blank and `#` lines are dropped; the rest must be at least three lines with equal comma
    counts. Line 1 names the classes, line 2 the binary outputs, line 3 the scalar outputs.
    A class named more than once is positive if any copy is, with the NaN-ignoring mean of
    the copies' scalars; NaN scalars become 0; classes not named are negative with 0."""
    with _text_file(path, "output file", MAX_OUTPUT_BYTES) as f:
        lines = [line for line in f if line.strip() and not line.strip().startswith("#")]
    if len(lines) < 3 or len({len(line.split(",")) for line in lines}) != 1:
        return None
    codes = [label_space.canonical_code(cell.strip()) for cell in lines[0].split(",")]
    binary_cells = [cell.strip() in TRUE_WORDS for cell in lines[1].split(",")]
    scalar_cells = [_scalar(cell.strip()) for cell in lines[2].split(",")]
    binary = np.zeros(label_space.NUM_CLASSES, dtype=bool)
    scalar = np.zeros(label_space.NUM_CLASSES)
    for code, is_true in zip(codes, binary_cells):
        j = label_space.CLASS_INDEX.get(code)
        if j is None:
            continue
        binary[j] |= is_true
    for j, code in enumerate(label_space.CLASSES):
        values = [v for c, v in zip(codes, scalar_cells) if c == code]
        if len(values) == 1:
            scalar[j] = values[0]
        elif values:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                scalar[j] = np.nanmean(values)
    scalar[np.isnan(scalar)] = 0.0
    return binary, scalar


def read_outputs(output_files: list[str]) -> Outputs:
    num = len(output_files)
    result = Outputs(np.zeros((num, label_space.NUM_CLASSES), dtype=bool), np.zeros((num, label_space.NUM_CLASSES)))
    for i, path in enumerate(output_files):
        vectors = read_output_file(path)
        if vectors is None:
            result.malformed.append(path)
        else:
            result.binary[i], result.scalar[i] = vectors
    return result


def source_of(record_name: str) -> str:
    """Source key of a record from its name prefix: A, Q, I, S, HR, E, JS or `other`."""
    prefix = name_prefix(record_name)
    return prefix if prefix in SOURCES else OTHER_SOURCE


@dataclass
class Evaluation:
    record_names: list
    labels: np.ndarray
    outputs: Outputs
    overall: dict
    by_source: dict


def evaluate_arrays(
    record_names: list[str], labels: np.ndarray, binary: np.ndarray, scalar: np.ndarray
) -> tuple[dict, dict]:
    """Metrics over all records and per source prefix."""
    overall = metrics.evaluate(labels, binary, scalar)
    sources = np.array([source_of(n) for n in record_names])
    by_source = {}
    for source in [*SOURCES, OTHER_SOURCE]:
        rows = sources == source
        if rows.any():
            by_source[source] = metrics.evaluate(labels[rows], binary[rows], scalar[rows])
    return overall, by_source


def ptbxl_label_output_pairs(
    label_folder: str,
    output_folder: str,
    labels: PtbxlLabels,
    strat_folds: frozenset[int] | None = None,
    recursive: bool | None = None,
) -> tuple[list[str], np.ndarray, list[str]]:
    """(record names, (records, classes) bool labels, output files) of the records of
    `label_folder` that have a header, their labels from PTB-XL's database (only the records of
    `strat_folds` when given), sorted by name; each must have an output file."""
    found = []
    for files in iter_records(label_folder, recursive):
        if files.header is None:
            continue
        entry = labels.entry(files.name)
        if entry is None:
            raise ScoringError(f"{files.header}: record {files.name!r} is not in {labels.path}")
        if strat_folds and entry.strat_fold not in strat_folds:
            continue
        output_path = os.path.join(output_folder, files.name + ".csv")
        if not os.path.isfile(output_path):
            raise ScoringError(
                f"Output file {files.name}.csv not found for label file {os.path.basename(files.header)}."
            )
        found.append((files.name, label_space.encode(entry.dx) > 0, output_path))
    if not found:
        raise ScoringError(f"No label or output files found in {label_folder}.")
    found.sort(key=lambda item: item[0])
    return [f[0] for f in found], np.array([f[1] for f in found]), [f[2] for f in found]


def evaluate_folders(
    label_folder: str,
    output_folder: str,
    labels: PtbxlLabels | None = None,
    strat_folds: frozenset[int] | None = None,
    recursive: bool | None = None,
) -> Evaluation:
    """The evaluation of `output_folder` against the labels of `label_folder`: its headers'
    #Dx, or with `labels` PTB-XL's (only the records of `strat_folds` when given)."""
    if labels is None:
        label_files, output_files = find_label_output_pairs(label_folder, output_folder, recursive)
        names = [os.path.splitext(os.path.basename(p))[0] for p in label_files]
        truth = np.array([read_label_file(p) for p in label_files])
    else:
        names, truth, output_files = ptbxl_label_output_pairs(
            label_folder, output_folder, labels, strat_folds, recursive
        )
    outputs = read_outputs(output_files)
    overall, by_source = evaluate_arrays(names, truth, outputs.binary, outputs.scalar)
    return Evaluation(names, truth, outputs, overall, by_source)


def scores_csv(result: dict) -> str:
    """The official SCORES_CSV text (three decimals, no final newline)."""
    return ",".join(metrics.METRIC_NAMES) + "\n" + ",".join(f"{result[name]:.3f}" for name in metrics.METRIC_NAMES)


def class_scores_csv(result: dict) -> str:
    """The official CLASS_SCORES_CSV text: rows Classes, AUROC, AUPRC, F-measure."""
    rows: list[tuple[str, Sequence[str]]] = [("Classes", label_space.CLASSES)]
    rows += [(name, [f"{x:.3f}" for x in result["classes"][name]]) for name in ("AUROC", "AUPRC", "F-measure")]
    return "\n".join(f"{title}," + ",".join(values) for title, values in rows)


def _json_number(x):
    x = float(x)
    return x if math.isfinite(x) else None


def _json_metrics(result):
    table = result["classes"]
    classes = []
    for j, code in enumerate(label_space.CLASSES):
        row = {"class": code, "abbreviation": label_space.ABBREVIATIONS[j]}
        row.update({key: _json_number(values[j]) for key, values in table.items()})
        for key in ("positives", "predicted positives", "true positives"):
            row[key] = int(table[key][j])
        classes.append(row)
    out = {"records": result["records"]}
    out.update({name: _json_number(result[name]) for name in metrics.ALL_METRIC_NAMES})
    out["classes"] = classes
    return out


def evaluation_json(evaluation: Evaluation) -> dict:
    """Every metric at full precision (undefined values as null), per class and per source;
    besides the official metrics, macro `Sensitivity` and `Specificity` (per class
    `sensitivity`, `specificity`: a class counts only where it has positives, resp. negatives)."""
    return {
        "malformed_output_files": evaluation.outputs.malformed,
        **_json_metrics(evaluation.overall),
        "sources": {
            source: {"name": SOURCES.get(source, "other sources"), **_json_metrics(result)}
            for source, result in evaluation.by_source.items()
        },
    }


def write_json(evaluation: Evaluation, path: str) -> None:
    """The `--json` file (`evaluation_json`), written whole or not at all."""
    atomic_write(path, json.dumps(evaluation_json(evaluation), indent=2, allow_nan=False) + "\n")
