"""`ecgnet relabel KIT_DIR ANSWERS.csv ... --policy P --out OVERRIDES.csv`: reviewed labels for training.

Turns the reviewers' consensus (see `ecgnet agreement`: per item and class the majority of
the 1/0 answers, a tie or only "?" being uncertain) into an overrides file that training
reads beside the records; no `.hea` file is ever edited. Only suspect and control items
count: a repeat shows a record again to measure self-consistency, and the first showing's
answers are the ones used (a record shown twice outside repeats: its first item in key.csv).
Items nobody answered give no row.

Policies (the given label is the one in key.csv, the dataset's):
  consensus  set the consensus (1 or 0) where it differs from the given label; uncertain: no row
  mask       `mask` where the consensus contradicts the given label or is uncertain: training
             leaves that class out of that record's loss
  drop       `drop` (class `*`) for every record whose consensus contradicts the given label for
             any asked class: training leaves the record out

Overrides file: `record,class,label`; label `1`, `0` or `mask` with class a SNOMED CT code of
the 24 scored classes (an equivalent code is read as its class), or `drop` with class `*`.
`read_overrides` checks a file and `apply_overrides` applies it to training's arrays.
"""

import argparse
import os
import sys

from .. import labels as label_space
from ..errors import EcgnetError, describe
from ..overrides import (  # noqa: F401  (the overrides file's reader and applier live in the core)
    ALL_CLASSES,
    OVERRIDE_COLUMNS,
    Overrides,
    OverridesError,
    apply_overrides,
    read_overrides,
    unmatched,
    write_overrides,
)
from .answers import load_kit, read_all_answers
from .stats import consensus

POLICIES = ("consensus", "mask", "drop")

DESCRIPTION = "Turn reviewers' answers into a label overrides file for training."


def overrides_for(kit, answers, policy):
    """[(record, class code or '*', label)] of a policy, sorted by record then class order."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    first = {}  # (record, class) -> its first non-repeat item's consensus row
    for row in consensus(kit, answers):
        first.setdefault((row["record"], row["class"]), row)
    out = set()
    for (record, code), row in first.items():
        code = label_space.canonical_code(code)
        result, given = row["consensus"], row["given_label"]
        contradicts = result in (0, 1) and result != given
        if policy == "consensus" and contradicts:
            out.add((record, code, str(result)))
        elif policy == "mask" and (contradicts or result == "uncertain"):
            out.add((record, code, "mask"))
        elif policy == "drop" and contradicts:
            out.add((record, ALL_CLASSES, "drop"))
    for _, code, _ in out:
        if code != ALL_CLASSES and label_space.canonical_code(code) not in label_space.CLASS_INDEX:
            raise OverridesError(
                f"{os.path.join(kit.folder, 'manifest.json')}: class {code} is not one of the 24 "
                "scored classes, so training cannot take an override of it"
            )

    def order(row):
        return row[0], -1 if row[1] == ALL_CLASSES else label_space.CLASS_INDEX[label_space.canonical_code(row[1])]

    return sorted(out, key=order)


def main(argv: list[str] | None = None, prog: str = "ecgnet relabel") -> int:
    from ..cli import HelpFormatter

    rest = __doc__.partition("\n\n")[2]
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=rest, formatter_class=HelpFormatter)
    parser.add_argument("kit", help="the review kit folder (manifest.json, key.csv)")
    parser.add_argument("answers", nargs="+", help="each reviewer's filled answer_form.csv, named after the reviewer")
    parser.add_argument("--policy", choices=POLICIES, required=True, help="how reviewed labels become overrides")
    parser.add_argument("--out", required=True, metavar="OVERRIDES.csv", help="the overrides file to write")
    parser.add_argument(
        "--blank-as-uncertain",
        action="store_true",
        help="read a blank answer as ?, not an error (default: off, a blank is an error)",
    )
    args = parser.parse_args(argv)
    try:
        kit = load_kit(args.kit)
        answers = read_all_answers(args.answers, kit, args.blank_as_uncertain)
        rows = overrides_for(kit, answers, args.policy)
        write_overrides(args.out, rows)
        read_overrides(args.out)  # what training will read must pass its checks
    except (EcgnetError, OSError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 2
    records = len({r for r, _, _ in rows})
    print(f"wrote {len(rows)} overrides ({args.policy}) of {records} records to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
