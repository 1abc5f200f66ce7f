"""Challenge output files: `OUTPUTS/NAME.csv`, four lines (record, classes, labels, probabilities)."""
import os


def format_output(record_name, classes, labels, probabilities):
    return (f"#{record_name}\n" + ",".join(classes) + "\n"
            + ",".join(str(int(x)) for x in labels) + "\n"
            + ",".join(f"{float(p):.6f}" for p in probabilities) + "\n")


def write_output(folder, record_name, classes, labels, probabilities):
    """Write one record's outputs; the file appears complete or not at all."""
    path = os.path.join(folder, record_name + ".csv")
    temporary = path + ".tmp"
    with open(temporary, "w") as f:
        f.write(format_output(record_name, classes, labels, probabilities))
    os.replace(temporary, path)
    return path
