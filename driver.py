#!/usr/bin/env python
"""Classify every record of a folder with a trained model.

    python driver.py MODEL DATA OUTPUTS

Loads MODEL once and writes OUTPUTS/NAME.csv for every record in DATA, that is every
NAME.hea (and every NAME.mat without one; hidden files ignored): the record name, the 24
classes, their binary labels and probabilities. A record that fails is reported by name and
still gets an (all-negative) output file where its name allows; the exit status is then 1.
A model that cannot be loaded, or a DATA or OUTPUTS folder that cannot be used, stops the
run with status 2.
"""
import argparse
import sys

from ecgnet.errors import EcgnetError, describe
from ecgnet.inference import Ensemble
from ecgnet.runner import run_folder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="folder written by train_model.py")
    parser.add_argument("data", help="folder of records to classify")
    parser.add_argument("outputs", help="folder to write NAME.csv output files into")
    parser.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    args = parser.parse_args(argv)
    try:
        ensemble = Ensemble.from_folder(args.model, args.device)
        report = run_folder(ensemble, args.data, args.outputs)
    except (EcgnetError, OSError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 2
    for name, reason in report.failures:
        print(f"failed: {name if name.isprintable() else ascii(name)}: {reason}", file=sys.stderr)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
