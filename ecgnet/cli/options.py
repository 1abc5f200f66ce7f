"""Numeric command-line options, checked for range and finiteness where they are parsed.

Each function here is an argparse `type=`: it turns the option's text into a number or raises
`argparse.ArgumentTypeError`, which argparse prints as one line naming the option. `nan`,
`inf`, negative and absurdly large values never reach the code that would choke on them (numpy
refuses a negative seed with a traceback, every comparison with NaN is false).
"""

import argparse
import math
from collections.abc import Callable

from ..config import MAX_SEED


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None


def integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """A whole number from `minimum` (to `maximum`)."""

    def parse(text: str) -> int:
        value = _integer(text)
        if value < minimum or (maximum is not None and value > maximum):
            allowed = f"from {minimum} to {maximum:,}" if maximum is not None else f"of at least {minimum}"
            raise argparse.ArgumentTypeError(f"expected a whole number {allowed}, not {text!r}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its message for a ValueError
    return parse


def seed(text: str) -> int:
    """A random seed: a whole number from 0 to MAX_SEED."""
    return integer(0, MAX_SEED)(text)


def number(minimum: float, maximum: float, *, below_maximum: bool = False) -> Callable[[str], float]:
    """A finite number from `minimum` to `maximum` (or below it, with `below_maximum`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
        above = value >= maximum if below_maximum else value > maximum
        if not math.isfinite(value) or value < minimum or above:
            limit = f"below {maximum:g}" if below_maximum else f"{maximum:g}"
            raise argparse.ArgumentTypeError(f"expected a number from {minimum:g} to {limit}, not {text!r}")
        return value

    parse.__name__ = "number"
    return parse


fraction = number(0.0, 1.0)  # a share or probability, from 0 to 1


def processes(text: str) -> int:
    """A number of worker processes: 1 to 1024, or -1 for one per core."""
    value = integer(-1, 1024)(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number of processes from 1 to 1,024, or -1 for all cores, not '0'")
    return value
