"""The options of every command that reads DATA: which records (`--recursive`), whose labels
(`--labels header|ptbxl`, `--min-likelihood`), and which of PTB-XL's folds (`--strat-folds`).

One definition, so that `train`, `drive`, `evaluate`, `audit`, `review-kit` and `convert` read
a folder the same way; `label_source` turns the parsed options into a `ptbxl.PtbxlLabels` (or
None: the headers' own `#Dx`, `#Age` and `#Sex`).
"""

import argparse
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when used: the command line parses its options before numpy loads
    from ..ptbxl import PtbxlLabels

RECURSIVE_HELP = (
    "search DATA's subfolders too (default: only when DATA holds no records of its own; --no-recursive: never); "
    "records are named by their files, so two of one name in different subfolders are an error"
)
LABELS_HELP = (
    "where labels, age and sex come from: the headers' #Dx, #Age and #Sex, or PTB-XL's ptbxl_database.csv "
    "in DATA or a folder above it (scp_codes and heart_axis mapped to the 24 classes by ecgnet/data/ptbxl_mapping.csv)"
)


def add_recursive(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recursive", action=argparse.BooleanOptionalAction, default=None, help=RECURSIVE_HELP)


def add_labels(parser: argparse.ArgumentParser, what: str = LABELS_HELP) -> None:
    parser.add_argument("--labels", choices=("header", "ptbxl"), default="header", help=what)
    parser.add_argument(
        "--min-likelihood",
        type=float,
        default=0.0,
        metavar="L",
        help="with --labels ptbxl: count a diagnostic statement only if its likelihood is at least L (0-100; "
        "rhythm and form statements carry none and always count)",
    )


def strat_folds(text: str) -> frozenset[int]:
    """`--strat-folds 9,10` -> {9, 10}."""
    try:
        folds = frozenset(int(k) for k in text.split(",") if k.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PTB-XL folds such as 10 or 9,10, not {text!r}") from None
    if not folds or not folds <= set(range(1, 11)):
        raise argparse.ArgumentTypeError(f"PTB-XL's folds are 1 to 10, not {text!r}")
    return folds


def add_strat_folds(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strat-folds",
        type=strat_folds,
        metavar="K,...",
        help="with --labels ptbxl: only the records of these strat_fold values, e.g. 10 (PTB-XL's test fold)",
    )


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse PTB-XL options without --labels ptbxl."""
    ptbxl = getattr(args, "labels", "header") == "ptbxl"
    if not ptbxl and getattr(args, "strat_folds", None):
        parser.error("--strat-folds needs --labels ptbxl")
    if not ptbxl and getattr(args, "min_likelihood", None):
        parser.error("--min-likelihood needs --labels ptbxl")
    if not 0 <= getattr(args, "min_likelihood", 0.0) <= 100:
        parser.error("--min-likelihood must be from 0 to 100")


def label_source(args: argparse.Namespace, data_folder: str | os.PathLike) -> "PtbxlLabels | None":
    """The PTB-XL labels beside `data_folder` with --labels ptbxl, else None (the headers')."""
    if getattr(args, "labels", "header") != "ptbxl":
        return None
    from ..ptbxl import PtbxlLabels

    return PtbxlLabels.beside(data_folder, getattr(args, "min_likelihood", 0.0))
