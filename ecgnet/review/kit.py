"""A blinded clinician review kit: ECG sheets to read, an answer form, and a key kept apart.

    ecgnet review-kit DATA OUT --from AUDIT/label_issues.csv [--classes CODE,...] [--n N]
    ecgnet review-kit DATA OUT --records FILE --classes CODE,...
        [--model MODEL] [--controls 0.25] [--repeats 0.1] [--seed S] [--kit-id ID]
        [--paper a4|letter] [--no-show-demographics] [--age-band 10] [--windows 1]
        [--show-measurements]

OUT (new or empty) receives, for the reviewers, in OUT/reviewers/ (send that folder whole),
    packet.pdf          the instruction pages (what a sheet shows, what to write, how to measure
                        the axis, the criteria of every asked class with their sources), then one
                        page per review item: a 12-lead sheet under a neutral review ID
    sheets/R-001.png    the item pages as pictures (R-001_w2.png: a second window)
    answer_form.csv     one row per review ID: kit_id (the kit's identity, on every row), review_id,
                        one column per asked class (abbreviation), then quality, axis_degrees,
                        confidence, comment; answer_form.pdf to print (the same instructions first)
and, for the coordinator only, in OUT itself (never hand these to a reviewer),
    key.csv             review ID -> record, group, given and model labels (one row per class)
    manifest.json       kit identity, seed, classes, counts, window, gain and paper choices,
                        versions, SHA-256 of key.csv

The kit's identity (K + a random ID + "-" + the first digits of key.csv's SHA-256) is printed on
every page and in every row of the answer form; `ecgnet agreement` and `ecgnet relabel` refuse
answers of another kit. It says nothing about the records.

Items: the suspects (the top N records of the audit by rank, or the records listed), controls
(records where model and label agree on every asked class: `--controls` is their share of the
distinct records), and unannounced repeats (`--repeats` is the share of distinct records shown
a second time, at least a quarter of the kit away from the first showing, drawn first among
records whose age and sex line another record shares), all in an order drawn from `--seed`
(default: drawn at random and recorded in the manifest, so that nobody can rebuild the order
from the inputs alone). The same inputs, --seed and --kit-id give byte-identical key.csv,
answer_form.csv and PDFs.

Blinding: a sheet differs from another only in its tracing, review ID and (unless
--no-show-demographics) age and sex, the age in --age-band year bands (exact under 18; 1: exact
ages). Every sheet says "10 s from the start of the recording", whatever the record's length.
--windows N adds the next 10 s windows of a longer record (up to N) as extra pages of the same
item: those extra pages tell which records are longer than 10 s, a hint at the source.

Choices stated in the manifest only (a sheet note would hint at the source): headers whose every
lead states 4880/mV (Georgia, first release) or 200/mV (PTB-XL, first release) are drawn at
1000/mV, the gain the later releases give for the same samples; drawn as stated they look 4.9x
too small or 5x too large.
"""

import os
from dataclasses import dataclass

from ..folders import list_records
from .blinding import demographics_text  # noqa: F401  (re-exported)
from .form_pdf import class_names  # noqa: F401  (re-exported)
from .formats import KEY_COLUMNS, RANDOM_ID_PATTERN, REVIEWER_FOLDER  # noqa: F401  (KEY_COLUMNS: re-exported)
from .kit_files import write_kit
from .kit_inputs import ReviewKitError, model_outputs
from .selection import (  # noqa: F401  (DEFAULT_N, Record, load_record: re-exported)
    DEFAULT_N,
    Reader,
    Record,
    choose_items,
    load_record,
)
from .signals import (  # noqa: F401  (re-exported)
    MAX_WINDOWS,
    WINDOW_SECONDS,
    high_pass,
    sheet_signal,
)


@dataclass
class Options:
    data: str
    out: str
    audit: str | None = None
    records: str | None = None
    classes: list | None = None
    n: int | None = None
    model: str | None = None
    controls: float = 0.25
    repeats: float = 0.1
    seed: int = 0
    paper: str = "a4"
    show_demographics: bool = True
    age_band: int = 10
    windows: int = 1
    kit_id: str | None = None  # the random part of the identity; None: drawn
    show_measurements: bool = False


def build(options):
    """Write the kit into `options.out`; returns the manifest."""
    if not 0 <= options.controls < 1 or not 0 <= options.repeats <= 1:
        raise ReviewKitError("--controls must be from 0 to below 1 and --repeats from 0 to 1 (shares of the records)")
    reader = Reader(
        {r.name: r for r in list_records(options.data)},
        model_outputs(options.model) if options.model else {},
        options.windows,
    )
    if os.path.exists(options.out) and (not os.path.isdir(options.out) or os.listdir(options.out)):
        raise ReviewKitError(
            f"{options.out}: OUT must be a new or empty folder (a kit is never written over another's key)"
        )
    classes, unique, items, alone = choose_items(options, reader)
    return write_kit(options, classes, items, unique, reader.skipped, alone)
