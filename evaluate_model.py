#!/usr/bin/env python
"""Score challenge outputs exactly as the official 2020 scorer (evaluate_12ECG_score.py).

    python evaluate_model.py LABELS OUTPUTS [SCORES_CSV [CLASS_SCORES_CSV]] [--json FILE]

LABELS holds NAME.hea files (their #Dx lines are the truth), OUTPUTS the NAME.csv files a
driver wrote. Without SCORES_CSV the scores are printed. --json writes every metric at full
precision, the per-class table and the same metrics per source (record-name prefix). The same
as `ecgnet evaluate` (`ecgnet.cli.evaluate`).
"""

import sys

from ecgnet.cli import evaluate as main

if __name__ == "__main__":
    sys.exit(main())
