#!/usr/bin/env python
"""Score challenge outputs exactly as the official 2020 scorer (evaluate_12ECG_score.py).

    python evaluate_model.py LABELS OUTPUTS [SCORES_CSV [CLASS_SCORES_CSV]] [--json FILE]

LABELS holds NAME.hea files (their #Dx lines are the truth), OUTPUTS the NAME.csv files a
driver wrote. Without SCORES_CSV the scores are printed. --json writes every metric at full
precision, the per-class table and the same metrics per source (record-name prefix).
"""
import argparse
import sys

from ecgnet import scoring
from ecgnet.errors import EcgnetError, describe


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("labels", help="folder of NAME.hea label files")
    parser.add_argument("outputs", help="folder of NAME.csv output files")
    parser.add_argument("scores_csv", nargs="?", help="write the overall scores here")
    parser.add_argument("class_scores_csv", nargs="?", help="write the per-class scores here")
    parser.add_argument("--json", metavar="FILE", help="write every metric, per class and per source, as JSON")
    args = parser.parse_args(argv)
    try:
        evaluate(args)
    except (EcgnetError, OSError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 1
    return 0


def evaluate(args):
    evaluation = scoring.evaluate_folders(args.labels, args.outputs)
    for path in evaluation.outputs.malformed:
        print(f"- The output file {path} has formatting errors, so all outputs are assumed to be "
              "negative for this recording.", file=sys.stderr)
    text = scoring.scores_csv(evaluation.overall)
    if args.scores_csv:
        with open(args.scores_csv, "w") as f:
            f.write(text)
    else:
        print(text)
    if args.class_scores_csv:
        with open(args.class_scores_csv, "w") as f:
            f.write(scoring.class_scores_csv(evaluation.overall))
    if args.json:
        scoring.write_json(evaluation, args.json)


if __name__ == "__main__":
    sys.exit(main())
