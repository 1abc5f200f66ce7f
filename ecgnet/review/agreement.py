"""`ecgnet agreement KIT_DIR ANSWERS.csv [ANSWERS.csv ...]`: how far reviewers agree.

For each class of the kit and each group of items (suspect: the model and the label disagree;
control: they agree; reported separately, as choosing items for disagreement pushes agreement
with the label down), and for both groups pooled:
- each reviewer vs the dataset labels and vs the model's labels (where key.csv has them),
- every pair of reviewers: Cohen's kappa with a 95% CI, asymptotic (statsmodels
  `cohens_kappa`) and bootstrap (percentile, items resampled, seeded),
- all reviewers together: Fleiss' kappa (statsmodels `fleiss_kappa`) with a bootstrap CI,
  over the items every reviewer answered 1 or 0,
- raw agreement and the prevalence-adjusted bias-adjusted kappa (PABAK = 2 x agreement - 1;
  for Fleiss, Randolph's free-marginal kappa, the same for two categories),
- the consensus: per item the majority of the 1/0 answers ("?" abstains; a tie or no 1/0
  answer is uncertain), counted per class and compared with the labels;
and, per reviewer and class, the self-consistency between an item and its unannounced repeat.

Answers: the reviewer's filled answer_form.csv, named after the reviewer (the file's stem is the
reviewer's name). Cells are 1 (present), 0 (absent) or ? (uncertain). A "?" is left out of
every kappa and counted; a blank cell of an asked class is an error naming file, row and column
(rows numbered as a spreadsheet shows them, the header being row 1) unless
--blank-as-uncertain; cells of classes not asked for that item are ignored. An item missing
from a file is counted as unanswered. Kappa is undefined (None, with the reason; never NaN)
when nobody gave a usable answer or every answer is the same value.

JSON (--json): {"classes": {CODE: {"vs_labels": {REVIEWER: {"kappa", "ci", "ci_bootstrap",
"se", "n", "agreement", "pabak", "uncertain", "table", ...}}, "vs_model": {...}, "between":
{"R1~R2": {...}}, "fleiss": {...}, "consensus": {...}, "self_consistency": {REVIEWER: {...}},
"groups": {"suspect": {the same but self_consistency}, "control": {...}}}}, ...}; the keys
outside "groups" pool suspects and controls. "table" is [[1/1, 1/0], [0/1, 0/0]]: rows the
first rater (the reviewer), columns the second (labels, model or the second reviewer).
"""

import argparse
import csv
import itertools
import json
import sys

import numpy as np

from .. import options
from ..errors import EcgnetError, describe
from ..files import atomic_file
from .answers import (  # noqa: F401  (the errors and read_answers: re-exported)
    GROUPS,
    AnswersError,
    KitError,
    load_kit,
    read_all_answers,
    read_answers,
)
from .formats import KEY_COLUMNS  # noqa: F401  (re-exported)
from .stats import (  # noqa: F401  (cohen_table, bootstrap_cohen, ...: re-exported)
    RESAMPLES,
    _fleiss_vectorised,
    _rng,
    bootstrap_cohen,
    cohen,
    cohen_table,
    consensus,
    fleiss,
    fleiss_counts,
)

DESCRIPTION = "Agreement of reviewers with the dataset labels, the model and each other (kappa with CIs)."


# ---------------------------------------------------------------- per class and group


def _vs_reference(questions, answer, reference, rng, resamples):
    """Cohen of one reviewer against a reference label of the questions (labels or model)."""
    pairs, uncertain = [], 0
    for q in questions:
        value, ref = answer.cells.get((q.review_id, q.code)), reference(q)
        if q.review_id not in answer.answered or ref is None:
            continue
        if value is None:
            uncertain += 1
        else:
            pairs.append((value, ref))
    x, y = (np.array(p) for p in zip(*pairs)) if pairs else ([], [])
    return cohen(x, y, rng, resamples, uncertain)


def compare(questions, answers, key, seed=0, resamples=RESAMPLES):
    """Every statistic of one class over `questions` (non-repeat items of one class)."""
    out = {"items": len(questions), "vs_labels": {}, "vs_model": {}, "between": {}}
    for a in answers:
        out["vs_labels"][a.reviewer] = _vs_reference(
            questions, a, lambda q: q.given, _rng(seed, f"{key}/labels/{a.reviewer}"), resamples
        )
        if any(q.model is not None for q in questions):
            out["vs_model"][a.reviewer] = _vs_reference(
                questions, a, lambda q: q.model, _rng(seed, f"{key}/model/{a.reviewer}"), resamples
            )
    for a, b in itertools.combinations(answers, 2):
        pairs, uncertain = [], 0
        for q in questions:
            if q.review_id in a.answered and q.review_id in b.answered:
                x, y = a.cells.get((q.review_id, q.code)), b.cells.get((q.review_id, q.code))
                if x is None or y is None:
                    uncertain += 1
                else:
                    pairs.append((x, y))
        x, y = (np.array(p) for p in zip(*pairs)) if pairs else ([], [])
        name = f"{a.reviewer}~{b.reviewer}"
        out["between"][name] = cohen(x, y, _rng(seed, f"{key}/between/{name}"), resamples, uncertain)
    ratings, uncertain = [], 0
    for q in questions:
        if all(q.review_id in a.answered for a in answers):
            values = [a.cells.get((q.review_id, q.code)) for a in answers]
            if None in values:
                uncertain += 1
            else:
                ratings.append(values)
    counts = fleiss_counts(ratings) if ratings else np.zeros((0, 2), dtype=int)
    out["fleiss"] = fleiss(counts, _rng(seed, f"{key}/fleiss"), resamples, uncertain)
    return out


def _consensus_summary(rows, rng, resamples):
    outcome = [r["consensus"] for r in rows]
    decided = [r for r in rows if r["consensus"] in (0, 1)]
    return {
        "1": outcome.count(1),
        "0": outcome.count(0),
        "uncertain": outcome.count("uncertain"),
        "unanswered": outcome.count("unanswered"),
        "confirms_label": sum(r["consensus"] == r["given_label"] for r in decided),
        "contradicts_label": sum(r["consensus"] != r["given_label"] for r in decided),
        "vs_labels": cohen(
            [r["consensus"] for r in decided],
            [r["given_label"] for r in decided],
            rng,
            resamples,
            outcome.count("uncertain"),
        ),
    }


def self_consistency(kit, answer, code, rng, resamples=RESAMPLES):
    """One reviewer's answers to each repeat vs their answers to its first showing."""
    pairs, uncertain = [], 0
    for q in kit.questions:
        if q.group != "repeat" or q.code != code:
            continue
        if q.review_id in answer.answered and q.repeat_of in answer.answered:
            first, again = answer.cells.get((q.repeat_of, code)), answer.cells.get((q.review_id, code))
            if first is None or again is None:
                uncertain += 1
            else:
                pairs.append((first, again))
    x, y = (np.array(p) for p in zip(*pairs)) if pairs else ([], [])
    return cohen(x, y, rng, resamples, uncertain)


def agreement_report(kit, answers, seed=0, resamples=RESAMPLES):
    """The whole report (the --json layout)."""
    asked_items = {q.review_id for q in kit.questions}
    report = {
        "kit": kit.folder,
        "reviewers": {
            a.reviewer: {
                "file": a.path,
                "items_answered": len(a.answered),
                "items_unanswered": len(asked_items - a.answered),
                "uncertain_answers": sum(v is None for v in a.cells.values()),
            }
            for a in answers
        },
        "bootstrap": {"resamples": resamples, "seed": seed, "ci": "95% percentile, items resampled"},
        "classes": {},
    }
    for code, abbreviation in kit.classes:
        questions = [q for q in kit.questions if q.code == code]
        if not questions:
            continue
        pooled = [q for q in questions if q.group in GROUPS]
        entry = {"abbreviation": abbreviation, **compare(pooled, answers, f"{code}/all", seed, resamples)}
        rows = consensus(kit, answers, code)
        entry["consensus"] = _consensus_summary(rows, _rng(seed, f"{code}/all/consensus"), resamples)
        entry["self_consistency"] = {
            a.reviewer: self_consistency(kit, a, code, _rng(seed, f"{code}/self/{a.reviewer}"), resamples)
            for a in answers
        }
        entry["groups"] = {}
        for group in GROUPS:
            part = [q for q in questions if q.group == group]
            entry["groups"][group] = compare(part, answers, f"{code}/{group}", seed, resamples)
            entry["groups"][group]["consensus"] = _consensus_summary(
                [r for r in rows if r["group"] == group], _rng(seed, f"{code}/{group}/consensus"), resamples
            )
        report["classes"][code] = entry
    return report


# ---------------------------------------------------------------- output


def _kappa_text(s):
    if s["kappa"] is None:
        text = f"kappa -  ({s['reason']})"
    else:
        ci = f"{s['ci'][0]:.3f}..{s['ci'][1]:.3f}" if s.get("ci") else "-"
        boot = f"{s['ci_bootstrap'][0]:.3f}..{s['ci_bootstrap'][1]:.3f}" if s.get("ci_bootstrap") else "-"
        text = f"kappa {s['kappa']:6.3f}  CI {ci} (bootstrap {boot})"
    extra = f"  agreement {s['agreement']:.3f}  PABAK {s['pabak']:.3f}" if s.get("agreement") is not None else ""
    return f"{text}  n {s['n']}{extra}  uncertain {s.get('uncertain', 0)}"


def _fleiss_text(s):
    if s["kappa"] is None:
        return f"kappa -  ({s['reason']})  n {s['n']}"
    ci = f"{s['ci'][0]:.3f}..{s['ci'][1]:.3f}" if s.get("ci") else "-"
    return (
        f"kappa {s['kappa']:6.3f}  bootstrap CI {ci}  n {s['n']}  raters {s['raters']}  agreement "
        f"{s['agreement']:.3f}  free-marginal {s['pabak']:.3f}  uncertain {s['uncertain']}"
    )


def format_report(report):
    lines = []
    for code, entry in report["classes"].items():
        lines.append(f"{entry['abbreviation']} ({code})")
        for group in GROUPS:
            part = entry["groups"][group]
            c = part["consensus"]
            lines.append(
                f"  {group}: {part['items']} items; consensus 1: {c['1']}, 0: {c['0']}, uncertain: "
                f"{c['uncertain']}, unanswered: {c['unanswered']}; contradicts the label: "
                f"{c['contradicts_label']} of {c['1'] + c['0']}"
            )
            for title, table in (
                ("vs labels", part["vs_labels"]),
                ("vs model", part["vs_model"]),
                ("between", part["between"]),
            ):
                for name, s in table.items():
                    lines.append(f"    {title:<10} {name:<20} {_kappa_text(s)}")
            lines.append(f"    {'Fleiss':<10} {'all reviewers':<20} {_fleiss_text(part['fleiss'])}")
        for name, s in entry["self_consistency"].items():
            lines.append(f"  {'repeats':<12} {name:<20} {_kappa_text(s)}")
    return "\n".join(lines)


def write_consensus(path, kit, answers):
    with atomic_file(path) as f:
        writer = csv.DictWriter(
            f,
            fieldnames=[
                "review_id",
                "record",
                "group",
                "class",
                "abbreviation",
                "given_label",
                "model_label",
                "votes_1",
                "votes_0",
                "votes_uncertain",
                "consensus",
            ],
            lineterminator="\n",
        )
        writer.writeheader()
        for row in consensus(kit, answers):
            writer.writerow({**row, "model_label": "" if row["model_label"] is None else row["model_label"]})


def main(argv: list[str] | None = None, prog: str = "ecgnet agreement") -> int:
    from ..cli import HelpFormatter

    rest = __doc__.partition("\n\n")[2]
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=rest, formatter_class=HelpFormatter)
    parser.add_argument("kit", help="the review kit folder (manifest.json, key.csv)")
    parser.add_argument("answers", nargs="+", help="each reviewer's filled answer_form.csv, named after the reviewer")
    parser.add_argument("--json", metavar="FILE", help="write the whole report as JSON")
    parser.add_argument("--consensus", metavar="FILE", help="write the consensus of every item and class as CSV")
    parser.add_argument("--blank-as-uncertain", action="store_true", help="read a blank answer as ?, not an error")
    parser.add_argument(
        "--resamples", type=options.integer(100, 1_000_000), default=RESAMPLES, help="bootstrap resamples"
    )
    parser.add_argument(
        "--seed", type=options.seed, default=0, help="bootstrap seed: the same seed gives the same intervals"
    )
    args = parser.parse_args(argv)
    if args.resamples < 100:
        parser.error("--resamples must be at least 100")
    try:
        kit = load_kit(args.kit)
        answers = read_all_answers(args.answers, kit, args.blank_as_uncertain)
        report = agreement_report(kit, answers, args.seed, args.resamples)
        print(format_report(report))
        if args.json:
            with atomic_file(args.json) as f:
                json.dump(report, f, indent=2)
                f.write("\n")
        if args.consensus:
            write_consensus(args.consensus, kit, answers)
    except (EcgnetError, OSError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
