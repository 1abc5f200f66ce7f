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
per reviewer and class, the self-consistency between an item and its unannounced repeat; the
measured axis (ICC between reviewers, kappa on the -30 degree cut-off of left axis deviation,
see `ecgnet.review.axis`); and per reviewer the items answered, missing and unanswered, the
quality and confidence given.

Answers: the reviewer's filled answer_form.csv, named after the reviewer (the file's stem is the
reviewer's name), carrying the kit's identity in its kit_id column (answers of another kit are
refused). Cells are 1 (present), 0 (absent) or ? (uncertain); quality G, A or U (or good,
acceptable, uninterpretable); axis_degrees from -180 to 180 or ?; confidence 1 to 5. Every
problem of a file is listed at once (file, row, column, value, what is allowed). A "?" is left
out of every kappa and counted; so is every answer of an item its reviewer marked U
(uninterpretable). A blank class cell of an answered row is an error unless
--blank-as-uncertain. Review IDs without a row (missing) or rows without any answer
(unanswered) stop the command with exit status 3, naming them, unless --allow-incomplete.
Kappa is undefined (printed "undefined" with the reason, null in JSON, empty in CSV; never NaN)
when no item has usable answers or when a rater gives one answer throughout: a constant column,
such as the labels of control items, makes kappa 0 whatever the other rater does.

Files: --json FILE (everything), --csv DIR (kappa.csv, axis.csv, reviewers.csv and
consensus.csv: the tables as a spreadsheet opens them; and adjudication_form.csv: the kit's
answer form with only the rows of the items whose reviewers tied, a 1 against a 0, on some
class, for a further reviewer to answer on the same packet; their file then joins the others,
with --allow-incomplete, and breaks the ties by majority), --consensus FILE (the consensus alone).
JSON layout: {"kit", "kit_id", "reviewers": {REVIEWER: {...}}, "classes": {CODE: {"vs_labels":
{REVIEWER: {"kappa", "ci", "ci_bootstrap", "se", "n", "agreement", "pabak", "uncertain",
"uninterpretable", "table", ...}}, "vs_model": {...}, "between": {"R1~R2": {...}}, "fleiss":
{...}, "consensus": {...}, "self_consistency": {REVIEWER: {...}}, "groups": {"suspect": {the
same but self_consistency}, "control": {...}}}}, "axis": {...}}; the keys outside "groups" pool
suspects and controls. "table" is [[1/1, 1/0], [0/1, 0/0]]: rows the first rater (the
reviewer), columns the second (labels, model or the second reviewer).

Exit status: 0 done, 2 an error (named), 3 incomplete answers without --allow-incomplete.
"""

import itertools
import os
from typing import Any

import numpy as np

from ..csvfiles import write_table
from . import axis
from .answers import (  # noqa: F401  (the errors and read_answers: re-exported)
    GROUPS,
    Answers,
    AnswersError,
    IncompleteAnswers,
    Kit,
    KitError,
    load_kit,
    read_all_answers,
    read_answers,
)
from .formats import FORM_EXTRA, KEY_COLUMNS, KIT_COLUMN, QUALITY  # noqa: F401  (KEY_COLUMNS: re-exported)
from .stats import (  # noqa: F401  (cohen_table, bootstrap_cohen, ...: re-exported)
    RESAMPLES,
    _fleiss_vectorised,
    _number,
    _rng,
    bootstrap_cohen,
    cohen,
    cohen_table,
    consensus,
    fleiss,
    fleiss_counts,
)

# ---------------------------------------------------------------- per class and group


def _pairs(values: list) -> tuple:
    """(x, y) arrays of the (first, second) pairs, empty arrays when none."""
    return tuple(np.array(p) for p in zip(*values)) if values else ([], [])


def _vs_reference(questions, answer, reference, rng, resamples, name):
    """Cohen of one reviewer against a reference label of the questions (labels or model)."""
    pairs, uncertain, unreadable = [], 0, 0
    for q in questions:
        value, ref = answer.cells.get((q.review_id, q.code)), reference(q)
        if q.review_id not in answer.answered or ref is None:
            continue
        if answer.uninterpretable(q.review_id):
            unreadable += 1
        elif value is None:
            uncertain += 1
        else:
            pairs.append((value, ref))
    x, y = _pairs(pairs)
    return {**cohen(x, y, rng, resamples, uncertain, (answer.reviewer, name)), "uninterpretable": unreadable}


def _between(questions: list, a: Answers, b: Answers, rng: np.random.Generator, resamples: int) -> dict:
    pairs, uncertain, unreadable = [], 0, 0
    for q in questions:
        if q.review_id not in a.answered or q.review_id not in b.answered:
            continue
        if a.uninterpretable(q.review_id) or b.uninterpretable(q.review_id):
            unreadable += 1
            continue
        x, y = a.cells.get((q.review_id, q.code)), b.cells.get((q.review_id, q.code))
        if x is None or y is None:
            uncertain += 1
        else:
            pairs.append((x, y))
    x, y = _pairs(pairs)
    return {**cohen(x, y, rng, resamples, uncertain, (a.reviewer, b.reviewer)), "uninterpretable": unreadable}


def _fleiss(questions: list, answers: list[Answers], rng: np.random.Generator, resamples: int) -> dict:
    ratings, uncertain, unreadable = [], 0, 0
    for q in questions:
        if not all(q.review_id in a.answered for a in answers):
            continue
        if any(a.uninterpretable(q.review_id) for a in answers):
            unreadable += 1
            continue
        values = [a.cells.get((q.review_id, q.code)) for a in answers]
        if None in values:
            uncertain += 1
        else:
            ratings.append(values)
    counts = fleiss_counts(ratings) if ratings else np.zeros((0, 2), dtype=int)
    return {**fleiss(counts, rng, resamples, uncertain), "uninterpretable": unreadable}


def compare(questions, answers, key, seed=0, resamples=RESAMPLES):
    """Every statistic of one class over `questions` (non-repeat items of one class)."""
    out: dict[str, Any] = {"items": len(questions), "vs_labels": {}, "vs_model": {}, "between": {}}
    for a in answers:
        out["vs_labels"][a.reviewer] = _vs_reference(
            questions, a, lambda q: q.given, _rng(seed, f"{key}/labels/{a.reviewer}"), resamples, "the labels"
        )
        if any(q.model is not None for q in questions):
            out["vs_model"][a.reviewer] = _vs_reference(
                questions, a, lambda q: q.model, _rng(seed, f"{key}/model/{a.reviewer}"), resamples, "the model"
            )
    for a, b in itertools.combinations(answers, 2):
        name = f"{a.reviewer}~{b.reviewer}"
        out["between"][name] = _between(questions, a, b, _rng(seed, f"{key}/between/{name}"), resamples)
    out["fleiss"] = _fleiss(questions, answers, _rng(seed, f"{key}/fleiss"), resamples)
    return out


def _consensus_summary(rows, rng, resamples):
    outcome = [r["consensus"] for r in rows]
    decided = [r for r in rows if r["consensus"] in (0, 1)]
    return {
        "1": outcome.count(1),
        "0": outcome.count(0),
        "uncertain": outcome.count("uncertain"),
        "uninterpretable": outcome.count("uninterpretable"),
        "unanswered": outcome.count("unanswered"),
        "confirms_label": sum(r["consensus"] == r["given_label"] for r in decided),
        "contradicts_label": sum(r["consensus"] != r["given_label"] for r in decided),
        "vs_labels": cohen(
            [r["consensus"] for r in decided],
            [r["given_label"] for r in decided],
            rng,
            resamples,
            outcome.count("uncertain"),
            ("the consensus", "the labels"),
        ),
    }


def self_consistency(kit, answer, code, rng, resamples=RESAMPLES):
    """One reviewer's answers to each repeat vs their answers to its first showing."""
    pairs, uncertain, unreadable = [], 0, 0
    for q in kit.questions:
        if q.group != "repeat" or q.code != code:
            continue
        if q.review_id in answer.answered and q.repeat_of in answer.answered:
            if answer.uninterpretable(q.review_id) or answer.uninterpretable(q.repeat_of):
                unreadable += 1
                continue
            first, again = answer.cells.get((q.repeat_of, code)), answer.cells.get((q.review_id, code))
            if first is None or again is None:
                uncertain += 1
            else:
                pairs.append((first, again))
    x, y = _pairs(pairs)
    raters = ("the first showing", "the repeat")
    return {**cohen(x, y, rng, resamples, uncertain, raters), "uninterpretable": unreadable}


def reviewer_summary(kit: Kit, answer: Answers) -> dict:
    """Counts of one reviewer's answers: items, quality, confidence, uncertain answers."""
    items = answer.items.values()
    confidence = [i.confidence for i in items if i.confidence is not None]
    by_group = {}
    for group in (*GROUPS, "repeat"):
        values = [i.confidence for r, i in answer.items.items() if kit.items[r].group == group and i.confidence]
        by_group[group] = _number(np.mean(values)) if values else None
    return {
        "file": answer.path,
        "items": len(kit.items),
        "items_answered": len(answer.answered),
        "items_missing": len(answer.missing),
        "items_unanswered": len(answer.unanswered),
        "missing": answer.missing,
        "unanswered": answer.unanswered,
        "uncertain_answers": sum(v is None for (r, _), v in answer.cells.items() if not answer.uninterpretable(r)),
        "quality": {
            **{q: sum(i.quality == q for i in items) for q in QUALITY},
            "not_given": sum(i.quality is None for i in items),
        },
        "confidence": {
            **{str(c): confidence.count(c) for c in range(1, 6)},
            "not_given": len(items) - len(confidence),
            "mean": _number(np.mean(confidence)) if confidence else None,
            "mean_by_group": by_group,
        },
    }


def agreement_report(kit, answers, seed=0, resamples=RESAMPLES):
    """The whole report (the --json layout)."""
    groups = {g: sum(1 for q in kit.items.values() if q.group == g) for g in (*GROUPS, "repeat")}
    report = {
        "kit": kit.folder,
        "kit_id": kit.identity,
        "items": len(kit.items),
        "groups": groups,
        "reviewers": {a.reviewer: reviewer_summary(kit, a) for a in answers},
        "tied_items": tied_items(kit, answers),
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
    axis_groups = {"all": GROUPS, **{g: (g,) for g in GROUPS}}
    report["axis"] = axis.axis_report(kit, answers, axis_groups, seed, resamples)
    return report


# ---------------------------------------------------------------- output


def _interval(values: list | None) -> str:
    return f"{values[0]:.3f}..{values[1]:.3f}" if values else "undefined"


def _kappa_text(s):
    if s["kappa"] is None:
        text = f"kappa undefined ({s['reason']})"
    else:
        text = f"kappa {s['kappa']:6.3f}  CI {_interval(s.get('ci'))} (bootstrap {_interval(s.get('ci_bootstrap'))})"
    extra = f"  agreement {s['agreement']:.3f}  PABAK {s['pabak']:.3f}" if s.get("agreement") is not None else ""
    unreadable = f"  uninterpretable {s['uninterpretable']}" if s.get("uninterpretable") else ""
    return f"{text}  n {s['n']}{extra}  uncertain {s.get('uncertain', 0)}{unreadable}"


def _fleiss_text(s):
    if s["kappa"] is None:
        return f"kappa undefined ({s['reason']})  n {s['n']}"
    return (
        f"kappa {s['kappa']:6.3f}  bootstrap CI {_interval(s.get('ci'))}  n {s['n']}  raters {s['raters']}  "
        f"agreement {s['agreement']:.3f}  free-marginal {s['pabak']:.3f}  uncertain {s['uncertain']}"
        + (f"  uninterpretable {s['uninterpretable']}" if s.get("uninterpretable") else "")
    )


def _reviewer_lines(report: dict) -> list[str]:
    lines = ["Reviewers"]
    for name, r in report["reviewers"].items():
        q, c = r["quality"], r["confidence"]
        mean = "undefined" if c["mean"] is None else f"{c['mean']:.2f}"
        lines.append(
            f"  {name}: answered {r['items_answered']} of {r['items']} items; missing {r['items_missing']}, "
            f"unanswered {r['items_unanswered']}; uncertain answers {r['uncertain_answers']}; quality "
            + " ".join(f"{k} {q[k]}" for k in QUALITY)
            + f" (not given {q['not_given']}); confidence mean {mean} (not given {c['not_given']})"
        )
        for what in ("missing", "unanswered"):
            if r[what]:
                lines.append(f"    {what}: {', '.join(r[what])}")
    return lines


def _axis_lines(report: dict) -> list[str]:
    entry = report["axis"]
    lines = ["Axis (frontal QRS, degrees; items marked U or answered ? left out)"]
    for group, part in entry["groups"].items():
        icc = part["icc"]
        icc_text = (
            f"ICC(A,1) undefined ({icc['reason']})"
            if icc["icc"] is None
            else f"ICC(A,1) {icc['icc']:.3f} CI {_interval(icc['ci'])}"
        )
        lines.append(f"  {group}: {icc_text}  n {icc['n']} of {part['items']} items (left out {part['left_out']})")
        for name, pair in part["pairs"].items():
            mad = pair["mean_absolute_difference"]
            lines.append(
                f"    {name:<20} mean absolute difference "
                + ("undefined" if mad is None else f"{mad:.1f}")
                + f"  within 15 degrees {pair['within_15_degrees']} of {pair['n']}"
            )
        for code in axis.AXIS_CLASSES:
            if code not in part:
                continue
            cut = part[code]
            low, high = cut["range_degrees"]
            title = f"{report['classes'][code]['abbreviation']} by axis ({low:g} to {high:g})"
            for what, table in (
                ("between", cut["between"]),
                ("vs own", cut["vs_own_answer"]),
                ("vs labels", cut["vs_labels"]),
            ):
                for name, s in table.items():
                    lines.append(f"    {title} {what:<9} {name:<20} {_kappa_text(s)}")
            if "older_definition" in cut:
                older = cut["older_definition"]
                lines.append(
                    f"    LAD-labelled items with a mean axis from 0 to -30 degrees (LAD only by the older 0 to -90 "
                    f"definition): {older['axis_0_to_minus_30']} of {older['labelled_and_measured']} measured"
                )
    for name, r in entry["repeats"].items():
        mad = r["mean_absolute_difference"]
        lines.append(
            f"  repeats {name:<20} mean absolute difference "
            + ("undefined" if mad is None else f"{mad:.1f}")
            + f"  n {r['n']}"
        )
    return lines


def format_report(report):
    groups = report["groups"]
    lines = [
        f"Kit {report['kit_id'] or '(made without an identity)'} ({report['kit']}): {report['items']} items "
        f"({groups['suspect']} suspect, {groups['control']} control, {groups['repeat']} repeat)"
    ]
    lines += _reviewer_lines(report)
    for code, entry in report["classes"].items():
        lines.append(f"{entry['abbreviation']} ({code})")
        for group in GROUPS:
            part = entry["groups"][group]
            c = part["consensus"]
            lines.append(
                f"  {group}: {part['items']} items; consensus 1: {c['1']}, 0: {c['0']}, uncertain: "
                f"{c['uncertain']}, uninterpretable: {c['uninterpretable']}, unanswered: {c['unanswered']}; "
                f"contradicts the label: {c['contradicts_label']} of {c['1'] + c['0']}"
            )
            for title, table in (
                ("vs labels", part["vs_labels"]),
                ("vs model", part["vs_model"]),
                ("between", part["between"]),
            ):
                for name, s in table.items():
                    lines.append(f"    {title:<10} {name:<20} {_kappa_text(s)}")
            lines.append(f"    {'Fleiss':<10} {'all reviewers':<20} {_fleiss_text(part['fleiss'])}")
            lines.append(f"    {'consensus':<10} {'vs labels':<20} {_kappa_text(c['vs_labels'])}")
        for name, s in entry["self_consistency"].items():
            lines.append(f"  {'repeats':<12} {name:<20} {_kappa_text(s)}")
    lines += _axis_lines(report)
    tied = report["tied_items"]
    lines.append(
        f"Items whose reviewers tie (a 1 against a 0) on some class: {len(tied)}"
        + (
            f" ({', '.join(tied[:20])}{' ...' if len(tied) > 20 else ''}); --csv writes their adjudication form"
            if tied
            else ""
        )
    )
    return "\n".join(lines)


# ---------------------------------------------------------------- CSV tables

KAPPA_COLUMNS = (
    "class",
    "abbreviation",
    "group",
    "comparison",
    "raters",
    "kappa",
    "ci_low",
    "ci_high",
    "bootstrap_low",
    "bootstrap_high",
    "n",
    "agreement",
    "pabak",
    "uncertain",
    "uninterpretable",
    "undefined_because",
)


def _kappa_row(code: str, abbreviation: str, group: str, comparison: str, raters: str, s: dict) -> tuple:
    ci, boot = s.get("ci") or (None, None), s.get("ci_bootstrap") or (None, None)
    return (
        code,
        abbreviation,
        group,
        comparison,
        raters,
        s["kappa"],
        *ci,
        *boot,
        s["n"],
        s.get("agreement"),
        s.get("pabak"),
        s.get("uncertain", 0),
        s.get("uninterpretable", 0),
        s.get("reason", "") if s["kappa"] is None else "",
    )


def kappa_rows(report: dict) -> list[tuple]:
    """Every kappa of the report as a table row (empty cells where undefined)."""
    rows = []
    for code, entry in report["classes"].items():
        abbreviation = entry["abbreviation"]
        for group, part in [("all", entry), *entry["groups"].items()]:
            for comparison in ("vs_labels", "vs_model", "between"):
                for name, s in part[comparison].items():
                    rows.append(_kappa_row(code, abbreviation, group, comparison, name, s))
            rows.append(_kappa_row(code, abbreviation, group, "fleiss", "all reviewers", part["fleiss"]))
            rows.append(
                _kappa_row(
                    code, abbreviation, group, "consensus_vs_labels", "consensus", part["consensus"]["vs_labels"]
                )
            )
        for name, s in entry["self_consistency"].items():
            rows.append(_kappa_row(code, abbreviation, "repeat", "self_consistency", name, s))
    for group, part in report["axis"]["groups"].items():
        for code in axis.AXIS_CLASSES:
            if code in part:
                abbreviation = report["classes"][code]["abbreviation"]
                for comparison in ("between", "vs_own_answer", "vs_labels"):
                    for name, s in part[code][comparison].items():
                        rows.append(_kappa_row(code, abbreviation, group, f"axis_{comparison}", name, s))
    return rows


def tied_items(kit: Kit, answers: list[Answers]) -> list[str]:
    """Review IDs (in kit order) of the items where the reviewers' 1s and 0s tie on some class."""
    tied = {r["review_id"] for r in consensus(kit, answers) if r["votes_1"] == r["votes_0"] > 0}
    return [review_id for review_id in kit.items if review_id in tied]


def write_adjudication_form(path: str, kit: Kit, ids: list[str]) -> None:
    """The kit's answer form (kit_id, review_id, every class, the extra fields) for `ids` only."""
    columns = (KIT_COLUMN, "review_id", *(a for _, a in kit.classes), *FORM_EXTRA)
    blank = ("",) * (len(columns) - 2)
    write_table(path, columns, [(kit.identity or "", review_id, *blank) for review_id in ids])


def write_tables(folder: str, report: dict, kit: Kit, answers: list[Answers]) -> None:
    """kappa.csv, axis.csv, reviewers.csv, consensus.csv and adjudication_form.csv into `folder`
    (made if missing)."""
    os.makedirs(folder, exist_ok=True)
    write_adjudication_form(os.path.join(folder, "adjudication_form.csv"), kit, tied_items(kit, answers))
    write_table(os.path.join(folder, "kappa.csv"), KAPPA_COLUMNS, kappa_rows(report))
    axis_rows = []
    for group, part in report["axis"]["groups"].items():
        icc = part["icc"]
        ci = icc["ci"] or (None, None)
        axis_rows.append((group, "ICC(A,1)", "all reviewers", icc["icc"], *ci, icc["n"], icc.get("reason", "")))
        for name, pair in part["pairs"].items():
            value = pair["mean_absolute_difference"]
            axis_rows.append((group, "mean_absolute_difference", name, value, None, None, pair["n"], ""))
    for name, r in report["axis"]["repeats"].items():
        value = r["mean_absolute_difference"]
        axis_rows.append(("repeat", "mean_absolute_difference", name, value, None, None, r["n"], ""))
    write_table(
        os.path.join(folder, "axis.csv"),
        ("group", "statistic", "raters", "value", "ci_low", "ci_high", "n", "undefined_because"),
        axis_rows,
    )
    reviewer_rows = []
    for name, r in report["reviewers"].items():
        q, c = r["quality"], r["confidence"]
        reviewer_rows.append(
            (name, r["file"], r["items"], r["items_answered"], r["items_missing"], r["items_unanswered"])
            + (r["uncertain_answers"], *(q[k] for k in QUALITY), q["not_given"])
            + (*(c[str(k)] for k in range(1, 6)), c["not_given"], c["mean"])
        )
    write_table(
        os.path.join(folder, "reviewers.csv"),
        ("reviewer", "file", "items", "answered", "missing", "unanswered", "uncertain_answers")
        + tuple(f"quality_{k}" for k in QUALITY)
        + ("quality_not_given",)
        + tuple(f"confidence_{k}" for k in range(1, 6))
        + ("confidence_not_given", "confidence_mean"),
        reviewer_rows,
    )
    write_consensus(os.path.join(folder, "consensus.csv"), kit, answers)


CONSENSUS_COLUMNS = (
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
    "votes_uninterpretable",
    "consensus",
)


def write_consensus(path: str, kit: Kit, answers: list[Answers]) -> None:
    write_table(path, CONSENSUS_COLUMNS, [[row[c] for c in CONSENSUS_COLUMNS] for row in consensus(kit, answers)])
