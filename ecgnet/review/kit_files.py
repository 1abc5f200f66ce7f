"""Writing the review kit: key.csv first (its hash is part of the kit's identity), then, in the
reviewers' folder, the packet (packet.pdf and sheets/*.png) and answer_form.csv and .pdf, and
last manifest.json. Every file
goes through `files.atomic_file` and the CSV files through `csvfiles.write_table`. No dates or
software versions in the PDFs and PNGs, so the same inputs, seed and kit ID give the same bytes."""

import hashlib
import json
import os
import platform

import numpy as np

from .. import __version__
from .. import labels as label_space
from ..csvfiles import write_table
from ..files import atomic_file, atomic_write
from . import instructions
from .blinding import WINDOW_SECONDS, demographics_text, window_text
from .form_pdf import write_form_pdf
from .formats import (
    FORM_EXTRA,
    FORM_FILE,
    KEY_COLUMNS,
    KEY_FILE,
    KIT_COLUMN,
    MANIFEST_FILE,
    REVIEWER_FOLDER,
    kit_identity,
    new_random_id,
)

GROUPS = ("suspect", "control", "repeat")


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
    abbreviations = tuple(label_space.ABBREVIATIONS[label_space.CLASS_INDEX[c]] for c in classes)
    return (KIT_COLUMN, "review_id") + abbreviations + FORM_EXTRA


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


def sheet_name(review_id: str, window: int) -> str:
    return f"{review_id}.png" if window == 1 else f"{review_id}_w{window}.png"


def write_packet(out: str, items: list, options, front: list, identity: str) -> None:
    """packet.pdf (the `front` instruction pages, then a page per item and window) and the item
    pages as sheets/*.png, into `out` (the reviewers' folder); with
    `options.show_measurements`, each sheet's machine-style measurement line."""
    from matplotlib.backends.backend_pdf import PdfPages

    from ..measure.folder import measure_record
    from ..measure.table import machine_line
    from . import sheet

    pages = len(front) + sum(len(record.drawn.windows) for _, record, _, _ in items)
    with atomic_file(os.path.join(out, "packet.pdf"), binary=True) as f:
        with PdfPages(
            f, metadata={"Title": "ECG review packet", "Creator": None, "Producer": None, "CreationDate": None}
        ) as pdf:
            for number, fig in enumerate(front, 1):
                instructions.stamp(fig, options.paper, instructions.footer(identity, number, pages))
                pdf.savefig(fig)
            number = len(front)
            for review_id, record, _, _ in items:
                header, drawn = record.header, record.drawn
                line = demographics_text(header.age, header.sex, options.show_demographics, options.age_band)
                machine = machine_line(measure_record(record.files)) if options.show_measurements else None
                for window, (start, stop, signal) in enumerate(drawn.windows, 1):
                    number += 1
                    fig = sheet.draw_sheet(
                        sheet.SheetItem(
                            review_id,
                            signal,
                            header.sample_rate,
                            drawn.missing,
                            line,
                            window_text(window, len(drawn.windows), start, stop),
                            instructions.footer(identity, number, pages),
                            machine,
                        ),
                        options.paper,
                    )
                    pdf.savefig(fig)
                    with atomic_file(os.path.join(out, "sheets", sheet_name(review_id, window)), binary=True) as png:
                        fig.savefig(png, format="png", dpi=sheet.PNG_DPI, metadata={"Software": None})


def write_kit(options, classes: list[str], items: list, unique: list, skipped: list, alone: int = 0) -> dict:
    """Every file of the kit into `options.out` (new or empty); returns the manifest."""
    from matplotlib import rc_context

    from .sheet import HIGH_PASS_HZ

    ids = [item[0] for item in items]
    reviewers = os.path.join(options.out, REVIEWER_FOLDER)
    os.makedirs(os.path.join(reviewers, "sheets"), exist_ok=True)
    key = os.path.join(options.out, KEY_FILE)
    write_table(key, KEY_COLUMNS, key_rows(items, classes))
    key_sha256 = sha256_of(key)
    random_id = options.kit_id or new_random_id()
    identity = kit_identity(random_id, key_sha256)
    shown = instructions.Shown(options.show_demographics, options.age_band, options.windows, HIGH_PASS_HZ)
    blocks = instructions.reviewer_blocks(classes, identity, len(items), shown)
    # Text as TrueType so that the packet's text can be extracted and checked for leaks; every
    # sample drawn (no path simplification); no creation date, so the same kit gives the same bytes.
    with rc_context({"pdf.fonttype": 42, "path.simplify": False}):
        write_packet(reviewers, items, options, instructions.text_pages(blocks, options.paper), identity)
        with atomic_file(os.path.join(reviewers, "answer_form.pdf"), binary=True) as f:
            write_form_pdf(f, ids, classes, options.paper, identity, instructions.text_pages(blocks, options.paper))
    write_table(
        os.path.join(reviewers, FORM_FILE),
        form_columns(classes),
        [(identity, i) + ("",) * (len(classes) + len(FORM_EXTRA)) for i in ids],
    )
    manifest = make_manifest(options, classes, items, unique, skipped, key_sha256)
    manifest.update(kit_id=identity, kit_random_id=random_id, repeats_with_a_line_of_their_own=alone)
    atomic_write(os.path.join(options.out, MANIFEST_FILE), json.dumps(manifest, indent=2) + "\n")
    return manifest


def make_manifest(options, classes, items, unique, skipped, key_sha256):
    from .sheet import HIGH_PASS_HZ, PAPERS

    corrected = [{"record": r.name, "correction": r.drawn.note} for r in unique if r.drawn.note]
    lengths = [r.drawn.seconds for r in unique]
    per_item = [len(r.drawn.windows) for r in unique]
    return {
        "seed": options.seed,
        "classes": [
            {"code": c, "abbreviation": label_space.ABBREVIATIONS[label_space.CLASS_INDEX[c]]} for c in classes
        ],
        "items": len(items),
        "groups": {g: sum(1 for item in items if item[2] == g) for g in GROUPS},
        "window": {
            "seconds": WINDOW_SECONDS,
            "windows_per_item": options.windows,
            "rule": "10 s windows from the start of the record, consecutive, the last one ending at the record's "
            "end (up to windows_per_item); a record shorter than 10 s whole, the rest blank. Every sheet says "
            "'10 s from the start of the recording' when windows_per_item is 1, whatever the record's length",
            "records_longer_than_window": sum(s > WINDOW_SECONDS + 1e-6 for s in lengths),
            "records_shorter_than_window": sum(s < WINDOW_SECONDS - 1e-6 for s in lengths),
            "pages_per_record": {str(n): per_item.count(n) for n in sorted(set(per_item))},
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
            "age_band_years": options.age_band,
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
