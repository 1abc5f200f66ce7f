"""The commands that write or measure records: `ecgnet synth`, `convert` and `measure`."""

import argparse
import os
import sys
from collections.abc import Sequence

from . import dataoptions, options
from .parsing import command, command_parser

# ---------------------------------------------------------------------------------------------
# synth

MAX_RECORDS = 1_000_000


def _prefix(text: str) -> str:
    """`--prefix`: the start of a file name in FOLDER that can go into a CSV file."""
    from ..folders import name_problem

    problem = name_problem(text)
    if problem or "/" in text or "\\" in text or text.startswith("."):
        raise argparse.ArgumentTypeError(
            problem or f"{text!r} would name files outside FOLDER or hidden ones (no /, \\ or leading .)"
        )
    return text


@command()
def synth(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """`ecgnet synth`: write COUNT records into FOLDER; returns 0, or 1 when they cannot be
    written (named in one line)."""
    from ..limits import MAX_SAMPLE_RATE
    from ..synthetic import MIN_RATE, TRUE_LABELS_FILE, make_dataset

    parser = command_parser(prog, "Write synthetic challenge records (NAME.hea + NAME.mat).")
    parser.add_argument("folder", help="folder to write the records into (made if missing)")
    parser.add_argument("count", type=options.integer(0, MAX_RECORDS), help="number of records")
    parser.add_argument(
        "--seed", type=options.seed, default=0, help="random seed: the same seed gives the same records"
    )
    parser.add_argument("--prefix", type=_prefix, default="SYN", help="record names are PREFIX followed by a number")
    parser.add_argument("--start", type=options.integer(0, 10**9), default=1, help="number of the first record")
    parser.add_argument(
        "--rate", type=options.integer(MIN_RATE, int(MAX_SAMPLE_RATE)), default=500, help="sampling rate (Hz)"
    )
    parser.add_argument(
        "--label-noise",
        type=options.fraction,
        default=0.0,
        metavar="RATE",
        help="fraction of the (record, class) labels over the 8 generated classes flipped in the "
        f"headers; the clean labels go to FOLDER/{TRUE_LABELS_FILE}",
    )
    args = parser.parse_args(argv)
    names = make_dataset(
        args.folder,
        args.count,
        args.seed,
        args.rate,
        prefix=args.prefix,
        start=args.start,
        label_noise=args.label_noise,
    )
    noise = (
        f" with {args.label_noise:g} of their labels flipped (clean labels in {TRUE_LABELS_FILE})"
        if args.label_noise > 0
        else ""
    )
    print(f"wrote {len(names)} synthetic records to {args.folder}{noise}")
    return 0


# ---------------------------------------------------------------------------------------------
# convert


@command(error_status=2)
def convert(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """`ecgnet convert`: 0 when every record is written, 1 when some failed, 2 when none could be."""
    from .. import convert as converter

    parser = command_parser(prog, converter.DESCRIPTION, converter.__doc__.split("\n\n", 1)[1])
    parser.add_argument("source", metavar="SRC", help="folder of records")
    parser.add_argument("out", metavar="OUT", help="folder to write NAME.hea and NAME.mat into (made if missing)")
    dataoptions.add_labels(parser)
    dataoptions.add_recursive(parser)
    args = parser.parse_args(argv)
    dataoptions.check(parser, args)
    labels = dataoptions.label_source(args, args.source)
    written, failures = converter.convert_folder(args.source, args.out, labels, args.recursive)
    for name, reason in failures:
        print(f"failed: {name if name.isprintable() else ascii(name)}: {reason}", file=sys.stderr)
    print(f"wrote {written} records to {args.out}; {len(failures)} failed")
    return 1 if failures else 0


# ---------------------------------------------------------------------------------------------
# measure

MEASURE_DOC = """Measure every record of a folder as a 12-lead machine does: heart rate, RR variability, PR,
QRS, QT, QTc (Bazett, Fridericia), P/QRS/T frontal axes, QRS voltages.

Writes OUT/measurements.csv, one row per record (every NAME.hea, and every NAME.mat without one):
record, heart_rate_bpm, rr_sd_ms, pr_ms, qrs_ms, qt_ms, qtc_bazett_ms, qtc_fridericia_ms,
p_axis_deg, qrs_axis_deg, t_axis_deg, qrs_amp_limb_mv, qrs_amp_precordial_mv, beats, quality,
reason. A blank cell is a value that could not be measured, never a guess; quality is ok,
noisy or failed, and reason says why a value is blank or the record doubtful. A record that
cannot be read is a failed row with the reader's reason; the run goes on.
Headers that state 4880/mV (Georgia) or 200/mV (PTB-XL) for samples in 1000/mV units (the first
releases of those sources) are read at 1000/mV, as the later releases state, and the reason says so.
Exit status: 0 written, 1 an error (named in one line)."""


@command(default_prog="ecgnet measure", review_extra=True)
def measure(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """`ecgnet measure`: 0 when measurements.csv is written, 1 on an error."""
    from ..measure.folder import RATE, measure_folder
    from ..measure.table import MEASUREMENTS_FILE, write_measurements

    parser = command_parser(prog, MEASURE_DOC)
    parser.add_argument("data", help="folder of records (NAME.hea + NAME.mat)")
    parser.add_argument("out", help="folder to write measurements.csv into (made if missing)")
    parser.add_argument("--jobs", type=options.processes, default=1, help="processes measuring records (-1: all cores)")
    parser.add_argument("--rate", type=int, default=RATE, help="sampling rate records are measured at, Hz")
    args = parser.parse_args(argv)
    if args.jobs == 0 or args.jobs < -1:
        parser.error("--jobs must be a number of processes from 1, or -1 for all cores")
    if not 100 <= args.rate <= 2000:
        parser.error("--rate must be from 100 to 2000 Hz")
    rows = measure_folder(args.data, args.jobs, args.rate)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, MEASUREMENTS_FILE)
    write_measurements(path, rows)
    counts = {q: sum(r["quality"] == q for r in rows) for q in ("ok", "noisy", "failed")}
    print(f"{len(rows)} records ({counts['ok']} ok, {counts['noisy']} noisy, {counts['failed']} failed): {path}")
    return 0
