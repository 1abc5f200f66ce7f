"""The `ecgnet benchmark` command: speed and memory of every stage (`ecgnet.benchmarks.run`)."""

import json
import sys
import tempfile
from collections.abc import Sequence

from . import options
from .parsing import command, command_parser


@command()
def benchmark(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """`ecgnet benchmark`: run every measurement, print one line each; 0 when done, 1 on an error."""
    from ..benchmarks import anchor, run
    from ..files import atomic_write

    parser = command_parser(prog, run.__doc__)
    parser.add_argument(
        "--records", type=options.integer(1, 100_000), default=428, help="records for the throughput comparison"
    )
    parser.add_argument(
        "--model",
        metavar="MODEL",
        help="a trained MODEL folder of the sample records: int8's fidelity too (default: an untrained model, "
        "int8 weights calibrated on 16 records)",
    )
    parser.add_argument("--skip-scaling", action="store_true", help="skip the 10 x N memory runs (minutes)")
    parser.add_argument(
        "--inference-only", action="store_true", help="skip the training and scoring measurements (3, 4, 5's training)"
    )
    parser.add_argument(
        "--rounds", type=options.integer(1, 100), default=2, help="driver processes per contender (best of N)"
    )
    parser.add_argument(
        "--anchor",
        metavar="DIR",
        default=anchor.ANCHOR,
        help="the authors' code with its make_anchor.sh (skipped when absent)",
    )
    parser.add_argument(
        "--anchor-python",
        metavar="PYTHON",
        default=sys.executable,
        help="the Python that runs the authors' code (needs torch, numpy, scipy, pandas; default: this one)",
    )
    parser.add_argument("--json", metavar="FILE", help="write the results here")
    parser.add_argument(
        "--sample-data",
        metavar="DIR",
        default=run.SAMPLE,
        help="the challenge's sample records (synthetic records when the folder is absent)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        results = run.measure(args, work, print)
    if args.json:
        atomic_write(args.json, json.dumps(results, indent=2) + "\n")
    return 0
