"""`ecgnet audit MODEL DATA OUT`: rank the (record, class) labels most likely to be wrong.

The whole audit lives here, reading the model's and the records' labels, confident learning,
the paper's sample and the two output files, because each step is short and they are only used
together; the out-of-fold file itself is read by `modelstore`. The command (`ecgnet.cli.review`)
describes the method in its help.
"""

import json
import os
import warnings

import numpy as np

from .. import labels as label_space
from ..csvfiles import read_table, write_table
from ..errors import EcgnetError
from ..files import atomic_write
from ..folders import list_records, name_prefix
from ..modelstore import read_oof_probabilities
from ..ptbxl import given_dx
from ..thresholds import apply_thresholds
from .formats import ISSUE_COLUMNS, ISSUES_FILE

OOF_FILE = "oof_probabilities.csv"
SUMMARY_FILE = "summary.json"
MIN_POSITIVES = 10
FILTERS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given")
PAPER_KINDS = ("both", "fn", "fp")


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
    given = [given_dx(name, headers[name], source) for name in names]
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
            "missing": None if flagged is None or spurious is None else flagged - spurious,
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

    _, _, listed = load_model(model)  # checks model.json (thresholds) and the weight files
    thresholds = np.array(listed)
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
