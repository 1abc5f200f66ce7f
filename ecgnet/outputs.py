"""Challenge output files: `OUTPUTS/NAME.csv`, four lines (record, classes, labels, probabilities)."""

import os
from collections.abc import Sequence

import numpy as np

from .errors import OutputError
from .files import atomic_write
from .folders import name_problem


def format_output(record_name: str, classes: Sequence[str], labels: np.ndarray, probabilities: np.ndarray) -> str:
    return (
        f"#{record_name}\n"
        + ",".join(classes)
        + "\n"
        + ",".join(str(int(x)) for x in labels)
        + "\n"
        + ",".join(f"{float(p):.6f}" for p in probabilities)
        + "\n"
    )


def write_output(
    folder: str, record_name: str, classes: Sequence[str], labels: np.ndarray, probabilities: np.ndarray
) -> str:
    """Write one record's outputs, complete or not at all (`files.atomic_write`: never into a
    file or link planted in OUTPUTS). OutputError for a name that cannot go into a CSV file;
    OSError when the file cannot be written."""
    problem = name_problem(record_name)
    if problem:
        raise OutputError(f"no output file: {problem}")
    path = os.path.join(folder, record_name + ".csv")
    atomic_write(path, format_output(record_name, classes, labels, probabilities))
    return path
