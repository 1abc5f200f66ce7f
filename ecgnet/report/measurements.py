"""The report's "Measurements by label" section: each measurement's distribution in the records
given a class and in the others, with the criterion's limits drawn, where label noise shows
(a bradycardia label at 85 bpm, a left axis deviation label at +10 deg)."""

import numpy as np

from .. import labels as label_space
from ..measure.table import read_measurements
from . import html as H
from .training_labels import header_codes

# (column, axis title, groups as (name, codes any of which puts a record in it; () = none of the panel's), limits)
PANELS = (
    (
        "heart_rate_bpm",
        "heart rate (bpm)",
        (("SB", ("426177001",)), ("NSR", ("426783006",)), ("STach", ("427084000",)), ("Brady", ("426627000",))),
        (60, 100),
    ),
    ("pr_ms", "PR (ms)", (("IAVB or LPR", ("270492004", "164947007")), ("neither", ())), (200,)),
    ("qrs_ms", "QRS (ms)", (("LBBB or CRBBB", ("164909002", "713427006")), ("neither", ())), (120,)),
    ("qrs_axis_deg", "QRS axis (deg)", (("LAD", ("39732003",)), ("RAD", ("47665007",)), ("neither", ())), (-30, 90)),
    ("qrs_amp_limb_mv", "largest limb-lead QRS (mV)", (("LQRSV", ("251146004",)), ("not LQRSV", ())), (0.5,)),
    ("qtc_fridericia_ms", "QTc Fridericia (ms)", (("LQT", ("111975006",)), ("not LQT", ())), (450, 460)),
)


def record_labels(folder: str, names) -> dict[str, set]:
    """{record: its scored classes} from the headers of `folder` (records without a readable one
    left out: the caption counts the records with labels)."""
    codes, _ = header_codes(folder, names, "measurement labels")
    return {name: {label_space.canonical_code(c) for c in found} for name, found in codes.items()}


def groups(rows: dict, labels: dict, column: str, spec) -> list[tuple[str, np.ndarray]]:
    """(group name, its values of `column`) for each group of a panel."""
    every = {c for _, codes in spec for c in codes}
    out = []
    for name, codes in spec:
        chosen = (
            [n for n in labels if (labels[n] & set(codes)) if codes]
            if codes
            else [n for n in labels if not labels[n] & every]
        )
        values = np.array([rows[n][column] for n in chosen if rows[n][column] is not None], dtype=float)
        out.append((name, values))
    return out


def measurement_section(measurements: str, labels_folder: str | None, out_folder: str):
    """("measurements", title, HTML) of the section; a note without labels."""
    title = "Measurements by label"
    if not labels_folder:
        return ("measurements", title, H.note("Give --labels DATA with --measurements to see measurements by label."))
    from . import plots as P

    rows = read_measurements(measurements)
    labels = record_labels(labels_folder, rows)
    panels = [(axis, groups(rows, labels, column, spec), limits) for column, axis, spec, limits in PANELS]
    uri, files = P.save(P.measurement_strips(panels), out_folder, "measurements_by_label")
    caption = (
        f"Each measurement ({measurements}, {len(labels)} records with labels) in the records given each class and in "
        "the others; dashed lines are the criteria's limits. Points across a limit from their group are label noise or "
        "measurement error; `ecgnet rules` counts them and `review-kit --show-measurements` shows them."
    )
    return ("measurements", title, H.figure(uri, files, caption, "measurements by label"))
