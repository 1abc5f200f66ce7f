"""A blinded clinician review kit: ECG sheets to read, an answer form, and a key kept apart.

    ecgnet review-kit DATA OUT --from AUDIT/label_issues.csv [--classes CODE,...] [--n N]
    ecgnet review-kit DATA OUT --records FILE --classes CODE,...
        [--model MODEL] [--controls 0.25] [--repeats 0.1] [--seed S] [--paper a4|letter]
        [--no-show-demographics] [--show-measurements]

OUT (new or empty) receives, for the reviewers,
    packet.pdf          one page per review item: a 12-lead sheet under a neutral review ID
    sheets/R-001.png    the same pages as pictures
    answer_form.csv     one row per review ID, one column per asked class (abbreviation), then
                        quality, axis_degrees, confidence, comment; answer_form.pdf to print
and, for the coordinator only (never hand these to a reviewer),
    key.csv             review ID -> record, group, given and model labels (one row per class)
    manifest.json       seed, classes, counts, window, gain and paper choices, versions,
                        SHA-256 of key.csv

Items: the suspects (the top N records of the audit by rank, or the records listed), controls
(records where model and label agree on every asked class: `--controls` is their share of the
distinct records), and unannounced repeats (`--repeats` is the share of distinct records shown
a second time, never on the next page), all in an order drawn from `--seed`. The same inputs
and seed give byte-identical key.csv, answer_form.csv and PDFs.

Choices stated on every sheet and in the manifest: the first 10 s of a longer record (a shorter
record is drawn whole, the rest blank); a 0.67 Hz zero-phase high-pass against baseline wander.
Choice stated in the manifest only (a sheet note would hint at the source): headers whose every
lead states 4880/mV (Georgia, first release) or 200/mV (PTB-XL, first release) are drawn at
1000/mV, the gain the later releases give for the same samples; drawn as stated they look 4.9x
too small or 5x too large.
"""

import argparse
import os
import sys
from dataclasses import dataclass

from ..errors import EcgnetError, describe
from ..folders import list_records
from .form_pdf import class_names  # noqa: F401  (re-exported)
from .formats import KEY_COLUMNS  # noqa: F401  (re-exported)
from .kit_files import write_kit
from .kit_inputs import ReviewKitError, model_outputs, parse_classes
from .selection import (  # noqa: F401  (DEFAULT_N, Record, load_record: re-exported)
    DEFAULT_N,
    Reader,
    Record,
    choose_items,
    load_record,
)
from .signals import WINDOW_SECONDS, high_pass, load_signal, sheet_signal  # noqa: F401  (re-exported)


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
    show_measurements: bool = False


def build(options):
    """Write the kit into `options.out`; returns the manifest."""
    if not 0 <= options.controls < 1 or not 0 <= options.repeats <= 1:
        raise ReviewKitError("--controls must be from 0 to below 1 and --repeats from 0 to 1 (shares of the records)")
    reader = Reader(
        {r.name: r for r in list_records(options.data)}, model_outputs(options.model) if options.model else {}
    )
    if os.path.exists(options.out) and (not os.path.isdir(options.out) or os.listdir(options.out)):
        raise ReviewKitError(
            f"{options.out}: OUT must be a new or empty folder (a kit is never written over another's key)"
        )
    classes, unique, items = choose_items(options, reader)
    return write_kit(options, classes, items, unique, reader.skipped)


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
    parser.add_argument("--seed", type=int, default=0, help="random seed of the choice and order (default 0)")
    parser.add_argument("--paper", choices=("a4", "letter"), default="a4", help="page size, landscape (default a4)")
    parser.add_argument(
        "--show-demographics",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="print age and sex on the sheets (default: yes)",
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
            args.show_measurements,
        )
        manifest = build(options)
    except (EcgnetError, OSError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 1
    groups = manifest["groups"]
    print(
        f"wrote {manifest['items']} review items ({groups['suspect']} suspect, {groups['control']} control, "
        f"{groups['repeat']} repeat) to {args.out}: give reviewers packet.pdf and answer_form.csv/.pdf; "
        "keep key.csv and manifest.json apart"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
