"""`python -m ecgnet.report MODEL OUT ...`: the same as `ecgnet report`."""

import sys

from . import main

sys.exit(main())
