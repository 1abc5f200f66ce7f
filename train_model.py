#!/usr/bin/env python
"""Train the SE-ResNet fold ensemble and its thresholds.

    python train_model.py DATA MODEL [--set name=value ...] [--config FILE]

DATA holds the training records (NAME.hea + NAME.mat); everything the driver needs is written
into MODEL. Defaults reproduce the published method (5 folds, 70 epochs); `--set` changes any
field of ecgnet.config.Config, e.g. `--set epochs=15 --set lr_milestones=8,12`. Run the same
command again after an interruption to resume. Under `torchrun --nproc_per_node=K` the K
processes train together (or, with --parallel-folds, each trains its own folds).
"""
import argparse
import sys

from ecgnet.config import load_config_file, parse_overrides
from ecgnet.errors import EcgnetError, describe
from ecgnet.training import train


def fold_numbers(text):
    """`--folds 1,3` -> [0, 2]."""
    try:
        folds = [int(k) - 1 for k in text.split(",") if k.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected fold numbers such as 1,3, not {text!r}") from None
    if not folds or min(folds) < 0:
        raise argparse.ArgumentTypeError(f"expected fold numbers from 1, not {text!r}")
    return folds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("data", help="folder of training records")
    parser.add_argument("model", help="folder to write the model into")
    parser.add_argument("--config", metavar="FILE", help="JSON file of config fields")
    parser.add_argument("--set", metavar="NAME=VALUE", action="append", default=[], help="override one config field")
    parser.add_argument("--folds", metavar="N,M", type=fold_numbers, help="train only these folds (1-based) in this call")
    parser.add_argument("--parallel-folds", action="store_true", help="under torchrun: each process trains whole folds")
    parser.add_argument("--cache", metavar="DIR", help="keep the decoded-signal cache here (kept after training)")
    parser.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--workers", type=int, help="data loader processes (default: config.workers)")
    parser.add_argument("--jobs", type=int, default=-1, help="processes for decoding records (default: all cores)")
    args = parser.parse_args(argv)
    try:
        config = None
        if args.config or args.set:
            config = parse_overrides(args.set, load_config_file(args.config) if args.config else None)
        train(args.data, args.model, config=config, parallel_folds=args.parallel_folds, folds=args.folds,
              cache_folder=args.cache, device=args.device, workers=args.workers, jobs=args.jobs)
    except (EcgnetError, OSError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
