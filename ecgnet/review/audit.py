"""`ecgnet audit MODEL DATA OUT`: rank the (record, class) labels most likely to be wrong.

The whole audit lives here, reading the model's and the records' labels, confident learning,
the paper's sample, the two output files and the command, because each step is short and they
are only used together; the out-of-fold file itself is read by `modelstore`. HELP below is the
command's description of what it does.
"""

import argparse
import json
import os
import sys
import warnings

import numpy as np

from .. import dataoptions, options
from .. import labels as label_space
from ..csvfiles import read_table, write_table
from ..errors import EcgnetError, describe
from ..files import atomic_write
from ..folders import list_records, name_prefix
from ..modelstore import read_oof_probabilities
from ..thresholds import apply_thresholds
from .formats import ISSUE_COLUMNS, ISSUES_FILE

HELP = """The evidence is the model's OUT-OF-FOLD probabilities (`MODEL/oof_probabilities.csv`: each
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

OOF_FILE = "oof_probabilities.csv"
SUMMARY_FILE = "summary.json"
MIN_POSITIVES = 10
FILTERS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given")
PAPER_KINDS = ("both", "fn", "fp")

DESCRIPTION = "Rank the (record, class) labels most likely to be wrong, from a model's out-of-fold probabilities."


class AuditError(EcgnetError):
    """Inputs the audit cannot use; the message names the file (and row and column)."""


def given_labels(data_folder, names, oof_path=OOF_FILE, source=None, recursive=None):
    """(labels, DATA records without out-of-fold probabilities): the (records, 24) multi-hot
    `#Dx` labels of `names`, read from the headers in `data_folder` (no signal is read), or
    from PTB-XL's database (`source`, a `ptbxl.PtbxlLabels`)."""
    headers = {r.name: r.header for r in list_records(data_folder, recursive=recursive) if r.header}
    missing = [name for name in names if name not in headers]
    if missing:
        raise AuditError(
            f"{oof_path}: {len(missing)} of its records have no header in {data_folder} "
            f"(first: {missing[0]!r}); give the DATA folder the model was trained on"
        )
    given = [dataoptions.given_dx(name, headers[name], source) for name in names]
    labels = np.array([label_space.encode(dx) for dx in given], dtype=np.int8)
    return labels, len(set(headers) - set(names))


def audited_classes(labels, min_positives=MIN_POSITIVES):
    """(boolean mask of the classes to audit, {code: why not} for the others)."""
    positives = labels.sum(axis=0)
    negatives = len(labels) - positives
    audit = (positives >= min_positives) & (negatives >= min_positives)
    reasons = {}
    for k in np.flatnonzero(~audit):
        few = f"{positives[k]} positive" if positives[k] < min_positives else f"{negatives[k]} negative"
        reasons[label_space.CLASSES[k]] = f"{few} records, fewer than --min-positives {min_positives}"
    return audit, reasons


def _index_lists(labels):
    return [np.flatnonzero(row).tolist() for row in labels]


def label_quality(labels, probabilities):
    """cleanlab's per-class self-confidence: (records, classes), low = suspicious."""
    from cleanlab.multilabel_classification import rank

    return np.asarray(rank.get_label_quality_scores_per_class(_index_lists(labels), probabilities))


def find_issues(labels, probabilities, audit, filter_by="prune_by_noise_rate"):
    """(flags, warnings): boolean (records, 24) of the pairs cleanlab flags among the audited
    classes (never elsewhere), and the warnings cleanlab gave."""
    from cleanlab.multilabel_classification import filter as cl_filter

    flags = np.zeros(labels.shape, dtype=bool)
    columns = np.flatnonzero(audit)
    if len(columns) < 2:  # cleanlab needs two classes at least
        return flags, [f"{len(columns)} class(es) to audit: cleanlab needs two; nothing flagged"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = cl_filter.find_multilabel_issues_per_class(
            _index_lists(labels[:, columns]), probabilities[:, columns], filter_by=filter_by, n_jobs=1
        )
    flags[:, columns] = np.asarray(found, dtype=bool)
    return flags, sorted({str(w.message).strip() for w in caught})


def _rule_text(rules, record, code, given):
    verdict = rules.get((record, code)) if rules else None
    return "" if verdict is None else "agrees" if verdict == given else "contradicts"


def _rows(names, labels, probabilities, quality, thresholds, pairs, rules=None):
    """label_issues.csv rows of (record index, class index) pairs, ranked in the given order;
    `rules` ({(record, class): 1/0/None}) fills the rule column."""
    rows = []
    for rank, (i, k) in enumerate(pairs, start=1):
        given = int(labels[i, k])
        rows.append(
            {
                "record": names[i],
                "source": name_prefix(names[i]),
                "class": label_space.CLASSES[k],
                "abbreviation": label_space.ABBREVIATIONS[k],
                "given_label": given,
                "oof_probability": f"{probabilities[i, k]:.6f}",
                "threshold": f"{thresholds[k]:g}",
                "label_quality": f"{quality[i, k]:.6f}",
                "issue": "spurious" if given else "missing",
                "rank": rank,
                "rule": _rule_text(rules, names[i], label_space.CLASSES[k], given),
            }
        )
    return rows


def ranked_pairs(flags, quality, names):
    """Flagged (record, class) index pairs, lowest label quality first (ties: record, class)."""
    pairs = list(zip(*np.nonzero(flags)))
    return sorted(pairs, key=lambda ik: (quality[ik], names[ik[0]], ik[1]))


def paper_pairs(labels, probabilities, thresholds, code, n, seed, kind="both"):
    """(pairs, counts): a random sample of `n` records misclassified for class `code` by the
    thresholded out-of-fold prediction, in draw order, and the false negative / positive counts."""
    k = label_space.CLASS_INDEX[code]
    predicted = apply_thresholds(probabilities, thresholds)[:, k]
    given = labels[:, k].astype(bool)
    fn, fp = np.flatnonzero(given & ~predicted), np.flatnonzero(~given & predicted)
    population = np.sort(np.concatenate([fn if kind != "fp" else [], fp if kind != "fn" else []]).astype(int))
    chosen = population[np.random.default_rng(seed).permutation(len(population))[:n]]
    counts = {
        "false_negatives": int(len(fn)),
        "false_positives": int(len(fp)),
        "sampled_false_negatives": int(given[chosen].sum()),
        "sampled_false_positives": int((~given[chosen]).sum()),
    }
    return [(int(i), k) for i in chosen], counts


def _rate(flagged, cells):
    return round(flagged / cells, 6) if cells else None


def summarize(names, labels, flags, audit):
    """Per class and per source: records, positives, flagged pairs (spurious, missing), rate."""
    classes = {}
    for k, code in enumerate(label_space.CLASSES):
        flagged = int(flags[:, k].sum()) if audit[k] else None
        spurious = int((flags[:, k] & (labels[:, k] == 1)).sum()) if audit[k] else None
        classes[code] = {
            "abbreviation": label_space.ABBREVIATIONS[k],
            "audited": bool(audit[k]),
            "records": len(names),
            "positives": int(labels[:, k].sum()),
            "flagged": flagged,
            "spurious": spurious,
            "missing": None if flagged is None else flagged - spurious,
            "estimated_noise_rate": None if flagged is None else _rate(flagged, len(names)),
        }
    sources = {}
    prefixes = np.array([name_prefix(name) for name in names])
    for prefix in sorted(set(prefixes)):
        rows = prefixes == prefix
        flagged = int(flags[rows].sum())
        spurious = int((flags[rows] & (labels[rows] == 1)).sum())
        sources[prefix] = {
            "records": int(rows.sum()),
            "positives": int(labels[rows][:, audit].sum()),
            "flagged": flagged,
            "spurious": spurious,
            "missing": flagged - spurious,
            "estimated_noise_rate": _rate(flagged, int(rows.sum()) * int(audit.sum())),
        }
    return classes, sources


def write_issues(path, rows):
    """label_issues.csv of `rows` (dicts of ISSUE_COLUMNS), whole or not at all, every cell
    spreadsheet-safe (`csvfiles.write_table`: a record named `=cmd...` cannot run as a formula)."""
    write_table(path, ISSUE_COLUMNS, ([row.get(c, "") for c in ISSUE_COLUMNS] for row in rows))


def read_issues(path):
    """The rows of a label_issues.csv (`csvfiles.Row`: cells by column, and the row's number as
    a spreadsheet shows it), read by `csvfiles.read_table`; extra columns are allowed, and the
    `rule` column may be absent (files from before `audit --rules`)."""
    return read_table(path, "audit file (label_issues.csv)", ISSUE_COLUMNS[:-1], error=AuditError).rows


def _summary(model, data, oof_path, oof, without_oof):
    """What summary.json says of every audit, ranking or paper's selection."""
    return {
        "model": str(model),
        "data": str(data),
        "probabilities": f"{oof_path}: out-of-fold (each record predicted by the fold model that did not train on it)",
        "records": len(oof.names),
        "records_in_data_without_probabilities": without_oof,
    }


def _ranking_summary(oof, labels, flags, audit, not_audited, min_positives, filter_by):
    """summary.json's entries of the ranking (not of the paper's selection, which flags nothing)."""
    import cleanlab

    classes, sources = summarize(oof.names, labels, flags, audit)
    return {
        "method": {
            "library": f"cleanlab {cleanlab.__version__}",
            "flags": f"cleanlab.multilabel_classification.filter.find_multilabel_issues_per_class "
            f"(filter_by={filter_by})",
            "label_quality": "cleanlab.multilabel_classification.rank.get_label_quality_scores_per_class "
            "(self_confidence: probability of the given label)",
        },
        "min_positives": min_positives,
        "classes_audited": [c for c, a in zip(label_space.CLASSES, audit) if a],
        "classes_not_audited": not_audited,
        "estimated_noise_rate": "flagged pairs / records per class; per source flagged pairs / (records x audited "
        "classes); what cleanlab flags, not a calibrated estimate",
        "flagged_pairs": int(flags.sum()),
        "classes": classes,
        "sources": sources,
    }


def _paper_selection(labels, probabilities, thresholds, paper_class, n, seed, kind):
    """(pairs, summary.json's "paper" entry) of the paper's random sample for `paper_class`."""
    code = label_space.canonical_code(paper_class)
    pairs, counts = paper_pairs(labels, probabilities, thresholds, code, n, seed, kind)
    return pairs, {
        "class": code,
        "abbreviation": label_space.ABBREVIATIONS[label_space.CLASS_INDEX[code]],
        "threshold": float(thresholds[label_space.CLASS_INDEX[code]]),
        "n": n,
        "seed": seed,
        "kind": kind,
        "sampled": len(pairs),
        **counts,
        "selection": "random sample of the records the thresholded out-of-fold prediction "
        "misclassifies (false negative: issue spurious; false positive: missing)",
    }


def _paper_warnings(paper: dict) -> list[str]:
    """A sample smaller than asked for is no longer the paper's design: say so."""
    if paper["sampled"] >= paper["n"]:
        return []
    kinds = {"both": "misclassified", "fn": "false negative", "fp": "false positive"}
    return [
        f"--n {paper['n']} asked, but only {paper['sampled']} records are {kinds[paper['kind']]} for "
        f"{paper['abbreviation']} out of fold: all of them were taken, a census rather than a random sample"
    ]


def paper_rule_agreement(names, labels, binary, pairs, rules, seed=0):
    """Kappa of the labels and of the model against the rule over the sampled (record, class)
    pairs that have a rule verdict: the paper's comparison with its clinicians, read by rule."""
    from .stats import _rng, cohen

    kept = [(i, k) for i, k in pairs if rules.get((names[i], label_space.CLASSES[k])) is not None]
    rule = np.array([rules[(names[i], label_space.CLASSES[k])] for i, k in kept], dtype=int)
    given = np.array([labels[i, k] for i, k in kept], dtype=int)
    model = np.array([binary[i, k] for i, k in kept], dtype=int)
    return {
        "pairs": len(pairs),
        "with_rule": len(kept),
        "rule_blank": len(pairs) - len(kept),
        "labels_vs_rule": cohen(given, rule, _rng(seed, "paper/labels")),
        "model_vs_rule": cohen(model, rule, _rng(seed, "paper/model")),
        "rule_agrees_with_label": int((rule == given).sum()),
        "rule_agrees_with_model": int((rule == model).sum()),
    }


def write_summary(path, summary):
    atomic_write(path, json.dumps(summary, indent=2, allow_nan=False) + "\n")


def run_audit(
    model,
    data,
    out,
    min_positives=MIN_POSITIVES,
    filter_by="prune_by_noise_rate",
    paper_class=None,
    n=100,
    seed=0,
    kind="both",
    rules_path=None,
    source=None,
    recursive=None,
):
    """Audit MODEL's out-of-fold probabilities against DATA's labels (`source`: PTB-XL's, else
    the headers'); write OUT/label_issues.csv and OUT/summary.json; returns the summary.
    `paper_class` switches to the paper's selection; `rules_path` (a rule_labels.csv) fills the
    rule column."""
    import cleanlab  # noqa: F401  (the review extras: missing ones fail before any file is read)

    from ..modelstore import ModelFolder, load_model  # imports torch: not for --help

    _, _, thresholds = load_model(model)  # checks model.json (thresholds) and the weight files
    thresholds = np.array(thresholds)
    oof_path = ModelFolder(model).path(OOF_FILE)
    oof = read_oof_probabilities(oof_path)
    labels, without_oof = given_labels(data, oof.names, oof_path, source, recursive)
    quality = label_quality(labels, oof.probabilities)
    summary = {"mode": "paper" if paper_class else "rank", **_summary(model, data, oof_path, oof, without_oof)}
    rules = None
    if rules_path:
        from .rules import read_rule_labels

        rules = read_rule_labels(rules_path)
        summary["rules"] = str(rules_path)
    if paper_class:
        pairs, summary["paper"] = _paper_selection(labels, oof.probabilities, thresholds, paper_class, n, seed, kind)
        summary["warnings"] = _paper_warnings(summary["paper"])
        if rules is not None:
            binary = apply_thresholds(oof.probabilities, thresholds)
            summary["paper"]["rule"] = paper_rule_agreement(oof.names, labels, binary, pairs, rules, seed)
    else:
        audit, not_audited = audited_classes(labels, min_positives)
        flags, summary["warnings"] = find_issues(labels, oof.probabilities, audit, filter_by)
        summary.update(_ranking_summary(oof, labels, flags, audit, not_audited, min_positives, filter_by))
        pairs = ranked_pairs(flags, quality, oof.names)
    rows = _rows(oof.names, labels, oof.probabilities, quality, thresholds, pairs, rules)
    os.makedirs(out, exist_ok=True)
    write_issues(os.path.join(out, ISSUES_FILE), rows)
    write_summary(os.path.join(out, SUMMARY_FILE), summary)
    return summary


def _scored_class(text):
    code = label_space.canonical_code(text.strip())
    if code not in label_space.CLASS_INDEX:
        by_abbreviation = dict(zip(label_space.ABBREVIATIONS, label_space.CLASSES))
        if text.strip() in by_abbreviation:
            return by_abbreviation[text.strip()]
        raise argparse.ArgumentTypeError(f"{text!r} is not one of the 24 scored classes (a code or abbreviation)")
    return code


def _parser(prog):
    from ..cli import HelpFormatter

    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION, epilog=HELP, formatter_class=HelpFormatter)
    parser.add_argument("model", help="a trained MODEL folder (model.json, oof_probabilities.csv)")
    parser.add_argument("data", help="the folder of records the model was trained on (headers are read)")
    parser.add_argument("out", help="folder to write label_issues.csv and summary.json into (made if missing)")
    parser.add_argument(
        "--min-positives",
        type=options.integer(1),
        default=MIN_POSITIVES,
        metavar="N",
        help="audit a class only with at least N positive and N negative records",
    )
    parser.add_argument(
        "--filter-by", choices=FILTERS, default="prune_by_noise_rate", help="cleanlab's rule for flagging pairs"
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
        choices=PAPER_KINDS,
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
    return parser


def main(argv: list[str] | None = None, prog: str = "ecgnet audit") -> int:
    parser = _parser(prog)
    args = parser.parse_args(argv)
    if args.paper != bool(args.paper_class):
        parser.error("--paper and --class go together")
    dataoptions.check(parser, args)
    try:
        summary = run_audit(
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
    except (EcgnetError, OSError) as e:
        print(f"error: {describe(e)}", file=sys.stderr)
        return 2
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
    print(f"wrote {os.path.join(args.out, ISSUES_FILE)} and {os.path.join(args.out, SUMMARY_FILE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
