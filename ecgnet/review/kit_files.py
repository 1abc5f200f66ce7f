"""Writing the review kit: the packet (packet.pdf and sheets/*.png), answer_form.csv and .pdf,
and, for the coordinator, key.csv and manifest.json. No dates or software versions in the PDFs
and PNGs, so the same inputs and seed give the same bytes."""

import csv
import hashlib
import io
import json
import os
import platform

import numpy as np

from .. import __version__
from .. import labels as label_space
from .form_pdf import write_form_pdf
from .formats import FORM_EXTRA, FORM_FILE, KEY_COLUMNS, KEY_FILE, MANIFEST_FILE
from .signals import WINDOW_SECONDS

GROUPS = ("suspect", "control", "repeat")


def csv_text(header, rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def key_rows(items, classes):
    rows = []
    for review_id, record, group, repeat_of in items:
        for code in classes:
            label, probability = record.model[code]
            rows.append(
                (
                    review_id,
                    record.name,
                    group,
                    repeat_of or "",
                    code,
                    label_space.ABBREVIATIONS[label_space.CLASS_INDEX[code]],
                    record.given[code],
                    "" if label is None else label,
                    "" if probability is None else f"{probability:.6f}",
                )
            )
    return rows


def form_columns(classes):
    return ("review_id",) + tuple(label_space.ABBREVIATIONS[label_space.CLASS_INDEX[c]] for c in classes) + FORM_EXTRA


def versions():
    import matplotlib
    import scipy

    return {
        "ecgnet": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "matplotlib": matplotlib.__version__,
    }


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_packet(out, items, paper, show_demographics, show_measurements=False):
    """packet.pdf (one page per item) and the same pages as sheets/REVIEW_ID.png; with
    `show_measurements`, each sheet's machine-style measurement line."""
    from matplotlib.backends.backend_pdf import PdfPages

    from ..measure.command import measure_record
    from ..measure.table import machine_line
    from . import sheet

    with PdfPages(
        os.path.join(out, "packet.pdf"),
        metadata={"Title": "ECG review packet", "Creator": None, "Producer": None, "CreationDate": None},
    ) as pdf:
        for review_id, record, _, _ in items:
            drawn, missing, window, _ = record.drawn
            fig = sheet.draw_sheet(
                sheet.SheetItem(
                    review_id,
                    drawn,
                    record.header.sample_rate,
                    missing,
                    record.header.age,
                    record.header.sex,
                    show_demographics,
                    window,
                    machine_line(measure_record(record.files)) if show_measurements else None,
                ),
                paper,
            )
            pdf.savefig(fig)
            fig.savefig(
                os.path.join(out, "sheets", f"{review_id}.png"),
                dpi=sheet.PNG_DPI,
                metadata={"Software": None},
            )


def write_kit(options, classes, items, unique, skipped):
    """Every file of the kit into `options.out` (new or empty); returns the manifest."""
    from matplotlib import rc_context

    ids = [item[0] for item in items]
    os.makedirs(os.path.join(options.out, "sheets"), exist_ok=True)
    # Text as TrueType so that the packet's text can be extracted and checked for leaks; every
    # sample drawn (no path simplification); no creation date, so the same kit gives the same bytes.
    with rc_context({"pdf.fonttype": 42, "path.simplify": False}):
        write_packet(options.out, items, options.paper, options.show_demographics, options.show_measurements)
        write_form_pdf(os.path.join(options.out, "answer_form.pdf"), ids, classes, options.paper)
    write(
        os.path.join(options.out, FORM_FILE),
        csv_text(form_columns(classes), [(i,) + ("",) * (len(classes) + len(FORM_EXTRA)) for i in ids]),
    )
    key = os.path.join(options.out, KEY_FILE)
    write(key, csv_text(KEY_COLUMNS, key_rows(items, classes)))
    manifest = make_manifest(options, classes, items, unique, skipped, sha256_of(key))
    write(os.path.join(options.out, MANIFEST_FILE), json.dumps(manifest, indent=2) + "\n")
    return manifest


def write(path, text):
    with open(path, "w", newline="") as f:
        f.write(text)


def make_manifest(options, classes, items, unique, skipped, key_sha256):
    from .sheet import HIGH_PASS_HZ, PAPERS

    corrected = [{"record": r.name, "correction": r.drawn[3]} for r in unique if r.drawn[3]]
    windows = sorted({r.drawn[2] for r in unique})
    return {
        "seed": options.seed,
        "classes": [
            {"code": c, "abbreviation": label_space.ABBREVIATIONS[label_space.CLASS_INDEX[c]]} for c in classes
        ],
        "items": len(items),
        "groups": {g: sum(1 for item in items if item[2] == g) for g in GROUPS},
        "window": {
            "seconds": WINDOW_SECONDS,
            "rule": "the first 10 s of a longer record; a shorter record whole, the rest blank; stated on each sheet",
            "shown": windows,
        },
        "gain": {
            "rule": "each lead's stated gain and baseline, except headers whose every lead states 4880/mV "
            "(Georgia first release) or 200/mV (PTB-XL first release): drawn at 1000/mV, as later releases "
            "state for the same samples; not marked on the sheets",
            "corrected": corrected,
        },
        "paper": {
            "size": options.paper,
            "width_mm": PAPERS[options.paper][0],
            "height_mm": PAPERS[options.paper][1],
            "speed_mm_per_s": 25,
            "gain_mm_per_mv": 10,
            "layout": "3x4 of 2.5 s + 10 s lead II rhythm strip",
            "high_pass_hz": HIGH_PASS_HZ,
            "demographics_shown": options.show_demographics,
            "measurements_shown": options.show_measurements,
        },
        "source": {
            "audit": options.audit,
            "records": options.records,
            "sha256": sha256_of(options.audit or options.records),
        },
        "model": {"folder": options.model, "controls": "model and label agree on every asked class"}
        if options.model
        else {
            "folder": None,
            "controls": "records not among the suspects, not checked against a model "
            "(model fields of controls are empty)",
        },
        "skipped": skipped,
        "versions": versions(),
        "key_sha256": key_sha256,
    }
