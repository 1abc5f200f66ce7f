#!/usr/bin/env python
"""Train the SE-ResNet fold ensemble and its thresholds.

    python train_model.py DATA MODEL [--set name=value ...] [--config FILE]

DATA holds the training records (NAME.hea + NAME.mat); everything the driver needs is written
into MODEL. Defaults are the published method's (5 folds, 70 epochs) but for five settings chosen
by leave-one-source-out validation; `--paper` gives the published ones; `--set` changes any
field of ecgnet.config.Config, e.g. `--set epochs=15 --set lr_milestones=8,12`. Run the same
command again after an interruption to resume. Under `torchrun --nproc_per_node=K` the K
processes train together (or, with --parallel-folds, each trains its own folds). The same as
`ecgnet train` (`ecgnet.cli.train`); `--help` lists every option.
"""

import sys

from ecgnet.cli import train as main

if __name__ == "__main__":
    sys.exit(main())
