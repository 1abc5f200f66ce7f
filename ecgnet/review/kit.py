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

import argparse
import os
import secrets
import sys
from dataclasses import dataclass

from .. import options
from ..errors import EcgnetError, describe
from ..folders import list_records
from .blinding import demographics_text  # noqa: F401  (re-exported)
from .form_pdf import class_names  # noqa: F401  (re-exported)
from .formats import KEY_COLUMNS, RANDOM_ID_PATTERN, REVIEWER_FOLDER  # noqa: F401  (KEY_COLUMNS: re-exported)
from .kit_files import write_kit
from .kit_inputs import ReviewKitError, model_outputs, parse_classes
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


# ------------------------------------------------------------------ command line


def parse_args(argv, prog=None):
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.strip().splitlines()[0],
        epilog="\n".join(__doc__.strip().splitlines()[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("data", help="folder of the records (NAME.hea + NAME.mat)")
    parser.add_argument("out", help="new or empty folder for the kit")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="audit", metavar="LABEL_ISSUES_CSV", help="the audit's label_issues.csv")
    source.add_argument("--records", metavar="FILE", help="record names to review, one a line (needs --classes)")
    parser.add_argument(
        "--classes",
        help="classes to ask about: SNOMED CT codes or abbreviations, comma-separated "
        "(default with --from: the classes of the chosen audit rows)",
    )
    parser.add_argument(
        "--n", type=int, help="number of suspect records (default: 100 with --from, all with --records)"
    )
    parser.add_argument(
        "--model",
        metavar="MODEL",
        help="model folder whose out-of-fold probabilities and thresholds choose controls the model agrees on",
    )
    parser.add_argument(
        "--controls", type=float, default=0.25, help="share of the distinct records that are controls (default 0.25)"
    )
    parser.add_argument(
        "--repeats", type=float, default=0.1, help="share of the distinct records shown twice (default 0.1)"
    )
    parser.add_argument(
        "--seed",
        type=options.seed,
        help="random seed of the choice and order (default: drawn at random, recorded in manifest.json)",
    )
    parser.add_argument(
        "--kit-id",
        metavar="ID",
        help="the random part of the kit's identity, to rebuild a kit byte for byte (default: drawn; "
        "manifest.json records it)",
    )
    parser.add_argument("--paper", choices=("a4", "letter"), default="a4", help="page size, landscape (default a4)")
    parser.add_argument(
        "--show-demographics",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="print age and sex on the sheets (default: yes)",
    )
    parser.add_argument(
        "--age-band",
        type=int,
        default=10,
        metavar="YEARS",
        help="print adult ages in bands of this many years, so that a repeat is not told by its age "
        "(default 10; 1: exact ages)",
    )
    parser.add_argument(
        "--windows",
        type=int,
        default=1,
        metavar="N",
        help=f"draw up to N consecutive 10 s windows of a longer record, one page each (default 1; at most "
        f"{MAX_WINDOWS}); the extra pages show which records are longer",
    )
    parser.add_argument(
        "--show-measurements",
        action="store_true",
        help="print the machine-style measurement line (HR, PR, QRS, QT/QTc, P/QRS/T axes) above each tracing "
        "(default: off, as a reviewer reading blind should measure for themselves)",
    )
    args = parser.parse_args(argv)
    if args.records and not args.classes:
        parser.error("--records needs --classes")
    if args.n is not None and args.n < 1:
        parser.error("--n must be at least 1")
    if args.age_band < 1 or not 1 <= args.windows <= MAX_WINDOWS:
        parser.error(f"--age-band must be at least 1 and --windows from 1 to {MAX_WINDOWS}")
    if args.kit_id is not None and not RANDOM_ID_PATTERN.fullmatch(args.kit_id):
        parser.error("--kit-id must be the 8 characters of a kit's random ID, e.g. as manifest.json records it")
    if args.seed is None:
        args.seed = secrets.randbelow(2**31)
    return args


def main(argv=None, prog=None):
    """`ecgnet review-kit`: 0 when the kit is written, 1 on an error (named in one line)."""
    args = parse_args(sys.argv[1:] if argv is None else argv, prog)
    try:
        options = Options(
            args.data,
            args.out,
            args.audit,
            args.records,
            parse_classes(args.classes) if args.classes else None,
            args.n,
            args.model,
            args.controls,
            args.repeats,
            args.seed,
            args.paper,
            args.show_demographics,
            args.age_band,
            args.windows,
            args.kit_id,
            args.show_measurements,
        )
        manifest = build(options)
    except (EcgnetError, OSError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 1
    groups = manifest["groups"]
    print(
        f"wrote {manifest['items']} review items ({groups['suspect']} suspect, {groups['control']} control, "
        f"{groups['repeat']} repeat) of kit {manifest['kit_id']} to {args.out}: give reviewers the folder "
        f"{os.path.join(args.out, REVIEWER_FOLDER)} (packet, answer form); keep key.csv and manifest.json apart"
    )
    alone = manifest["repeats_with_a_line_of_their_own"]
    if alone:
        print(
            f"note: {alone} repeat(s) have an age and sex line no other record of the kit shares: a reviewer may "
            "recognise them (a wider --age-band or --no-show-demographics avoids it)",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
