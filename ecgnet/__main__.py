"""`python -m ecgnet`: the `ecgnet` command line (see `ecgnet.cli`)."""

import sys

from .cli import main

sys.exit(main())
