"""The command layer: the `ecgnet` program, one command per job. Every command's parser and
`main` live in this package, and no module outside it imports it (only the entry points do:
`python -m ecgnet`, the `ecgnet` console script and the challenge scripts).

    ecgnet train DATA MODEL [--set name=value ...] [--config FILE] [--label-overrides FILE] [--no-report]
                 [--labels header|ptbxl] [--recursive]
    ecgnet drive MODEL DATA OUTPUTS [--device DEVICE] [--precision fp32|int8] [--recursive]
                 [--shard K/N] [--skip-existing] [--labels header|ptbxl --strat-folds K,...]
    ecgnet convert SRC OUT [--labels header|ptbxl] [--recursive]
    ecgnet quantize MODEL DATA [--calibration-records N] [--min-identical F] [--max-metric-change F] [...]
    ecgnet evaluate LABELS OUTPUTS [SCORES_CSV [CLASS_SCORES_CSV]] [--json FILE] [--labels ptbxl --strat-folds K]
    ecgnet synth FOLDER COUNT [--seed N --prefix P --start N --rate HZ --label-noise RATE]
    ecgnet benchmark [--records N] [--skip-scaling] [--json FILE]
    ecgnet measure DATA OUT [--jobs N] [--rate HZ]
    ecgnet rules DATA OUT [--model MODEL] [--measurements CSV]
    ecgnet audit MODEL DATA OUT [--paper --class CODE --n N --seed S] [--rules RULE_LABELS.csv]
    ecgnet review-kit DATA OUT (--from LABEL_ISSUES.csv | --records FILE --classes CODE,...) [...]
    ecgnet agreement KIT_DIR ANSWERS.csv [ANSWERS.csv ...] [--json FILE] [--csv DIR] [--allow-incomplete]
    ecgnet relabel KIT_DIR ANSWERS.csv ... --policy consensus|drop|mask --out OVERRIDES.csv
    ecgnet relabel --from-audit LABEL_ISSUES.csv --weight W [--top N] --out OVERRIDES.csv
    ecgnet report MODEL OUT [--labels DATA] [--scores SCORES_JSON --test-labels DATA --outputs OUTPUTS]
    ecgnet compare DATA OUT [--config FILE] [--set name=value ...] --seeds 1,2,3 [--variant NAME:key=value,...]
    ecgnet compare --summarise OUT

Modules: `parsing` (the one parser builder, help formatter and error-to-exit-status wrapper),
`options` and `dataoptions` (checked numeric options; the options of every command that reads
DATA), then the commands by concern: `models` (train, drive, quantize, evaluate, compare),
`records` (synth, convert, measure), `review` (rules, audit, review-kit, agreement, relabel),
`reports` (report) and `benchmarks` (benchmark). A command parses its arguments, calls the
library, prints what it did and returns its exit status; the library does the work.

`python -m ecgnet` is the same program. The challenge scripts `train_model.py`, `driver.py` and
`evaluate_model.py` call `train`, `drive` and `evaluate` (re-exported here): the same options,
output and exit statuses. Each command takes `argv` (default: `sys.argv[1:]`) and `prog` and
returns its exit status; the heavy modules are imported only when a command runs, so that
`ecgnet --help` is quick.
"""

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from . import benchmarks, records, reports, review
from .models import compare, drive, evaluate, quantize, train
from .parsing import Command, HelpFormatter

__all__ = ["COMMANDS", "main", "train", "drive", "quantize", "evaluate", "compare"]

COMMANDS: dict[str, tuple[Command, str]] = {
    "train": (train, "train the fold ensemble and its thresholds on a folder of records"),
    "drive": (drive, "classify every record of a folder with a trained model"),
    "quantize": (quantize, "add int8 weights to a trained model, kept if they pass a fidelity gate"),
    "evaluate": (evaluate, "score output files exactly as the official 2020 scorer"),
    "synth": (records.synth, "write synthetic 12-lead records in the challenge's format"),
    "convert": (records.convert, "write any readable record (native WFDB too) in the challenge's format"),
    "benchmark": (benchmarks.benchmark, "measure the speed and memory of every stage (minutes)"),
    "measure": (records.measure, "measure heart rate, PR, QRS, QT/QTc, axes and voltages of every record"),
    "rules": (
        review.rules,
        "the published criteria applied to the measurements: rule labels and their agreement with labels and model",
    ),
    "audit": (review.audit, "rank the (record, class) labels most likely wrong, from out-of-fold outputs"),
    "review-kit": (review.review_kit, "make a blinded, print-ready ECG review packet for clinicians"),
    "agreement": (review.agreement, "agreement statistics of clinicians' answers (kappa with CIs)"),
    "relabel": (
        review.relabel,
        "turn clinicians' answers, or an audit's doubted labels, into a label-overrides file for training",
    ),
    "report": (reports.report, "an HTML report with plots of a model's cross-validation and test scores"),
    "compare": (compare, "train variants of a config over several seeds; each variant's mean and spread"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """`ecgnet COMMAND [ARGS]`: run COMMAND with ARGS; `ecgnet COMMAND --help` for its options."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="ecgnet",
        formatter_class=HelpFormatter,
        description="A 12-lead ECG classifier for the PhysioNet/CinC Challenge 2020.",
        epilog="Run `ecgnet COMMAND --help` for a command's arguments and their defaults.",
    )
    parser.add_argument("--version", action="version", version=f"ecgnet {__version__}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND", required=True)
    for name, (_, summary) in COMMANDS.items():
        commands.add_parser(name, help=summary, add_help=False)
    # Only the command name is parsed here; everything after it belongs to the command.
    name = parser.parse_args(argv[:1]).command
    return COMMANDS[name][0](argv[1:], f"{parser.prog} {name}")
