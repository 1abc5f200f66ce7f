"""The `ecgnet report` command: an HTML page about a trained model (`ecgnet.report`)."""

import argparse
from collections.abc import Sequence

from . import options
from .parsing import command, command_parser

REPORT_DOC = """Write OUT/report.html about a trained MODEL: cross-validation and (optionally) test results.

The page holds a summary table (challenge metric, AUROC, AUPRC, F-measure, sensitivity and
specificity, per fold and pooled out-of-fold, before and after the threshold search), a
per-class table, ROC and precision-recall curves per class, the challenge metric against each
class's threshold, learning curves per fold, the metric's confusion matrix with its weights,
a per-source table, and the generalisation section (the split, the epoch choice, scores per
source and the threshold transfer). Plots are embedded and also written as PNG and SVG files
into OUT.

The MODEL folder keeps out-of-fold probabilities but no labels: give --labels DATA (the
folder the model was trained on) for the views that need them. A test set: --scores (from
evaluate_model.py --json) and/or --test-labels with --outputs (the folders it scored).
The page says which labels it scores: DATA's #Dx lines as given, or with the label overrides of
--label-overrides FILE applied (its SHA-256 and what it changes), beside the overrides the model
was trained with; a test set that shares records with the training set is flagged.
Exit status: 0 written, 1 an error (named in one line)."""


def _parser(prog: str | None) -> argparse.ArgumentParser:
    parser = command_parser(prog, REPORT_DOC)
    parser.add_argument("model", metavar="MODEL", help="a finished model folder (train_model.py)")
    parser.add_argument("out", metavar="OUT", help="folder to write report.html and the plot files into")
    parser.add_argument(
        "--labels",
        metavar="DATA",
        help="the training records (their #Dx lines), for the out-of-fold views (default: none; "
        "those views are then left out)",
    )
    parser.add_argument(
        "--label-overrides",
        metavar="FILE",
        help="score the out-of-fold views on DATA's labels with these overrides applied (e.g. the ones the model "
        "was trained with, or a review's); default: the labels as given",
    )
    parser.add_argument(
        "--scores", metavar="SCORES_JSON", help="a test set's evaluate_model.py --json file (default: none)"
    )
    parser.add_argument(
        "--test-labels",
        metavar="TEST_DATA",
        help="the test records, for the test set's curves (default: none; needs --outputs)",
    )
    parser.add_argument(
        "--outputs",
        metavar="OUTPUTS",
        help="the driver's output files for TEST_DATA (default: none; needs --test-labels)",
    )
    parser.add_argument(
        "--measurements",
        metavar="CSV",
        help="measurements.csv of the training records (`ecgnet measure`): adds each measurement's distribution "
        "by label (needs --labels; default: none)",
    )
    parser.add_argument(
        "--min-positives",
        type=options.integer(0),
        default=10,
        metavar="N",
        help="mark classes with fewer positives than this (default: %(default)s)",
    )
    return parser


@command(default_prog="ecgnet report", review_extra=True)
def report(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """`ecgnet report`: 0 when the report is written, 1 on an error (one line on stderr)."""
    import sys

    from ..report import TestSet, write_report

    parser = _parser(prog)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    if bool(args.test_labels) != bool(args.outputs):
        parser.error("--test-labels and --outputs go together")
    if args.label_overrides and not args.labels:
        parser.error("--label-overrides needs --labels DATA")
    test = None
    if args.scores or args.test_labels:
        test = TestSet(args.scores, args.test_labels, args.outputs)
    path = write_report(
        args.model,
        args.out,
        test=test,
        labels=args.labels,
        min_positives=args.min_positives,
        label_overrides=args.label_overrides,
        measurements=args.measurements,
    )
    print(f"report: {path}")
    return 0
