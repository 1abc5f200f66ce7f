#!/usr/bin/env python
"""Classify every record of a folder with a trained model.

    python driver.py MODEL DATA OUTPUTS [--device DEVICE]

Loads MODEL once and writes OUTPUTS/NAME.csv for every record in DATA, that is every
NAME.hea (and every NAME.mat without one; hidden files ignored): the record name, the 24
classes, their binary labels and probabilities. A record that fails is reported by name and
still gets an (all-negative) output file where its name allows; the exit status is then 1.
A model that cannot be loaded, or a DATA or OUTPUTS folder that cannot be used, stops the
run with status 2. The same as `ecgnet drive` (`ecgnet.cli.drive`).
"""

import sys

from ecgnet.cli import drive as main

if __name__ == "__main__":
    sys.exit(main())
