"""Challenge output files: `OUTPUTS/NAME.csv`, four lines (record, classes, labels, probabilities)."""
import os
import secrets

from .errors import OutputError
from .records import name_problem


def format_output(record_name, classes, labels, probabilities):
    return (f"#{record_name}\n" + ",".join(classes) + "\n"
            + ",".join(str(int(x)) for x in labels) + "\n"
            + ",".join(f"{float(p):.6f}" for p in probabilities) + "\n")


def write_output(folder, record_name, classes, labels, probabilities):
    """Write one record's outputs; the file appears complete or not at all.

    The text goes to a new, randomly named hidden file, created exclusively (so never into a
    file or link planted in OUTPUTS, and with a name short enough for any record name), then
    renamed over NAME.csv. OutputError for a name that cannot go into a CSV file; OSError
    when the file cannot be written."""
    problem = name_problem(record_name)
    if problem:
        raise OutputError(f"no output file: {problem}")
    path = os.path.join(folder, record_name + ".csv")
    temporary = os.path.join(folder, f".{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "w") as f:
            f.write(format_output(record_name, classes, labels, probabilities))
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return path
