"""`ecgnet relabel KIT_DIR ANSWERS.csv ... --policy P --out OVERRIDES.csv`: reviewed labels for
training; `ecgnet relabel --from-audit label_issues.csv --weight W [--top N] --out OVERRIDES.csv`:
the audit's doubted labels down-weighted; `ecgnet relabel --from-rules rule_labels.csv
(--weight W | --override) [--classes CODE,...] --out OVERRIDES.csv`: the labels the measurement
rule reader contradicts down-weighted or overridden.

Turns the reviewers' consensus (see `ecgnet agreement`: per item and class the majority of
the 1/0 answers, a tie or only "?" being uncertain) into an overrides file that training
reads beside the records; no `.hea` file is ever edited. Only suspect and control items
count: a repeat shows a record again to measure self-consistency, and the first showing's
answers are the ones used (a record shown twice outside repeats: its first item in key.csv).
Items nobody answered give no row. The answers must be of this kit (its identity in their
kit_id column) and complete (every review ID answered) unless --allow-incomplete; a reviewer's
answers to an item they marked uninterpretable (quality U) abstain.

Policies (the given label is the one in key.csv, the dataset's):
  consensus  set the consensus (1 or 0) where it differs from the given label; uncertain: no row
  mask       `mask` where the consensus contradicts the given label, is uncertain or every
             answering reviewer marked the item uninterpretable: training leaves that class out
             of that record's loss
  drop       `drop` (class `*`) for every record whose consensus contradicts the given label for
             any asked class: training leaves the record out

--from-audit, instead of reviewers' answers: `weight:W` for every (record, class) pair of an
`ecgnet audit` label_issues.csv (the first N rows with --top N: the audit writes them most
doubtful first), without a review. Training keeps those labels but counts their loss W times,
so that a label the out-of-fold predictions contradict steers the network less, while one the
audit wrongly doubts is not lost (W 0 masks the cells).

--from-rules, instead of reviewers' answers: for every (record, class) of an `ecgnet rules`
rule_labels.csv whose rule verdict contradicts the given label, `weight:W` (the label stays,
its loss counts W times) or, with --override, the rule's verdict (1 or 0). Only the classes
the measurements decide reliably by default (--classes): Brady, SB, STach (rate; SB and STach
also need the P waves that show sinus rhythm), IAVB and LPR (PR), LAD and RAD (QRS axis). A
data set's label may follow another convention than the published criterion (PTB-XL's left
axis deviation includes the German "Linkstyp", -30 to +30 deg): down-weighting keeps such a
label in play, overriding replaces the convention with the criterion's, which the test labels
may not share.

Overrides file: `record,class,label`; label `1`, `0`, `mask` or `weight:W` with class a SNOMED
CT code of the 24 scored classes (an equivalent code is read as its class), or `drop` with class
`*`. `read_overrides` checks a file and `apply_overrides` applies it to training's arrays.
"""

import os

from .. import labels as label_space
from ..csvfiles import Problems
from ..errors import quote
from ..folders import name_problem
from ..overrides import (  # noqa: F401  (the overrides file's reader and applier live in the core)
    ALL_CLASSES,
    OVERRIDE_COLUMNS,
    WEIGHT,
    Overrides,
    OverridesError,
    apply_overrides,
    check_overrides,
    parse_weight,
    read_overrides,
    unmatched,
    write_overrides,
)
from .audit import read_issues
from .rules import read_rule_rows
from .stats import consensus

POLICIES = ("consensus", "mask", "drop")
# The classes whose rules the measurements decide within their accuracy aims (docs/measurements.md).
RULE_CLASSES = ("426627000", "426177001", "427084000", "270492004", "164947007", "39732003", "47665007")


def overrides_for(kit, answers, policy):
    """[(record, class code or '*', label)] of a policy, sorted by record then class order."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    first: dict[tuple[str, str], dict] = {}  # (record, class) -> its first non-repeat item's consensus row
    for row in consensus(kit, answers):
        first.setdefault((row["record"], row["class"]), row)
    out = set()
    for (record, code), row in first.items():
        code = label_space.canonical_code(code)
        result, given = row["consensus"], row["given_label"]
        contradicts = result in (0, 1) and result != given
        if policy == "consensus" and contradicts:
            out.add((record, code, str(result)))
        elif policy == "mask" and (contradicts or result in ("uncertain", "uninterpretable")):
            out.add((record, code, "mask"))
        elif policy == "drop" and contradicts:
            out.add((record, ALL_CLASSES, "drop"))
    for _, code, _ in out:
        if code != ALL_CLASSES and label_space.canonical_code(code) not in label_space.CLASS_INDEX:
            raise OverridesError(
                f"{os.path.join(kit.folder, 'manifest.json')}: class {code} is not one of the 24 "
                "scored classes, so training cannot take an override of it"
            )

    return sorted(out, key=_order)


def overrides_from_audit(path, weight, top=None):
    """[(record, class code, 'weight:W')] for the first `top` rows (None: all) of the audit's
    label_issues.csv at `path`, sorted by record then class order. OverridesError lists every
    row of the file that cannot become an override (by its row number in that file)."""
    problems = Problems(path, OverridesError)
    out: list[tuple[str, str, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for row in read_issues(path)[:top]:
        code, record = label_space.canonical_code(row["class"]), row["record"]
        problem = name_problem(record) if record else "the record name is empty"
        if problem:
            problems.add(row.number, "record", problem)
        elif code not in label_space.CLASS_INDEX:
            problems.add(row.number, "class", f"{quote(row['class'])} is not one of the 24 scored classes")
        elif (record, code) in seen:
            problems.add(row.number, "class", f"record {record} and class {code} are also on row {seen[record, code]}")
        else:
            seen[record, code] = row.number
            out.append((record, code, f"{WEIGHT}{weight:g}"))
    problems.raise_any()
    return sorted(out, key=_order)


def overrides_from_rules(path, classes=RULE_CLASSES, weight=None):
    """[(record, class code, label)] for the (record, class) pairs of `classes` in a rule_labels.csv
    whose rule contradicts the given label: `weight:W`, or the rule's verdict when `weight` is None."""
    wanted = {label_space.canonical_code(c) for c in classes}
    out = []
    for record, code, verdict, given in read_rule_rows(path):
        if code in wanted and verdict is not None and given is not None and verdict != given:
            out.append((record, code, str(verdict) if weight is None else f"{WEIGHT}{weight:g}"))
    return sorted(out, key=_order)


def _order(row):
    """Overrides rows by record, then a record's drop before its classes in CLASSES order."""
    return row[0], -1 if row[1] == ALL_CLASSES else label_space.CLASS_INDEX[label_space.canonical_code(row[1])]
