"""The label-review commands: `ecgnet rules`, `audit`, `review-kit`, `agreement` and `relabel`.

They need the `review` extra (cleanlab, statsmodels, matplotlib), which the challenge image
does not install; the work is done in `ecgnet.review` (and `ecgnet.measure`).
"""

import argparse
import json
import os
import secrets
import sys
from collections.abc import Sequence

from . import dataoptions, options
from .parsing import command, command_parser

# ---------------------------------------------------------------------------------------------
# rules

RULES_DESCRIPTION = (
    "Apply the published criteria to the measurements: rule labels and their agreement with labels and model."
)


def _kappa_text(entry: dict | None) -> str:
    if not entry or entry.get("kappa") is None:
        return "-"
    ci = entry.get("ci") or [None, None]
    low, high = ("?" if v is None else f"{v:.2f}" for v in ci)
    return f"{entry['kappa']:.2f} ({low} to {high}), n={entry['n']}"


@command(default_prog="ecgnet rules", review_extra=True)
def rules(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """`ecgnet rules`: 0 when the rule labels and their agreement are written, 1 on an error."""
    from ..review import rules as rule_reader

    parser = command_parser(prog, RULES_DESCRIPTION, rule_reader.__doc__.partition("\n\n")[2])
    parser.add_argument("data", help="folder of records (their #Dx labels are compared)")
    parser.add_argument("out", help="folder to write the rule labels and agreement into (made if missing)")
    parser.add_argument("--model", metavar="MODEL", help="a trained model: its out-of-fold labels are compared too")
    parser.add_argument(
        "--measurements", metavar="CSV", help="measurements.csv of DATA from `ecgnet measure` (default: measure now)"
    )
    parser.add_argument(
        "--jobs", type=options.processes, default=1, help="processes measuring records (without --measurements)"
    )
    parser.add_argument("--seed", type=options.seed, default=0, help="seed of the bootstrap intervals")
    args = parser.parse_args(argv)
    result = rule_reader.run_rules(args.data, args.out, args.model, args.measurements, args.jobs, args.seed)
    print(
        f"{result['records']} records; kappa (95% CI): labels vs rule; the same in the sources giving the class"
        + ("; model vs rule" if args.model else "")
    )
    for entry in result["classes"].values():
        line = f"  {entry['abbreviation']:6s} {entry['criterion']}: {_kappa_text(entry['labels_vs_rule'])}"
        line += f"; {_kappa_text(entry['labels_vs_rule_in_labelling_sources'])}"
        if args.model:
            line += f"; {_kappa_text(entry['model_vs_rule'])}"
        print(line)
    written = (os.path.join(args.out, name) for name in (rule_reader.RULE_LABELS_FILE, rule_reader.AGREEMENT_FILE))
    print(f"wrote {' and '.join(written)}")
    return 0


# ---------------------------------------------------------------------------------------------
# audit

AUDIT_DESCRIPTION = "Rank the (record, class) labels most likely to be wrong, from a model's out-of-fold probabilities."

AUDIT_HELP = """The evidence is the model's OUT-OF-FOLD probabilities (`MODEL/oof_probabilities.csv`: each
training record predicted by the fold model that did not train on it; in-fold predictions
would have learnt the wrong labels and hide them) against the records' `#Dx` labels in DATA
(headers only, equivalent codes merged as everywhere in ecgnet). Confident learning is
cleanlab's (`cleanlab.multilabel_classification`):

- flagged pairs: `filter.find_multilabel_issues_per_class` (one-vs-rest confident joint per
  class, `filter_by` prune_by_noise_rate by default);
- label quality: `rank.get_label_quality_scores_per_class` (self-confidence: the probability
  of the given label, p when labelled and 1 - p when not); rank 1 is the lowest quality;
- issue: `spurious` when the pair is labelled (the finding is likely absent), `missing` when
  it is not (the finding is likely present);
- a class is audited only when it has at least --min-positives positive AND negative records
  (with fewer, the confident joint is meaningless: cleanlab refuses a class with no negatives
  and flags most records of a class with three positives); the others are listed, with the
  reason, in summary.json and never flagged;
- estimated noise rate: flagged pairs / records, per class (per source: flagged pairs /
  (records x audited classes)). It counts what cleanlab flags, not a calibrated estimate.

Only records the model trained on have out-of-fold probabilities: records without a scored
label (or unreadable) at training time cannot be audited and are counted in summary.json.

`--paper --class 39732003 --n 100 --seed S` makes the selection of the method's paper instead
(Zhao et al. 2021, LAD): a random sample of the records the thresholded out-of-fold prediction
gets wrong for that class (thresholds of model.json, applied as the driver does: probability
>= threshold, or the record's most probable class). False negatives (labelled, predicted
absent: issue `spurious`) and false positives (`missing`) are counted separately in
summary.json; rank is the order of the random draw, so any first k rows are a random sample too.
Its summary.json holds the selection ("paper") and no ranking (no cleanlab flags: nothing is
flagged); fewer misclassified records than --n is a warning there and on stderr.

`--rules RULE_LABELS.csv` (from `ecgnet rules`) adds the measurement rule reader as evidence:
the column `rule` says whether the published criterion, applied to the record's measurements,
agrees with the given label or contradicts it (blank: no criterion for the class, or a value it
needs was not measured). With --paper, summary.json's "paper" entry then holds Cohen's kappa of
the labels and of the model against the rule over the sampled records, as the paper's two
clinicians were compared with them.

Writes OUT/label_issues.csv (columns ISSUE_COLUMNS) and OUT/summary.json.
"""


def _scored_class(text: str) -> str:
    """`--class`: one of the 24 scored classes, by SNOMED CT code or abbreviation."""
    from .. import labels as label_space

    code = label_space.canonical_code(text.strip())
    if code not in label_space.CLASS_INDEX:
        by_abbreviation = dict(zip(label_space.ABBREVIATIONS, label_space.CLASSES))
        if text.strip() in by_abbreviation:
            return by_abbreviation[text.strip()]
        raise argparse.ArgumentTypeError(f"{text!r} is not one of the 24 scored classes (a code or abbreviation)")
    return code


@command(error_status=2, default_prog="ecgnet audit", review_extra=True)
def audit(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """`ecgnet audit`: 0 when label_issues.csv and summary.json are written, 2 on an error."""
    from ..review import audit as auditor
    from ..review.formats import ISSUES_FILE

    parser = command_parser(prog, AUDIT_DESCRIPTION, AUDIT_HELP)
    parser.add_argument("model", help="a trained MODEL folder (model.json, oof_probabilities.csv)")
    parser.add_argument("data", help="the folder of records the model was trained on (headers are read)")
    parser.add_argument("out", help="folder to write label_issues.csv and summary.json into (made if missing)")
    parser.add_argument(
        "--min-positives",
        type=options.integer(1),
        default=auditor.MIN_POSITIVES,
        metavar="N",
        help="audit a class only with at least N positive and N negative records",
    )
    parser.add_argument(
        "--filter-by", choices=auditor.FILTERS, default="prune_by_noise_rate", help="cleanlab's rule for flagging pairs"
    )
    parser.add_argument(
        "--paper",
        action="store_true",
        help="instead of the ranking, a random sample of the records misclassified for --class",
    )
    parser.add_argument(
        "--class",
        dest="paper_class",
        type=_scored_class,
        metavar="CODE",
        help="with --paper: the class (SNOMED CT code or abbreviation), e.g. 39732003 (LAD)",
    )
    parser.add_argument("--n", type=options.integer(1), default=100, help="with --paper: records to sample")
    parser.add_argument("--seed", type=options.seed, default=0, help="with --paper: seed of the random sample")
    parser.add_argument(
        "--kind",
        choices=auditor.PAPER_KINDS,
        default="both",
        help="with --paper: sample false negatives, false positives or both",
    )
    parser.add_argument(
        "--rules",
        metavar="RULE_LABELS.csv",
        help="the rule reader's verdicts (`ecgnet rules`): fills the rule column and, with --paper, the kappas "
        "against the rule (default: none, the column is blank)",
    )
    dataoptions.add_labels(parser)
    dataoptions.add_recursive(parser)
    args = parser.parse_args(argv)
    if args.paper != bool(args.paper_class):
        parser.error("--paper and --class go together")
    dataoptions.check(parser, args)
    summary = auditor.run_audit(
        args.model,
        args.data,
        args.out,
        args.min_positives,
        args.filter_by,
        args.paper_class if args.paper else None,
        args.n,
        args.seed,
        args.kind,
        args.rules,
        dataoptions.label_source(args, args.data),
        args.recursive,
    )
    if args.paper:
        p = summary["paper"]
        print(
            f"{p['abbreviation']} ({p['class']}): {p['false_negatives']} false negatives and {p['false_positives']} "
            f"false positives out of fold; sampled {p['sampled_false_negatives']} and {p['sampled_false_positives']} "
            f"(seed {p['seed']})"
        )
        if "rule" in p:
            r = p["rule"]
            kappas = [(r[key].get("kappa"), r[key].get("ci")) for key in ("labels_vs_rule", "model_vs_rule")]
            print(
                f"rule reader on {r['with_rule']} of {r['pairs']}: kappa labels vs rule {kappas[0][0]} {kappas[0][1]}, "
                f"model vs rule {kappas[1][0]} {kappas[1][1]}"
            )
    else:
        print(
            f"{summary['records']} records, {len(summary['classes_audited'])} classes audited "
            f"({len(summary['classes_not_audited'])} with too few positives or negatives): "
            f"{summary['flagged_pairs']} flagged pairs"
        )
    for warning in summary["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {os.path.join(args.out, ISSUES_FILE)} and {os.path.join(args.out, auditor.SUMMARY_FILE)}")
    return 0


# ---------------------------------------------------------------------------------------------
# review-kit


def _kit_parser(prog: str | None, doc: str, max_windows: int) -> argparse.ArgumentParser:
    parser = command_parser(prog, doc)
    parser.add_argument("data", help="folder of the records (NAME.hea + NAME.mat)")
    parser.add_argument("out", help="new or empty folder for the kit")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="audit", metavar="LABEL_ISSUES_CSV", help="the audit's label_issues.csv")
    source.add_argument("--records", metavar="FILE", help="record names to review, one a line (needs --classes)")
    parser.add_argument(
        "--classes",
        help="classes to ask about: SNOMED CT codes or abbreviations, comma-separated "
        "(default with --from: the classes of the chosen audit rows)",
    )
    parser.add_argument(
        "--n", type=int, help="number of suspect records (default: 100 with --from, all with --records)"
    )
    parser.add_argument(
        "--model",
        metavar="MODEL",
        help="model folder whose out-of-fold probabilities and thresholds choose controls the model agrees on",
    )
    parser.add_argument(
        "--controls", type=float, default=0.25, help="share of the distinct records that are controls (default 0.25)"
    )
    parser.add_argument(
        "--repeats", type=float, default=0.1, help="share of the distinct records shown twice (default 0.1)"
    )
    parser.add_argument(
        "--seed",
        type=options.seed,
        help="random seed of the choice and order (default: drawn at random, recorded in manifest.json)",
    )
    parser.add_argument(
        "--kit-id",
        metavar="ID",
        help="the random part of the kit's identity, to rebuild a kit byte for byte (default: drawn; "
        "manifest.json records it)",
    )
    parser.add_argument("--paper", choices=("a4", "letter"), default="a4", help="page size, landscape (default a4)")
    parser.add_argument(
        "--show-demographics",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="print age and sex on the sheets (default: yes)",
    )
    parser.add_argument(
        "--age-band",
        type=int,
        default=10,
        metavar="YEARS",
        help="print adult ages in bands of this many years, so that a repeat is not told by its age "
        "(default 10; 1: exact ages)",
    )
    parser.add_argument(
        "--windows",
        type=int,
        default=1,
        metavar="N",
        help=f"draw up to N consecutive 10 s windows of a longer record, one page each (default 1; at most "
        f"{max_windows}); the extra pages show which records are longer",
    )
    parser.add_argument(
        "--show-measurements",
        action="store_true",
        help="print the machine-style measurement line (HR, PR, QRS, QT/QTc, P/QRS/T axes) above each tracing "
        "(default: off, as a reviewer reading blind should measure for themselves)",
    )
    return parser


@command(default_prog="ecgnet review-kit", review_extra=True)
def review_kit(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """`ecgnet review-kit`: 0 when the kit is written, 1 on an error (named in one line)."""
    from ..review import kit
    from ..review.formats import RANDOM_ID_PATTERN, REVIEWER_FOLDER
    from ..review.kit_inputs import parse_classes

    parser = _kit_parser(prog, kit.__doc__, kit.MAX_WINDOWS)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.records and not args.classes:
        parser.error("--records needs --classes")
    if args.n is not None and args.n < 1:
        parser.error("--n must be at least 1")
    if args.age_band < 1 or not 1 <= args.windows <= kit.MAX_WINDOWS:
        parser.error(f"--age-band must be at least 1 and --windows from 1 to {kit.MAX_WINDOWS}")
    if args.kit_id is not None and not RANDOM_ID_PATTERN.fullmatch(args.kit_id):
        parser.error("--kit-id must be the 8 characters of a kit's random ID, e.g. as manifest.json records it")
    if args.seed is None:
        args.seed = secrets.randbelow(2**31)
    settings = kit.Options(
        args.data,
        args.out,
        args.audit,
        args.records,
        parse_classes(args.classes) if args.classes else None,
        args.n,
        args.model,
        args.controls,
        args.repeats,
        args.seed,
        args.paper,
        args.show_demographics,
        args.age_band,
        args.windows,
        args.kit_id,
        args.show_measurements,
    )
    manifest = kit.build(settings)
    groups = manifest["groups"]
    print(
        f"wrote {manifest['items']} review items ({groups['suspect']} suspect, {groups['control']} control, "
        f"{groups['repeat']} repeat) of kit {manifest['kit_id']} to {args.out}: give reviewers the folder "
        f"{os.path.join(args.out, REVIEWER_FOLDER)} (packet, answer form); keep key.csv and manifest.json apart"
    )
    alone = manifest["repeats_with_a_line_of_their_own"]
    if alone:
        print(
            f"note: {alone} repeat(s) have an age and sex line no other record of the kit shares: a reviewer may "
            "recognise them (a wider --age-band or --no-show-demographics avoids it)",
            file=sys.stderr,
        )
    return 0


# ---------------------------------------------------------------------------------------------
# agreement

AGREEMENT_DESCRIPTION = "Agreement of reviewers with the dataset labels, the model and each other (kappa with CIs)."


@command(error_status=2, default_prog="ecgnet agreement", review_extra=True)
def agreement(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """`ecgnet agreement`: 0 done, 2 an error, 3 incomplete answers without --allow-incomplete
    (`answers.IncompleteAnswers.exit_status`)."""
    from ..files import atomic_write
    from ..review import agreement as statistics
    from ..review.answers import load_kit, read_all_answers
    from ..review.stats import RESAMPLES

    parser = command_parser(prog, AGREEMENT_DESCRIPTION, statistics.__doc__.partition("\n\n")[2])
    parser.add_argument("kit", help="the review kit folder (manifest.json, key.csv)")
    parser.add_argument("answers", nargs="+", help="each reviewer's filled answer_form.csv, named after the reviewer")
    parser.add_argument("--json", metavar="FILE", help="write the whole report as JSON")
    parser.add_argument("--csv", metavar="DIR", help="write the tables as CSV files into DIR (made if missing)")
    parser.add_argument("--consensus", metavar="FILE", help="write the consensus of every item and class as CSV")
    parser.add_argument("--blank-as-uncertain", action="store_true", help="read a blank answer as ?, not an error")
    parser.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="use answers files that miss review IDs or leave rows unanswered (default: refuse, exit status 3)",
    )
    parser.add_argument(
        "--resamples", type=options.integer(100, 1_000_000), default=RESAMPLES, help="bootstrap resamples"
    )
    parser.add_argument(
        "--seed", type=options.seed, default=0, help="bootstrap seed: the same seed gives the same intervals"
    )
    args = parser.parse_args(argv)
    if args.resamples < 100:
        parser.error("--resamples must be at least 100")
    kit = load_kit(args.kit)
    answers = read_all_answers(args.answers, kit, args.blank_as_uncertain, args.allow_incomplete)
    report = statistics.agreement_report(kit, answers, args.seed, args.resamples)
    print(statistics.format_report(report))
    if args.json:
        atomic_write(args.json, json.dumps(report, indent=2, allow_nan=False) + "\n")
    if args.csv:
        statistics.write_tables(args.csv, report, kit, answers)
    if args.consensus:
        statistics.write_consensus(args.consensus, kit, answers)
    return 0


# ---------------------------------------------------------------------------------------------
# relabel

RELABEL_DESCRIPTION = "Turn reviewers' answers, or an audit's doubted labels, into a label overrides file for training."


def _weight(text: str) -> float:
    from ..overrides import parse_weight

    value = parse_weight(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"expected a weight from 0 to 1, not {text!r}")
    return value


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a number of rows from 1, not {text!r}")
    return int(text)


def _relabel_parser(prog: str | None, doc: str, policies: Sequence[str], rule_classes: str) -> argparse.ArgumentParser:
    parser = command_parser(prog, RELABEL_DESCRIPTION, doc.partition("\n\n")[2])
    parser.add_argument("kit", nargs="?", help="the review kit folder (manifest.json, key.csv)")
    parser.add_argument("answers", nargs="*", help="each reviewer's filled answer_form.csv, named after the reviewer")
    parser.add_argument("--policy", choices=policies, help="how reviewed labels become overrides (with a kit)")
    parser.add_argument(
        "--from-audit",
        metavar="LABEL_ISSUES.csv",
        help="instead of a kit and answers: down-weight the pairs of this `ecgnet audit` output",
    )
    parser.add_argument(
        "--weight", type=_weight, metavar="W", help="with --from-audit: the loss weight of those pairs, from 0 to 1"
    )
    parser.add_argument(
        "--top", type=_count, metavar="N", help="with --from-audit: only its first N rows (default: all)"
    )
    parser.add_argument(
        "--from-rules",
        metavar="RULE_LABELS.csv",
        help="instead of a kit and answers: the labels this `ecgnet rules` output contradicts (with --weight W, "
        "or --override)",
    )
    parser.add_argument(
        "--override", action="store_true", help="with --from-rules: set the rule's verdict instead of a weight"
    )
    parser.add_argument(
        "--classes",
        help=f"with --from-rules: classes (codes or abbreviations, comma-separated; default: {rule_classes})",
    )
    parser.add_argument("--out", required=True, metavar="OVERRIDES.csv", help="the overrides file to write")
    parser.add_argument(
        "--blank-as-uncertain",
        action="store_true",
        help="read a blank answer as ?, not an error (default: off, a blank is an error)",
    )
    parser.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="use answers files that miss review IDs or leave rows unanswered (default: refuse, exit status 3)",
    )
    return parser


def _check_relabel(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse a call that mixes the ways (a kit's answers, an audit, rules) or lacks what its way needs."""
    if args.from_rules:
        if args.kit or args.policy or args.blank_as_uncertain or args.from_audit or args.top is not None:
            parser.error("--from-rules takes no kit, answers, --policy, --blank-as-uncertain, --from-audit or --top")
        if (args.weight is None) == (not args.override):
            parser.error("--from-rules needs --weight W or --override (one of them)")
        return
    if args.override or args.classes:
        parser.error("--override and --classes go with --from-rules")
    if args.from_audit:
        if args.kit or args.policy or args.blank_as_uncertain or args.allow_incomplete:
            parser.error("--from-audit takes no kit, answers, --policy, --blank-as-uncertain or --allow-incomplete")
        if args.weight is None:
            parser.error("--from-audit needs --weight")
    else:
        if not (args.kit and args.answers and args.policy):
            parser.error("give KIT_DIR, ANSWERS.csv and --policy, or --from-audit LABEL_ISSUES.csv and --weight")
        if args.weight is not None or args.top is not None:
            parser.error("--weight and --top go with --from-audit")


@command(error_status=2, default_prog="ecgnet relabel", review_extra=True)
def relabel(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """`ecgnet relabel`: 0 when the overrides file is written, 2 on an error, 3 incomplete answers
    without --allow-incomplete."""
    from .. import labels as label_space
    from ..review import relabel as relabeller
    from ..review.answers import load_kit, read_all_answers
    from ..review.kit_inputs import parse_classes

    rule_classes = ",".join(label_space.ABBREVIATIONS[label_space.CLASS_INDEX[c]] for c in relabeller.RULE_CLASSES)
    parser = _relabel_parser(prog, relabeller.__doc__, relabeller.POLICIES, rule_classes)
    args = parser.parse_args(argv)
    _check_relabel(parser, args)
    if args.from_rules:
        classes = parse_classes(args.classes) if args.classes else relabeller.RULE_CLASSES
        rows = relabeller.overrides_from_rules(args.from_rules, classes, None if args.override else args.weight)
        how = f"{'rule verdicts' if args.override else f'weight {args.weight:g}'} from {args.from_rules}"
    elif args.from_audit:
        rows = relabeller.overrides_from_audit(args.from_audit, args.weight, args.top)
        how = f"weight {args.weight:g} from {args.from_audit}"
    else:
        kit = load_kit(args.kit)
        answers = read_all_answers(args.answers, kit, args.blank_as_uncertain, args.allow_incomplete)
        rows = relabeller.overrides_for(kit, answers, args.policy)
        how = f"{args.policy}, kit {kit.identity}"
    # What training will read must pass its checks, before anything replaces args.out.
    relabeller.check_overrides(args.out, [(number, *row) for number, row in enumerate(rows, start=2)])
    relabeller.write_overrides(args.out, rows)
    records = len({r for r, _, _ in rows})
    print(f"wrote {len(rows)} overrides ({how}) of {records} records to {args.out}")
    return 0
